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
    // The refresh retries such an IdP at once (outbound::refresh).
    assert!(c.idps[0].metadata_origin.as_ref().unwrap().from_saved_copy);
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
fn a_domain_names_one_idp() {
    let mut src = source::MemorySource::default();
    src.files.insert(
        PathBuf::from("/etc/samlhub/a.xml"),
        idp_metadata("https://idp.example.org/a"),
    );
    src.files.insert(
        PathBuf::from("/etc/samlhub/b.xml"),
        idp_metadata("https://idp.example.org/b"),
    );
    let two = |a: &str, b: &str| {
        format!(
            "[[idp]]\nid = 'a'\nmetadata_file = 'a.xml'\ndomains = [{a}]\n\
             [[idp]]\nid = 'b'\nmetadata_file = 'b.xml'\ndomains = [{b}]\n"
        )
    };
    let f = config_file(&mut src, &two("'Example.org', 'a.example'", "'b.example'"));
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.idps[0].domains, ["example.org", "a.example"]);
    assert_eq!(
        c.idp_for_domain("EXAMPLE.ORG").map(|i| i.id.as_str()),
        Some("a")
    );
    assert_eq!(
        c.idp_for_domain("b.example").map(|i| i.id.as_str()),
        Some("b")
    );
    assert!(c.idp_for_domain("other.example").is_none());

    let f = config_file(
        &mut src,
        &two("'example.org'", "'EXAMPLE.org', 'bad domain'"),
    );
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    let lines = e.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("idp[1].domains: 'example.org' is already a domain of IdP 'a'")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("idp[1].domains: 'bad domain' is not a domain name")),
        "{lines:?}"
    );
}

/// `[[idp]] sso_binding`, `allow_unsolicited` and `unsolicited_target`.
#[test]
fn sso_binding_and_unsolicited_keys() {
    let post_only = String::from_utf8(idp_metadata("https://idp.example.org"))
        .unwrap()
        .replace(
            "bindings:HTTP-Redirect\" Location=\"https://idp.example.org/sso\"",
            "bindings:HTTP-POST\" Location=\"https://idp.example.org/post\"",
        );
    let load_with = |idp_keys: &str, md: &[u8]| {
        let mut src = source::MemorySource::default();
        src.files
            .insert(PathBuf::from("/etc/samlhub/idp.xml"), md.to_vec());
        src.files.insert(
            PathBuf::from("/etc/samlhub/ha.secret"),
            b"0123456789abcdef0123456789abcdef".to_vec(),
        );
        let f = config_file(
            &mut src,
            &format!(
                "[[ha]]\nid = 'home'\nexternal_url = 'http://127.0.0.1:8123'\nhook_secret_file = 'ha.secret'\nuser_groups = ['users']\n\
                 [[oidc.client]]\nclient_id = 'grafana'\npublic = true\nredirect_uris = ['https://grafana.example.org:3000/login/generic_oauth']\n\
                 [[idp]]\nid = 'a'\nmetadata_file = 'idp.xml'\n{idp_keys}"
            ),
        );
        load(Some(&f), &BTreeMap::new(), &src)
    };
    let problems = |idp_keys: &str, md: &[u8]| -> Vec<String> {
        match load_with(idp_keys, md) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    };
    let redirect = idp_metadata("https://idp.example.org");

    // Defaults: Redirect when offered, else POST; IdP-initiated login off.
    let c = load_with("", &redirect).unwrap_or_else(|e| panic!("{e}"));
    let idp = c.idp("a").unwrap();
    assert_eq!(idp.sso().unwrap().binding, SsoBinding::Redirect);
    assert!(!idp.allow_unsolicited);
    let c = load_with("", post_only.as_bytes()).unwrap();
    let sso = c.idp("a").unwrap().sso().unwrap();
    assert_eq!(
        (sso.binding, sso.location.as_str()),
        (SsoBinding::Post, "https://idp.example.org/post")
    );

    // Asking for a binding the metadata lacks, or an unknown one.
    let p = problems("sso_binding = 'redirect'\n", post_only.as_bytes());
    assert!(
        p.iter()
            .any(|l| l.contains("idp[0].sso_binding") && l.contains("HTTP-Redirect")),
        "{p:?}"
    );
    let p = problems("sso_binding = 'artifact'\n", &redirect);
    assert!(
        p.iter().any(|l| l.contains("not one of redirect, post")),
        "{p:?}"
    );

    // Targets.
    for (t, want) in [
        ("/ha", "/ha"),
        ("/ha/login?instance=home", "/ha/login?instance=home"),
        ("oidc:grafana", "https://grafana.example.org:3000/"),
    ] {
        let c = load_with(
            &format!("allow_unsolicited = true\nunsolicited_target = '{t}'\n"),
            &redirect,
        )
        .unwrap();
        let idp = c.idp("a").unwrap();
        assert!(idp.allow_unsolicited);
        assert_eq!(idp.unsolicited_target.resolve(&c).unwrap(), want, "{t}");
    }
    let c = load_with("allow_unsolicited = true\n", &redirect).unwrap();
    assert_eq!(
        c.idp("a").unwrap().unsolicited_target.resolve(&c).unwrap(),
        "/"
    );
    for (keys, expect) in [
        (
            "unsolicited_target = '/ha'\n",
            "has no effect unless allow_unsolicited = true",
        ),
        (
            "allow_unsolicited = true\nunsolicited_target = 'https://evil.example/'\n",
            "is not one of",
        ),
        (
            "allow_unsolicited = true\nunsolicited_target = '/ha?instance=garage'\n",
            "no [[ha]] instance 'garage'",
        ),
        (
            "allow_unsolicited = true\nunsolicited_target = 'oidc:nope'\n",
            "no [[oidc.client]] with client_id 'nope'",
        ),
    ] {
        let p = problems(keys, &redirect);
        assert!(
            p.iter()
                .any(|l| l.contains("idp[0].unsolicited_target") && l.contains(expect)),
            "{keys}: {p:?}"
        );
    }
}

