//! The grant and what stands for it in the store: parked authorization
//! requests, single-use codes, access and refresh tokens, and the refresh
//! family. Codes live 60 s and are bound to the client, the redirect URI and
//! the PKCE challenge; a reused code revokes what it issued (RFC 6749
//! §4.1.2, RFC 9700 §4.5). Refresh tokens rotate and reuse revokes the family
//! (RFC 9700 §2.2.2, §4.14.2). Every grant rides on a samlhub session and
//! ends with it, and so with the IdP's SessionNotOnOrAfter.

use super::authorize::{pkce_matches, ValidRequest};
use super::client::{Client, Oidc};
use super::error::OAuthError;
use crate::identity::Identity;
use crate::session::Session;
use crate::store::records::{self, Batch, CodeUsed, Family, Key, Kind, RefreshUsed};
use crate::store::{Committed, Store};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Authorization codes live at most this long.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// A parked authorization request waits this long for the SAML login.
pub const PARKED_TTL: Duration = Duration::from_secs(600);
/// A parked request's stored JSON is at most this many bytes beyond its
/// client's `client_id` and `redirect_uri` (which come from the
/// configuration): `state` and `nonce` at their caps, every byte escaped to
/// six (`\u00XX`), plus the bounded rest (see `authorize` module header).
pub const PARKED_MAX_BYTES: usize = 16 * 1024;
/// A redeemed code is remembered this long, to detect its reuse.
const CODE_USED_TTL: Duration = Duration::from_secs(600);

/// What a code, access token or refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub identity: Identity,
    pub sub: String,
    pub auth_time: i64,
    pub nonce: Option<String>,
    /// The store key of the samlhub session the grant rides on.
    pub session_key: String,
    /// When that session ends (unix seconds; a session's end is fixed when
    /// it starts). Absent in grants stored by earlier versions, which read
    /// the session instead.
    #[serde(default)]
    pub session_ends: Option<i64>,
    /// Refresh-token family (RFC 9700 §4.14.2): revoked as a whole.
    pub family: String,
    pub email_verified: bool,
}

impl Grant {
    fn session(&self) -> Result<Key<Session>, OAuthError> {
        Key::parse(&self.session_key)
            .ok_or_else(|| OAuthError::Internal("grant names no session".into()))
    }
}

/// An authorization request waiting for a (fresh) SAML login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub req: ValidRequest,
    /// When it was parked: a session made after this is a fresh sign-in.
    pub created: i64,
}
crate::json_record!(Parked, Kind::OidcParked);

/// An issued, unredeemed code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
}
crate::json_record!(CodeRecord, Kind::OidcCode);

/// The grant behind an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessRecord(pub Grant);
crate::json_record!(AccessRecord, Kind::OidcAccess);

/// The grant behind a refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefreshRecord(pub Grant);
crate::json_record!(RefreshRecord, Kind::OidcRefresh);

/// Parks `req` until the browser comes back from the SAML login; returns
/// the handle for `resume=`.
pub async fn park<S: Store>(store: &S, req: ValidRequest, now: i64) -> Result<String, OAuthError> {
    let handle = crate::crypto::random_token(16)?;
    let parked = Parked { req, created: now };
    records::put_transient(store, &Key::of(&[&handle]), &parked, PARKED_TTL).await?;
    Ok(handle)
}

/// Takes a parked request back, once.
pub async fn unpark<S: Store>(store: &S, handle: &str) -> Result<Parked, OAuthError> {
    records::take(store, &Key::of(&[handle]))
        .await?
        .ok_or_else(|| {
            OAuthError::AuthorizePage(
                "this sign-in took too long or was already completed; start again from the application"
                    .into(),
            )
        })
}

/// Stores a single-use code for `grant`; returns the code.
pub async fn issue_code<S: Store>(
    store: &S,
    grant: Grant,
    req: &ValidRequest,
) -> Result<String, OAuthError> {
    let code = crate::crypto::random_token(32)?;
    let rec = CodeRecord {
        grant,
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
    };
    records::put_transient(store, &Key::secret(&code), &rec, CODE_TTL).await?;
    Ok(code)
}

/// A new family id for a grant.
pub fn new_family() -> Result<String, OAuthError> {
    Ok(crate::crypto::random_token(16)?)
}

/// Tokens just issued for a grant; the id_token is signed by the caller.
pub struct Issued {
    pub grant: Grant,
    pub access_token: String,
    pub access_ttl: Duration,
    pub refresh_token: String,
}

/// Reads a single-use credential, which the batch that redeems it removes
/// while claiming its used-marker ([`redeem`]). If it is gone but the marker
/// shows it was redeemed before, this is reuse: the family it started is
/// revoked.
async fn read_or_revoke<S: Store, R: records::Record, U: records::Record + UsedMark>(
    store: &S,
    live: &Key<R>,
    used: &Key<U>,
    what: &str,
    client: &str,
) -> Result<R, OAuthError> {
    match records::get(store, live).await? {
        Some(r) => Ok(r),
        None => Err(revoke_if_reused(store, used, what, client).await?),
    }
}

