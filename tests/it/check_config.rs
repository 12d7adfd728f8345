//! `samlhub check-config`: every problem at once, each as `FILE: key: message`
//! on stderr with exit code 2; a valid config exits 0 and lists its IdPs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::pki::TestKey;
use crate::peers::samlhub::BIN;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `samlhub check-config --config <config>` with only `env` of the SAMLHUB_*
/// variables set.
fn check_config(config: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("check-config").arg("--config").arg(config);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SAMLHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts a `FILE: key: ...` problem line whose message contains `needle`.
fn assert_problem(run: &Run, file: &Path, key: &str, needle: &str) {
    let prefix = format!("{}: {key}: ", file.display());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with(&prefix) && l.contains(needle)),
        "no problem line '{prefix}…{needle}…'\n{run}"
    );
}

/// IdP metadata with an optional signing and an optional encryption certificate.
fn idp_metadata(entity_id: &str, signing: Option<&str>, encryption: Option<&str>) -> String {
    let kd = |usage: &str, b64: &str| {
        format!(
            "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    };
    let keys = signing.map(|c| kd("signing", c)).unwrap_or_default()
        + &encryption.map(|c| kd("encryption", c)).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {keys}
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#
    )
}

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::Builder::new()
                .prefix("samlhub-check-")
                .tempdir()
                .unwrap(),
        }
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    /// A config with `head` (top-level keys) and then `tables`.
    fn config(&self, head: &str, tables: &str) -> PathBuf {
        let data = self.tmp.path().join("data");
        self.write(
            "samlhub.toml",
            &format!(
                "listen = \"127.0.0.1:18080\"\ndata_dir = \"{}\"\n{head}\n{tables}\n",
                data.display()
            ),
        )
    }
}

fn good_idp_table() -> &'static str {
    "[[idp]]\nid = \"corp\"\ndisplay_name = \"Corp IdP\"\nmetadata_file = \"corp.xml\"\n"
}

fn write_good_idp(d: &Dir) {
    let k = TestKey::generate("check-config-idp", 2048);
    d.write(
        "corp.xml",
        &idp_metadata("https://idp.example.org/corp", Some(&k.cert_b64), None),
    );
}

#[test]
fn reports_every_problem_with_file_and_key() {
    let d = Dir::new();
    let enc = TestKey::generate("check-config-enc-only", 2048);
    d.write(
        "nosign.xml",
        &idp_metadata("https://idp.example.org/nosign", None, Some(&enc.cert_b64)),
    );
    let cfg = d.config(
        "public_url = \"ftp://x\"\nfrobnicate = true\n",
        "[[idp]]\nid = \"nosign\"\nmetadata_file = \"nosign.xml\"\ncolour = \"red\"\n\n\
         [[idp]]\nid = \"remote\"\nmetadata_url = \"not a url\"\n",
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("problem"), "{run}");
    assert_problem(&run, &cfg, "frobnicate", "unknown key");
    assert_problem(&run, &cfg, "idp[0].colour", "unknown key");
    assert_problem(&run, &cfg, "public_url", "ftp://x");
    assert_problem(&run, &cfg, "idp[0].metadata_file", "signing certificate");
    assert_problem(&run, &cfg, "idp[1].metadata_url", "not a url");
    assert!(
        !run.stdout.contains("configuration OK"),
        "a broken config must not be reported OK\n{run}"
    );

    // Another malformed public_url form.
    let cfg = d.config("public_url = \"not a url\"\n", "");
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "public_url", "not a url");
}

#[test]
fn valid_config_lists_the_idp() {
    let d = Dir::new();
    write_good_idp(&d);
    let cfg = d.config(
        "public_url = \"https://sso.example.org\"\n",
        good_idp_table(),
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("configuration OK"), "{run}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("corp") && l.contains("https://idp.example.org/corp")),
        "IdP not listed\n{run}"
    );
    assert!(run.stderr.trim().is_empty(), "{run}");
}

#[test]
fn rsa_1024_idp_certificate_is_refused() {
    let d = Dir::new();
    let weak = TestKey::generate("check-config-weak-idp", 1024);
    d.write(
        "corp.xml",
        &idp_metadata("https://idp.example.org/corp", Some(&weak.cert_b64), None),
    );
    let cfg = d.config("", good_idp_table());
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "idp[0].metadata_file", "2048");
    assert!(
        run.stderr.contains("1024"),
        "name the key size found\n{run}"
    );
}

