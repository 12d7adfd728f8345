//! ACS verification and validation throughput (issue: SP core), with an
//! OpenSSL RSA-2048 verify measured in the same run as the baseline, and the
//! scale curves: validation time against response size (the `groups`
//! attribute grows, as it does for people in many groups) and against the
//! number of attributes (one value each).
//!
//! Run: `cargo bench --bench acs` (one thread; criterion runs sequentially).
//! `cargo bench --bench acs -- acs_scale` runs only the curves.
//! `ACS_PAIRED=ROUNDS[:BATCH] cargo bench --bench acs` times the baseline and the
//! two validations in turns instead, for ratios on a host whose speed
//! drifts (`paired`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use openssl::pkey::PKey;
use samlhub::saml::dsig::TrustedKey;
use samlhub::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use samlhub::saml::response::{validate, Expect, IdpTrust, InResponseTo};
use samlhub::saml::sign::{sign_enveloped, SignOptions};
use time::OffsetDateTime;

const IDP: &str = "https://idp.bench.test/";
const SP: &str = "https://hub.bench.test/saml/metadata";
const ACS: &str = "https://hub.bench.test/saml/acs";

fn attr<S: AsRef<str>>(name: &str, vals: &[S]) -> String {
    let v: String = vals
        .iter()
        .map(|v| {
            format!(
                "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                v.as_ref()
            )
        })
        .collect();
    format!("<saml:Attribute Name=\"{name}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">{v}</saml:Attribute>")
}

/// The seven attributes of the standard response, with `groups` holding
/// the five usual groups and then `extra_groups`.
fn seven_attributes(extra_groups: &[String]) -> String {
    let mut groups: Vec<String> = ["ha-admins", "users", "family", "garage-door", "cameras"]
        .iter()
        .map(|g| g.to_string())
        .collect();
    groups.extend_from_slice(extra_groups);
    [
        attr("uid", &["alice"]),
        attr("mail", &["alice@example.org"]),
        attr("displayName", &["Alice Example"]),
        attr("givenName", &["Alice"]),
        attr("sn", &["Example"]),
        attr("groups", &groups),
        attr("eduPersonPrincipalName", &["alice@example.org"]),
    ]
    .concat()
}

/// The standard response with `attrs` as its AttributeStatement.
fn response(now: OffsetDateTime, attrs: &str) -> String {
    let t = |d: i64| samlhub::saml::response::fmt_time(now + time::Duration::seconds(d));
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r0123456789abcdef0123456789abcdef" Version="2.0" IssueInstant="{ii}" Destination="{ACS}" InResponseTo="_req1"><saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a0123456789abcdef0123456789abcdef" Version="2.0" IssueInstant="{ii}"><saml:Issuer>{IDP}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" SPNameQualifier="{SP}">alice</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{noa}" Recipient="{ACS}" InResponseTo="_req1"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{ii}" SessionNotOnOrAfter="{snoa}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
        ii = t(0),
        nb = t(-30),
        noa = t(300),
        snoa = t(28800),
    )
}