/// The refusal of a credential that is unknown, expired or spent; if its
/// used-marker is there, its family is revoked first (RFC 6749 §4.1.2,
/// RFC 9700 §4.14.2).
async fn revoke_if_reused<S: Store, U: records::Record + UsedMark>(
    store: &S,
    used: &Key<U>,
    what: &str,
    client: &str,
) -> Result<OAuthError, OAuthError> {
    if let Some(mark) = records::get(store, used).await? {
        records::delete(store, &Key::<Family>::of(&[mark.family()])).await?;
        log::warn!(
            "oidc: {what} reused, presented by client {}; the tokens it issued are revoked",
            crate::logsafe::esc(client)
        );
        crate::audit::Event::new(crate::audit::Kind::Refusal)
            .client(client)
            .reason("token_reuse")
            .emit();
    }
    Ok(OAuthError::InvalidGrant(format!(
        "the {what} is unknown, expired or already used"
    )))
}

/// Spends a credential that was read but is refused: it is removed, as
/// the redeem that takes it would have, and `e` returned.
async fn spend<S: Store, R: records::Record>(
    store: &S,
    live: &Key<R>,
    e: OAuthError,
) -> Result<Issued, OAuthError> {
    records::delete(store, live).await?;
    Err(e)
}

/// A marker that names the family a spent credential belonged to.
trait UsedMark {
    fn family(&self) -> &str;
}
impl UsedMark for CodeUsed {
    fn family(&self) -> &str {
        &self.0
    }
}
impl UsedMark for RefreshUsed {
    fn family(&self) -> &str {
        &self.0
    }
}

/// How long the grant's refresh tokens may live: the configured lifetime,
/// capped by what is left of the samlhub session. `None` once that session
/// has ended. The end comes with the grant; only a grant stored by an
/// earlier version costs a read of the session. Whether the session is
/// still there is checked by the commit that redeems the credential
/// ([`Batch::require`]), atomically with it.
async fn family_ttl<S: Store>(
    store: &S,
    settings: &Oidc,
    g: &Grant,
    now: i64,
) -> Result<Option<Duration>, OAuthError> {
    let ends = match g.session_ends {
        Some(end) => end,
        None => match records::get(store, &g.session()?).await? {
            Some(s) => s.expires,
            None => return Ok(None),
        },
    };
    let configured = i64::try_from(settings.refresh_token_lifetime.as_secs()).unwrap_or(i64::MAX);
    let left = configured.min(ends.saturating_sub(now));
    Ok((left > 0).then(|| Duration::from_secs(left.unsigned_abs())))
}

/// RFC 6749 §4.1.3: redeems `code` for tokens. The code must have been
/// issued to `client` for this `redirect_uri`, and the verifier must match
/// its challenge (RFC 7636 §4.6). `checked` is called once with the grant
/// when the code has passed those checks, before the session read and the
/// commit that redeem it: the caller may start the id_token's signature
/// then, and must not release it unless this returns `Ok`.
#[allow(clippy::too_many_arguments)]
pub async fn exchange_code<S: Store>(
    store: &S,
    settings: &Oidc,
    client: &Client,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: i64,
    checked: impl FnOnce(&Grant),
) -> Result<Issued, OAuthError> {
    let code = code.ok_or_else(|| OAuthError::InvalidRequest("code is missing".into()))?;
    let h = crate::crypto::sha256_hex(code);
    let live = Key::<CodeRecord>::hashed(&h);
    let used = Key::<CodeUsed>::hashed(&h);
    let rec = read_or_revoke(store, &live, &used, "code", &client.client_id).await?;
    if let Err(e) = check_code(&rec, client, redirect_uri, verifier) {
        return spend(store, &live, e).await;
    }
    let g = rec.grant;
    checked(&g);
    let ended = || OAuthError::InvalidGrant("the sign-in behind this code has ended".into());
    let Some(ttl) = family_ttl(store, settings, &g, now).await? else {
        return spend(store, &live, ended()).await;
    };
    // One commit: the claim of the used-marker (which makes the code single
    // use and its reuse detectable), the session still there, the code's
    // removal, the family and the new tokens.
    let mut batch = Batch::new();
    batch.claim(&used, &CodeUsed(g.family.clone()), CODE_USED_TTL)?;
    batch.require(&g.session()?);
    batch.remove(&live);
    batch.put(&Key::<Family>::of(&[&g.family]), &Family, ttl)?;
    match issue(store, settings, g, batch, ttl).await? {
        Ok(issued) => Ok(issued),
        Err(Committed::Unmet(_)) => spend(store, &live, ended()).await,
        Err(_) => Err(revoke_if_reused(store, &used, "code", &client.client_id).await?),
    }
}

