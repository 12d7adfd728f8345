//! Real SimpleSAMLphp with `assertion.encryption`: RSA-OAEP-MGF1P and
//! AES-128-CBC, the Assertion signed inside. With the Response signed too,
//! the CBC ciphertext is covered by a verified signature and no opt-in is
//! needed; with only the Assertion signed, `allow_cbc` decides.

use crate::peers::browser::{Browser, SamlPost};
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use base64::Engine as _;

/// One hub with two entries for one SimpleSAMLphp that encrypts to the
/// hub's encryption certificate: `ssp` (defaults) and `ssp-cbc`
/// (`allow_cbc = true`).
fn setup(sign_response: bool) -> (SimpleSamlPhp, Samlhub) {
    let mut hub = Samlhub::prepare(BIN);
    let pem = std::fs::read(hub.data_dir().join("sp-encryption.crt")).unwrap();
    let der = openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap();
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(base64::engine::general_purpose::STANDARD.encode(der));
    sp.encrypt_assertion = true;
    sp.sign_response = sign_response;
    let ssp = SimpleSamlPhp::start(&[sp]);
    let md = ssp.metadata_url();
    hub.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\nmetadata_url = \"{md}\"\nallow_insecure_metadata_url = true\n\
         [[idp]]\nid = \"ssp-cbc\"\nmetadata_url = \"{md}\"\nallow_insecure_metadata_url = true\nallow_cbc = true\n"
    ));
    hub.start();
    (ssp, hub)
}

/// alice signs in at the IdP through entry `idp`; the auto-POST form.
pub(super) fn sign_in(b: &mut Browser, hub: &Samlhub, idp: &str) -> SamlPost {
    let start = b.get(&format!(
        "{}/saml/login?idp={idp}&return_to=/session",
        hub.base_url()
    ));
    assert_eq!(start.status, 302, "{}", start.head());
    let post = b.ssp_login(start, "alice", "alicepass");
    let xml = post.xml();
    assert!(xml.contains("EncryptedAssertion"), "{xml}");
    assert!(xml.contains("xmlenc#aes128-cbc"), "{xml}");
    assert!(!xml.contains("alice@example.org"), "not encrypted:\n{xml}");
    post
}

/// The ACS accepts, and /session shows alice's attributes.
pub(super) fn assert_logged_in(
    b: &mut Browser,
    hub: &Samlhub,
    ssp: &SimpleSamlPhp,
    post: &SamlPost,
) {
    let r = b.post_form(&post.action, &post.form());
    assert_eq!(
        r.status,
        303,
        "ACS refused: {}\nhub log:\n{}\nssp log:\n{}",
        r.head(),
        hub.log(),
        ssp.log_tail()
    );
    let j = b.get(&format!("{}/session?format=json", hub.base_url()));
    assert_eq!(j.status, 200, "{}", j.head());
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["subject"], "alice");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["email"], "alice@example.org");
    assert_eq!(v["name"], "Alice Example");
    assert_eq!(v["groups"], serde_json::json!(["ha-admins", "users"]));
}

#[test]
fn ssp_encrypted_cbc_inside_a_signed_response_logs_in_without_opt_in() {
    let (ssp, hub) = setup(true);
    let mut b = Browser::new();
    let post = sign_in(&mut b, &hub, "ssp");
    assert_logged_in(&mut b, &hub, &ssp, &post);
    assert!(
        hub.log()
            .contains("signed_response=true signed_assertion=true encrypted=true"),
        "{}",
        hub.log()
    );
}

#[test]
fn ssp_encrypted_cbc_with_only_the_assertion_signed_needs_allow_cbc() {
    let (ssp, hub) = setup(false);
    let mut b = Browser::new();
    let post = sign_in(&mut b, &hub, "ssp");
    let r = b.post_form(&post.action, &post.form());
    assert_eq!(r.status, 403, "{}\n{}", r.head(), hub.log());
    assert_eq!(r.header("x-samlhub-error"), Some("encryption_refused"));
    assert!(
        hub.log()
            .contains("set allow_cbc = true on the [[idp]] entry"),
        "{}",
        hub.log()
    );
    assert!(r.header("set-cookie").is_none(), "no session");

    let mut b = Browser::new();
    let post = sign_in(&mut b, &hub, "ssp-cbc");
    assert_logged_in(&mut b, &hub, &ssp, &post);
    assert!(
        hub.log()
            .contains("signed_response=false signed_assertion=true encrypted=true"),
        "{}",
        hub.log()
    );
}
