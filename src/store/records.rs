//! Typed records over the key/value [`Store`]: the one module that names
//! every kind of entry the hub keeps, with its key layout and TTL rule, and
//! encodes and decodes it. Nothing outside `store/` formats a key or decodes
//! store bytes.
//!
//! | kind | key | value | lives |
//! |---|---|---|---|
//! | [`Kind::Pending`] | `pending:<RelayState handle>` | JSON | the login window (10 min) |
//! | [`Kind::Verified`] | `verified:<sha256(ticket)>` | JSON | 2 min (the same-site second hop) |
//! | [`Kind::Answered`] | `answered:<AuthnRequest ID>` | marker | the login window |
//! | [`Kind::Replay`] | `replay:<idp>:<sha256(Assertion ID)>` | marker | until the assertion could no longer be accepted |
//! | [`Kind::Session`] | `session:<sha256(cookie)>` | JSON | session lifetime, capped by SessionNotOnOrAfter |
//! | [`Kind::OidcParked`] | `oidc_parked:<handle>` | JSON | 10 min |
//! | [`Kind::OidcCode`] | `oidc_code:<sha256(code)>` | JSON | 60 s |
//! | [`Kind::OidcCodeUsed`] | `oidc_code_used:<sha256(code)>` | family id | 10 min |
//! | [`Kind::OidcAccess`] | `oidc_at:<sha256(token)>` | JSON | access token lifetime |
//! | [`Kind::OidcRefresh`] | `oidc_rt:<sha256(token)>` | JSON | refresh lifetime, capped by the session |
//! | [`Kind::OidcRefreshUsed`] | `oidc_rt_used:<sha256(token)>` | family id | as the refresh token |
//! | [`Kind::OidcFamily`] | `oidc_family:<family id>` | marker | as the refresh token |
//! | [`Kind::HaCode`] | `hacode:<instance>:<username>` | JSON | the code lifetime |
//! | [`Kind::HaCodeUsed`] | `hacode_used:<instance>:<username>:<sha256(code)>` | marker | the code lifetime |
//! | [`Kind::HaUser`] | `hauser:<instance>:<username>` | subject | 100 years |
//! | [`Kind::HaBackoff`] | `haback:<instance>:<username>` (summary), `haback:<instance>:<username>:<code id>:<n>` (try n) | JSON | a day; a try as long as its code |
//! | [`Kind::SloPending`] | `slo_pending:<sha256(LogoutRequest ID)>` | JSON | 10 min (the logout round trip) |
//! | [`Kind::SloIndex`] | `slo_index:<idp>:<sha256(NameID)>` | JSON (session keys, sha256(SessionIndex)) | the longest session in it (session TTL) |
//! | [`Kind::SloReplay`] | `slo_replay:<idp>:<sha256(LogoutRequest ID)>` | marker | until the request could no longer be accepted |
//! | [`Kind::SetupGrant`] | `setup:<sha256(setup cookie)>` | marker | 1 h (the admin's access to `/setup` after the setup token) |
//! | [`Kind::IdpStatus`] | `idp_status:<idp>` (last success), `idp_status:-failure` (last failure) | JSON | 30 days |
//!
//! `health:ping` ([`PING_KEY`]) is read by [`Store::ping`] for `/readyz` and
//! never written.
//!
//! [`Batch`] gathers typed writes for one atomic step: puts only
//! ([`Batch::commit`], [`Store::put_many`]), or with claims and removals
//! ([`Batch::apply`], [`Store::commit`]), as the ACS and the token endpoint
//! use it.
//!
//! [`list`] enumerates the records of one kind by key prefix
//! ([`Store::keys_with_prefix`]); only the admin commands call it.
//!
//! Secrets (cookies, codes, tokens) are named only by their SHA-256, so the
//! store never holds a usable credential. The key strings are the on-disk
//! and in-Redis format: changing one orphans live entries.

use super::{Committed, Expect, Store, StoreError, Wanted};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The key [`Store::ping`] reads; nothing writes it.
pub const PING_KEY: &str = "health:ping";
use std::marker::PhantomData;
use std::time::Duration;

/// Every kind of record, with its key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pending,
    Verified,
    Answered,
    Replay,
    Session,
    OidcParked,
    OidcCode,
    OidcCodeUsed,
    OidcAccess,
    OidcRefresh,
    OidcRefreshUsed,
    OidcFamily,
    HaCode,
    HaCodeUsed,
    HaUser,
    HaBackoff,
    SloPending,
    SloIndex,
    SloReplay,
    SetupGrant,
    IdpStatus,
}

