//! OIDC code-for-token exchanges (issue: OIDC provider) against the real
//! release `samlhub` on loopback, one client at a time. Each round gets a code
//! from `/oidc/authorize` (not timed) and times the `POST /oidc/token` that
//! redeems it: client authentication, PKCE, the store writes, and an RS256
//! (or ES256) id_token. The bound is one signature of that algorithm
//! (RSA-2048, or ECDSA P-256), measured in the same run; both bounds are
//! printed.
//!
//! `cargo bench --bench oidc_token` (embedded store); `BENCH_REDIS=1` for
//! Redis; `BENCH_ALG=ES256` for ES256 id_tokens; `BENCH_ROUNDS=N` (default
//! 500).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use samlhub::testing::idp::{sign_in, TestIdp};
use samlhub::testing::peers::browser::{query_param, Browser};
use samlhub::testing::peers::hub::Samlhub;
use samlhub::testing::peers::redis::RedisServer;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-client-secret-0123456789abcdef";
const VERIFIER: &str = "bench-verifier-0123456789abcdef0123456789abcdef";

fn per_sec(d: &[Duration]) -> f64 {
    d.len() as f64 / d.iter().sum::<Duration>().as_secs_f64()
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 500 });
    let redis = std::env::var_os("BENCH_REDIS").map(|_| RedisServer::start());
    let es256 = std::env::var("BENCH_ALG").is_ok_and(|a| a == "ES256");

    let idp = TestIdp::new("oidc-bench");
    let mut hub = Samlhub::prepare(env!("CARGO_BIN_EXE_samlhub"));
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let store = redis
        .as_ref()
        .map(|r| format!("store = \"{}\"\n", r.url()))
        .unwrap_or_default();
    let alg = if es256 {
        "[oidc]\nid_token_alg = \"ES256\"\n"
    } else {
        ""
    };
    hub.write_config(&format!(
        "{store}{alg}[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n\
[[oidc.client]]\nclient_id = \"bench\"\nclient_secret_hash = \"{}\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n",
        md.display(),
        samlhub::config::oidc::secret_hash(SECRET)
    ));
    hub.start();
    let base = hub.base_url();

    let mut b = Browser::new();
    let r = sign_in(&hub, &idp, "test", &mut b, |_| {});
    assert_eq!(r.status, 303, "login: {}", r.head());

    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    let authorize = format!(
        "{base}/oidc/authorize?response_type=code&client_id=bench&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
&scope=openid+profile+email+groups&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256"
    );
    let agent = ureq::Agent::new_with_defaults();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{SECRET}"))
    );
    let mut times = Vec::with_capacity(rounds);
    let mut header = String::new();
    for _ in 0..rounds {
        let page = b.get(&authorize);
        assert_eq!(page.status, 302, "{}", page.head());
        let code = query_param(page.location.as_deref().unwrap(), "code").unwrap();
        let form = format!("grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier={VERIFIER}");
        let t = Instant::now();
        let mut resp = agent
            .post(&format!("{base}/oidc/token"))
            .header("Authorization", &basic)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form)
            .unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        times.push(t.elapsed());
        assert!(body.contains("id_token"), "{body}");
        if header.is_empty() {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            let token = json["id_token"].as_str().unwrap();
            header = String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
        }
    }
    let want = if es256 { "ES256" } else { "RS256" };
    assert!(header.contains(want), "id_token header {header}");

    // The bounds: signatures per second with a fresh Signer each, same run.
    let rsa = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let p256 = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec =
        openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&p256).unwrap()).unwrap();
    let rsa_bound = sign_rate(&rsa, quick);
    let ec_bound = sign_rate(&ec, quick);
    let bound = if es256 { ec_bound } else { rsa_bound };

    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let rate = per_sec(&times);
    println!(
        "store: {}, id_token: {want}, rounds: {rounds}",
        if redis.is_some() { "redis" } else { "embedded" }
    );
    println!("sign bounds: RSA-2048 {rsa_bound:.0}/s, ECDSA P-256 {ec_bound:.0}/s");
    println!(
        "token exchange: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms → {rate:.0}/s; {want} sign bound {bound:.0}/s → {:.0}% of the bound",
        mean.as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[(times.len() * 99 / 100).min(times.len() - 1)].as_secs_f64() * 1e3,
        100.0 * rate / bound
    );
}

/// SHA-256 signatures per second with `key`, a fresh `Signer` each time.
fn sign_rate(key: &openssl::pkey::PKey<openssl::pkey::Private>, quick: bool) -> f64 {
    let t = Instant::now();
    let mut n = 0u32;
    while t.elapsed() < Duration::from_secs(if quick { 0 } else { 3 }) || n == 0 {
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
        s.sign_oneshot_to_vec(b"header.payload").unwrap();
        n += 1;
    }
    n as f64 / t.elapsed().as_secs_f64()
}
