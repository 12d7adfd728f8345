//! `samlhub keys sp-next | sp-activate | sp-retire | sp-status` on a data
//! directory, no server: at each stage `samlhub metadata` is schema-valid and
//! lists the right KeyDescriptors (current, then next; never previous), each
//! encryption KeyDescriptor with the EncryptionMethods the decryptor accepts;
//! private keys are 0600; a step out of order is refused, names the step to
//! run, and changes nothing.

use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use crate::peers::xmlsec::xmllint_validate_metadata;
use base64::Engine as _;
use samlhub::xml::{ns, parse, Limits};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

const GCM256: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const GCM128: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const OAEP11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

fn cli(hub: &Samlhub, args: &[&str]) -> (bool, String) {
    let cfg = hub.config_path();
    let mut all = args.to_vec();
    all.extend(["--config", cfg.to_str().unwrap()]);
    let out = run_cli(&all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
    }
    (out.status.success(), text)
}

fn cert_b64(path: &Path) -> String {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let der = openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// What `samlhub metadata` prints, checked against the schema.
fn key_descriptors(hub: &Samlhub) -> Vec<(String, String, Vec<String>)> {
    let (ok, xml) = cli(hub, &["metadata"]);
    assert!(ok, "{xml}");
    xmllint_validate_metadata(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    key_descriptors_of(&xml)
}

/// SP metadata's KeyDescriptors in order as (use, certificate base64,
/// EncryptionMethod algorithms each followed by its children's).
pub(crate) fn key_descriptors_of(xml: &str) -> Vec<(String, String, Vec<String>)> {
    let doc = parse(xml.as_bytes(), &Limits::METADATA).unwrap();
    let sp = doc
        .children_named(doc.root(), ns::MD, "SPSSODescriptor")
        .next()
        .unwrap();
    doc.children_named(sp, ns::MD, "KeyDescriptor")
        .map(|kd| {
            let ki = doc.child(kd, ns::DSIG, "KeyInfo").unwrap();
            let xd = doc.child(ki, ns::DSIG, "X509Data").unwrap();
            let c = doc.child(xd, ns::DSIG, "X509Certificate").unwrap();
            let methods = doc
                .children_named(kd, ns::MD, "EncryptionMethod")
                .map(|m| {
                    let mut s = doc.attr(m, "Algorithm").unwrap().to_owned();
                    for p in doc.children(m) {
                        s.push_str(&format!(" {}", doc.attr(p, "Algorithm").unwrap()));
                    }
                    s
                })
                .collect();
            (
                doc.attr(kd, "use").unwrap().to_owned(),
                doc.text(c).split_whitespace().collect(),
                methods,
            )
        })
        .collect()
}

/// The metadata lists exactly `signing` then `encryption` certificates (the
/// files' stems), each encryption one with the advertised methods.
fn expect_published(hub: &Samlhub, signing: &[&str], encryption: &[&str]) {
    let data = hub.data_dir();
    let want: Vec<(String, String)> = signing
        .iter()
        .map(|s| ("signing", *s))
        .chain(encryption.iter().map(|s| ("encryption", *s)))
        .map(|(u, s)| (u.to_owned(), cert_b64(&data.join(format!("{s}.crt")))))
        .collect();
    let got = key_descriptors(hub);
    let got_pairs: Vec<(String, String)> =
        got.iter().map(|(u, c, _)| (u.clone(), c.clone())).collect();
    assert_eq!(
        got_pairs, want,
        "signing {signing:?}, encryption {encryption:?}"
    );
    let advertised = vec![
        GCM256.to_owned(),
        GCM128.to_owned(),
        format!(
            "{OAEP11} http://www.w3.org/2001/04/xmlenc#sha256 http://www.w3.org/2009/xmlenc11#mgf1sha256"
        ),
        OAEP_MGF1P.to_owned(),
    ];
    for (usage, _, methods) in &got {
        if usage == "encryption" {
            assert_eq!(methods, &advertised);
        } else {
            assert!(methods.is_empty(), "no EncryptionMethod on a signing key");
        }
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn sp_key_rollover_steps_publish_the_right_keys_and_refuse_out_of_order() {
    let hub = Samlhub::prepare(BIN);
    hub.write_config("");
    let data = hub.data_dir();
    expect_published(&hub, &["sp-signing"], &["sp-encryption"]);

    let (ok, out) = cli(&hub, &["keys", "sp-activate"]);
    assert!(
        !ok && out.contains("no next SP key") && out.contains("sp-next"),
        "{out}"
    );
    let (ok, out) = cli(&hub, &["keys", "sp-retire"]);
    assert!(!ok && out.contains("no previous SP key"), "{out}");
    let (ok, out) = cli(&hub, &["keys", "sp-next", "--use", "neither"]);
    assert!(!ok && out.contains("neither"), "{out}");

    // Step 1, both uses (the default).
    let (ok, out) = cli(&hub, &["keys", "sp-next"]);
    assert!(ok, "{out}");
    assert!(out.contains("restart samlhub"), "{out}");
    for stem in ["sp-signing-next", "sp-encryption-next"] {
        assert_eq!(mode(&data.join(format!("{stem}.key"))), 0o600, "{stem}");
    }
    expect_published(
        &hub,
        &["sp-signing", "sp-signing-next"],
        &["sp-encryption", "sp-encryption-next"],
    );
    let next_enc = cert_b64(&data.join("sp-encryption-next.crt"));
    let (ok, out) = cli(&hub, &["keys", "sp-next", "--use", "encryption"]);
    assert!(
        !ok && out.contains("a next encryption key already exists"),
        "{out}"
    );
    assert_eq!(cert_b64(&data.join("sp-encryption-next.crt")), next_enc);
    let (ok, status) = cli(&hub, &["keys", "sp-status"]);
    assert!(ok, "{status}");
    assert_eq!(status.lines().count(), 4, "{status}");
    assert!(
        status.lines().all(|l| l.contains(" published ")),
        "{status}"
    );

    // Step 2.
    let old_enc = cert_b64(&data.join("sp-encryption.crt"));
    let (ok, out) = cli(&hub, &["keys", "sp-activate"]);
    assert!(ok, "{out}");
    assert_eq!(cert_b64(&data.join("sp-encryption.crt")), next_enc);
    assert_eq!(cert_b64(&data.join("sp-encryption-previous.crt")), old_enc);
    for stem in [
        "sp-signing",
        "sp-encryption",
        "sp-signing-previous",
        "sp-encryption-previous",
    ] {
        assert_eq!(mode(&data.join(format!("{stem}.key"))), 0o600, "{stem}");
    }
    expect_published(&hub, &["sp-signing"], &["sp-encryption"]);
    let (_, status) = cli(&hub, &["keys", "sp-status"]);
    assert_eq!(
        status
            .lines()
            .filter(|l| l.contains("not published"))
            .count(),
        2,
        "{status}"
    );

    // A second rollover cannot start its switch while the previous keys are kept.
    let (ok, out) = cli(&hub, &["keys", "sp-next", "--use", "encryption"]);
    assert!(ok, "{out}");
    expect_published(
        &hub,
        &["sp-signing"],
        &["sp-encryption", "sp-encryption-next"],
    );
    let (ok, out) = cli(&hub, &["keys", "sp-activate"]);
    assert!(
        !ok && out.contains("previous encryption key is still kept") && out.contains("sp-retire"),
        "{out}"
    );
    assert_eq!(
        cert_b64(&data.join("sp-encryption.crt")),
        next_enc,
        "unchanged"
    );

    // Step 3, then the second switch goes through.
    let (ok, out) = cli(&hub, &["keys", "sp-retire"]);
    assert!(ok, "{out}");
    for f in [
        "sp-signing-previous.key",
        "sp-encryption-previous.key",
        "sp-encryption-previous.crt",
    ] {
        assert!(!data.join(f).exists(), "{f}");
    }
    let (ok, out) = cli(&hub, &["keys", "sp-activate"]);
    assert!(ok, "{out}");
    expect_published(&hub, &["sp-signing"], &["sp-encryption"]);
    assert_eq!(cert_b64(&data.join("sp-encryption-previous.crt")), next_enc);
}
