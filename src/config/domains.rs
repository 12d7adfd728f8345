//! `[[idp]] domains`: which email domains belong to which IdP, so a hint
//! (`login_hint=alice@example.org`, `domain_hint=example.org`) can pick the
//! IdP without the chooser. A domain names at most one IdP.

use super::{Config, Idp, Problems};

/// Longest domain accepted (RFC 1035 §2.3.4).
const MAX_DOMAIN: usize = 253;

/// A DNS name as a hint or a `domains` entry: lowercase ASCII letters,
/// digits, '-' and '.', without empty labels. `None` if it is not one.
pub fn normalize_domain(s: &str) -> Option<String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= MAX_DOMAIN
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    ok.then_some(d)
}

/// The domain of an email address (`local@domain`), normalized.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    normalize_domain(domain)
}

/// Reads one IdP's `domains`, reporting entries that are not DNS names.
pub(super) fn load(p: &mut Problems, key: String, raw: Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in raw.unwrap_or_default() {
        match normalize_domain(&d) {
            Some(n) if !out.contains(&n) => out.push(n),
            Some(_) => {}
            None => p.add(
                key.clone(),
                format!("'{d}' is not a domain name such as example.org"),
            ),
        }
    }
    out
}

/// A domain on two IdPs would make the choice depend on the order: refused.
pub(super) fn check_unique(p: &mut Problems, idps: &[Idp]) {
    for (i, idp) in idps.iter().enumerate() {
        for d in &idp.domains {
            if let Some(first) = idps.iter().take(i).find(|x| x.domains.contains(d)) {
                p.add(
                    format!("idp[{i}].domains"),
                    format!("'{d}' is already a domain of IdP '{}'", first.id),
                );
            }
        }
    }
}

impl Config {
    /// The IdP whose `domains` list `domain` (any case).
    pub fn idp_for_domain(&self, domain: &str) -> Option<&Idp> {
        let d = normalize_domain(domain)?;
        self.idps.iter().find(|i| i.domains.contains(&d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_or_refused() {
        assert_eq!(
            normalize_domain("Example.ORG.").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            normalize_domain("a-b.example").as_deref(),
            Some("a-b.example")
        );
        for bad in [
            "",
            ".",
            "a..b",
            "-a.org",
            "a-.org",
            "ex ample.org",
            "é.org",
            "a@b",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
        assert_eq!(
            email_domain("Alice@Example.org").as_deref(),
            Some("example.org")
        );
        assert_eq!(email_domain("alice"), None);
        assert_eq!(email_domain("alice@"), None);
    }
}
