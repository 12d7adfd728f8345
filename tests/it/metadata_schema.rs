//! Our SP metadata, as `samlhub metadata` prints it and as a running hub
//! serves it, validates against saml-schema-metadata-2.0.xsd and states what
//! IdPs rely on: signed AuthnRequests, wanted signed Assertions, our signing
//! and encryption certificates (the files in the data dir), and the ACS with
//! the HTTP-POST binding. Also the zero-config first run of `samlhub serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use crate::peers::xmlsec::xmllint_validate_metadata;
use crate::peers::{free_port, wait_for_http, ProcessGroup};
use base64::Engine as _;
use samlhub::xml::{ns, parse, Document, ElemId, Limits};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

fn http_get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

/// DER of the PEM certificate in `path`.
fn cert_file_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    openssl::x509::X509::from_pem(&pem)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_der()
        .unwrap()
}

fn only(doc: &Document, parent: ElemId, nsu: &str, local: &str, xml: &str) -> ElemId {
    let v: Vec<ElemId> = doc.children_named(parent, nsu, local).collect();
    assert_eq!(v.len(), 1, "want exactly one {local}:\n{xml}");
    v[0]
}

/// Schema-valid, and states exactly what the SP promises.
fn check_sp_metadata(xml: &str, data_dir: &Path, entity_id: &str, acs_url: &str) {
    xmllint_validate_metadata(xml).unwrap_or_else(|e| panic!("{e}\nmetadata:\n{xml}"));

    let doc = parse(xml.as_bytes(), &Limits::METADATA).unwrap();
    let ed = doc.root();
    assert!(doc.is(ed, ns::MD, "EntityDescriptor"), "{xml}");
    assert_eq!(doc.attr(ed, "entityID"), Some(entity_id), "{xml}");
    let sp = only(&doc, ed, ns::MD, "SPSSODescriptor", xml);
    assert_eq!(doc.attr(sp, "AuthnRequestsSigned"), Some("true"), "{xml}");
    assert_eq!(doc.attr(sp, "WantAssertionsSigned"), Some("true"), "{xml}");
    assert!(
        doc.attr(sp, "protocolSupportEnumeration")
            .unwrap_or("")
            .split_whitespace()
            .any(|p| p == ns::SAMLP),
        "{xml}"
    );

    let kds: Vec<ElemId> = doc.children_named(sp, ns::MD, "KeyDescriptor").collect();
    for (usage, file) in [
        ("signing", "sp-signing.crt"),
        ("encryption", "sp-encryption.crt"),
    ] {
        let with_use: Vec<ElemId> = kds
            .iter()
            .copied()
            .filter(|k| doc.attr(*k, "use") == Some(usage))
            .collect();
        assert_eq!(
            with_use.len(),
            1,
            "want one KeyDescriptor use=\"{usage}\":\n{xml}"
        );
        let ki = only(&doc, with_use[0], ns::DSIG, "KeyInfo", xml);
        let xd = only(&doc, ki, ns::DSIG, "X509Data", xml);
        let c = only(&doc, xd, ns::DSIG, "X509Certificate", xml);
        let b64: String = doc
            .text(c)
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            der,
            cert_file_der(&data_dir.join(file)),
            "{usage} certificate in metadata is not {file}"
        );
    }
    assert_eq!(
        kds.len(),
        2,
        "only the signing and the encryption KeyDescriptor:\n{xml}"
    );
    let signing_der = cert_file_der(&data_dir.join("sp-signing.crt"));
    let encryption_der = cert_file_der(&data_dir.join("sp-encryption.crt"));
    assert_ne!(
        signing_der, encryption_der,
        "signing and encryption use separate keys"
    );

    let acs: Vec<ElemId> = doc
        .children_named(sp, ns::MD, "AssertionConsumerService")
        .collect();
    assert!(
        acs.iter()
            .any(|a| doc.attr(*a, "Binding") == Some(BINDING_POST)
                && doc.attr(*a, "Location") == Some(acs_url)),
        "no HTTP-POST AssertionConsumerService at {acs_url}:\n{xml}"
    );
}

#[test]
fn metadata_command_output_is_schema_valid() {
    let hub = Samlhub::prepare(BIN);
    hub.write_config("");
    let cfg = hub.config_path();
    let out = run_cli(&["metadata", "--config", cfg.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    check_sp_metadata(&stdout, &hub.data_dir(), &hub.entity_id(), &hub.acs_url());
}

#[test]
fn served_metadata_is_schema_valid() {
    let mut hub = Samlhub::prepare(BIN);
    hub.write_config("");
    hub.start();
    let (status, served) = http_get(&format!("{}/saml/metadata", hub.base_url()));
    assert_eq!(status, 200, "{served}\nlog:\n{}", hub.log());
    check_sp_metadata(&served, &hub.data_dir(), &hub.entity_id(), &hub.acs_url());
}

#[test]
fn zero_config_first_run_creates_keys_and_prints_urls() {
    let tmp = tempfile::Builder::new()
        .prefix("samlhub-zero-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("d");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let stdout_path = tmp.path().join("stdout.log");
    let stderr_path = tmp.path().join("stderr.log");

    let mut cmd = Command::new(BIN);
    cmd.arg("serve").current_dir(tmp.path());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SAMLHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("SAMLHUB_DATA", &data)
        .env("SAMLHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut pg = ProcessGroup::spawn("samlhub (zero config)", cmd);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    if let Err(e) = wait_for_http(&format!("{base}/healthz"), Duration::from_secs(30)) {
        panic!(
            "zero-config samlhub did not start ({e}, exit {:?})\nstdout:\n{}\nstderr:\n{}",
            pg.try_exit_status(),
            read(&stdout_path),
            read(&stderr_path)
        );
    }

    for stem in ["sp-signing", "sp-encryption"] {
        let key = data.join(format!("{stem}.key"));
        let meta = std::fs::metadata(&key)
            .unwrap_or_else(|e| panic!("{} not created: {e}", key.display()));
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{} must be private",
            key.display()
        );
        assert!(data.join(format!("{stem}.crt")).is_file());
    }
    assert!(
        !tmp.path().join("samlhub-data").exists(),
        "SAMLHUB_DATA must replace the default data dir"
    );

    let out = read(&stdout_path);
    let entity_id = format!("{base}/saml/metadata");
    let acs = format!("{base}/saml/acs");
    let metadata_url = format!("{base}/saml/metadata");
    // Each on its own labelled line ("SP entityID:", "ACS URL:", "SP metadata:").
    for (label, needle) in [
        ("entityID", entity_id.as_str()),
        ("ACS", acs.as_str()),
        ("metadata:", metadata_url.as_str()),
    ] {
        assert!(
            out.lines().any(|l| l.contains(label) && l.contains(needle)),
            "stdout has no '{label}' line with {needle}:\n{out}"
        );
    }

    // What it serves is the metadata of the keys it just created.
    let (status, served) = http_get(&metadata_url);
    assert_eq!(status, 200, "{served}");
    check_sp_metadata(&served, &data, &entity_id, &acs);

    pg.stop();
}
