//! AuthnRequest (SAML Core §3.4.1). Its HTTP-Redirect encoding, with a
//! detached signature over the query string, is in [`super::binding`]; its
//! HTTP-POST encoding, with an enveloped signature, is [`post_value`].

use super::metadata::{BINDING_POST, NAMEID_PERSISTENT};
use super::response::fmt_time;
use super::sign::{sign_enveloped, SignOptions};
use crate::crypto::{DigestAlg, SigAlg};
use crate::xml::{escape, ns};
use base64::Engine;
use openssl::pkey::{PKey, Private};
use time::OffsetDateTime;

pub use super::binding::{redirect_url, BindingError};

/// The parts of our AuthnRequest.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// ≥128 random bits, starting with a letter or `_` (an NCName).
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{post}\"{force}><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy Format=\"{fmt}\" AllowCreate=\"true\"/></samlp:AuthnRequest>",
            samlp = ns::SAMLP,
            saml = ns::SAML,
            id = escape(self.id),
            ii = fmt_time(self.issue_instant),
            dest = escape(self.destination),
            acs = escape(self.acs_url),
            post = BINDING_POST,
            force = if self.force_authn { " ForceAuthn=\"true\"" } else { "" },
            issuer = escape(self.sp_entity_id),
            fmt = NAMEID_PERSISTENT,
        )
    }
}

/// The HTTP-POST binding's `SAMLRequest` value (SAML Bindings §3.5.4): the
/// AuthnRequest `request_xml`, whose root carries `ID="{id}"`, with an
/// enveloped signature (SAML Core §5.4: exclusive c14n, RSA-SHA256,
/// SHA-256, one Reference to `#id`) placed after its Issuer, then base64.
/// The POST binding has no detached query signature (§3.5.4), so this is
/// what an IdP with `WantAuthnRequestsSigned` checks.
pub fn post_value(
    request_xml: &str,
    id: &str,
    key: &PKey<Private>,
) -> Result<String, BindingError> {
    let opts = SignOptions {
        alg: SigAlg::RsaSha256,
        digest: DigestAlg::Sha256,
        inclusive_prefixes: &[],
        cert_der: None,
    };
    let signed = sign_enveloped(request_xml, id, key, &opts)
        .map_err(|e| BindingError::Sign(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::dsig::{verify_enveloped, TrustedKey};
    use crate::xml::{parse, Limits};
    use openssl::rsa::Rsa;

    fn keys() -> (PKey<Private>, TrustedKey) {
        let k = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let p = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        (k, TrustedKey::new(p).unwrap())
    }

    fn request() -> String {
        AuthnRequest {
            id: "_post1",
            issue_instant: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            destination: "https://idp.example/sso/post",
            acs_url: "https://sp.example/saml/acs",
            sp_entity_id: "https://sp.example/saml/metadata",
            force_authn: false,
        }
        .to_xml()
    }

    fn decode(v: &str) -> String {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v).unwrap()).unwrap()
    }

    #[test]
    fn post_value_carries_a_signature_our_verifier_accepts() {
        let (key, trusted) = keys();
        let xml = decode(&post_value(&request(), "_post1", &key).unwrap());
        let doc = parse(xml.as_bytes(), &Limits::MESSAGE).unwrap();
        let root = doc.root();
        assert!(doc.is(root, ns::SAMLP, "AuthnRequest"));
        // Schema order (SAML Core §3.2.1, §3.4.1): Issuer, Signature, NameIDPolicy.
        let kids: Vec<&str> = doc.children(root).map(|c| doc.local(c)).collect();
        assert_eq!(kids, ["Issuer", "Signature", "NameIDPolicy"]);
        let v = verify_enveloped(&doc, root, std::slice::from_ref(&trusted), false).unwrap();
        assert_eq!(v.element, root);
        assert_eq!(v.alg, SigAlg::RsaSha256);
        assert!(xml.contains("<ds:Reference URI=\"#_post1\">"));
        assert!(xml.contains(DigestAlg::Sha256.uri()));
        assert!(xml.contains(ns::EXC_C14N));
    }

    #[test]
    fn post_value_signature_fails_on_any_change_and_other_keys() {
        let (key, trusted) = keys();
        let (_, stranger) = keys();
        let xml = decode(&post_value(&request(), "_post1", &key).unwrap());
        let verify = |x: &str, k: &TrustedKey| {
            let doc = parse(x.as_bytes(), &Limits::MESSAGE).unwrap();
            verify_enveloped(&doc, doc.root(), std::slice::from_ref(k), false).map(|_| ())
        };
        assert!(verify(&xml, &trusted).is_ok());
        assert!(
            verify(&xml, &stranger).is_err(),
            "a key we did not sign with"
        );
        for (from, to) in [
            (
                "https://sp.example/saml/acs",
                "https://evil.example/saml/acs",
            ),
            (
                "https://idp.example/sso/post",
                "https://idp.example/sso/posT",
            ),
            (" Version=\"2.0\"", " Version=\"2.0\" ForceAuthn=\"true\""),
            ("AllowCreate=\"true\"", "AllowCreate=\"false\""),
        ] {
            let tampered = xml.replacen(from, to, 1);
            assert_ne!(tampered, xml, "{from}");
            assert!(verify(&tampered, &trusted).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn post_value_refuses_an_unknown_id() {
        let (key, _) = keys();
        assert!(matches!(
            post_value(&request(), "_other", &key),
            Err(BindingError::Sign(_))
        ));
    }
}
