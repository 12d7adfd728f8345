//! The SP-initiated login as a flow over the store: [`begin`] records a
//! pending request under an opaque RelayState handle and builds the signed
//! AuthnRequest for the IdP's SSO binding (HTTP-Redirect, or HTTP-POST with
//! an enveloped signature); [`finish`] takes the pending request back at
//! the ACS, validates the response against the IdP chosen when the login
//! started, and consumes the assertion exactly once. A response that no
//! pending request matches goes to [`super::unsolicited`], which refuses it
//! unless it is IdP-initiated and its IdP allows that.
//!
//! Each login is bound to the browser that started it (login CSRF, RFC 6749
//! §10.12 applied to the SP): [`begin`] stores the SHA-256 of a secret that
//! the HTTP layer keeps in an HttpOnly cookie. At the ACS the cookie must
//! match when the browser sends it. A browser that does not send it on the
//! IdP's cross-site POST (a `SameSite=Lax` cookie under plain http) gets a
//! second, same-site hop: [`finish`] parks the verified result under a
//! one-time ticket, and [`complete`] releases it only to the browser whose
//! cookie matches. The replay and single-use checks are unchanged.
//!
//! [`finish`] writes nothing itself: it returns what consuming the response
//! takes ([`Consume`]: the replay key, the answered marker, a parked
//! ticket), the HTTP layer adds the session's records, and one commit of
//! that batch writes them all or, if the assertion or the request was used
//! already, nothing ([`Consume::settle`] judges it).

use crate::config::{Config, Idp};
use crate::directory::IdpSet;
use crate::identity::Identity;
use crate::saml::authn_request::{post_value, redirect_url, AuthnRequest};
use crate::saml::logout::SloLink;
use crate::saml::metadata::SsoBinding;
use crate::saml::response::Accepted;
use crate::saml::response::{self, Expect, InResponseTo, ResponseError};
use crate::store::records::{self, Answered, Batch, Key, Kind, Replay};
use crate::store::{Committed, Store, StoreError};
use crate::xml::Limits;
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a started login may take at the IdP.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// A login we started, stored under its RelayState handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub request_id: String,
    pub idp: String,
    pub return_to: String,
    /// SHA-256 of the login cookie of the browser that started the login.
    #[serde(default)]
    pub browser: String,
}
crate::json_record!(Pending, Kind::Pending);

/// A verified login waiting for its browser's same-site second hop.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    pub identity: Identity,
    pub return_to: String,
    pub browser: String,
    /// What Single Logout needs of this login.
    #[serde(default)]
    pub slo: Option<SloLink>,
}
crate::json_record!(Verified, Kind::Verified);

/// How long a verified login waits for the second hop.
pub const VERIFIED_TTL: Duration = Duration::from_secs(120);