fn bench(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)]
    let now = OffsetDateTime::now_utc();
    // `ACS_COUNT=OP:N` (OP one of verify, assertion, both) runs one
    // operation N times and exits, for instruction counts (`perf stat -e
    // instructions:u`), which a shared VM disturbs far less than time. A
    // fixed key then keeps key generation's variable cost the same.
    let count = std::env::var("ACS_COUNT").ok();
    let key = if count.is_some() {
        PKey::private_key_from_pem(include_bytes!("../fuzz/keys/TEST-ONLY-idp-rsa2048.key.pem"))
            .unwrap()
    } else {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    };
    let cert_key = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
    let keys = vec![TrustedKey::new(cert_key.clone()).unwrap()];
    let map = AttributeMap::new(Profile::Generic, &AttributeOverrides::default());
    let trust = IdpTrust {
        id: "bench",
        entity_id: IDP,
        keys: &keys,
        allow_sha1: false,
        allow_cbc: false,
        allow_rsa1_5: false,
        clock_skew: time::Duration::minutes(1),
        attributes: &map,
        allow_non_ncname_ids: false,
    };
    let expect = Expect {
        sp_entity_id: Some(SP),
        acs_url: Some(ACS),
        in_response_to: InResponseTo::Request("_req1"),
        now,
        decryption_keys: &[],
    };
    let opts = SignOptions::default();
    let unsigned = response(now, &seven_attributes(&[]));
    let assertion_only =
        sign_enveloped(&unsigned, "_a0123456789abcdef0123456789abcdef", &key, &opts).unwrap();
    let both = sign_enveloped(
        &assertion_only,
        "_r0123456789abcdef0123456789abcdef",
        &key,
        &opts,
    )
    .unwrap();
    assert!(validate(both.as_bytes(), &trust, &expect).is_ok());
    assert!(validate(assertion_only.as_bytes(), &trust, &expect).is_ok());
    eprintln!(
        "response sizes: assertion-only {} bytes, both signed {} bytes",
        assertion_only.len(),
        both.len()
    );

    if let Some(count) = count {
        let (op, n) = count.split_once(':').expect("ACS_COUNT=OP:N");
        let n: usize = n.parse().expect("ACS_COUNT=OP:N");
        let sig = baseline_signature(&key);
        let digest = openssl::sha::sha256(&BASELINE_DATA);
        let mut ctx = prepared_verify(&cert_key);
        for _ in 0..n {
            match op {
                "verify" => assert!(ctx.verify(black_box(&digest), black_box(&sig)).unwrap()),
                "assertion" => {
                    validate(black_box(assertion_only.as_bytes()), &trust, &expect).unwrap();
                }
                "both" => {
                    validate(black_box(both.as_bytes()), &trust, &expect).unwrap();
                }
                other => panic!("ACS_COUNT: unknown operation {other}"),
            }
        }
        std::process::exit(0);
    }

    if let Ok(rounds) = std::env::var("ACS_PAIRED") {
        let (rounds, batch) = rounds.split_once(':').unwrap_or((&rounds, "64"));
        let rounds: usize = rounds.parse().expect("ACS_PAIRED=ROUNDS[:BATCH]");
        let batch: u32 = batch.parse().expect("ACS_PAIRED=ROUNDS[:BATCH]");
        let sig = baseline_signature(&key);
        paired(rounds, batch, &|| verify_fresh(&cert_key, &sig), &|op| {
            let doc = if op == 1 { &assertion_only } else { &both };
            validate(black_box(doc.as_bytes()), &trust, &expect).unwrap();
        });
        std::process::exit(0);
    }

    let mut g = c.benchmark_group("acs");
    g.throughput(Throughput::Elements(1));
    let sig = baseline_signature(&key);
    g.bench_function("baseline_openssl_rsa2048_verify", |b| {
        b.iter(|| verify_fresh(&cert_key, &sig))
    });
    // The bound: the RSA operation alone, as `openssl speed` runs it (one
    // context set up once, a digest computed beforehand).
    g.bench_function("baseline_openssl_rsa2048_verify_reused_ctx", |b| {
        let digest = openssl::sha::sha256(&BASELINE_DATA);
        let mut ctx = prepared_verify(&cert_key);
        b.iter(|| assert!(ctx.verify(black_box(&digest), black_box(&sig)).unwrap()))
    });
    g.bench_function("validate_both_signed", |b| {
        b.iter(|| validate(black_box(both.as_bytes()), &trust, &expect).unwrap())
    });
    g.bench_function("validate_assertion_signed", |b| {
        b.iter(|| validate(black_box(assertion_only.as_bytes()), &trust, &expect).unwrap())
    });
    let oversized = format!("{}{}", both, " ".repeat(300 * 1024));
    g.bench_function("reject_oversized_300k", |b| {
        b.iter(|| validate(black_box(oversized.as_bytes()), &trust, &expect).unwrap_err())
    });
    let doctype = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{both}");
    g.bench_function("reject_doctype", |b| {
        b.iter(|| validate(black_box(doctype.as_bytes()), &trust, &expect).unwrap_err())
    });
    g.finish();

    // Scale curves, Assertion signed. Every response is validated once
    // before it is timed, so a curve point is never a refusal.
    let sign =
        |xml: &str| sign_enveloped(xml, "_a0123456789abcdef0123456789abcdef", &key, &opts).unwrap();
    let mut g = c.benchmark_group("acs_scale");
    g.throughput(Throughput::Elements(1));
    for kib in [4usize, 64, 256] {
        let doc = sized_response(now, kib * 1024, &sign);
        assert!(validate(doc.as_bytes(), &trust, &expect).is_ok());
        eprintln!("size_{kib}k: {} bytes", doc.len());
        g.bench_function(format!("size_{kib}k"), |b| {
            b.iter(|| validate(black_box(doc.as_bytes()), &trust, &expect).unwrap())
        });
    }
    for n in [7usize, 100, 1000] {
        let extra: String = (7..n)
            .map(|i| {
                attr(
                    &format!("urn:oid:1.3.6.1.4.1.99999.{i}"),
                    &[format!("value {i}")],
                )
            })
            .collect();
        let doc = sign(&response(now, &(seven_attributes(&[]) + &extra)));
        let accepted = validate(doc.as_bytes(), &trust, &expect).unwrap();
        assert_eq!(accepted.identity.attributes.len(), n);
        eprintln!("attributes_{n}: {} bytes", doc.len());
        g.bench_function(format!("attributes_{n}"), |b| {
            b.iter(|| validate(black_box(doc.as_bytes()), &trust, &expect).unwrap())
        });
    }
    g.finish();
}

/// The message every baseline verify checks.
const BASELINE_DATA: [u8; 600] = [7; 600];