impl Kind {
    /// The key prefix, without the separating ':'.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Answered => "answered",
            Self::Replay => "replay",
            Self::Session => "session",
            Self::OidcParked => "oidc_parked",
            Self::OidcCode => "oidc_code",
            Self::OidcCodeUsed => "oidc_code_used",
            Self::OidcAccess => "oidc_at",
            Self::OidcRefresh => "oidc_rt",
            Self::OidcRefreshUsed => "oidc_rt_used",
            Self::OidcFamily => "oidc_family",
            Self::HaCode => "hacode",
            Self::HaCodeUsed => "hacode_used",
            Self::HaUser => "hauser",
            Self::HaBackoff => "haback",
            Self::SloPending => "slo_pending",
            Self::SloIndex => "slo_index",
            Self::SloReplay => "slo_replay",
            Self::SetupGrant => "setup",
            Self::IdpStatus => "idp_status",
        }
    }
}

/// A value that can be kept in the store under one [`Kind`].
pub trait Record: Sized {
    const KIND: Kind;
    fn encode(&self) -> Result<Vec<u8>, StoreError>;
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
}

/// Implements [`Record`] as JSON for a serde type.
#[macro_export]
macro_rules! json_record {
    ($t:ty, $kind:expr) => {
        impl $crate::store::records::Record for $t {
            const KIND: $crate::store::records::Kind = $kind;
            fn encode(&self) -> Result<Vec<u8>, $crate::store::StoreError> {
                $crate::store::records::to_json(self)
            }
            fn decode(bytes: &[u8]) -> Result<Self, $crate::store::StoreError> {
                $crate::store::records::from_json(bytes, $kind)
            }
        }
    };
}

#[doc(hidden)]
pub fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

#[doc(hidden)]
pub fn from_json<T: DeserializeOwned>(bytes: &[u8], kind: Kind) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("{} entry: {e}", kind.prefix())))
}

/// A record whose presence is all that matters.
macro_rules! marker {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;
        impl Record for $name {
            const KIND: Kind = $kind;
            fn encode(&self) -> Result<Vec<u8>, StoreError> {
                Ok(b"1".to_vec())
            }
            fn decode(_: &[u8]) -> Result<Self, StoreError> {
                Ok(Self)
            }
        }
    };
}

/// A record holding one UTF-8 string, stored as its bytes.
macro_rules! text {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);
        impl Record for $name {
            const KIND: Kind = $kind;
            fn encode(&self) -> Result<Vec<u8>, StoreError> {
                Ok(self.0.as_bytes().to_vec())
            }
            fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
                String::from_utf8(bytes.to_vec()).map(Self).map_err(|_| {
                    StoreError::Corrupt(format!("{} entry is not UTF-8", $kind.prefix()))
                })
            }
        }
    };
}

marker!(
    /// An AuthnRequest has been answered by one assertion.
    Answered,
    Kind::Answered
);
marker!(
    /// An (IdP, Assertion ID) pair has been consumed (SAML Profiles §4.1.4.5).
    Replay,
    Kind::Replay
);
marker!(
    /// An IdP's LogoutRequest ID has been processed (SAML Profiles §4.4.4.1).
    SloReplay,
    Kind::SloReplay
);
marker!(
    /// A browser redeemed the setup token and may open `/setup`.
    SetupGrant,
    Kind::SetupGrant
);
marker!(
    /// A Home Assistant login code has been redeemed.
    HaCodeUsed,
    Kind::HaCodeUsed
);
marker!(
    /// A refresh-token family is alive (RFC 9700 §4.14.2).
    Family,
    Kind::OidcFamily
);
text!(
    /// A redeemed code: the family it started, to revoke on reuse.
    CodeUsed,
    Kind::OidcCodeUsed
);
text!(
    /// A rotated refresh token: its family, to revoke on reuse.
    RefreshUsed,
    Kind::OidcRefreshUsed
);
text!(
    /// The scoped subject that owns an HA username.
    HaOwner,
    Kind::HaUser
);

/// The key of one record of type `R`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<R> {
    raw: String,
    _r: PhantomData<fn() -> R>,
}

impl<R: Record> Key<R> {
    /// The key for an identifier that is not a secret (a random handle, a
    /// family id); parts are joined with ':'.
    pub fn of(parts: &[&str]) -> Self {
        let mut raw = String::from(R::KIND.prefix());
        for p in parts {
            raw.push(':');
            raw.push_str(p);
        }
        Self {
            raw,
            _r: PhantomData,
        }
    }