/// Why a login could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("unknown IdP '{0}'")]
    UnknownIdp(String),
    #[error("no IdP chosen and {0} are configured")]
    ChooseIdp(usize),
    #[error("return_to refused: {0}")]
    BadReturnTo(String),
    #[error("no SAMLResponse in the POST")]
    NoResponse,
    #[error("RelayState refused: {0}")]
    RelayState(String),
    #[error("response refused: {0}")]
    Response(#[from] ResponseError),
    #[error("replay: assertion '{assertion}' from IdP '{idp}' was already used")]
    Replay { assertion: String, idp: String },
    #[error("request '{0}' was already answered by another assertion")]
    AlreadyAnswered(String),
    #[error("the login was started in another browser ({0})")]
    OtherBrowser(&'static str),
    #[error("the sign-in to continue is unknown, expired or already used")]
    ContinueExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the AuthnRequest: {0}")]
    Internal(String),
    #[error("IdP '{0}' started this sign-in (an unsolicited response, SAML Profiles §4.1.5) and IdP-initiated login is off for it; set allow_unsolicited = true in its [[idp]] section to accept it")]
    UnsolicitedOff(String),
    /// The IdP's metadata is past its `validUntil` and no fresh copy has
    /// arrived (SAML Metadata §2.3.1: it must not be relied on any more).
    #[error("metadata of IdP '{idp}' expired at {valid_until}; logins through it stop until a fresh copy is fetched")]
    MetadataExpired {
        idp: String,
        display_name: String,
        valid_until: String,
    },
}

/// Refuses an IdP whose metadata is past its `validUntil` (SAML Metadata
/// §2.3.1: "the metadata … MUST NOT be relied upon after that time").
pub fn check_metadata_current(idp: &Idp, now: OffsetDateTime) -> Result<(), LoginError> {
    match idp.metadata.valid_until {
        Some(t) if now >= t => Err(LoginError::MetadataExpired {
            idp: idp.id.clone(),
            display_name: idp.display_name.clone(),
            valid_until: response::fmt_time(t),
        }),
        _ => Ok(()),
    }
}

/// Only a path on this site: starts with one '/', no scheme, no authority,
/// no backslashes or control characters.
pub fn check_return_to(rt: &str) -> Result<(), LoginError> {
    let bad = |why: &str| {
        Err(LoginError::BadReturnTo(format!(
            "{why}: '{}'",
            rt.chars().take(100).collect::<String>()
        )))
    };
    if rt.len() > 2048 {
        return bad("too long");
    }
    if !rt.starts_with('/') || rt.starts_with("//") || rt.starts_with("/\\") {
        return bad("not a same-origin path");
    }
    if rt.chars().any(|c| c.is_control() || c == '\\') {
        return bad("control character or backslash");
    }
    Ok(())
}

/// The IdP named by `id`, or the only one configured.
pub fn choose_idp(idps: &IdpSet, id: Option<&str>) -> Result<Arc<Idp>, LoginError> {
    match id {
        Some(id) => idps
            .get(id)
            .ok_or_else(|| LoginError::UnknownIdp(id.chars().take(64).collect())),
        None => match idps.all() {
            [one] => Ok(one.clone()),
            many => Err(LoginError::ChooseIdp(many.len())),
        },
    }
}

/// A started login: how the browser reaches the IdP, and its RelayState handle.
pub struct Begun {
    pub to_idp: ToIdp,
    pub handle: String,
}

/// How the AuthnRequest travels to the IdP.
pub enum ToIdp {
    /// HTTP-Redirect (SAML Bindings §3.4): send the browser to this URL.
    Redirect(String),
    /// HTTP-POST (SAML Bindings §3.5): the browser posts a form to `action`
    /// with `SAMLRequest` (signed, base64) and `RelayState`.
    Post {
        action: String,
        saml_request: String,
        relay_state: String,
    },
}

/// What a login is started with.
pub struct Start<'a> {
    pub idp: &'a Idp,
    /// A path on this site to go to afterwards.
    pub return_to: String,
    /// Ask the IdP for a fresh sign-in (SAML Core §3.4.1 ForceAuthn).
    pub force_authn: bool,
    /// The secret of this browser's login cookie.
    pub browser_secret: &'a str,
}

