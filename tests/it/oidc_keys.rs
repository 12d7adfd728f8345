//! The provider's signing keys as relying parties see them: rotation with
//! `samlhub keys rotate` while the hub runs (tokens signed before it stay
//! verifiable), and golden files for the discovery document and the JWKS
//! made with a fixed test key (`UPDATE_GOLDEN=1` rewrites them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_client::{discover, http_client, login};
use crate::oidc_rig::*;
use crate::peers::browser::Browser;
use crate::peers::samlhub::keys_rotate;
use base64::Engine as _;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet};
use openidconnect::{
    ClientId, ClientSecret, IdTokenVerifier, IssuerUrl, JsonWebKeySetUrl, OAuth2TokenResponse,
    TokenResponse,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn kid_of(token: &str) -> String {
    jwt_parts(token).0["kid"]
        .as_str()
        .expect("kid in the id_token header")
        .to_owned()
}

fn jwks_kids(rig: &Rig) -> Vec<String> {
    rig.json("/oidc/jwks")["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rotation_keeps_earlier_tokens_verifiable() {
    let rig = Rig::start();
    let http = http_client();
    let client = discover(&rig);
    let mut b = Browser::new();
    let (before, nonce) = login(&rig, &client, &mut b);
    let old_token = before.id_token().unwrap();
    let old_raw = serde_json::to_value(old_token)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = kid_of(&old_raw);
    assert_eq!(jwks_kids(&rig), vec![old_kid.clone()]);

    keys_rotate(&rig.hub.config_path(), "0");

    // The running hub re-reads its keys within about 2 s.
    let deadline = Instant::now() + Duration::from_secs(6);
    let kids = loop {
        let kids = jwks_kids(&rig);
        if kids.len() > 1 || Instant::now() > deadline {
            break kids;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        kids.len(),
        2,
        "JWKS after rotation: {kids:?}\n{}",
        rig.hub.log()
    );
    assert!(
        kids.contains(&old_kid),
        "the old key stays published: {kids:?}"
    );
    let new_kid = kids.iter().find(|k| **k != old_kid).unwrap().clone();

    // New tokens, from a new login and from a refresh, carry the new kid.
    let (after, _) = login(&rig, &client, &mut b);
    let after_raw = serde_json::to_value(after.id_token().unwrap()).unwrap();
    assert_eq!(kid_of(after_raw.as_str().unwrap()), new_kid);
    let refreshed = client
        .exchange_refresh_token(before.refresh_token().unwrap())
        .unwrap()
        .request(&http)
        .unwrap();
    let refreshed_raw = serde_json::to_value(refreshed.id_token().unwrap()).unwrap();
    assert_eq!(kid_of(refreshed_raw.as_str().unwrap()), new_kid);

    // A relying party that fetches the JWKS now still verifies the token
    // signed before the rotation, and the new ones.
    let jwks = CoreJsonWebKeySet::fetch(
        &JsonWebKeySetUrl::new(rig.url("/oidc/jwks")).unwrap(),
        &http,
    )
    .unwrap();
    let verifier: IdTokenVerifier<CoreJsonWebKey> = IdTokenVerifier::new_confidential_client(
        ClientId::new(CONF.into()),
        ClientSecret::new(CONF_SECRET.into()),
        IssuerUrl::new(rig.issuer()).unwrap(),
        jwks,
    );
    old_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("the pre-rotation token no longer verifies: {e:?}"));
    let any_nonce = |_: Option<&openidconnect::Nonce>| Ok(());
    after
        .id_token()
        .unwrap()
        .claims(&verifier, any_nonce)
        .unwrap();
    refreshed
        .id_token()
        .unwrap()
        .claims(&verifier, any_nonce)
        .unwrap();
    // The discovery document still names RS256 only.
    let d = rig.json("/.well-known/openid-configuration");
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc")
}

/// Compares `served` (URLs of this run made port-free) to the golden file,
/// or rewrites the file when UPDATE_GOLDEN is set.
fn golden(name: &str, served: serde_json::Value, base_url: &str) {
    let text = serde_json::to_string_pretty(&served)
        .unwrap()
        .replace(base_url, "{issuer}")
        + "\n";
    let path = fixtures().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    let want_v: serde_json::Value = serde_json::from_str(&want).unwrap();
    let got_v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        want_v == got_v,
        "{name} differs from the golden file {} (UPDATE_GOLDEN=1 rewrites it if the change is intended)\n--- golden\n{want}\n--- served\n{text}",
        path.display()
    );
}

#[test]
fn golden_discovery_and_jwks_with_a_fixed_key() {
    let rig = Rig::start_with(|hub| {
        let dir = hub.data_dir().join("oidc-keys");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["keys.json", "rs256-golden-test.pem"] {
            std::fs::copy(fixtures().join(f), dir.join(f)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.join("rs256-golden-test.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    });
    let base = rig.hub.base_url();
    let discovery = rig.json("/.well-known/openid-configuration");
    let jwks = rig.json("/oidc/jwks");
    // The served key is the committed one (checked apart from the golden
    // file, so a rewritten golden file cannot hide another key).
    let pem = std::fs::read(fixtures().join("rs256-golden-test.pem")).unwrap();
    let rsa = openssl::pkey::PKey::private_key_from_pem(&pem)
        .unwrap()
        .rsa()
        .unwrap();
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
    assert_eq!(jwks["keys"][0]["n"], n.as_str());
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    golden("discovery.json", discovery, &base);
    golden("jwks.json", jwks, &base);

    // The fixed key signs: tokens carry its kid.
    let mut b = Browser::new();
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    assert_eq!(kid_of(&t.str("id_token")), "rs256-golden-test");
}
