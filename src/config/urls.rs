//! URLs in the configuration: the hub's own base ([`PublicUrl`]) and the
//! looser base URLs of peers (`metadata_url`, `[[ha]] external_url`).
//!
//! Syntax is RFC 3986 as implemented by the `url` crate (WHATWG URL).
//! `public_url` is the prefix of every URL the hub publishes and, exactly,
//! the OIDC issuer (OpenID Connect Discovery 1.0 §3: "https scheme … no query
//! or fragment components"), so it is held to the stricter rules.

use std::fmt;

/// Why a configured URL was refused. The text is the check-config message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("'{url}' is not a valid URL ({reason})")]
    Syntax { url: String, reason: String },
    #[error("'{0}' must be an http:// or https:// URL with a host")]
    NotHttp(String),
    #[error("'{0}' must not have a #fragment")]
    Fragment(String),
    #[error("'{0}' must not have a ?query")]
    Query(String),
    #[error("'{0}' must not contain a user name or password")]
    Userinfo(String),
}

/// Parses an absolute http(s) URL with a host and without a fragment.
fn parse_http(u: &str) -> Result<url::Url, UrlError> {
    let parsed = url::Url::parse(u).map_err(|e| UrlError::Syntax {
        url: u.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(UrlError::NotHttp(u.to_owned()));
    }
    if parsed.fragment().is_some() {
        return Err(UrlError::Fragment(u.to_owned()));
    }
    Ok(parsed)
}

/// An absolute http(s) URL without a fragment; trailing '/' removed. A query
/// is allowed (IdP metadata URLs often carry one).
pub(crate) fn check_base_url(u: &str) -> Result<String, UrlError> {
    parse_http(u)?;
    Ok(u.trim_end_matches('/').to_owned())
}

/// The hub's public base URL: absolute http(s), a host, no user name or
/// password, no query, no fragment, kept as written minus trailing '/'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    text: String,
    https: bool,
    /// The ASCII serialisation of its origin (RFC 6454 §6.2).
    origin: String,
}

impl PublicUrl {
    /// Validates `u`.
    pub fn parse(u: &str) -> Result<PublicUrl, UrlError> {
        let parsed = parse_http(u)?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(UrlError::Userinfo(u.to_owned()));
        }
        if parsed.query().is_some() {
            return Err(UrlError::Query(u.to_owned()));
        }
        Ok(PublicUrl {
            text: u.trim_end_matches('/').to_owned(),
            https: parsed.scheme() == "https",
            origin: parsed.origin().ascii_serialization(),
        })
    }

    /// The URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `path` (which starts with '/') under this base.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }

    /// The origin browsers name in `Origin` headers, e.g. `https://sso.example.org`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Browsers reach the hub over TLS (cookies may be `Secure`).
    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicUrl::parse(s)
    }
}

impl AsRef<str> for PublicUrl {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        for (input, out) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://sso.example.org/", "https://sso.example.org"),
            ("https://example.org/hub//", "https://example.org/hub"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            let u = PublicUrl::parse(input).unwrap();
            assert_eq!(u.as_str(), out);
            assert_eq!(u.to_string(), out);
        }
    }

    #[test]
    fn joins_and_knows_its_scheme() {
        let u = PublicUrl::parse("https://sso.example.org/").unwrap();
        assert_eq!(u.join("/saml/acs"), "https://sso.example.org/saml/acs");
        assert!(u.is_https());
        assert!(!PublicUrl::parse("http://x").unwrap().is_https());
    }

    #[test]
    fn refuses_what_an_issuer_cannot_have() {
        for input in [
            "ftp://x",
            "not a url",
            "https://x/?a=1",
            "https://x/#f",
            "https://u:p@x/",
            "https://u@x/",
        ] {
            let e = PublicUrl::parse(input).unwrap_err();
            let want = match input {
                "ftp://x" => UrlError::NotHttp(input.into()),
                "https://x/?a=1" => UrlError::Query(input.into()),
                "https://x/#f" => UrlError::Fragment(input.into()),
                "not a url" => e.clone(),
                _ => UrlError::Userinfo(input.into()),
            };
            assert_eq!(e, want, "{input}");
            assert!(e.to_string().contains(input), "{e}");
        }
        assert!(matches!(
            PublicUrl::parse("not a url"),
            Err(UrlError::Syntax { .. })
        ));
    }

    #[test]
    fn base_urls_may_carry_a_query() {
        assert_eq!(
            check_base_url("https://idp.example.org/md?appid=1").unwrap(),
            "https://idp.example.org/md?appid=1"
        );
        assert!(check_base_url("https://idp.example.org/md#x").is_err());
    }
}