/// Records the pending request and builds the signed AuthnRequest for the
/// IdP's SSO binding (SAML Bindings §3.4, §3.5; RelayState is an opaque
/// handle, §3.4.3, §3.5.3).
pub async fn begin<S: Store>(
    store: &S,
    cfg: &Config,
    signing_key: &PKey<Private>,
    start: Start<'_>,
    now: OffsetDateTime,
) -> Result<Begun, LoginError> {
    let Start {
        idp,
        return_to,
        force_authn,
        browser_secret,
    } = start;
    check_return_to(&return_to)?;
    check_metadata_current(idp, now)?;
    let rng = |e: crate::crypto::RngError| LoginError::Internal(e.to_string());
    // 160 random bits; the leading '_' makes it an NCName (SAML Core §1.3.4).
    let request_id = format!("_{}", crate::crypto::random_hex(20).map_err(rng)?);
    let handle = crate::crypto::random_token(16).map_err(rng)?;
    let pending = Pending {
        request_id: request_id.clone(),
        idp: idp.id.clone(),
        return_to,
        browser: crate::crypto::sha256_hex(browser_secret),
    };
    let sso = idp
        .sso()
        .map_err(|e| LoginError::Internal(format!("IdP '{}': {e}", idp.id)))?;
    records::put_transient(store, &Key::of(&[&handle]), &pending, PENDING_TTL).await?;
    let acs = cfg.acs_url();
    let req = AuthnRequest {
        id: &request_id,
        issue_instant: now,
        destination: &sso.location,
        acs_url: &acs,
        sp_entity_id: &cfg.entity_id,
        force_authn,
    };
    let internal = |e: crate::saml::binding::BindingError| LoginError::Internal(e.to_string());
    let to_idp = match sso.binding {
        SsoBinding::Redirect => ToIdp::Redirect(
            redirect_url(&sso.location, &req.to_xml(), &handle, signing_key).map_err(internal)?,
        ),
        SsoBinding::Post => ToIdp::Post {
            saml_request: post_value(&req.to_xml(), &request_id, signing_key).map_err(internal)?,
            action: sso.location,
            relay_state: handle.clone(),
        },
    };
    Ok(Begun { to_idp, handle })
}

/// A login completed at the ACS.
pub struct Finished {
    pub identity: Identity,
    pub return_to: String,
    /// What Single Logout needs of this login (NameID, SessionIndex).
    pub slo: Option<SloLink>,
}

/// What the ACS does with a verified response.
pub enum AcsOutcome {
    /// The browser proved it started the login: sign it in.
    Done(Box<Finished>),
    /// The browser sent no login cookie: continue same-site with `ticket`.
    Continue { ticket: String },
    /// An IdP-initiated login, verified and parked under `ticket`: the user
    /// confirms the account before `/saml/continue` signs in; the browser
    /// gets (or keeps) the login cookie holding `browser_secret`.
    Confirm {
        ticket: String,
        browser_secret: String,
        identity: Box<Identity>,
        idp_name: String,
    },
}

/// A fresh secret for the login cookie.
pub fn new_browser_secret() -> Result<String, LoginError> {
    crate::crypto::random_token(32).map_err(|e| LoginError::Internal(e.to_string()))
}