#[test]
fn two_idps_with_one_entity_id_cannot_both_allow_unsolicited() {
    let mut src = source::MemorySource::default();
    src.files.insert(
        PathBuf::from("/etc/samlhub/idp.xml"),
        idp_metadata("https://idp.example.org"),
    );
    let both = "[[idp]]\nid = 'a'\nmetadata_file = 'idp.xml'\nallow_unsolicited = true\n\
                [[idp]]\nid = 'b'\nmetadata_file = 'idp.xml'\nallow_unsolicited = true\n";
    let f = config_file(&mut src, both);
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    assert!(
        e.lines()
            .iter()
            .any(|l| l.contains("idp[1].allow_unsolicited") && l.contains("'a'")),
        "{:?}",
        e.lines()
    );
    let f = config_file(
        &mut src,
        &both.replacen("allow_unsolicited = true\n", "", 1),
    );
    assert!(load(Some(&f), &BTreeMap::new(), &src).is_ok());
}

/// A plain-http `metadata_url` carries keys anyone on the path can swap: it
/// is refused unless a pinned signer covers it or the admin opts in (then
/// it is a warning).
#[test]
fn http_metadata_url_needs_a_signer_or_an_explicit_opt_in() {
    let url = "http://idp.example.org/md";
    let mut src = source::MemorySource::default();
    src.remote.insert(
        url.into(),
        FetchedMetadata {
            xml: idp_metadata("https://idp.example.org/corp"),
            fallback: None,
        },
    );
    let idp = format!("[[idp]]\nid = 'corp'\nmetadata_url = '{url}'\n");
    let f = config_file(&mut src, &idp);
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    assert!(
        e.lines().iter().any(|l| l.contains(
            "idp[0].metadata_url: 'http://idp.example.org/md' is plain http: use https, pin the metadata signer with metadata_signing_cert, or accept the risk with allow_insecure_metadata_url = true"
        )),
        "{e}"
    );

    let f = config_file(
        &mut src,
        &format!("{idp}allow_insecure_metadata_url = true\n"),
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("is plain http"), "{:?}", c.warnings);

    // https needs neither.
    let https = "https://idp.example.org/md";
    src.remote
        .insert(https.into(), src.remote.get(url).unwrap().clone());
    let f = config_file(
        &mut src,
        &format!("[[idp]]\nid = 'corp'\nmetadata_url = '{https}'\n"),
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.idps[0].metadata_origin.as_ref().unwrap().url, https);
}

