//! IdP-initiated login (SAML Profiles §4.1.5): a Response that answers no
//! request of ours, as Entra's "Test" button, a My Apps tile or
//! SimpleSAMLphp's `spentityid=` link send. Off unless an IdP sets
//! `allow_unsolicited = true`.
//!
//! What this module owns: telling an unsolicited response from an answer to
//! a login we started (no pending request under the RelayState and no
//! InResponseTo), naming its IdP by the Issuer (the only name such a
//! response has), the landing target `unsolicited_target`, and the flow at
//! the ACS. The response pipeline (signature, Destination, Recipient,
//! Audience, times) and the replay key are the SP-initiated ones;
//! InResponseTo must be absent (§4.1.5). The IdP's RelayState is never a
//! redirect target: the landing page is fixed by configuration.
//!
//! Login CSRF: anyone can obtain a valid unsolicited assertion for their
//! own account and make a victim's browser post it. So no session is set at
//! the ACS. The verified login is parked under a one-time ticket bound to
//! this browser's login cookie, and a same-site page names the account and
//! asks the user to continue; only that click (`/saml/continue`) signs in.

use super::response::{self, Expect, InResponseTo};
use super::sp::{self, AcsOutcome, LoginError, Verified, VERIFIED_TTL};
use crate::config::{Config, Idp};
use crate::directory::IdpSet;
use crate::store::records::Key;
use crate::xml::{ns, parse, Limits};
use openssl::pkey::{PKey, Private};
use time::OffsetDateTime;

/// Where an IdP-initiated login lands (`unsolicited_target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsolicitedTarget {
    /// A page of this site: `/`, `/session`, `/ha` or `/ha/login`; the HA
    /// pages may name an instance with `?instance=<id>`.
    Path {
        path: &'static str,
        instance: Option<String>,
    },
    /// `oidc:<client_id>`: that client's home, the origin (scheme, host and
    /// port) of its first redirect URI.
    OidcClient(String),
}

impl Default for UnsolicitedTarget {
    fn default() -> Self {
        Self::Path {
            path: crate::routes::INDEX,
            instance: None,
        }
    }
}

const PAGES: &[&str] = &[
    crate::routes::INDEX,
    crate::routes::SESSION,
    crate::routes::HA,
    crate::routes::HA_LOGIN,
];

impl UnsolicitedTarget {
    /// Reads the config spelling. The instance or client it names is
    /// checked by the config against what is configured.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{s}' is not one of /, /session, /ha, /ha/login, /ha?instance=<id>, /ha/login?instance=<id> or oidc:<client_id>"
            )
        };
        if let Some(client) = s.strip_prefix("oidc:") {
            if client.is_empty() || client.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad());
            }
            return Ok(Self::OidcClient(client.to_owned()));
        }
        let (path, instance) = match s.split_once('?') {
            None => (s, None),
            Some((p, q)) => {
                let inst = q.strip_prefix("instance=").ok_or_else(bad)?;
                let ok = !inst.is_empty()
                    && inst.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    });
                if !ok || !p.starts_with(crate::routes::HA) {
                    return Err(bad());
                }
                (p, Some(inst.to_owned()))
            }
        };
        let path = PAGES.iter().find(|p| **p == path).ok_or_else(bad)?;
        Ok(Self::Path { path, instance })
    }

    /// The URL the browser goes to once signed in.
    pub fn resolve(&self, cfg: &Config) -> Result<String, LoginError> {
        match self {
            Self::Path {
                path,
                instance: None,
            } => Ok((*path).to_owned()),
            Self::Path {
                path,
                instance: Some(i),
            } => Ok(format!("{path}?instance={i}")),
            Self::OidcClient(id) => cfg
                .oidc
                .client(id)
                .and_then(|c| c.redirect_uris.first())
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.origin().ascii_serialization() + "/")
                .ok_or_else(|| {
                    LoginError::Internal(format!("unsolicited_target: no OIDC client '{id}'"))
                }),
        }
    }
}

/// What is read from a response before anything is verified, only to
/// classify it and to find the IdP whose keys will verify it.
struct Peek {
    issuer: Option<String>,
    in_response_to: bool,
}

/// The Response's InResponseTo and its Issuer (the Response's, else its
/// Assertion's); `None` when it is not a parseable Response.
fn peek(xml: &[u8]) -> Option<Peek> {
    let doc = parse(xml, &Limits::MESSAGE).ok()?;
    let root = doc.root();
    if !doc.is(root, ns::SAMLP, "Response") {
        return None;
    }
    let issuer_of = |e| doc.child(e, ns::SAML, "Issuer").map(|i| doc.text(i));
    let issuer =
        issuer_of(root).or_else(|| doc.child(root, ns::SAML, "Assertion").and_then(issuer_of));
    Some(Peek {
        issuer: issuer.map(|i| i.trim().to_owned()),
        in_response_to: doc.attr(root, "InResponseTo").is_some(),
    })
}