/// Whether a cookie value has the shape of a secret we issue.
pub fn is_browser_secret(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `secret` is the one whose hash a pending login recorded.
fn same_browser(recorded: &str, secret: &str) -> bool {
    let h = crate::crypto::sha256_hex(secret);
    !recorded.is_empty()
        && recorded.len() == h.len()
        && openssl::memcmp::eq(recorded.as_bytes(), h.as_bytes())
}

/// Whether `handle` has the shape of a handle we issue (22 base64url chars).
fn is_handle(handle: &str) -> bool {
    handle.len() == 22
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates the POSTed response for the pending request `relay_state`
/// names, and returns what consuming it takes: the replay key (SAML
/// Profiles §4.1.4.5) and the single answer to the request, plus the parked
/// ticket of a [`AcsOutcome::Continue`]. Nothing is consumed until the
/// caller's commit of [`Consume::batch`]. A store failure fails the login.
// Each argument is a distinct input of the ACS (state, trust, keys, the
// three request fields, time).
#[allow(clippy::too_many_arguments)]
pub async fn finish<S: Store>(
    store: &S,
    cfg: &Config,
    idps: &IdpSet,
    decryption_keys: &[PKey<Private>],
    relay_state: Option<&str>,
    encoded: Option<&str>,
    browser: Option<&str>,
    now: OffsetDateTime,
) -> Result<(AcsOutcome, Consume), LoginError> {
    let encoded = encoded.ok_or(LoginError::NoResponse)?;
    // RelayState is our opaque handle (SAML Bindings §3.5.3). Without a
    // pending login under it, only an IdP-initiated response from an IdP
    // that allows them is taken (SAML Profiles §4.1.5).
    let not_ours = LoginError::RelayState(
        match relay_state {
            None => "missing (unsolicited responses are not accepted)",
            Some(h) if !is_handle(h) => "not a handle issued here (a URL or other value)",
            Some(_) => "unknown or expired",
        }
        .into(),
    );
    let pending: Option<Pending> = match relay_state.filter(|h| is_handle(h)) {
        Some(handle) => records::get(store, &Key::of(&[handle])).await?,
        None => None,
    };
    let Some(pending) = pending else {
        return super::unsolicited::finish(
            cfg,
            idps,
            decryption_keys,
            encoded,
            browser,
            not_ours,
            now,
        )
        .await;
    };
    // Our own record names the IdP, so a refusal from here on may name it.
    crate::audit::note_idp(&pending.idp);
    // A browser that sends a login cookie must be the one that started the
    // login; this is checked before anything is consumed.
    if browser.is_some_and(|b| !same_browser(&pending.browser, b)) {
        return Err(LoginError::OtherBrowser("cookie does not match at the ACS"));
    }
    // The IdP is the one chosen when the login started, never the Issuer.
    let idp = idps.get(&pending.idp).ok_or_else(|| {
        LoginError::RelayState(format!("IdP '{}' is no longer configured", pending.idp))
    })?;
    check_metadata_current(&idp, now)?;
    let xml = response::decode_post(encoded, &Limits::MESSAGE)?;
    let acs_url = cfg.acs_url();
    let expect = Expect {
        sp_entity_id: Some(&cfg.entity_id),
        acs_url: Some(&acs_url),
        in_response_to: InResponseTo::Request(&pending.request_id),
        now,
        decryption_keys,
    };
    let accepted = response::validate(&xml, &idp.trust(), &expect)?;
    // Verified: a refusal from here on (a replay) may name the person.
    crate::audit::note_identity(cfg.ops.audit_user, &accepted.identity);
    let mut consume = consume_assertion("login", &idp, &accepted, now)?;
    // The pending request is single use: one assertion may answer it. The
    // entry is left to expire, so a repost of the same response still reaches
    // the replay check (claimed first) and is named as a replay.
    consume.answers(&pending.request_id)?;
    if browser.is_some() {
        let done = AcsOutcome::Done(Box::new(Finished {
            identity: accepted.identity,
            return_to: pending.return_to,
            slo: accepted.slo,
        }));
        return Ok((done, consume));
    }
    let ticket =
        crate::crypto::random_token(32).map_err(|e| LoginError::Internal(e.to_string()))?;
    let parked = Verified {
        identity: accepted.identity,
        return_to: pending.return_to,
        browser: pending.browser,
        slo: accepted.slo,
    };
    consume
        .batch()
        .put(&Key::secret(&ticket), &parked, VERIFIED_TTL)?;
    Ok((AcsOutcome::Continue { ticket }, consume))
}

/// Why a login whose commit still found one of its conditions unmet (after
/// the caller's retries) is refused: nothing was written.
pub const RECORDS_CHANGED: &str = "the login's records changed while they were written; try again";

/// What consuming a verified response writes, not written yet: the claim of
/// the (IdP, Assertion ID) pair (SAML Profiles §4.1.4.5), the claim of the
/// request's single answer, and whatever the flow adds ([`Self::batch`]:
/// a parked ticket, the session). The caller applies the batch as one unit
/// and hands what it did to [`Self::settle`].
pub struct Consume {
    batch: Batch,
    /// The index of the replay claim in `batch`.
    replay: usize,
    assertion: String,
    idp: String,
    /// The request this response answers, once claimed.
    request_id: Option<String>,
    /// The log line of an accepted response, written once it is consumed.
    accepted: String,
}

impl Consume {
    /// Claims the single answer to the SP-initiated request `request_id`
    /// (SAML Profiles §4.1.4.3), after the replay claim.
    fn answers(&mut self, request_id: &str) -> Result<(), LoginError> {
        let answered = Key::<Answered>::of(&[request_id]);
        self.batch.claim(&answered, &Answered, PENDING_TTL)?;
        self.request_id = Some(request_id.to_owned());
        Ok(())
    }

    /// The batch the caller adds the sign-in's records to.
    pub fn batch(&mut self) -> &mut Batch {
        &mut self.batch
    }

    /// What the commit of the batch ([`Store::commit`], by the caller, who
    /// may retry it on its own conditions) did, for the login. If the assertion
    /// was consumed before, nothing was written and the login is refused as
    /// a replay; if only the request was answered before, as already
    /// answered. The replay claim comes first, so a repost of a response is
    /// named a replay whichever claim a concurrent login took.
    pub fn settle(self, done: Committed) -> Result<(), LoginError> {
        match done {
            Committed::Written => {
                log::info!("{}", self.accepted);
                Ok(())
            }
            Committed::Taken(i) if i == self.replay => Err(LoginError::Replay {
                assertion: self.assertion,
                idp: self.idp,
            }),
            Committed::Taken(_) => Err(LoginError::AlreadyAnswered(
                self.request_id.unwrap_or_default(),
            )),
            // Conditions are the caller's (the Single Logout index), and
            // its commit retries on them; one still unmet here wrote nothing.
            Committed::Unmet(_) => {
                Err(crate::store::StoreError::Unavailable(RECORDS_CHANGED.into()).into())
            }
        }
    }
}

/// Starts consuming a verified response: claims the (IdP, Assertion ID)
/// pair, kept until the assertion could no longer be accepted (SAML
/// Profiles §4.1.4.5). `what` names the flow in the log line.
pub(crate) fn consume_assertion(
    what: &str,
    idp: &Idp,
    accepted: &Accepted,
    now: OffsetDateTime,
) -> Result<Consume, LoginError> {
    let ttl = records::ttl_until(accepted.replay_until.unix_timestamp(), now.unix_timestamp());
    let replay = Key::<Replay>::of(&[&idp.id, &crate::crypto::sha256_hex(&accepted.assertion_id)]);
    let mut batch = Batch::new();
    let index = batch.claim(&replay, &Replay, ttl)?;
    Ok(Consume {
        batch,
        replay: index,
        assertion: accepted.assertion_id.clone(),
        idp: idp.id.clone(),
        request_id: None,
        accepted: accepted_line(what, idp, accepted),
    })
}

/// The log line of an accepted response; the subject only as a hash prefix.
fn accepted_line(what: &str, idp: &Idp, accepted: &Accepted) -> String {
    format!(
        "{what}: idp={} subject={} signed_response={} signed_assertion={} encrypted={}",
        idp.id,
        crate::crypto::sha256_hex(&accepted.identity.scoped_subject())
            .get(..12)
            .unwrap_or(""),
        accepted.signed_response,
        accepted.signed_assertion,
        accepted.encrypted
    )
}

/// The same-site second hop: releases a verified login to the browser whose
/// login cookie matches the one that started it; the ticket works once.
pub async fn complete<S: Store>(
    store: &S,
    ticket: Option<&str>,
    browser: Option<&str>,
) -> Result<Finished, LoginError> {
    let ticket = ticket
        .filter(|t| is_browser_secret(t))
        .ok_or(LoginError::ContinueExpired)?;
    let v: Verified = records::take(store, &Key::secret(ticket))
        .await?
        .ok_or(LoginError::ContinueExpired)?;
    match browser {
        Some(b) if same_browser(&v.browser, b) => {
            log::info!("login: completed through the same-site second hop");
            Ok(Finished {
                identity: v.identity,
                return_to: v.return_to,
                slo: v.slo,
            })
        }
        Some(_) => Err(LoginError::OtherBrowser("cookie does not match")),
        None => Err(LoginError::OtherBrowser("no login cookie")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_be_a_local_path() {
        for ok in ["/", "/session", "/oidc/authorize?client_id=x&y=%2F"] {
            assert!(check_return_to(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil",
            "//evil.com/x",
            "/\\evil.com",
            "evil",
            "",
            "/x\ny",
            "javascript:alert(1)",
            "/a\\b",
        ] {
            assert!(check_return_to(bad).is_err(), "{bad}");
        }
    }
}