/// [`BASELINE_DATA`] signed by `key` (PKCS#1 v1.5, SHA-256).
fn baseline_signature(key: &PKey<openssl::pkey::Private>) -> Vec<u8> {
    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key)
        .unwrap()
        .sign_oneshot_to_vec(&BASELINE_DATA)
        .unwrap()
}

/// The baseline: one verify of [`BASELINE_DATA`] with a `Verifier` set up
/// for it, as a caller without prepared contexts pays.
fn verify_fresh(cert_key: &PKey<openssl::pkey::Public>, sig: &[u8]) {
    let mut v =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), cert_key).unwrap();
    assert!(v
        .verify_oneshot(black_box(sig), black_box(&BASELINE_DATA))
        .unwrap());
}

/// A verify context set up once (PKCS#1 v1.5, SHA-256), as `openssl speed`
/// runs it; it verifies a digest computed beforehand.
fn prepared_verify(
    cert_key: &PKey<openssl::pkey::Public>,
) -> openssl::pkey_ctx::PkeyCtx<openssl::pkey::Public> {
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(cert_key).unwrap();
    ctx.verify_init().unwrap();
    ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
    ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
    ctx
}

/// `ACS_PAIRED=ROUNDS[:BATCH]`: the baseline verify (`baseline`, as in the
/// criterion group) and the two validations timed in turns, a batch of
/// each per round (64 unless given: long enough that the first call's
/// cold caches weigh little, short enough that the host's speed does not
/// change within a round), the order rotated from round to round. Each round
/// gives its own ratios to its own baseline, so a host whose speed drifts
/// over seconds (a shared VM) moves both sides of a ratio together; the
/// median and quartiles over the rounds are printed. `validation(1)` is
/// the Assertion-signed validation, `validation(2)` the both-signed one.
fn paired(rounds: usize, batch_len: u32, baseline: &dyn Fn(), validation: &dyn Fn(u8)) {
    use std::time::Instant;
    let batch = |op: u8| {
        let t = Instant::now();
        for _ in 0..batch_len {
            match op {
                0 => baseline(),
                _ => validation(op),
            }
        }
        t.elapsed().as_secs_f64() * 1e6 / f64::from(batch_len)
    };
    let warm_up = rounds / 10;
    let mut times: [Vec<f64>; 3] = Default::default();
    let mut ratios: [Vec<f64>; 2] = Default::default();
    for round in 0..warm_up + rounds {
        let mut t = [0.0f64; 3];
        for k in 0..3 {
            let op = (round + k) % 3;
            t[op] = batch(op as u8);
        }
        if round < warm_up {
            continue;
        }
        for (all, v) in times.iter_mut().zip(t) {
            all.push(v);
        }
        ratios[0].push(t[1] / t[0]);
        ratios[1].push(t[2] / t[0]);
    }
    let quartiles = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: usize| v[(v.len() - 1) * q / 4];
        (at(1), at(2), at(3))
    };
    println!("paired rounds: {rounds} of {batch_len} each (median, with quartiles)");
    for (name, v) in ["baseline verify", "Assertion signed", "both signed"]
        .iter()
        .zip(times.iter_mut())
    {
        let (lo, mid, hi) = quartiles(v);
        println!("  {name}: {mid:.2} µs ({lo:.2}–{hi:.2})");
    }
    for (name, v) in ["Assertion signed", "both signed"]
        .iter()
        .zip(ratios.iter_mut())
    {
        let (lo, mid, hi) = quartiles(v);
        println!("  ratio, {name}: {mid:.3}× ({lo:.3}–{hi:.3})");
    }
}

/// The standard response signed, its `groups` attribute grown with group
/// names until the document is as close to `target` bytes as whole groups
/// allow, then padded to exactly `target` inside the last group name (the
/// smallest, 4 KiB, is the standard response as it is).
fn sized_response(now: OffsetDateTime, target: usize, sign: &dyn Fn(&str) -> String) -> String {
    let base = sign(&response(now, &seven_attributes(&[])));
    if base.len() >= target {
        return base;
    }
    // The Signature adds the same number of bytes to any document.
    let overhead = base.len() - response(now, &seven_attributes(&[])).len();
    let want = target - overhead;
    // Each `group-NNNNN` value adds the same number of bytes.
    let one = response(now, &seven_attributes(&["group-00000".into()])).len();
    let per = one - response(now, &seven_attributes(&[])).len();
    let count = (want - response(now, &seven_attributes(&[])).len()) / per;
    let mut groups: Vec<String> = (0..count).map(|i| format!("group-{i:05}")).collect();
    let short = want - response(now, &seven_attributes(&groups)).len();
    if let Some(last) = groups.last_mut() {
        last.push_str(&"x".repeat(short));
    }
    let doc = sign(&response(now, &seven_attributes(&groups)));
    assert_eq!(doc.len(), target);
    doc
}

criterion_group!(benches, bench);
criterion_main!(benches);
