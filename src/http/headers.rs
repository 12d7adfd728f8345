//! Security headers on every response, HTML or JSON, success or error:
//! a Content-Security-Policy that allows no script or style but the hashed
//! inline blocks of our own pages and forbids framing (CSP Level 3
//! `frame-ancestors`), `X-Content-Type-Options: nosniff`, a Referrer-Policy
//! that sends nothing (codes and handles travel in URLs), and
//! `X-Frame-Options` for browsers without CSP. A handler's own value wins.

use super::pages;
use actix_web::middleware::DefaultHeaders;
use base64::Engine;
use std::sync::LazyLock;

/// `'sha256-…'` of an inline block (CSP Level 3 §2.3.1 hash-source).
fn hash_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(text.as_bytes()))
    )
}

/// The policy, built once from the pages' inline blocks.
pub static CSP: LazyLock<String> = LazyLock::new(|| {
    let scripts: Vec<String> = pages::SCRIPTS.iter().map(|s| hash_source(s)).collect();
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        hash_source(pages::STYLE),
        scripts.join(" ")
    )
});

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP.as_str()))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
}
