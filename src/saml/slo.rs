//! Single Logout as a flow over the store (SAML Profiles §4.4), both ways.
//!
//! - At login, [`link`] files the session under the IdP and a hash of the
//!   NameID (`slo_index`), with a hash of its SessionIndex, so an IdP's
//!   LogoutRequest finds it. Nothing stores a raw NameID as a key.
//! - SP-initiated, [`begin`] ends the local session at once, then, when the
//!   session came from a SAML login at an IdP with a SingleLogoutService,
//!   records the pending request (`slo_pending`, one-time) and builds the
//!   signed LogoutRequest. [`finish`] checks the IdP's LogoutResponse
//!   against that record and takes it, so an answer works once.
//! - IdP-initiated, [`answer`] verifies the LogoutRequest (the IdP is the one
//!   whose configured entityID the Issuer names; its configured keys decide),
//!   takes its ID once (`slo_replay`), ends every matching session and
//!   builds the signed LogoutResponse.
//!
//! Ending a session ends what rides on it: OIDC codes, access and refresh
//! tokens are refused once their session is gone (`oidc::grant` reads the
//! session on every use), and the person's live Home Assistant login codes
//! are voided (`ha::login::revoke_code`). A store failure fails closed: nothing is
//! accepted, and an IdP gets a Responder status only when its request was
//! verified.

use super::logout::{
    self, Arrived, Expect, LogoutError, LogoutRequest, LogoutResponse, Opened, Outgoing, SloLink,
    Which,
};
use crate::config::{Config, Idp};
use crate::directory::IdpSet;
use crate::session::Session;
use crate::store::records::{self, Batch, Key, Kind, SloReplay};
use crate::store::{Committed, Store, StoreError};
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a LogoutRequest we sent waits for its answer.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// Sessions kept per (IdP, NameID); the oldest drop out beyond this.
const MAX_INDEXED: usize = 64;

/// A LogoutRequest we sent, under `slo_pending:<sha256(its ID)>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogout {
    pub idp: String,
    pub request_id: String,
    /// Where the browser goes afterwards: a checked local path or a
    /// registered post-logout redirect URI. `None`: the signed-out page.
    pub after: Option<String>,
}
crate::json_record!(PendingLogout, Kind::SloPending);

/// One session of a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indexed {
    /// The session's store key (itself a hash of the cookie).
    pub session: String,
    /// SHA-256 of the AuthnStatement's SessionIndex.
    pub session_index: Option<String>,
    /// Unix seconds.
    pub expires: i64,
}

/// The sessions of one principal at one IdP, under
/// `slo_index:<idp>:<sha256(NameID)>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SloIndex {
    pub sessions: Vec<Indexed>,
}
crate::json_record!(SloIndex, Kind::SloIndex);