#[test]
fn environment_overrides_are_checked_too() {
    let d = Dir::new();
    write_good_idp(&d);
    let cfg = d.config("", good_idp_table());
    assert_eq!(check_config(&cfg, &[]).code, Some(0));

    let run = check_config(&cfg, &[("SAMLHUB_PUBLIC_URL", "bogus")]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "public_url", "bogus");

    let run = check_config(&cfg, &[("SAMLHUB_FOO", "1")]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "SAMLHUB_FOO", "");

    // Both at once: both reported.
    let run = check_config(
        &cfg,
        &[("SAMLHUB_PUBLIC_URL", "bogus"), ("SAMLHUB_FOO", "1")],
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "public_url", "bogus");
    assert_problem(&run, &cfg, "SAMLHUB_FOO", "");

    // A valid override is accepted.
    let run = check_config(&cfg, &[("SAMLHUB_PUBLIC_URL", "https://sso.example.org")]);
    assert_eq!(run.code, Some(0), "{run}");
}

#[test]
fn public_url_with_query_or_fragment_is_refused() {
    let d = Dir::new();
    write_good_idp(&d);
    for (url, needle) in [
        (
            "https://sso.example.org/?tenant=a",
            "must not have a ?query",
        ),
        ("https://sso.example.org/#top", "must not have a #fragment"),
    ] {
        let cfg = d.config(&format!("public_url = \"{url}\"\n"), good_idp_table());
        let run = check_config(&cfg, &[]);
        assert_eq!(run.code, Some(2), "{run}");
        assert_problem(&run, &cfg, "public_url", url);
        assert_problem(&run, &cfg, "public_url", needle);

        // The same through the environment.
        let cfg = d.config("", good_idp_table());
        let run = check_config(&cfg, &[("SAMLHUB_PUBLIC_URL", url)]);
        assert_eq!(run.code, Some(2), "{run}");
        assert_problem(&run, &cfg, "public_url", needle);
    }

    // A trailing slash is still fine.
    let cfg = d.config(
        "public_url = \"https://sso.example.org/\"\n",
        good_idp_table(),
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
}

#[test]
fn transient_only_metadata_is_a_warning() {
    let d = Dir::new();
    let k = TestKey::generate("check-config-idp", 2048);
    let with_formats = |formats: &[&str]| {
        let list: String = formats
            .iter()
            .map(|f| format!("<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:{f}</md:NameIDFormat>\n    "))
            .collect();
        idp_metadata("https://idp.example.org/corp", Some(&k.cert_b64), None).replace(
            "<md:SingleSignOnService",
            &format!("{list}<md:SingleSignOnService"),
        )
    };
    let warned = |run: &Run| {
        run.stdout
            .lines()
            .any(|l| l.starts_with("warning: idp[0].metadata_file") && l.contains("only transient"))
    };

    d.write("corp.xml", &with_formats(&["transient"]));
    let cfg = d.config("", good_idp_table());
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "a warning, not an error\n{run}");
    assert!(warned(&run), "{run}");
    assert!(
        run.stdout.contains("persistent NameID"),
        "names the fix\n{run}"
    );

    // A subject attribute makes the NameID irrelevant.
    let cfg = d.config(
        "",
        &format!("{}[idp.attributes]\nsubject = \"uid\"\n", good_idp_table()),
    );
    let run = check_config(&cfg, &[]);
    assert!(!warned(&run), "{run}");

    // Persistent offered too, or no list at all: nothing to warn about.
    d.write("corp.xml", &with_formats(&["transient", "persistent"]));
    let cfg = d.config("", good_idp_table());
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!warned(&run), "{run}");
    write_good_idp(&d);
    let run = check_config(&cfg, &[]);
    assert!(!warned(&run), "{run}");
}

