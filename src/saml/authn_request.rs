//! AuthnRequest (SAML Core §3.4.1) and its HTTP-Redirect encoding with a
//! detached signature over the query string (SAML Bindings §3.4.4.1).

use super::dsig::SigAlg;
use super::metadata::{BINDING_POST, NAMEID_PERSISTENT};
use super::response::fmt_time;
use crate::xml::{escape, ns};
use base64::Engine;
use openssl::pkey::{PKey, Private};
use std::io::Write;
use time::OffsetDateTime;

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

#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("could not deflate the request: {0}")]
    Deflate(String),
    #[error("could not sign the request: {0}")]
    Sign(String),
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The URL to send the browser to: `location` plus SAMLRequest, RelayState,
/// SigAlg and Signature, signed with RSA-SHA256 over the exact octets of
/// `SAMLRequest=…&RelayState=…&SigAlg=…` (SAML Bindings §3.4.4.1).
pub fn redirect_url(
    location: &str,
    message_xml: &str,
    relay_state: &str,
    key: &PKey<Private>,
) -> Result<String, BindingError> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(message_xml.as_bytes())
        .map_err(|e| BindingError::Deflate(e.to_string()))?;
    let deflated = z
        .finish()
        .map_err(|e| BindingError::Deflate(e.to_string()))?;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let alg = SigAlg::RsaSha256;
    let signed = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        enc(&b64.encode(deflated)),
        enc(relay_state),
        enc(alg.uri())
    );
    let mut signer = openssl::sign::Signer::new(alg.digest(), key)
        .map_err(|e| BindingError::Sign(e.to_string()))?;
    let sig = signer
        .sign_oneshot_to_vec(signed.as_bytes())
        .map_err(|e| BindingError::Sign(e.to_string()))?;
    let sep = if location.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{location}{sep}{signed}&Signature={}",
        enc(&b64.encode(sig))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn redirect_url_carries_a_verifiable_signature_over_the_query() {
        let k = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let req = AuthnRequest {
            id: "_abc",
            issue_instant: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            destination: "https://idp/sso?x=1",
            acs_url: "https://sp/saml/acs",
            sp_entity_id: "https://sp/saml/metadata",
            force_authn: false,
        };
        let url = redirect_url("https://idp/sso?x=1", &req.to_xml(), "h1", &k).unwrap();
        let q = url.split_once("?x=1&").unwrap().1;
        let (signed, sig) = q.split_once("&Signature=").unwrap();
        let sig: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        let mut v =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &k).unwrap();
        assert!(v.verify_oneshot(&sig, signed.as_bytes()).unwrap());
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(signed.as_bytes())
            .into_owned()
            .collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&pairs[0].1)
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains("ID=\"_abc\"") && xml.contains("Destination=\"https://idp/sso?x=1\""));
        assert!(xml.contains("NameIDPolicy"));
    }
}
