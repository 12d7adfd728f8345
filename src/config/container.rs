//! Running inside a container: the image sets `SAMLHUB_IN_CONTAINER=1`
//! (see the `Dockerfile` and the Home Assistant add-on). There the listen
//! address is `0.0.0.0:8080`, which is no address a browser or an IdP can
//! reach, so a `public_url` derived from it would publish an unusable
//! entityID and ACS URL (SAML Metadata §2.4.4 endpoints must be reachable
//! by the IdP's users). In a container `public_url` must therefore be set.

use std::collections::BTreeMap;

/// The environment variable the container images set.
pub const IN_CONTAINER_ENV: &str = "SAMLHUB_IN_CONTAINER";

/// True when `env` says the hub runs in a container (`SAMLHUB_IN_CONTAINER`
/// set to anything but empty, `0` or `false`).
pub fn in_container(env: &BTreeMap<String, String>) -> bool {
    env.get(IN_CONTAINER_ENV)
        .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The problem to report when `public_url` is unset in a container.
pub(super) fn public_url_problem(
    env: &BTreeMap<String, String>,
    public_url: Option<&str>,
) -> Option<String> {
    if public_url.is_some() || !in_container(env) {
        return None;
    }
    Some(
        "not set, and this runs in a container (SAMLHUB_IN_CONTAINER=1), where the \
         listen address is no URL browsers or the IdP can reach; set SAMLHUB_PUBLIC_URL \
         (or public_url in the config file) to the URL users open, e.g. https://sso.example.org"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: Option<&str>) -> BTreeMap<String, String> {
        v.map(|v| BTreeMap::from([(IN_CONTAINER_ENV.to_string(), v.to_string())]))
            .unwrap_or_default()
    }

    #[test]
    fn only_a_container_without_public_url_is_a_problem() {
        assert!(public_url_problem(&env(Some("1")), None).is_some());
        assert!(public_url_problem(&env(Some("1")), Some("https://x.example")).is_none());
        assert!(public_url_problem(&env(None), None).is_none());
        for off in ["", "0", "false"] {
            assert!(public_url_problem(&env(Some(off)), None).is_none(), "{off}");
        }
    }
}
