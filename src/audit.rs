//! Audit events: one log line per login, token issuance, refresh, Home
//! Assistant redeem, logout and refusal, on the log target `audit`, with the
//! structured fields `event`, `idp`, `user`, `client` and `reason` (`-` when
//! not known or not applicable).
//!
//! `user` follows `audit_user`: `clear` (the default) writes the username the
//! IdP sent, or the subject when it sent none; `hashed` writes the first 16 hex
//! digits of SHA-256 over `<idp>|<that name>` (the same person always hashes
//! the same, but the log alone does not name them); `off` writes `-`. Clear is
//! the default because the audit log exists to answer who signed in; an
//! operator who may not keep names in logs chooses `hashed` or `off`.
//!
//! A `refusal` is written after the answer (by the HTTP layer's request
//! middleware), so it names the IdP and the person only where the request
//! had established them before it was refused: [`scope`] gives each request
//! a [`Known`], which [`note_idp`] (an IdP id from our own records, e.g. the
//! pending login a RelayState names) and [`note_identity`] (a verified
//! identity: a session, an assertion whose signature checked out) fill in.
//! Nothing read from an unverified message is noted.
//!
//! Never a token, code, secret, cookie or assertion: the fields are names and
//! codes only, and every value that came from outside is escaped
//! (`crate::logsafe`) before it reaches the line.

use crate::identity::Identity;
use crate::logsafe::esc;

/// `audit_user`: how the person is named in audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditUser {
    #[default]
    Clear,
    Hashed,
    Off,
}

impl AuditUser {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "clear" => Some(Self::Clear),
            "hashed" => Some(Self::Hashed),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    /// The `user` field for `identity`: its username, else its subject.
    pub fn name(self, identity: &Identity) -> String {
        let clear = identity.username.as_deref().unwrap_or(&identity.subject);
        self.name_in(&identity.idp, clear)
    }

    /// The `user` field for `name`, a person's name within `scope` (an IdP
    /// id, a Home Assistant instance id).
    pub fn name_in(self, scope: &str, name: &str) -> String {
        match self {
            Self::Clear => name.to_owned(),
            Self::Hashed => crate::crypto::sha256_hex(&format!("{scope}|{name}"))
                .get(..16)
                .unwrap_or("")
                .to_owned(),
            Self::Off => "-".to_owned(),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Login,
    Token,
    Refresh,
    HaRedeem,
    Logout,
    Refusal,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::HaRedeem => "ha_redeem",
            Self::Logout => "logout",
            Self::Refusal => "refusal",
        }
    }
}

/// One audit event. Unset fields are written as `-`.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub kind: Kind,
    pub idp: Option<&'a str>,
    /// Already named under `audit_user`.
    pub user: Option<String>,
    pub client: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            idp: None,
            user: None,
            client: None,
            reason: None,
        }
    }

    /// Names the person of `identity` (under `mode`) and their IdP.
    pub fn identity(mut self, mode: AuditUser, identity: &'a Identity) -> Self {
        self.idp = Some(&identity.idp);
        self.user = Some(mode.name(identity));
        self
    }

    /// Names a person by `name` within `scope` (under `mode`).
    pub fn user_in(mut self, mode: AuditUser, scope: &str, name: &str) -> Self {
        self.user = Some(mode.name_in(scope, name));
        self
    }

    pub fn client(mut self, client: &'a str) -> Self {
        self.client = Some(client);
        self
    }

    pub fn idp(mut self, idp: &'a str) -> Self {
        self.idp = Some(idp);
        self
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Writes the event at info on the target `audit`.
    pub fn emit(self) {
        let field = |v: Option<&str>| v.map(|s| esc(s).to_string()).unwrap_or_else(|| "-".into());
        let user = field(self.user.as_deref());
        let idp = field(self.idp);
        let client = field(self.client);
        let reason = field(self.reason);
        log::info!(
            target: "audit",
            event = self.kind.as_str(), idp = idp.as_str(), user = user.as_str(),
            client = client.as_str(), reason = reason.as_str();
            "audit"
        );
    }
}

/// Who a request concerns, as far as it had established before its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub idp: Option<String>,
    /// Already named under `audit_user`.
    pub user: Option<String>,
}

tokio::task_local! {
    static KNOWN: std::cell::RefCell<Known>;
}

/// Runs `fut` with an empty [`Known`] that it may fill in; returns its
/// output and what it noted.
pub async fn scope<F: std::future::Future>(fut: F) -> (F::Output, Known) {
    KNOWN
        .scope(std::cell::RefCell::new(Known::default()), async {
            let out = fut.await;
            (out, KNOWN.with(|k| k.borrow().clone()))
        })
        .await
}

/// The request concerns IdP `id`, as our own records name it (never an
/// Issuer or other value of an unverified message). Outside a [`scope`]
/// this does nothing.
pub fn note_idp(id: &str) {
    let _ = KNOWN.try_with(|k| k.borrow_mut().idp = Some(id.to_owned()));
}

/// The request concerns the person of `identity`, which is verified (a
/// session, or an assertion whose signature and conditions checked out).
pub fn note_identity(mode: AuditUser, identity: &Identity) {
    let _ = KNOWN.try_with(|k| {
        let mut k = k.borrow_mut();
        k.idp = Some(identity.idp.clone());
        k.user = Some(mode.name(identity));
    });
}

impl<'a> Event<'a> {
    /// Names what the request had established ([`Known`]).
    pub fn known(mut self, known: &'a Known) -> Self {
        if let Some(i) = &known.idp {
            self.idp = Some(i);
        }
        if let Some(u) = &known.user {
            self.user = Some(u.clone());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        serde_json::from_value(serde_json::json!({
            "idp": "corp", "subject": "s-1", "name_id": null, "name_id_format": null,
            "username": "alice", "name": null, "given_name": null, "family_name": null,
            "email": null, "groups": [], "authn_context": null, "authn_instant": null,
            "session_not_on_or_after": null, "attributes": {}
        }))
        .unwrap()
    }

    #[test]
    fn user_modes() {
        let i = who();
        assert_eq!(AuditUser::Clear.name(&i), "alice");
        let h = AuditUser::Hashed.name(&i);
        assert_eq!(h.len(), 16);
        assert_eq!(h, AuditUser::Hashed.name(&who()));
        let mut other = who();
        other.username = Some("bob".into());
        assert_ne!(h, AuditUser::Hashed.name(&other));
        let mut elsewhere = who();
        elsewhere.idp = "home".into();
        assert_ne!(h, AuditUser::Hashed.name(&elsewhere));
        other.username = None;
        assert_eq!(AuditUser::Clear.name(&other), "s-1");
        assert_eq!(AuditUser::Off.name(&i), "-");
        assert_eq!(AuditUser::parse("hashed"), Some(AuditUser::Hashed));
        assert_eq!(AuditUser::parse("HASHED"), None);
    }

    #[tokio::test]
    async fn a_scope_keeps_what_the_request_noted() {
        let ((), k) = scope(async { note_idp("corp") }).await;
        assert_eq!(k.idp.as_deref(), Some("corp"));
        assert_eq!(k.user, None);
        let ((), k) = scope(async { note_identity(AuditUser::Clear, &who()) }).await;
        assert_eq!(k.user.as_deref(), Some("alice"));
        // Each request starts empty; outside a scope nothing is kept.
        let ((), k) = scope(async {}).await;
        assert_eq!(k, Known::default());
        note_idp("corp");
    }
}
