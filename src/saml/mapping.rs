//! Attribute profiles: which SAML attribute names fill which [`Identity`]
//! fields, per IdP family. `entra` follows Microsoft's claim URIs; `keycloak`
//! and `generic` are defaults that `[idp.attributes]` can override.

use crate::identity::Identity;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

/// The profile named by `[[idp]] profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Entra,
    Keycloak,
    #[default]
    Generic,
}

const MS_CLAIMS: &str = "http://schemas.microsoft.com/identity/claims/";
const XMLSOAP_CLAIMS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";
/// Entra's stable per-tenant user id.
pub const ENTRA_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
pub const ENTRA_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";

/// Per-IdP overrides: each names one attribute (or several, comma-free list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeOverrides {
    /// Attribute holding the stable subject; unset = the NameID.
    pub subject: Option<String>,
    pub username: Option<Vec<String>>,
    pub name: Option<Vec<String>>,
    pub given_name: Option<Vec<String>>,
    pub family_name: Option<Vec<String>>,
    pub email: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

/// Resolved attribute names for one IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    pub subject: Option<String>,
    pub username: Vec<String>,
    pub name: Vec<String>,
    pub given_name: Vec<String>,
    pub family_name: Vec<String>,
    pub email: Vec<String>,
    pub groups: Vec<String>,
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl AttributeMap {
    pub fn new(profile: Profile, o: &AttributeOverrides) -> Self {
        let base = match profile {
            Profile::Entra => AttributeMap {
                subject: Some(ENTRA_OBJECT_ID.into()),
                username: vec![format!("{XMLSOAP_CLAIMS}name")],
                name: vec![format!("{MS_CLAIMS}displayname")],
                given_name: vec![format!("{XMLSOAP_CLAIMS}givenname")],
                family_name: vec![format!("{XMLSOAP_CLAIMS}surname")],
                email: vec![
                    format!("{XMLSOAP_CLAIMS}emailaddress"),
                    format!("{XMLSOAP_CLAIMS}name"),
                ],
                groups: vec![ENTRA_GROUPS.into()],
            },
            Profile::Keycloak => AttributeMap {
                subject: None,
                username: v(&["username", "uid", "preferred_username"]),
                name: v(&["name", "displayName", "fullName"]),
                given_name: v(&["firstName", "givenName"]),
                family_name: v(&["lastName", "surname"]),
                email: v(&["email", "mail"]),
                groups: v(&["groups", "Role", "roles", "member"]),
            },
            Profile::Generic => AttributeMap {
                subject: None,
                username: v(&["uid", "username", "urn:oid:0.9.2342.19200300.100.1.1"]),
                name: v(&[
                    "displayName",
                    "cn",
                    "name",
                    "urn:oid:2.16.840.1.113730.3.1.241",
                ]),
                given_name: v(&["givenName", "urn:oid:2.5.4.42"]),
                family_name: v(&["sn", "surname", "urn:oid:2.5.4.4"]),
                email: v(&["mail", "email", "urn:oid:0.9.2342.19200300.100.1.3"]),
                groups: v(&["groups", "memberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"]),
            },
        };
        AttributeMap {
            subject: o.subject.clone().or(base.subject),
            username: o.username.clone().unwrap_or(base.username),
            name: o.name.clone().unwrap_or(base.name),
            given_name: o.given_name.clone().unwrap_or(base.given_name),
            family_name: o.family_name.clone().unwrap_or(base.family_name),
            email: o.email.clone().unwrap_or(base.email),
            groups: o.groups.clone().unwrap_or(base.groups),
        }
    }
}

/// What the assertion said, before mapping.
#[derive(Debug, Clone, Default)]
pub struct Asserted {
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub authn_context: Option<String>,
    pub authn_instant: Option<i64>,
    pub session_not_on_or_after: Option<i64>,
}

/// Builds the [`Identity`]. Fails only when no subject can be found.
pub fn to_identity(idp_id: &str, map: &AttributeMap, a: Asserted) -> Result<Identity, String> {
    let first = |names: &[String]| {
        names.iter().find_map(|n| {
            a.attributes
                .get(n)
                .and_then(|vals| vals.iter().find(|s| !s.trim().is_empty()))
                .cloned()
        })
    };
    let subject = match &map.subject {
        Some(attr) => first(std::slice::from_ref(attr)).ok_or_else(|| {
            format!("the subject attribute '{attr}' is missing from the assertion")
        })?,
        None => a
            .name_id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                "the assertion's Subject has no NameID and no subject attribute is configured"
                    .to_string()
            })?,
    };
    // First occurrence wins, in order. A set keeps this linear: a list
    // search made a response with thousands of groups cost quadratic time.
    let mut groups: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for n in &map.groups {
        for g in a.attributes.get(n).into_iter().flatten() {
            if !g.trim().is_empty() && seen.insert(g.as_str()) {
                groups.push(g.clone());
            }
        }
    }
    Ok(Identity {
        idp: idp_id.to_owned(),
        subject,
        username: first(&map.username),
        name: first(&map.name),
        given_name: first(&map.given_name),
        family_name: first(&map.family_name),
        email: first(&map.email),
        groups,
        name_id: a.name_id,
        name_id_format: a.name_id_format,
        authn_context: a.authn_context,
        authn_instant: a.authn_instant,
        session_not_on_or_after: a.session_not_on_or_after,
        attributes: a.attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_profile_uses_object_id_and_claim_uris() {
        let map = AttributeMap::new(Profile::Entra, &AttributeOverrides::default());
        let mut attrs = BTreeMap::new();
        attrs.insert(ENTRA_OBJECT_ID.to_string(), vec!["oid-1".to_string()]);
        attrs.insert(format!("{MS_CLAIMS}displayname"), vec!["Alice".into()]);
        attrs.insert(
            format!("{XMLSOAP_CLAIMS}name"),
            vec!["alice@contoso.com".into()],
        );
        attrs.insert(
            ENTRA_GROUPS.to_string(),
            vec!["g1".into(), "g2".into(), "g1".into()],
        );
        let a = Asserted {
            name_id: Some("transient-xyz".into()),
            attributes: attrs,
            ..Default::default()
        };
        let id = to_identity("entra", &map, a).unwrap();
        assert_eq!(id.subject, "oid-1");
        assert_eq!(id.email.as_deref(), Some("alice@contoso.com"));
        assert_eq!(id.groups, vec!["g1", "g2"]);
        assert_eq!(id.scoped_subject(), "entra|oid-1");
    }

    #[test]
    fn missing_subject_is_an_error() {
        let map = AttributeMap::new(Profile::Entra, &AttributeOverrides::default());
        assert!(to_identity("entra", &map, Asserted::default()).is_err());
        let map = AttributeMap::new(Profile::Generic, &AttributeOverrides::default());
        assert!(to_identity("x", &map, Asserted::default()).is_err());
    }
}
