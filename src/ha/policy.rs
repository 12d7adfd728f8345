//! Who may log in to an HA instance, under which username and with which HA
//! group: pure functions of the [`Identity`] and the instance's policy.

use super::token::Group;
use crate::identity::Identity;

/// How the HA username is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernameRule {
    /// Identity username (e.g. uid, or Entra's UPN), as is.
    Username,
    /// The part of the username before any '@'.
    UsernameLocal,
    Email,
    EmailLocal,
    /// A named attribute's first value.
    Attribute(String),
    /// The part of a named attribute's first value before any '@'.
    AttributeLocal(String),
}

impl UsernameRule {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "username" => Self::Username,
            "username_local" => Self::UsernameLocal,
            "email" => Self::Email,
            "email_local" => Self::EmailLocal,
            _ => {
                if let Some(a) = s.strip_prefix("attribute_local:") {
                    Self::AttributeLocal(a.to_owned())
                } else if let Some(a) = s.strip_prefix("attribute:") {
                    Self::Attribute(a.to_owned())
                } else {
                    return None;
                }
            }
        })
    }
}

/// What happens to an admin who did not use MFA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminMfa {
    Off,
    Refuse,
    Demote,
}

/// One HA instance's login policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub username: UsernameRule,
    pub admin_groups: Vec<String>,
    pub user_groups: Vec<String>,
    pub read_only_groups: Vec<String>,
    pub local_only_groups: Vec<String>,
    pub admin_mfa: AdminMfa,
    pub mfa_contexts: Vec<String>,
}

/// The outcome for a person allowed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaLogin {
    pub username: String,
    pub name: String,
    pub group: Group,
    pub local_only: bool,
    /// Set when an admin was demoted for lack of MFA.
    pub demoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("no usable HA username: the identity has no {0}")]
    NoUsername(String),
    #[error("none of your groups gives access to this Home Assistant")]
    NoRole,
    #[error("administrators must sign in with multi-factor authentication")]
    AdminNeedsMfa,
}

/// HA accepts any string, but usernames that survive copying between
/// keyboards and logs are lowercase ASCII letters, digits, '.', '_' and '-'.
pub fn normalize_username(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect()
}

fn local(s: &str) -> &str {
    s.split('@').next().unwrap_or(s)
}

/// Applies `policy` to `who`.
pub fn decide(policy: &Policy, who: &Identity) -> Result<HaLogin, PolicyError> {
    let attr = |n: &str| who.attributes.get(n).and_then(|v| v.first()).cloned();
    let (raw, what) = match &policy.username {
        UsernameRule::Username => (who.username.clone(), "username".to_string()),
        UsernameRule::UsernameLocal => (
            who.username.as_deref().map(|u| local(u).to_owned()),
            "username".into(),
        ),
        UsernameRule::Email => (who.email.clone(), "email".into()),
        UsernameRule::EmailLocal => (
            who.email.as_deref().map(|u| local(u).to_owned()),
            "email".into(),
        ),
        UsernameRule::Attribute(a) => (attr(a), format!("attribute '{a}'")),
        UsernameRule::AttributeLocal(a) => (
            attr(a).map(|v| local(&v).to_owned()),
            format!("attribute '{a}'"),
        ),
    };
    let username = raw
        .map(|r| normalize_username(&r))
        .filter(|u| !u.is_empty());
    let username = username.ok_or(PolicyError::NoUsername(what))?;

    let member = |list: &[String]| who.groups.iter().any(|g| list.contains(g));
    let mut group = if member(&policy.admin_groups) {
        Group::Admin
    } else if member(&policy.user_groups) {
        Group::Users
    } else if member(&policy.read_only_groups) {
        Group::ReadOnly
    } else {
        return Err(PolicyError::NoRole);
    };
    let mut demoted = false;
    if group == Group::Admin && policy.admin_mfa != AdminMfa::Off && !used_mfa(policy, who) {
        if policy.admin_mfa == AdminMfa::Refuse {
            return Err(PolicyError::AdminNeedsMfa);
        }
        demoted = true;
        group = Group::Users;
    }
    let name: String = who
        .name
        .clone()
        .or_else(|| who.username.clone())
        .unwrap_or_else(|| username.clone())
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    Ok(HaLogin {
        username,
        name,
        group,
        local_only: member(&policy.local_only_groups),
        demoted,
    })
}

/// MFA from the AuthnContextClassRef (SAML Core §2.7.2.2) or Entra's amr claim.
pub fn used_mfa(policy: &Policy, who: &Identity) -> bool {
    who.used_mfa(&policy.mfa_contexts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DEFAULT_MFA_CONTEXTS, ENTRA_AMR};

    fn who(groups: &[&str]) -> Identity {
        Identity {
            idp: "x".into(),
            subject: "s".into(),
            name_id: None,
            name_id_format: None,
            username: Some("Alice.Smith@Contoso.com".into()),
            name: Some("Alice\nSmith".into()),
            given_name: None,
            family_name: None,
            email: Some("alice@example.org".into()),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            authn_context: Some(
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
            ),
            authn_instant: None,
            session_not_on_or_after: None,
            attributes: Default::default(),
        }
    }

    fn policy() -> Policy {
        Policy {
            username: UsernameRule::UsernameLocal,
            admin_groups: vec!["admins".into()],
            user_groups: vec!["users".into()],
            read_only_groups: vec!["guests".into()],
            local_only_groups: vec!["kids".into()],
            admin_mfa: AdminMfa::Off,
            mfa_contexts: DEFAULT_MFA_CONTEXTS.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn highest_group_wins_and_name_is_clean() {
        let l = decide(&policy(), &who(&["users", "admins", "kids"])).unwrap();
        assert_eq!(
            (l.username.as_str(), l.group, l.local_only),
            ("alice.smith", Group::Admin, true)
        );
        assert_eq!(l.name, "AliceSmith");
        assert_eq!(
            decide(&policy(), &who(&["guests"])).unwrap().group,
            Group::ReadOnly
        );
        assert_eq!(
            decide(&policy(), &who(&["other"])),
            Err(PolicyError::NoRole)
        );
        assert_eq!(decide(&policy(), &who(&[])), Err(PolicyError::NoRole));
    }

    #[test]
    fn username_rules() {
        let mut p = policy();
        p.username = UsernameRule::EmailLocal;
        assert_eq!(decide(&p, &who(&["users"])).unwrap().username, "alice");
        p.username = UsernameRule::Attribute("nope".into());
        assert!(matches!(
            decide(&p, &who(&["users"])),
            Err(PolicyError::NoUsername(_))
        ));
        assert_eq!(
            UsernameRule::parse("attribute_local:upn"),
            Some(UsernameRule::AttributeLocal("upn".into()))
        );
        assert_eq!(UsernameRule::parse("bogus"), None);
    }

    #[test]
    fn admin_mfa_policy() {
        let mut p = policy();
        p.admin_mfa = AdminMfa::Refuse;
        assert_eq!(
            decide(&p, &who(&["admins"])),
            Err(PolicyError::AdminNeedsMfa)
        );
        p.admin_mfa = AdminMfa::Demote;
        let l = decide(&p, &who(&["admins"])).unwrap();
        assert_eq!((l.group, l.demoted), (Group::Users, true));
        let mut w = who(&["admins"]);
        w.attributes.insert(
            ENTRA_AMR.into(),
            vec!["http://schemas.microsoft.com/claims/multipleauthn".into()],
        );
        assert_eq!(decide(&p, &w).unwrap().group, Group::Admin);
    }
}