/// Why a logout could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SloError {
    #[error(transparent)]
    Message(#[from] LogoutError),
    #[error("IdP '{0}' publishes no SingleLogoutService to answer at (SAML Metadata §2.4.2)")]
    NoEndpoint(String),
    #[error("IdP '{0}' of this logout is no longer configured")]
    UnknownIdp(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

/// Where the sessions of (`idp`, NameID) are indexed.
fn index_key(idp: &str, name_id: &str) -> Key<SloIndex> {
    Key::of(&[idp, &crate::crypto::sha256_hex(name_id)])
}

fn new_id() -> Result<String, SloError> {
    // 160 random bits; the '_' makes it an NCName (SAML Core §1.3.4).
    crate::crypto::random_hex(20)
        .map(|h| format!("_{h}"))
        .map_err(|e| SloError::Internal(e.to_string()))
}

fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// How many times a session is filed into the Single Logout index when a
/// login of the same person changed the index in between each time. Each
/// round of a contest lets at least one contender through, so this many
/// logins of one person at the same moment are all filed.
const FILING_TRIES: usize = 8;

/// Files a new session under its IdP and NameID in a commit of its own
/// ([`Filing`]).
pub async fn link<S: Store>(
    store: &S,
    idp: &str,
    slo: &SloLink,
    session: &Key<Session>,
    expires: i64,
    now: i64,
) -> Result<(), StoreError> {
    let filing = Filing {
        idp: idp.to_owned(),
        slo: slo.clone(),
        session: session.clone(),
        expires,
    };
    let mut batch = Batch::new();
    filing.put_into(store, &mut batch, now).await?;
    filing.apply(store, &mut batch, now).await.map(|_| ())
}

/// A new session to file under its IdP and NameID, as part of a commit:
/// the index is read, changed and written back only if it is still as read
/// (a compare-and-set), and read again otherwise, so logins of one person
/// at the same moment all stay findable.
pub struct Filing {
    pub idp: String,
    pub slo: SloLink,
    pub session: Key<Session>,
    /// When the session ends (unix seconds).
    pub expires: i64,
}

impl Filing {
    /// Puts the filing into `batch`: the index of (`idp`, NameID) as read
    /// now with the session added, and the condition that the index is
    /// unchanged when the batch is applied. Again, it replaces both.
    pub async fn put_into<S: Store>(
        &self,
        store: &S,
        batch: &mut Batch,
        now: i64,
    ) -> Result<(), StoreError> {
        let me = indexed(&self.slo, &self.session, self.expires);
        let (k, ix, ttl, seen) = with_session(store, &self.idp, &self.slo, &me, now).await?;
        batch.put(&k, &ix, ttl)?;
        batch.unchanged(&k, seen);
        Ok(())
    }

    /// Applies `batch`, which holds this filing ([`Self::put_into`]). If a
    /// login of the same person changed the index since it was read,
    /// nothing was written: the filing is made again from the index as it
    /// is now and the batch applied again, up to [`FILING_TRIES`] times in
    /// all; then once without the filing (what else the batch holds stands;
    /// only IdP-initiated logout would miss this session), with a warning.
    pub async fn apply<S: Store>(
        &self,
        store: &S,
        batch: &mut Batch,
        now: i64,
    ) -> Result<Committed, StoreError> {
        let mut tries = 1;
        loop {
            match batch.apply(store).await? {
                Committed::Unmet(_) if tries < FILING_TRIES => {
                    self.put_into(store, batch, now).await?;
                    tries += 1;
                }
                Committed::Unmet(_) => {
                    log::warn!(
                        "slo: a session could not be indexed for IdP-initiated logout (the index kept changing)"
                    );
                    batch.forget(&index_key(&self.idp, &self.slo.name_id));
                    return batch.apply(store).await;
                }
                done => return Ok(done),
            }
        }
    }
}

/// The index entry of one session.
fn indexed(slo: &SloLink, session: &Key<Session>, expires: i64) -> Indexed {
    Indexed {
        session: session.as_str().to_owned(),
        session_index: slo.session_index.as_deref().map(crate::crypto::sha256_hex),
        expires,
    }
}

/// The index of (`idp`, NameID) as stored now, with `me` added (replacing
/// an older entry of the same session), expired entries dropped and the
/// oldest beyond [`MAX_INDEXED`]; with its key, the TTL of its longest
/// session, and the stored bytes it was read from.
async fn with_session<S: Store>(
    store: &S,
    idp: &str,
    slo: &SloLink,
    me: &Indexed,
    now: i64,
) -> Result<(Key<SloIndex>, SloIndex, Duration, Option<Vec<u8>>), StoreError> {
    let k = index_key(idp, &slo.name_id);
    let (mut ix, seen) = match records::get_as_stored(store, &k).await? {
        Some((ix, raw)) => (ix, Some(raw)),
        None => (SloIndex::default(), None),
    };
    ix.sessions
        .retain(|e| e.expires > now && e.session != me.session);
    ix.sessions.push(me.clone());
    let extra = ix.sessions.len().saturating_sub(MAX_INDEXED);
    ix.sessions.drain(..extra);
    let until = ix
        .sessions
        .iter()
        .map(|e| e.expires)
        .max()
        .unwrap_or(me.expires);
    Ok((k, ix, records::ttl_until(until, now), seen))
}

/// Ends the sessions of (`idp`, `name_id`) that `pick` selects by their
/// index entry and `same` confirms by the session itself, and drops them
/// (and expired entries) from the index. Returns how many ended.
async fn end_indexed<S: Store>(
    store: &S,
    cfg: &Config,
    idp: &str,
    name_id: &str,
    pick: impl Fn(&Indexed) -> bool,
    same: impl Fn(&Session) -> bool,
    now: i64,
) -> Result<usize, StoreError> {
    let k = index_key(idp, name_id);
    let Some(ix) = records::get(store, &k).await? else {
        return Ok(0);
    };
    let mut ended = 0;
    let mut keep = Vec::new();
    for e in ix.sessions {
        if e.expires <= now {
            continue;
        }
        if !pick(&e) {
            keep.push(e);
            continue;
        }
        let Some(sk) = Key::<Session>::parse(&e.session) else {
            continue;
        };
        match records::get(store, &sk).await? {
            None => {}
            Some(s) if !same(&s) => keep.push(e),
            Some(s) => {
                end_session(store, cfg, &sk, &s).await?;
                ended += 1;
            }
        }
    }
    match keep.iter().map(|e| e.expires).max() {
        Some(until) => {
            let ix = SloIndex { sessions: keep };
            records::put(store, &k, &ix, records::ttl_until(until, now)).await?
        }
        None => records::delete(store, &k).await?,
    }
    Ok(ended)
}

/// Ends one session and voids the Home Assistant login codes of its
/// person (a code is not tied to a session, so every live code of theirs).
async fn end_session<S: Store>(
    store: &S,
    cfg: &Config,
    k: &Key<Session>,
    s: &Session,
) -> Result<(), StoreError> {
    crate::session::end_key(store, k).await?;
    for inst in &cfg.ha {
        if crate::ha::login::revoke_code(store, &inst.login(), &s.identity).await? {
            log::info!(
                "slo: a Home Assistant login code was voided instance={}",
                inst.id
            );
        }
    }
    Ok(())
}

/// Ends one session here, as a logout does, without telling its IdP: the
/// session, the person's Home Assistant login codes, and its entry in the
/// Single Logout index. `begin` starts with it; the admin command
/// `samlhub sessions revoke` uses it alone.
pub async fn end_here<S: Store>(
    store: &S,
    cfg: &Config,
    sk: &Key<Session>,
    s: &Session,
    now: i64,
) -> Result<(), StoreError> {
    end_session(store, cfg, sk, s).await?;
    if let Some(l) = &s.slo {
        let me = sk.as_str().to_owned();
        end_indexed(
            store,
            cfg,
            &s.identity.idp,
            &l.name_id,
            |e| e.session == me,
            |_| true,
            now,
        )
        .await?;
    }
    Ok(())
}

/// What an SP-initiated logout does next.
#[derive(Debug)]
pub enum Begun {
    /// Send the browser to the IdP.
    ToIdp(Outgoing),
    /// Ended here only; the text says why the IdP was not asked.
    Local(&'static str),
}

/// The IdP's SLO endpoint and binding, if the session can be logged out
/// there.
fn idp_for(idps: &IdpSet, s: &Session) -> Option<(Arc<Idp>, &'static str, String)> {
    s.slo.as_ref()?;
    let idp = idps.get(&s.identity.idp)?;
    let (binding, at) = logout::pick_endpoint(&idp.metadata.slo, false)?;
    Some((idp, binding, at))
}

/// Whether ending this session would go on to its IdP.
pub fn goes_to_idp(idps: &IdpSet, s: &Session) -> bool {
    idp_for(idps, s).is_some()
}

/// SP-initiated logout (SAML Profiles §4.4.3.1): ends the session `current`
/// now, then builds the LogoutRequest to its IdP when it has SLO. `after`
/// is where to go once the IdP answers (already checked by the caller).
pub async fn begin<S: Store>(
    store: &S,
    cfg: &Config,
    idps: &IdpSet,
    key: &PKey<Private>,
    current: Option<(Key<Session>, Session)>,
    after: Option<String>,
    now: OffsetDateTime,
) -> Result<Begun, SloError> {
    let Some((sk, s)) = current else {
        return Ok(Begun::Local("there was no session"));
    };
    end_here(store, cfg, &sk, &s, unix(now)).await?;
    let (Some(link), Some((idp, binding, at))) = (s.slo.as_ref(), idp_for(idps, &s)) else {
        return Ok(Begun::Local(
            "the identity provider offers no single logout, so only this service signed you out",
        ));
    };
    let request_id = new_id()?;
    let pending = PendingLogout {
        idp: idp.id.clone(),
        request_id: request_id.clone(),
        after,
    };
    records::put(store, &Key::secret(&request_id), &pending, PENDING_TTL).await?;
    let xml = LogoutRequest {
        id: &request_id,
        issue_instant: now,
        destination: &at,
        sp_entity_id: &cfg.entity_id,
        link,
    }
    .to_xml();
    let out = logout::encode(binding, &at, Which::Request, &xml, &request_id, None, key)?;
    log::info!("slo: logout request sent idp={} binding={binding}", idp.id);
    Ok(Begun::ToIdp(out))
}

fn expect<'a>(slo_url: &'a str, now: OffsetDateTime) -> Expect<'a> {
    Expect { slo_url, now }
}

/// The IdP's LogoutResponse to our request (SAML Profiles §4.4.4.2).
/// Returns where the browser goes next.
pub async fn finish<S: Store>(
    store: &S,
    cfg: &Config,
    idps: &IdpSet,
    arrived: Arrived,
    now: OffsetDateTime,
) -> Result<Option<String>, SloError> {
    let opened = Opened::parse(arrived, Which::Response)?;
    let irt = opened.claimed_in_response_to().map(str::to_owned);
    let unknown = || LogoutError::InResponseTo(logout::quoted(irt.as_deref()));
    let Some(irt_id) = irt.as_deref() else {
        return Err(unknown().into());
    };
    let k = Key::<PendingLogout>::secret(irt_id);
    let pending = records::get(store, &k).await?.ok_or_else(unknown)?;
    let idp = idps
        .get(&pending.idp)
        .ok_or_else(|| SloError::UnknownIdp(pending.idp.clone()))?;
    let slo_url = cfg.url(crate::routes::SAML_SLO);
    opened.verify_response(&idp.trust(), &expect(&slo_url, now), &pending.request_id)?;
    // One answer per request: taken only after it verified.
    let taken = records::take(store, &k).await?.ok_or_else(unknown)?;
    log::info!("slo: logout completed at idp={}", idp.id);
    Ok(taken.after)
}

/// What the IdP gets back for its LogoutRequest.
#[derive(Debug)]
pub struct Answer {
    pub outgoing: Outgoing,
    /// Sessions ended here.
    pub ended: usize,
    pub success: bool,
}

/// An IdP-initiated LogoutRequest (SAML Profiles §4.4.3.2–4.4.3.4):
/// verify, take its ID once, end the sessions it names, answer.
pub async fn answer<S: Store>(
    store: &S,
    cfg: &Config,
    idps: &IdpSet,
    key: &PKey<Private>,
    arrived: Arrived,
    relay_state: Option<&str>,
    now: OffsetDateTime,
) -> Result<Answer, SloError> {
    let opened = Opened::parse(arrived, Which::Request)?;
    let issuer = opened.claimed_issuer().unwrap_or_default();
    let idp = idps
        .all()
        .iter()
        .find(|i| i.metadata.entity_id == issuer)
        .ok_or_else(|| LogoutError::UnknownIssuer(issuer.chars().take(200).collect()))?;
    let slo_url = cfg.url(crate::routes::SAML_SLO);
    let req = opened.verify_request(&idp.trust(), &expect(&slo_url, now))?;
    let (binding, at) = logout::pick_endpoint(&idp.metadata.slo, true)
        .ok_or_else(|| SloError::NoEndpoint(idp.id.clone()))?;
    let replay = Key::<SloReplay>::of(&[&idp.id, &crate::crypto::sha256_hex(&req.id)]);
    let ttl = records::ttl_until(unix(req.replay_until), unix(now));
    if !records::put_if_absent(store, &replay, &SloReplay, ttl).await? {
        return Err(LogoutError::Replay(logout::quoted(Some(&req.id))).into());
    }
    let wanted: Vec<String> = req
        .session_indexes
        .iter()
        .map(|s| crate::crypto::sha256_hex(s))
        .collect();
    // No SessionIndex: every session of the principal (SAML Core §3.7.1).
    let pick = |e: &Indexed| {
        wanted.is_empty() || e.session_index.as_ref().is_some_and(|h| wanted.contains(h))
    };
    // The NameID as asserted: same value, and the same Format when both
    // name one (SAML Core §2.2.2, §3.7.1).
    let same = |s: &Session| {
        s.slo.as_ref().is_some_and(|l| {
            l.name_id == req.name_id
                && (l.format.is_none() || req.format.is_none() || l.format == req.format)
        })
    };
    let (ended, status) =
        match end_indexed(store, cfg, &idp.id, &req.name_id, pick, same, unix(now)).await {
            Ok(n) => (n, None),
            Err(e) => {
                log::error!("slo: ending sessions for a logout request failed: {e}");
                (0, Some(logout::STATUS_RESPONDER))
            }
        };
    let id = new_id()?;
    let xml = LogoutResponse {
        id: &id,
        in_response_to: &req.id,
        issue_instant: now,
        destination: &at,
        sp_entity_id: &cfg.entity_id,
        status: status.unwrap_or(logout::STATUS_SUCCESS),
        sub_status: None,
    }
    .to_xml();
    let outgoing = logout::encode(binding, &at, Which::Response, &xml, &id, relay_state, key)?;
    log::info!(
        "slo: logout request from idp={} ended {ended} session(s) status={}",
        idp.id,
        if status.is_none() {
            "Success"
        } else {
            "Responder"
        }
    );
    Ok(Answer {
        outgoing,
        ended,
        success: status.is_none(),
    })
}
