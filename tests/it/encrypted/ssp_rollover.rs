//! SP key rollover (`samlhub keys sp-next`, `sp-activate`, `sp-retire`)
//! against real SimpleSAMLphp that encrypts the assertion and requires
//! signed AuthnRequests. At each step SimpleSAMLphp is given the SP's
//! certificates as our published metadata lists them (or, to play an IdP
//! that has not refreshed yet, as an earlier metadata listed them); one IdP
//! process and one hub, restarted after each CLI step.

use super::ssp::{assert_logged_in, sign_in};
use super::DECRYPT;
use crate::peers::browser::Browser;
use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspKey, SspSp};
use crate::sp_rollover::key_descriptors_of;

/// The KeyDescriptors of the hub's served metadata, in order, as
/// SimpleSAMLphp `keys`.
fn published(hub: &Samlhub) -> Vec<SspKey> {
    let md = Browser::new().get(&hub.entity_id());
    assert_eq!(md.status, 200, "{}", md.head());
    key_descriptors_of(&md.body)
        .into_iter()
        .map(|(usage, cert_b64, _)| SspKey {
            signing: usage == "signing",
            encryption: usage == "encryption",
            cert_b64,
        })
        .collect()
}

fn certs(keys: &[SspKey], encryption: bool) -> Vec<String> {
    keys.iter()
        .filter(|k| k.encryption == encryption && k.signing != encryption)
        .map(|k| k.cert_b64.clone())
        .collect()
}

/// Stops the hub, runs `samlhub keys <step>`, starts the hub again.
fn step(hub: &mut Samlhub, args: &[&str]) {
    hub.stop();
    let cfg = hub.config_path();
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend(["--config", cfg.to_str().unwrap()]);
    let out = run_cli(&all);
    assert!(
        out.status.success(),
        "samlhub {all:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    hub.start();
}

/// SimpleSAMLphp now knows the SP by `keys`.
fn give(ssp: &SimpleSamlPhp, sp: &mut SspSp, keys: &[SspKey]) {
    sp.keys = keys.to_vec();
    ssp.set_sps(std::slice::from_ref(sp));
}

fn login_works(hub: &Samlhub, ssp: &SimpleSamlPhp) {
    let mut b = Browser::new();
    let post = sign_in(&mut b, hub, "ssp");
    assert_logged_in(&mut b, hub, ssp, &post);
}

#[test]
fn sp_key_rollover_keeps_simplesamlphp_logins_working_at_every_step() {
    let mut hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.encrypt_assertion = true;
    sp.validate_authnrequest = true;
    let ssp = SimpleSamlPhp::start(&[]);
    let md = ssp.metadata_url();
    hub.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\nmetadata_url = \"{md}\"\nallow_insecure_metadata_url = true\n"
    ));
    hub.start();

    // Before: one pair of each, the IdP has them.
    let stage0 = published(&hub);
    assert_eq!(stage0.len(), 2, "one signing, one encryption certificate");
    give(&ssp, &mut sp, &stage0);
    login_works(&hub, &ssp);

    // sp-next: both new certificates are published after the current ones.
    step(&mut hub, &["sp-next"]);
    let notes = |hub: &Samlhub, what: &str| hub.log().matches(what).count();
    assert_eq!(notes(&hub, "next signing and encryption key published"), 1);
    let stage1 = published(&hub);
    let (old_enc, old_sig) = (certs(&stage0, true), certs(&stage0, false));
    let (enc1, sig1) = (certs(&stage1, true), certs(&stage1, false));
    assert_eq!(enc1.len(), 2);
    assert_eq!(sig1.len(), 2);
    assert_eq!(enc1[0], old_enc[0], "the current certificate stays first");
    assert_eq!(sig1[0], old_sig[0]);
    assert_ne!(enc1[1], old_enc[0]);
    // An IdP that has not refetched still encrypts to the current key.
    login_works(&hub, &ssp);
    // Given the new metadata, SimpleSAMLphp still picks the first, current one.
    give(&ssp, &mut sp, &stage1);
    login_works(&hub, &ssp);
    // An IdP that picks the next certificate already: decrypted with the next key.
    let mut next_first = stage1.clone();
    next_first.reverse();
    give(&ssp, &mut sp, &next_first);
    login_works(&hub, &ssp);

    // sp-activate: the next pair signs and is the only one published.
    step(&mut hub, &["sp-activate"]);
    assert_eq!(notes(&hub, "key published"), 1, "no next key any more");
    assert_eq!(notes(&hub, "previous encryption key still decrypts"), 1);
    let stage2 = published(&hub);
    assert_eq!(certs(&stage2, true), vec![enc1[1].clone()]);
    assert_eq!(certs(&stage2, false), vec![sig1[1].clone()]);
    // Within the grace period an IdP still on the metadata of the next stage
    // encrypts to the previous key, and checks our new signature with the
    // certificate that metadata announced.
    give(&ssp, &mut sp, &stage1);
    login_works(&hub, &ssp);
    // Control: the metadata of before the rollover lacks the new signing
    // certificate, so SimpleSAMLphp refuses the AuthnRequest.
    give(&ssp, &mut sp, &stage0);
    let mut b = Browser::new();
    let start = b.get(&format!("{}/saml/login?idp=ssp", hub.base_url()));
    assert_eq!(start.status, 302, "{}", start.head());
    let r = b.follow(start);
    assert!(
        !r.body.contains("name=\"password\"") && !r.body.contains("SAMLResponse"),
        "SimpleSAMLphp accepted an AuthnRequest signed by a key it does not know: {}",
        r.head()
    );
    give(&ssp, &mut sp, &stage2);
    login_works(&hub, &ssp);

    // sp-retire: an IdP still encrypting to the old key is refused with the
    // uniform decryption error.
    step(&mut hub, &["sp-retire"]);
    assert_eq!(notes(&hub, "previous encryption key still decrypts"), 1);
    assert_eq!(certs(&published(&hub), true), certs(&stage2, true));
    let stale: Vec<SspKey> = stage1
        .iter()
        .filter(|k| k.encryption)
        .cloned()
        .chain(stage2.iter().filter(|k| k.signing).cloned())
        .collect();
    give(&ssp, &mut sp, &stale);
    let mut b = Browser::new();
    let post = sign_in(&mut b, &hub, "ssp");
    let r = b.post_form(&post.action, &post.form());
    assert_eq!(r.status, 403, "{}\n{}", r.head(), hub.log());
    assert_eq!(r.header("x-samlhub-error"), Some("decrypt"));
    assert!(r.header("set-cookie").is_none(), "no session");
    assert!(hub.log().contains(DECRYPT), "{}", hub.log());
    give(&ssp, &mut sp, &stage2);
    login_works(&hub, &ssp);
}