    /// The key for a secret, named by its SHA-256 only.
    pub fn secret(secret: &str) -> Self {
        Self::of(&[&crate::crypto::sha256_hex(secret)])
    }

    /// The key for a secret whose SHA-256 hex is already known.
    pub fn hashed(sha256_hex: &str) -> Self {
        Self::of(&[sha256_hex])
    }

    /// Reads back a key kept inside another record; `None` if it is not a
    /// key of this kind.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.strip_prefix(R::KIND.prefix())
            .filter(|rest| rest.starts_with(':'))
            .map(|_| Self {
                raw: raw.to_owned(),
                _r: PhantomData,
            })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// Reads a live record.
pub async fn get<S: Store, R: Record>(s: &S, k: &Key<R>) -> Result<Option<R>, StoreError> {
    s.get(k.as_str()).await?.map(|b| R::decode(&b)).transpose()
}

/// Reads a live record with the bytes it was decoded from, for a later
/// [`Batch::unchanged`] on its key.
pub async fn get_as_stored<S: Store, R: Record>(
    s: &S,
    k: &Key<R>,
) -> Result<Option<(R, Vec<u8>)>, StoreError> {
    match s.get(k.as_str()).await? {
        Some(raw) => Ok(Some((R::decode(&raw)?, raw))),
        None => Ok(None),
    }
}

/// Reads and removes a live record in one atomic step.
pub async fn take<S: Store, R: Record>(s: &S, k: &Key<R>) -> Result<Option<R>, StoreError> {
    s.take(k.as_str()).await?.map(|b| R::decode(&b)).transpose()
}

/// Writes a record, replacing any entry.
pub async fn put<S: Store, R: Record>(
    s: &S,
    k: &Key<R>,
    v: &R,
    ttl: Duration,
) -> Result<(), StoreError> {
    s.put(k.as_str(), &v.encode()?, ttl).await
}

/// Writes a record under a new random key, without a durable sync of its
/// own where the backend allows ([`Store::put_transient`]: only for state
/// whose loss restarts a flow, never for replay or revocation state).
pub async fn put_transient<S: Store, R: Record>(
    s: &S,
    k: &Key<R>,
    v: &R,
    ttl: Duration,
) -> Result<(), StoreError> {
    s.put_transient(k.as_str(), &v.encode()?, ttl).await
}

/// Writes a record unless a live one exists; `true` when written.
pub async fn put_if_absent<S: Store, R: Record>(
    s: &S,
    k: &Key<R>,
    v: &R,
    ttl: Duration,
) -> Result<bool, StoreError> {
    s.put_if_absent(k.as_str(), &v.encode()?, ttl).await
}

/// Removes a record if present.
pub async fn delete<S: Store, R: Record>(s: &S, k: &Key<R>) -> Result<(), StoreError> {
    s.delete(k.as_str()).await
}

/// The keys of the live records of kind `R`. It walks the key space, so it
/// is for the admin commands (`samlhub sessions`), never a request.
pub async fn list<S: Store, R: Record>(s: &S) -> Result<Vec<Key<R>>, StoreError> {
    let prefix = format!("{}:", R::KIND.prefix());
    Ok(s.keys_with_prefix(&prefix)
        .await?
        .iter()
        .filter_map(|k| Key::parse(k))
        .collect())
}

/// Several records to write in one atomic step: [`Batch::commit`] with
/// puts only ([`Store::put_many`]), [`Batch::apply`] with claims and
/// removals too ([`Store::commit`]).
#[derive(Default)]
pub struct Batch {
    entries: Vec<(String, Vec<u8>, Duration)>,
    claims: Vec<(String, Vec<u8>, Duration)>,
    requires: Vec<(String, Wanted)>,
    removals: Vec<String>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write of `v` under `k`, replacing an earlier one to the same
    /// key in this batch.
    pub fn put<R: Record>(&mut self, k: &Key<R>, v: &R, ttl: Duration) -> Result<(), StoreError> {
        let entry = (k.as_str().to_owned(), v.encode()?, ttl);
        match self.entries.iter_mut().find(|e| e.0 == entry.0) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
        Ok(())
    }

    /// Writes every entry, all or none. Claims and removals are for
    /// [`Self::apply`]; this refuses a batch that holds any.
    pub async fn commit<S: Store>(self, s: &S) -> Result<(), StoreError> {
        if !self.claims.is_empty() || !self.requires.is_empty() || !self.removals.is_empty() {
            return Err(StoreError::Corrupt(
                "a batch with claims, required records or removals is applied, not put".into(),
            ));
        }
        s.put_many(&refs(&self.entries)).await
    }