/// A POST-only IdP (Google Workspace, OneLogin) loads, and check-config
/// names the binding; an IdP with neither Redirect nor POST SSO is refused
/// with the reason; `samlhub inspect` needs no SSO endpoint at all.
#[test]
fn sso_binding_follows_the_metadata() {
    let d = Dir::new();
    let k = TestKey::generate("check-config-post-idp", 2048);
    let redirect_md = idp_metadata("https://idp.example.org/corp", Some(&k.cert_b64), None);
    let post_md = redirect_md.replace("bindings:HTTP-Redirect", "bindings:HTTP-POST");
    let no_sso = redirect_md.replace("bindings:HTTP-Redirect", "bindings:SOAP");
    d.write("post.xml", &post_md);
    d.write("nosso.xml", &no_sso);
    let cfg = d.config(
        "",
        "[[idp]]\nid = \"post\"\nmetadata_file = \"post.xml\"\nallow_unsolicited = true\n",
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.lines().any(|l| l.contains("post:")
            && l.contains("SSO post https://idp.example.org/sso")
            && l.contains("IdP-initiated login allowed")),
        "{run}"
    );

    let cfg = d.config(
        "",
        "[[idp]]\nid = \"nosso\"\nmetadata_file = \"nosso.xml\"\n\n\
         [[idp]]\nid = \"post\"\nmetadata_file = \"post.xml\"\nsso_binding = \"redirect\"\n",
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(
        &run,
        &cfg,
        "idp[0].metadata_file",
        "HTTP-Redirect or HTTP-POST binding",
    );
    assert_problem(&run, &cfg, "idp[1].sso_binding", "HTTP-Redirect binding");

    // inspect reads the SSO-less metadata: its verdict is about the response.
    let resp = d.write("response.xml", "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r\" Version=\"2.0\"/>");
    let md = d.tmp.path().join("nosso.xml");
    let out = crate::peers::samlhub::run_cli(&[
        "inspect",
        "--idp-metadata",
        md.to_str().unwrap(),
        "--response",
        resp.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"valid\": false")
            && !stdout.contains("IdP metadata")
            && !stdout.contains("SingleSignOnService"),
        "{stdout}"
    );
}

/// A certificate (base64 DER) valid until `days_left` days from now.
fn cert_expiring_in(cn: &str, days_left: i64) -> String {
    use base64::Engine as _;
    use openssl::asn1::Asn1Time;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = TestKey::generate(cn, 2048).pkey();
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    let n = n.build();
    #[allow(clippy::disallowed_methods)] // check-config reads the real clock
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&n).unwrap();
    b.set_issuer_name(&n).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now - 400 * 86400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + days_left * 86400 + 3600).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(b.build().to_der().unwrap())
}

/// check-config names IdP certificates that expire within
/// `cert_expiry_warning_days` (default 30) and, loudly, expired ones; the
/// configuration is still valid (exit 0).
#[test]
fn certificate_expiry_is_warned() {
    let d = Dir::new();
    let soon = cert_expiry_in_days(&d, 10);
    let cfg = d.config("", good_idp_table());
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    let warned = |run: &Run, needle: &str| {
        run.stdout.lines().any(|l| {
            l.starts_with("warning: IdP 'corp': signing certificate") && l.contains(needle)
        })
    };
    assert!(warned(&run, &format!("CN={soon} expires at")), "{run}");
    assert!(warned(&run, "EXPIRED at"), "{run}");
    assert!(warned(&run, "(3 day(s) ago)"), "{run}");

    // Below the threshold the near one is quiet; the expired one is not.
    let cfg = d.config("cert_expiry_warning_days = 5\n", good_idp_table());
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!warned(&run, "expires at"), "{run}");
    assert!(warned(&run, "EXPIRED at"), "{run}");
    assert!(!run.stdout.contains("metadata EXPIRED"), "{run}");

    // Metadata past its validUntil is named too: that IdP cannot be used.
    let md = std::fs::read_to_string(d.tmp.path().join("corp.xml")).unwrap();
    d.write(
        "corp.xml",
        &md.replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor validUntil=\"2020-01-01T00:00:00Z\" ",
            1,
        ),
    );
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("warning: IdP 'corp': metadata EXPIRED at 2020-01-01T00:00:00Z"),
        "{run}"
    );
}

/// Writes corp.xml with a certificate expiring in `days` days and one that
/// expired three days ago; returns the CN of the first.
fn cert_expiry_in_days(d: &Dir, days: i64) -> &'static str {
    let soon = cert_expiring_in("check-config-expiring", days);
    let gone = cert_expiring_in("check-config-expired", -4);
    let md = idp_metadata("https://idp.example.org/corp", Some(&soon), None).replacen(
        "</md:KeyDescriptor>",
        &format!("</md:KeyDescriptor><md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{gone}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"),
        1,
    );
    d.write("corp.xml", &md);
    "check-config-expiring"
}

/// A plain-http `metadata_url` is a problem unless the admin opts in, and
/// then check-config says so as a warning. (Nothing listens at the URL; the
/// saved copy in the data dir stands in for the IdP.)
#[test]
fn plain_http_metadata_url_needs_the_opt_in() {
    let d = Dir::new();
    let k = TestKey::generate("check-config-idp", 2048);
    let cache = d.tmp.path().join("data/idp-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join("corp.xml"),
        idp_metadata("https://idp.example.org/corp", Some(&k.cert_b64), None),
    )
    .unwrap();
    let table = "[[idp]]\nid = \"corp\"\nmetadata_url = \"http://127.0.0.1:9/md\"\n";
    let cfg = d.config("", table);
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert_problem(&run, &cfg, "idp[0].metadata_url", "is plain http");

    let cfg = d.config("", &format!("{table}allow_insecure_metadata_url = true\n"));
    let run = check_config(&cfg, &[]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("warning: idp[0].metadata_url:")
                && l.contains("is plain http")
                && l.contains("allow_insecure_metadata_url = true")),
        "{run}"
    );
}