/// The configured IdP an unsolicited response's Issuer names, or why none
/// may take it. Nothing about the response is trusted yet.
fn idp_for<'a>(idps: &'a IdpSet, issuer: &str) -> Result<Option<&'a Idp>, LoginError> {
    let mut named = idps
        .all()
        .iter()
        .map(|i| i.as_ref())
        .filter(|i| i.metadata.entity_id == issuer)
        .peekable();
    let first = named.peek().copied();
    match named.find(|i| i.allow_unsolicited) {
        Some(idp) => Ok(Some(idp)),
        None => match first {
            Some(i) => Err(LoginError::UnsolicitedOff(i.id.clone())),
            None => Ok(None),
        },
    }
}

/// The ACS for a response that no pending login of ours matches.
/// `not_ours` is the refusal an SP-initiated answer gets here (a RelayState
/// that is missing, foreign or expired); it stands unless the response is
/// a genuine unsolicited one from an IdP that allows them.
#[allow(clippy::too_many_arguments)] // the ACS inputs, as sp::finish
pub(crate) async fn finish(
    cfg: &Config,
    idps: &IdpSet,
    decryption_keys: &[PKey<Private>],
    encoded: &str,
    browser: Option<&str>,
    not_ours: LoginError,
    now: OffsetDateTime,
) -> Result<(AcsOutcome, sp::Consume), LoginError> {
    let Ok(xml) = response::decode_post(encoded, &Limits::MESSAGE) else {
        return Err(not_ours);
    };
    // An answer to a request (SAML Core §3.2.2 InResponseTo) is never taken
    // as unsolicited: without its pending login it is refused as before.
    let Some(Peek {
        issuer: Some(issuer),
        in_response_to: false,
    }) = peek(&xml)
    else {
        return Err(not_ours);
    };
    let Some(idp) = idp_for(idps, &issuer)? else {
        return Err(not_ours);
    };
    sp::check_metadata_current(idp, now)?;
    let return_to = idp.unsolicited_target.resolve(cfg)?;
    let acs_url = cfg.acs_url();
    let expect = Expect {
        sp_entity_id: Some(&cfg.entity_id),
        acs_url: Some(&acs_url),
        in_response_to: InResponseTo::Unsolicited,
        now,
        decryption_keys,
    };
    let accepted = response::validate(&xml, &idp.trust(), &expect)?;
    let mut consume = sp::consume_assertion("unsolicited", idp, &accepted, now)?;

    let secret = match browser {
        Some(b) => b.to_owned(),
        None => sp::new_browser_secret()?,
    };
    let ticket =
        crate::crypto::random_token(32).map_err(|e| LoginError::Internal(e.to_string()))?;
    let who = accepted.identity.clone();
    let parked = Verified {
        slo: accepted.slo,
        identity: accepted.identity,
        return_to,
        browser: crate::crypto::sha256_hex(&secret),
    };
    consume
        .batch()
        .put(&Key::secret(&ticket), &parked, VERIFIED_TTL)?;
    let confirm = AcsOutcome::Confirm {
        ticket,
        browser_secret: secret,
        identity: Box::new(who),
        idp_name: idp.display_name.clone(),
    };
    Ok((confirm, consume))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_strictly() {
        let path = |p: &'static str, i: Option<&str>| UnsolicitedTarget::Path {
            path: p,
            instance: i.map(str::to_owned),
        };
        assert_eq!(UnsolicitedTarget::parse("/"), Ok(path("/", None)));
        assert_eq!(UnsolicitedTarget::parse("/ha"), Ok(path("/ha", None)));
        assert_eq!(
            UnsolicitedTarget::parse("/ha/login?instance=home"),
            Ok(path("/ha/login", Some("home")))
        );
        assert_eq!(
            UnsolicitedTarget::parse("oidc:grafana"),
            Ok(UnsolicitedTarget::OidcClient("grafana".into()))
        );
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/ha/",
            "/oidc/authorize",
            "/session?instance=x",
            "/ha?instance=",
            "/ha?instance=A",
            "/ha?next=/x",
            "oidc:",
            "oidc:a b",
            "relaystate",
        ] {
            assert!(UnsolicitedTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn peek_reads_issuer_and_in_response_to() {
        let r = |attrs: &str, inner: &str| {
            format!(
                "<samlp:Response xmlns:samlp=\"{}\" xmlns:saml=\"{}\" ID=\"_r\"{attrs}>{inner}</samlp:Response>",
                ns::SAMLP,
                ns::SAML
            )
        };
        let p = peek(r("", "<saml:Issuer> https://idp </saml:Issuer>").as_bytes()).unwrap();
        assert_eq!(p.issuer.as_deref(), Some("https://idp"));
        assert!(!p.in_response_to);
        let p = peek(
            r(
                " InResponseTo=\"_q\"",
                "<saml:Assertion ID=\"_a\"><saml:Issuer>https://a</saml:Issuer></saml:Assertion>",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(p.issuer.as_deref(), Some("https://a"));
        assert!(p.in_response_to);
        assert!(peek(b"<x/>").is_none());
        assert!(peek(b"not xml").is_none());
    }
}