    /// Adds a claim: written only if no live record is under `k`, and the
    /// whole batch only if every claim is free. Returns the claim's index,
    /// as [`Committed::Taken`] names it; claims are tried in the order they
    /// were added (under Redis Cluster, one after the other).
    pub fn claim<R: Record>(
        &mut self,
        k: &Key<R>,
        v: &R,
        ttl: Duration,
    ) -> Result<usize, StoreError> {
        self.claims.push((k.as_str().to_owned(), v.encode()?, ttl));
        Ok(self.claims.len() - 1)
    }

    /// Adds a condition: the whole batch is written only if a live record is
    /// under `k` when it is applied. Returns its index, as
    /// [`Committed::Unmet`] names it.
    pub fn require<R: Record>(&mut self, k: &Key<R>) -> usize {
        self.condition(k.as_str(), Wanted::Live)
    }

    /// Adds a condition: the whole batch is written only if what is under
    /// `k` is still `seen`, the raw live value read before (`None`: nothing).
    /// With a [`Self::put`] to `k`, a compare-and-set. Replaces an earlier
    /// condition on `k`; returns its index, as [`Committed::Unmet`] names it.
    pub fn unchanged<R: Record>(&mut self, k: &Key<R>, seen: Option<Vec<u8>>) -> usize {
        let want = match seen {
            Some(v) => Wanted::Holds(v),
            None => Wanted::Absent,
        };
        self.condition(k.as_str(), want)
    }

    fn condition(&mut self, key: &str, want: Wanted) -> usize {
        match self.requires.iter().position(|(k, _)| k == key) {
            Some(i) => {
                if let Some(c) = self.requires.get_mut(i) {
                    c.1 = want;
                }
                i
            }
            None => {
                self.requires.push((key.to_owned(), want));
                self.requires.len() - 1
            }
        }
    }

    /// Drops this batch's write of and condition on `k`, if any (the
    /// conditions after it move down one index).
    pub fn forget<R: Record>(&mut self, k: &Key<R>) {
        self.entries.retain(|e| e.0 != k.as_str());
        self.requires.retain(|c| c.0 != k.as_str());
    }

    /// Adds a removal of the record under `k`.
    pub fn remove<R: Record>(&mut self, k: &Key<R>) {
        self.removals.push(k.as_str().to_owned());
    }

    /// Claims, checks, writes and removes as one unit ([`Store::commit`]).
    pub async fn apply<S: Store>(&self, s: &S) -> Result<Committed, StoreError> {
        fn names(list: &[String]) -> Vec<&str> {
            list.iter().map(String::as_str).collect()
        }
        let requires: Vec<(&str, Expect<'_>)> = self
            .requires
            .iter()
            .map(|(k, w)| (k.as_str(), w.as_expect()))
            .collect();
        s.commit(
            &refs(&self.claims),
            &requires,
            &refs(&self.entries),
            &names(&self.removals),
        )
        .await
    }
}

fn refs(entries: &[(String, Vec<u8>, Duration)]) -> Vec<(&str, &[u8], Duration)> {
    entries
        .iter()
        .map(|(k, v, t)| (k.as_str(), v.as_slice(), *t))
        .collect()
}

/// A TTL of at least one second for an entry that should live until `until`
/// (unix seconds).
pub fn ttl_until(until: i64, now: i64) -> Duration {
    Duration::from_secs((until - now).max(1).unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_stored_layout() {
        assert_eq!(Key::<Answered>::of(&["_abc"]).as_str(), "answered:_abc");
        assert_eq!(Key::<Replay>::of(&["idp", "ff"]).as_str(), "replay:idp:ff");
        assert_eq!(
            Key::<CodeUsed>::secret("abc").as_str(),
            "oidc_code_used:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(Key::<Family>::parse("oidc_family:x").is_some());
        assert!(Key::<Family>::parse("oidc_familyx").is_none());
        assert!(Key::<Family>::parse("session:x").is_none());
    }

    #[test]
    fn text_records_round_trip_and_refuse_bad_bytes() {
        let v = HaOwner("idp|alice".into());
        assert_eq!(HaOwner::decode(&v.encode().unwrap()).unwrap(), v);
        assert!(HaOwner::decode(&[0xff, 0xfe]).is_err());
    }
}
