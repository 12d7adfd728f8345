//! Store traffic shaped like SAML logins, for the store expiry tests and the
//! store growth benchmark. Each login writes and consumes the records the SP
//! flow does (`saml::sp::begin` and `finish`, `session::start_linked`,
//! `saml::slo::link`), through the same typed record API and with the same
//! TTLs, without the XML work in between.

use crate::identity::Identity;
use crate::saml::logout::SloLink;
use crate::saml::sp::{Pending, PENDING_TTL};
use crate::session::{self, Session};
use crate::store::records::{self, Answered, Key, Replay};
use crate::store::Store;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long the replay marker of one login lives: the assertion's
/// `NotOnOrAfter` (five minutes at SimpleSAMLphp) plus the clock skew.
pub const REPLAY_TTL: Duration = Duration::from_secs(420);

/// The IdP id the logins come from.
pub const IDP: &str = "ssp";

/// The identity of login `n`: one person per login, with the attributes a
/// SimpleSAMLphp IdP sends.
pub fn identity(n: u64, now: i64) -> Identity {
    let user = format!("user{n:07}");
    let mut attributes = BTreeMap::new();
    attributes.insert("uid".to_owned(), vec![user.clone()]);
    attributes.insert("mail".to_owned(), vec![format!("{user}@example.org")]);
    attributes.insert("cn".to_owned(), vec![format!("Test User {n}")]);
    attributes.insert("givenName".to_owned(), vec!["Test".to_owned()]);
    attributes.insert("sn".to_owned(), vec![format!("User {n}")]);
    attributes.insert(
        "eduPersonAffiliation".to_owned(),
        vec!["member".to_owned(), "staff".to_owned()],
    );
    attributes.insert(
        "groups".to_owned(),
        vec!["home-users".to_owned(), "home-admins".to_owned()],
    );
    Identity {
        idp: IDP.to_owned(),
        subject: format!("_{}", crate::crypto::sha256_hex(&user)),
        name_id: Some(format!("_{}", crate::crypto::sha256_hex(&user))),
        name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".to_owned()),
        username: Some(user.clone()),
        name: Some(format!("Test User {n}")),
        given_name: Some("Test".to_owned()),
        family_name: Some(format!("User {n}")),
        email: Some(format!("{user}@example.org")),
        groups: vec!["home-users".to_owned(), "home-admins".to_owned()],
        authn_context: Some("urn:oasis:names:tc:SAML:2.0:ac:classes:Password".to_owned()),
        authn_instant: Some(now),
        session_not_on_or_after: None,
        attributes,
    }
}

/// One login numbered `n` at `now` (unix seconds): the pending request is
/// written and then taken as the ACS takes it, the answered and replay
/// markers are set, and a session of `session_lifetime` is started and filed
/// in the Single Logout index. Returns the session's key.
pub async fn login<S: Store>(
    store: &S,
    n: u64,
    session_lifetime: Duration,
    now: i64,
) -> Result<Key<Session>, Box<dyn std::error::Error + Send + Sync>> {
    let handle = crate::crypto::random_token(16)?;
    let request_id = format!("_{}", crate::crypto::random_hex(20)?);
    let pending = Pending {
        request_id: request_id.clone(),
        idp: IDP.to_owned(),
        return_to: "/ha".to_owned(),
        browser: crate::crypto::sha256_hex(&crate::crypto::random_token(32)?),
    };
    let pending_key = Key::<Pending>::of(&[&handle]);
    records::put(store, &pending_key, &pending, PENDING_TTL).await?;
    let taken = records::take(store, &pending_key)
        .await?
        .ok_or("pending request vanished")?;
    let answered = Key::<Answered>::of(&[&taken.request_id]);
    if !records::put_if_absent(store, &answered, &Answered, PENDING_TTL).await? {
        return Err("request answered twice".into());
    }
    let assertion_id = format!("_{}", crate::crypto::random_hex(20)?);
    let replay = Key::<Replay>::of(&[IDP, &crate::crypto::sha256_hex(&assertion_id)]);
    if !records::put_if_absent(store, &replay, &Replay, REPLAY_TTL).await? {
        return Err("assertion replayed".into());
    }
    let identity = identity(n, now);
    let slo = SloLink {
        name_id: identity.name_id.clone().unwrap_or_default(),
        format: identity.name_id_format.clone(),
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: Some(format!("_{}", crate::crypto::random_hex(20)?)),
    };
    let (_, key, s) =
        session::start_linked(store, identity, Some(slo.clone()), session_lifetime, now).await?;
    crate::saml::slo::link(store, IDP, &slo, &key, s.expires, now).await?;
    Ok(key)
}

/// The longest any record of [`login`] lives, for a session of
/// `session_lifetime`: past this, every record of the login has expired.
pub fn longest_ttl(session_lifetime: Duration) -> Duration {
    session_lifetime.max(PENDING_TTL).max(REPLAY_TTL)
}