/// The code was issued to `client` for this `redirect_uri`, and the
/// verifier matches its challenge (RFC 6749 §4.1.3, RFC 7636 §4.6).
fn check_code(
    rec: &CodeRecord,
    client: &Client,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    if rec.grant.client_id != client.client_id {
        return Err(OAuthError::InvalidGrant(
            "the code was issued to another client".into(),
        ));
    }
    if redirect_uri != Some(rec.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri does not match the authorization request".into(),
        ));
    }
    match (&rec.code_challenge, verifier) {
        (Some(ch), Some(ver)) if pkce_matches(ver, ch) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        )),
        (Some(_), None) => Err(OAuthError::InvalidGrant("code_verifier is missing".into())),
        (None, Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier sent but no code_challenge was".into(),
        )),
        (None, None) => Ok(()),
    }
}

/// RFC 6749 §6: rotates a refresh token. `checked` is called once with
/// the grant when the token belongs to `client`, as in [`exchange_code`].
pub async fn refresh<S: Store>(
    store: &S,
    settings: &Oidc,
    client: &Client,
    token: Option<&str>,
    now: i64,
    checked: impl FnOnce(&Grant),
) -> Result<Issued, OAuthError> {
    let rt = token.ok_or_else(|| OAuthError::InvalidRequest("refresh_token is missing".into()))?;
    let h = crate::crypto::sha256_hex(rt);
    let live = Key::<RefreshRecord>::hashed(&h);
    let used = Key::<RefreshUsed>::hashed(&h);
    // RFC 9700 §4.14.2: a refresh token used twice revokes its family.
    let what = "refresh token";
    let RefreshRecord(g) = read_or_revoke(store, &live, &used, what, &client.client_id).await?;
    if g.client_id != client.client_id {
        let e = OAuthError::InvalidGrant("the refresh token was issued to another client".into());
        return spend(store, &live, e).await;
    }
    checked(&g);
    let ended = || OAuthError::InvalidGrant("the sign-in behind this grant has ended".into());
    let Some(ttl) = family_ttl(store, settings, &g, now).await? else {
        return spend(store, &live, ended()).await;
    };
    // One commit: the claim of the used-marker (the rotation happens once),
    // the family not revoked and the session still there, the old token's
    // removal and the new tokens.
    let mut batch = Batch::new();
    batch.claim(&used, &RefreshUsed(g.family.clone()), ttl)?;
    batch.require(&Key::<Family>::of(&[&g.family]));
    batch.require(&g.session()?);
    batch.remove(&live);
    match issue(store, settings, g, batch, ttl).await? {
        Ok(issued) => Ok(issued),
        Err(Committed::Unmet(_)) => spend(store, &live, ended()).await,
        Err(_) => Err(revoke_if_reused(store, &used, what, &client.client_id).await?),
    }
}

/// A new access token (opaque, stored by hash) and rotated refresh token,
/// written in one commit with `batch`'s claim, conditions, removal and
/// markers. `Err(Taken)` when the claim was taken (the credential was
/// redeemed meanwhile), `Err(Unmet)` when a required record was gone (the
/// sign-in or the family ended): nothing was written.
async fn issue<S: Store>(
    store: &S,
    settings: &Oidc,
    g: Grant,
    mut batch: Batch,
    rt_ttl: Duration,
) -> Result<Result<Issued, Committed>, OAuthError> {
    let access_token = crate::crypto::random_token(32)?;
    let refresh_token = crate::crypto::random_token(32)?;
    let access_ttl = settings.access_token_lifetime;
    batch.put(
        &Key::secret(&access_token),
        &AccessRecord(g.clone()),
        access_ttl,
    )?;
    batch.put(
        &Key::secret(&refresh_token),
        &RefreshRecord(g.clone()),
        rt_ttl,
    )?;
    let done = batch.apply(store).await?;
    if done != Committed::Written {
        return Ok(Err(done));
    }
    log::info!("oidc: tokens issued client={}", g.client_id);
    Ok(Ok(Issued {
        grant: g,
        access_token,
        access_ttl,
        refresh_token,
    }))
}

/// A grant is alive while its family and its samlhub session both are.
async fn alive<S: Store>(store: &S, g: &Grant) -> Result<bool, OAuthError> {
    Ok(records::get(store, &Key::<Family>::of(&[&g.family]))
        .await?
        .is_some()
        && records::get(store, &g.session()?).await?.is_some())
}

/// The grant behind a live access token (RFC 6750 §3.1 otherwise).
pub async fn access<S: Store>(store: &S, token: &str) -> Result<Grant, OAuthError> {
    let AccessRecord(g) = records::get(store, &Key::secret(token))
        .await?
        .ok_or_else(|| OAuthError::InvalidToken("unknown or expired access token".into()))?;
    if !alive(store, &g).await? {
        return Err(OAuthError::InvalidToken(
            "the grant was revoked or its session ended".into(),
        ));
    }
    Ok(g)
}

/// OIDC Core §5.3: the claims a live access token releases.
pub async fn userinfo<S: Store>(
    store: &S,
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
    let g = access(store, token).await?;
    Ok(super::claims::profile_claims(
        &g.identity,
        &g.sub,
        &g.scopes,
        g.email_verified,
    ))
}
