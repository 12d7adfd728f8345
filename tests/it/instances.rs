//! Two hub processes on one Redis and one data directory, behind one public
//! URL (as behind a load balancer): a login started on one completes on the
//! other, in both ACS variants (with the login cookie, and through the
//! same-site second hop); a session made by one is honoured by the other; an
//! OpenID Connect code issued by one is redeemed at the other, once; an
//! assertion accepted by one is a replay at the other; and both publish the
//! same JWKS and sign with the same key before, during and after a
//! `samlhub keys rotate`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_rig::{
    as_client, basic_auth, clients_toml, code_params, exchange_form, jwt_parts, now, Reply, CONF,
    IDP,
};
use crate::peers::browser::{hidden_inputs, query_param, Browser, Page};
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{keys_rotate, Samlhub, BIN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use samlhub::saml::sign::SignOptions;
use samlhub::testing::idp::{sign, Signing, Spec, TestIdp};
use samlhub::testing::peers::free_port;
use samlhub::testing::peers::hub::request_id_of;
use std::time::{Duration, Instant};

/// One IdP, one Redis, hubs A and B. `public` is the address in front of
/// both; nothing listens there, requests go to each hub's own port.
struct Pair {
    idp: TestIdp,
    _redis: RedisServer,
    a: Samlhub,
    b: Samlhub,
    public: String,
}

impl Pair {
    fn start() -> Pair {
        let redis = RedisServer::start();
        let idp = TestIdp::new("instances");
        let mut a = Samlhub::prepare(BIN);
        let mut b = Samlhub::prepare(BIN);
        let md = a.dir().join("idp.xml");
        std::fs::write(&md, idp.metadata_xml()).unwrap();
        let public = format!("http://127.0.0.1:{}", free_port());
        let body = format!(
            "store = \"{}\"\n\n[[idp]]\nid = \"{IDP}\"\nmetadata_file = \"{}\"\nemail_verified = true\n\n{}",
            redis.url(),
            md.display(),
            clients_toml()
        );
        // One data directory for both: the SP keys and the OIDC key ring.
        let data = a.data_dir();
        a.write_config_behind(&public, &data, &body);
        b.write_config_behind(&public, &data, &body);
        a.start();
        b.start();
        Pair {
            idp,
            _redis: redis,
            a,
            b,
            public,
        }
    }

    fn logs(&self) -> String {
        format!("--- A ---\n{}\n--- B ---\n{}", self.a.log(), self.b.log())
    }

    /// A signed Response to request `id`, addressed to the public ACS, base64.
    fn response(&self, id: &str, subject: &str) -> String {
        let acs = format!("{}/saml/acs", self.public);
        let entity = format!("{}/saml/metadata", self.public);
        let mut spec = Spec::valid(&self.idp, &entity, &acs, Some(id), now());
        spec.name_id = subject.into();
        let signed = sign(
            &spec.to_xml(),
            &spec,
            Signing::Both,
            &self.idp.key,
            &SignOptions::default(),
        );
        STANDARD.encode(signed)
    }
}

fn url(hub: &Samlhub, path: &str) -> String {
    format!("{}{path}", hub.base_url())
}

/// Starts a login at `hub`; returns (RelayState, request ID).
fn begin(hub: &Samlhub, b: &mut Browser) -> (String, String) {
    let page = b.get(&url(hub, &format!("/saml/login?idp={IDP}")));
    assert_eq!(page.status, 302, "login: {}", page.head());
    let loc = page.location.clone().unwrap();
    (
        query_param(&loc, "RelayState").unwrap(),
        request_id_of(&loc),
    )
}

fn post_acs(hub: &Samlhub, b: &mut Browser, saml: &str, relay: &str) -> Page {
    b.post_form(
        &url(hub, "/saml/acs"),
        &[("SAMLResponse", saml), ("RelayState", relay)],
    )
}

/// The subject of `b`'s session as `hub` sees it.
fn subject_at(hub: &Samlhub, b: &mut Browser) -> Option<String> {
    let p = b.get(&url(hub, "/session?format=json"));
    if p.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    v["subject"].as_str().map(str::to_owned)
}

/// An authorization code for the confidential client from `hub`, for the
/// signed-in browser `b`.
fn code_at(hub: &Samlhub, b: &mut Browser) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(code_params(CONF, None, &[]))
        .finish();
    let p = b.get(&url(hub, &format!("/oidc/authorize?{q}")));
    let loc = p.location.clone().unwrap_or_default();
    query_param(&loc, "code").unwrap_or_else(|| panic!("no code: {}", p.head()))
}

/// Redeems `code` at `hub`'s token endpoint.
fn redeem_at(hub: &Samlhub, code: &str) -> Reply {
    let (form, basic) = as_client(CONF, exchange_form(CONF, code, None));
    let (id, secret) = basic.unwrap();
    let auth = basic_auth(id, secret);
    Reply::from(Browser::new().post_form_with_headers(
        &url(hub, "/oidc/token"),
        &form,
        &[("Authorization", auth.as_str())],
    ))
}

/// An id_token for `b` issued by `from` and redeemed at `at`.
fn id_token(from: &Samlhub, at: &Samlhub, b: &mut Browser) -> String {
    let code = code_at(from, b);
    let r = redeem_at(at, &code);
    r.assert_tokens();
    r.str("id_token")
}