/// With `metadata_signing_cert`, metadata must be signed by that
/// certificate; plain http is then acceptable.
#[test]
fn pinned_signer_is_required_and_covers_http() {
    use crate::saml::sign::{sign_enveloped, SignOptions};
    let (key, cert) = crate::keys::generate("federation-signer").unwrap();
    let (other, _) = crate::keys::generate("someone-else").unwrap();
    let unsigned = String::from_utf8(idp_metadata("https://idp.example.org/corp"))
        .unwrap()
        .replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor ID=\"_md1\" ",
            1,
        );
    let signed = |k: &openssl::pkey::PKey<openssl::pkey::Private>| {
        sign_enveloped(&unsigned, "_md1", k, &SignOptions::default()).unwrap()
    };
    let url = "http://idp.example.org/md";
    let mut src = source::MemorySource::default();
    src.files.insert(
        PathBuf::from("/etc/samlhub/fed.pem"),
        cert.to_pem().unwrap(),
    );
    let text = format!(
        "[[idp]]\nid = 'corp'\nmetadata_url = '{url}'\nmetadata_signing_cert = 'fed.pem'\n"
    );
    let mut with = |xml: String| {
        src.remote.insert(
            url.into(),
            FetchedMetadata {
                xml: xml.into_bytes(),
                fallback: None,
            },
        );
        let f = config_file(&mut src, &text);
        load(Some(&f), &BTreeMap::new(), &src)
    };
    let c = with(signed(&key)).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.idps[0].metadata_signer.as_ref().unwrap().keys.len(), 1);
    for (xml, needle) in [
        (unsigned.clone(), "carries no Signature"),
        (signed(&other), "does not verify"),
    ] {
        let e = with(xml).unwrap_err();
        assert!(
            e.lines().iter().any(
                |l| l.contains("idp[0].metadata_url: metadata signature refused")
                    && l.contains(needle)
            ),
            "{e}"
        );
    }
}

#[test]
fn refresh_bounds_and_warning_days() {
    let mut src = source::MemorySource::default();
    let f = config_file(&mut src, "");
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.metadata_refresh, RefreshBounds::default());
    assert_eq!(c.cert_expiry_warning_days, 30);
    let f = config_file(
        &mut src,
        "metadata_refresh_min = '1m'\nmetadata_refresh_max = '2h'\ncert_expiry_warning_days = 14\n",
    );
    let c = load(Some(&f), &BTreeMap::new(), &src).unwrap();
    assert_eq!(c.metadata_refresh.min, Duration::from_secs(60));
    assert_eq!(c.metadata_refresh.max, Duration::from_secs(7200));
    assert_eq!(c.cert_expiry_warning_days, 14);
    let f = config_file(
        &mut src,
        "metadata_refresh_min = '2h'\nmetadata_refresh_max = '1h'\n",
    );
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    assert!(
        e.lines()
            .iter()
            .any(|l| l.contains("metadata_refresh_max: must not be shorter")),
        "{e}"
    );
    // A bound the refresh schedule could not add to the clock is refused,
    // not left to overflow later; a year is still accepted.
    let f = config_file(
        &mut src,
        "metadata_refresh_max = '3000000000d'
",
    );
    let e = load(Some(&f), &BTreeMap::new(), &src).unwrap_err();
    assert!(
        e.lines()
            .iter()
            .any(|l| l.contains("metadata_refresh_max: must be at most 365d")),
        "{e}"
    );
    let f = config_file(
        &mut src,
        "metadata_refresh_max = '365d'
",
    );
    assert!(load(Some(&f), &BTreeMap::new(), &src).is_ok());
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
