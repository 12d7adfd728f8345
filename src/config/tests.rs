//! Loading against in-memory sources: every problem collected, metadata
//! from files, URLs and saved copies, `<data>/idp/*.xml` discovery.

use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("8h"), Some(Duration::from_secs(28800)));
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("x"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn collects_every_problem() {
    let f = PathBuf::from("/etc/samlhub/c.toml");
    let mut src = source::MemorySource::default();
    src.files.insert(
        f.clone(),
        b"public_url = 'ftp://x'\nbogus = 1\nstore = 'mysql://x'\n[[idp]]\nid = 'a'\nmetadata_file = 'nope.xml'\ncolour = 'red'\n[[idp]]\nid = 'b'\nmetadata_url = 'https://idp.example.org/md'\n".to_vec(),
    );
    let mut env = BTreeMap::new();
    env.insert("SAMLHUB_NOPE".to_string(), "1".to_string());
    let e = load(Some(&f), &env, &src).unwrap_err();
    assert!(e
        .lines()
        .iter()
        .any(|l| l.contains("/etc/samlhub/nope.xml")));
    assert!(e.lines().iter().any(|l| l.contains(
        "idp[1].metadata_url: cannot fetch 'https://idp.example.org/md': no network in tests"
    )));
    let keys: Vec<&str> = e.problems.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "bogus",
        "public_url",
        "store",
        "idp[0].colour",
        "idp[0].metadata_file",
        "idp[1].metadata_url",
        "SAMLHUB_NOPE",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

/// IdP metadata signed by a fresh RSA-2048 certificate.
fn idp_metadata(entity_id: &str) -> Vec<u8> {
    use base64::Engine;
    let (_, cert) = crate::keys::generate("config-test-idp").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap());
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
    .into_bytes()
}

fn config_file(src: &mut source::MemorySource, text: &str) -> PathBuf {
    let f = PathBuf::from("/etc/samlhub/samlhub.toml");
    src.files.insert(f.clone(), text.as_bytes().to_vec());
    f
}

#[test]
fn public_url_is_parsed_and_published() {
    let mut src = source::MemorySource::default();
    let f = config_file(&mut src, "public_url = 'https://sso.example.org/'\n");
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.public_url.as_str(), "https://sso.example.org");
    assert!(c.https());
    assert_eq!(c.acs_url(), "https://sso.example.org/saml/acs");
    assert_eq!(c.entity_id, "https://sso.example.org/saml/metadata");

    let c = load(None, &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080");
    assert!(!c.https());
}

#[test]
fn public_url_refuses_query_and_fragment() {
    for (u, needle) in [
        ("https://sso.example.org/?x=1", "must not have a ?query"),
        ("https://sso.example.org/#top", "must not have a #fragment"),
    ] {
        let mut src = source::MemorySource::default();
        let f = config_file(&mut src, &format!("public_url = '{u}'\n"));
        let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
        let want = format!("/etc/samlhub/samlhub.toml: public_url: '{u}' {needle}");
        assert!(e.lines().contains(&want), "{:?}", e.lines());
    }
}

#[test]
fn metadata_from_a_saved_copy_is_a_warning() {
    let mut src = source::MemorySource::default();
    let url = "https://idp.example.org/md?appid=1";
    src.remote.insert(
        url.into(),
        FetchedMetadata {
            xml: idp_metadata("https://idp.example.org/corp"),
            fallback: Some(Fallback {
                reason: "HTTP 503".into(),
                saved_at: PathBuf::from("/data/idp-cache/corp.xml"),
            }),
        },
    );
    let f = config_file(
        &mut src,
        &format!("[[idp]]\nid = 'corp'\nmetadata_url = '{url}'\n"),
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.idps.len(), 1);
    assert_eq!(
        c.warnings,
        ["idp[0].metadata_url: fetch failed (HTTP 503); using the copy saved at /data/idp-cache/corp.xml"]
    );
}

#[test]
fn without_a_file_idps_are_discovered_in_the_data_dir() {
    let mut src = source::MemorySource::default();
    src.files.insert(
        PathBuf::from("/data/idp/Corp IdP.xml"),
        idp_metadata("https://idp.example.org/corp"),
    );
    src.files.insert(
        PathBuf::from("/data/idp/entra.xml"),
        idp_metadata("https://sts.windows.net/tenant/"),
    );
    src.files
        .insert(PathBuf::from("/data/idp/notes.txt"), b"ignored".to_vec());
    let env = BTreeMap::from([("SAMLHUB_DATA".to_string(), "/data".to_string())]);
    let c = load(None, &env, &src).unwrap();
    let ids: Vec<(&str, Profile)> = c.idps.iter().map(|i| (i.id.as_str(), i.profile)).collect();
    assert_eq!(
        ids,
        [("corp-idp", Profile::Generic), ("entra", Profile::Entra)]
    );
}

#[test]
fn require_pkce_per_client() {
    let mut src = source::MemorySource::default();
    let hash = oidc::secret_hash("s3cret");
    let f = config_file(
        &mut src,
        &format!(
            "[[oidc.client]]\nclient_id = 'strict'\nclient_secret_hash = '{hash}'\nredirect_uris = ['https://a.example/cb']\nrequire_pkce = true\n\
[[oidc.client]]\nclient_id = 'lax'\nclient_secret_hash = '{hash}'\nredirect_uris = ['https://b.example/cb']\n\
[[oidc.client]]\nclient_id = 'spa'\npublic = true\nredirect_uris = ['https://c.example/cb']\n"
        ),
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    let need: Vec<(&str, bool)> = c
        .oidc
        .clients
        .iter()
        .map(|c| (c.client_id.as_str(), c.needs_pkce()))
        .collect();
    assert_eq!(need, [("strict", true), ("lax", false), ("spa", true)]);

    let f = config_file(
        &mut src,
        "[[oidc.client]]\nclient_id = 'spa'\npublic = true\nredirect_uris = ['https://c.example/cb']\nrequire_pkce = false\n",
    );
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    assert!(
        e.lines()
            .iter()
            .any(|l| l.contains("oidc.client[0].require_pkce: a public client always uses PKCE")),
        "{e}"
    );
}

#[test]
fn ha_external_url_is_reduced_to_its_origin() {
    use super::ha::external_origin;
    for (given, want) in [
        ("https://HA.Example.org:443/", "https://ha.example.org"),
        ("http://ha.example.org:8123", "http://ha.example.org:8123"),
        ("HTTP://Ha.Example.Org:80", "http://ha.example.org"),
    ] {
        assert_eq!(external_origin(given).unwrap(), want, "{given}");
    }
    for bad in [
        "https://ha.example.org/lovelace",
        "https://u:p@ha.example.org",
        "https://ha.example.org/?x=1",
        "ftp://ha.example.org",
    ] {
        assert!(external_origin(bad).is_err(), "{bad}");
    }
}

#[test]
fn required_group_is_a_deprecated_alias_of_required_groups() {
    let mut src = source::MemorySource::default();
    let f = config_file(
        &mut src,
        "[oidc]\n[[oidc.client]]\nclient_id = 'a'\npublic = true\nredirect_uris = ['https://a.example/cb']\nrequired_group = 'old'\nrequired_groups = ['new']\n",
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    let client = c.oidc.client("a").unwrap();
    assert_eq!(client.required_groups, ["new", "old"]);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("required_group is deprecated")));
    assert!(client.refuses_groups(&["old".into()]).is_none());
    assert!(client.refuses_groups(&["new".into()]).is_none());
    let why = client.refuses_groups(&["other".into()]).unwrap();
    assert!(why.contains("new, old"), "{why}");
}