fn jwks(hub: &Samlhub) -> serde_json::Value {
    let p = Browser::new().get(&url(hub, "/oidc/jwks"));
    assert_eq!(p.status, 200, "{}", p.head());
    serde_json::from_str(&p.body).unwrap()
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn kid_of(token: &str) -> String {
    jwt_parts(token).0["kid"].as_str().unwrap().to_owned()
}

/// Whether the RS256 `token` verifies with the key of its `kid` in `jwks`.
fn verifies(token: &str, jwks: &serde_json::Value) -> bool {
    let kid = kid_of(token);
    let Some(k) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return false;
    };
    let num = |f: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(k[f].as_str().unwrap()).unwrap()).unwrap()
    };
    let key = PKey::from_rsa(Rsa::from_public_components(num("n"), num("e")).unwrap()).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
    v.update(input.as_bytes()).unwrap();
    v.verify(&sig).unwrap_or(false)
}

/// Waits (a running hub re-reads its key ring within about 2 s) until both
/// hubs publish `n` keys; returns A's and B's JWKS.
fn wait_for_keys(p: &Pair, n: usize) -> (serde_json::Value, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ja, jb) = (jwks(&p.a), jwks(&p.b));
        if (kids(&ja).len() == n && kids(&jb).len() == n) || Instant::now() > deadline {
            return (ja, jb);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rotate(p: &Pair, activate_in: &str) {
    keys_rotate(&p.a.config_path(), activate_in);
}

#[test]
fn two_instances_on_one_redis_serve_each_others_logins_codes_and_keys() {
    let p = Pair::start();
    let (a, b) = (&p.a, &p.b);

    // 1. A login started on A completes on B (the login cookie comes along),
    //    and A honours the session B made.
    let mut alice = Browser::new();
    let (relay1, id) = begin(a, &mut alice);
    let r1 = p.response(&id, "alice");
    let done = post_acs(b, &mut alice, &r1, &relay1);
    assert_eq!(done.status, 303, "ACS at B: {}\n{}", done.head(), p.logs());
    assert_eq!(subject_at(a, &mut alice).as_deref(), Some("alice"));
    assert_eq!(subject_at(b, &mut alice).as_deref(), Some("alice"));
    assert_eq!(
        subject_at(a, &mut Browser::new()),
        None,
        "no cookie, no session"
    );

    // The same login the other way round, through the second hop: started
    // on B, the IdP's POST (without the login cookie) lands on A, the
    // browser's same-site POST of the ticket lands on B.
    let mut bob = Browser::new();
    let (relay, id) = begin(b, &mut bob);
    let r2 = p.response(&id, "bob");
    let hop = post_acs(a, &mut Browser::new(), &r2, &relay);
    assert_eq!(hop.status, 200, "ACS at A: {}\n{}", hop.head(), p.logs());
    let ticket = hidden_inputs(&hop.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .expect("a continue form");
    let cont = bob.post_form(&url(b, "/saml/continue"), &[("ticket", ticket.as_str())]);
    assert_eq!(
        cont.status,
        303,
        "continue at B: {}\n{}",
        cont.head(),
        p.logs()
    );
    assert_eq!(subject_at(a, &mut bob).as_deref(), Some("bob"));

    // 3. An assertion accepted at A (r2) is a replay at B, and the one
    //    accepted at B (r1) is a replay at A.
    let again = post_acs(b, &mut bob, &r2, &relay);
    assert_eq!(again.status, 403, "{}", again.head());
    assert_eq!(again.header("x-samlhub-error"), Some("replay"));
    assert!(b.log().contains("replay: assertion"), "{}", p.logs());
    let mut alice2 = Browser::new();
    let again = post_acs(a, &mut alice2, &r1, &relay1);
    assert_eq!(again.status, 403, "{}", again.head());
    assert!(a.log().contains("replay: assertion"), "{}", p.logs());
    assert_eq!(subject_at(a, &mut alice2), None);

    // 2. A code issued by A is redeemed at B, once; the id_token's kid
    //    verifies with either hub's JWKS.
    let code = code_at(a, &mut alice);
    let tokens = redeem_at(b, &code);
    tokens.assert_tokens();
    let token = tokens.str("id_token");
    assert_eq!(jwt_parts(&token).1["iss"], p.public.as_str());
    let (ja, jb) = (jwks(a), jwks(b));
    assert_eq!(kids(&ja).len(), 1);
    assert_eq!(ja, jb, "both publish the same JWKS");
    assert!(verifies(&token, &ja) && verifies(&token, &jb));
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert!(!verifies(&forged, &ja), "the check can fail");
    redeem_at(a, &code).assert_token_error(400, "invalid_grant");
    let other_way = id_token(b, a, &mut bob);
    assert_eq!(kid_of(&other_way), kid_of(&token));

    // 4. The key ring is agreed: a rotation with a lead time is published by
    //    both at once while both still sign with the old key ...
    let old = kid_of(&token);
    rotate(&p, "600");
    let (ja, jb) = wait_for_keys(&p, 2);
    assert_eq!(kids(&ja).len(), 2, "A after rotate: {ja}\n{}", p.logs());
    assert_eq!(ja, jb, "both publish the same JWKS");
    for (from, at) in [(a, b), (b, a)] {
        let t = id_token(from, at, &mut alice);
        assert_eq!(kid_of(&t), old, "the old key signs until the switch");
        assert!(verifies(&t, &ja));
    }
    // ... and a rotation that takes effect at once moves both to the new key.
    rotate(&p, "0");
    let (ja, jb) = wait_for_keys(&p, 3);
    assert_eq!(kids(&ja).len(), 3, "A after rotate: {ja}\n{}", p.logs());
    assert_eq!(ja, jb, "both publish the same JWKS");
    let from_a = id_token(a, b, &mut alice);
    let from_b = id_token(b, a, &mut bob);
    assert_ne!(kid_of(&from_a), old);
    assert_eq!(kid_of(&from_a), kid_of(&from_b), "both sign with one key");
    assert!(verifies(&from_a, &jb) && verifies(&from_b, &ja));
    // Tokens signed before the rotations still verify with either JWKS.
    assert!(verifies(&token, &ja) && verifies(&token, &jb));
}
