//! The HTTP-Redirect binding (SAML Bindings §3.4): DEFLATE, base64 and URL
//! encoding of a protocol message in a query string, with a detached
//! signature over the exact query octets (§3.4.4.1). Both directions: the
//! encoder for our AuthnRequests and the decoder for messages sent to us.
//!
//! The decoder never trusts sizes: the query and the SAMLRequest/SAMLResponse
//! value are capped before any decoding, and inflation stops as soon as the
//! output passes [`Limits::MESSAGE`]`.max_bytes`, so a deflate bomb costs at
//! most that much memory and time.

use super::dsig::{DsigError, TrustedKey};
use crate::crypto::{self, SigAlg};
use crate::xml::Limits;
use base64::Engine;
use flate2::{Decompress, FlushDecompress, Status};
use openssl::pkey::{PKey, Private};
use std::io::Write;

/// Largest raw query string accepted: the largest encoded message, even if
/// every character of it were percent-encoded, with room for the rest.
pub const MAX_QUERY_BYTES: usize = 3 * Limits::MESSAGE.max_encoded_bytes() + 8192;

const P_REQUEST: &str = "SAMLRequest";
const P_RESPONSE: &str = "SAMLResponse";
const P_RELAY_STATE: &str = "RelayState";
const P_SIG_ALG: &str = "SigAlg";
const P_SIGNATURE: &str = "Signature";

/// Why a Redirect-binding message could not be built, decoded or verified.
/// Messages name the parameter and the rule, never echo its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("could not deflate the request: {0}")]
    Deflate(String),
    #[error("could not sign the request: {0}")]
    Sign(String),
    #[error("query string is {size} bytes, over the {limit}-byte limit")]
    QueryTooLarge { size: usize, limit: usize },
    #[error("{param} is {size} bytes encoded, over the {limit}-byte limit")]
    EncodedTooLarge {
        param: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("the message inflates to more than {0} bytes")]
    InflatedTooLarge(usize),
    #[error("query carries neither SAMLRequest nor SAMLResponse (SAML Bindings §3.4.4.1)")]
    NoMessage,
    #[error("query carries both SAMLRequest and SAMLResponse (SAML Bindings §3.4.4.1)")]
    BothMessages,
    #[error("parameter {0} appears more than once")]
    Duplicate(&'static str),
    #[error("{0} is not valid base64 (SAML Bindings §3.4.4.1)")]
    Base64(&'static str),
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("the message is not a raw DEFLATE stream (RFC 1951; SAML Bindings §3.4.4.1): {0}")]
    Inflate(&'static str),
    #[error("Signature without SigAlg, or SigAlg without Signature (SAML Bindings §3.4.4.1)")]
    SignaturePair,
    #[error("the message is not signed (no SigAlg and Signature parameters)")]
    Unsigned,
    #[error("query signature: {0}")]
    Signature(#[from] DsigError),
}

/// Which protocol message the query carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `SAMLRequest`: AuthnRequest, LogoutRequest, …
    Request,
    /// `SAMLResponse`: LogoutResponse, …
    Response,
}

impl MessageKind {
    pub fn param(self) -> &'static str {
        match self {
            Self::Request => P_REQUEST,
            Self::Response => P_RESPONSE,
        }
    }
}

/// The detached signature of a Redirect-binding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySignature {
    /// The SigAlg URI, URL-decoded.
    pub sig_alg: String,
    /// The Signature, URL- and base64-decoded.
    pub value: Vec<u8>,
    /// The octets the signature covers: `SAMLRequest=…&RelayState=…&SigAlg=…`
    /// (or `SAMLResponse=…`), each parameter exactly as written in the query,
    /// in this order, RelayState only when present (§3.4.4.1).
    pub signed_octets: String,
}

/// A decoded Redirect-binding message. Nothing in it is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectMessage {
    pub kind: MessageKind,
    /// The inflated message: XML for the strict parser, at most
    /// `Limits::MESSAGE.max_bytes` bytes.
    pub xml: Vec<u8>,
    /// RelayState, URL-decoded, when present.
    pub relay_state: Option<String>,
    /// SigAlg and Signature, when present (both or neither).
    pub signature: Option<QuerySignature>,
}

/// One `name=value` pair of the query: the raw text and the decoded value.
struct Param<'q> {
    raw: &'q str,
    value: String,
}

/// Decodes the SAMLRequest or SAMLResponse of an HTTP-Redirect binding query
/// (SAML Bindings §3.4.4.1). `raw_query` is the query string as received,
/// without the `?`. Parameters other than the five of the binding are
/// ignored; any of those five given twice is refused.
pub fn decode_redirect(raw_query: &str) -> Result<RedirectMessage, BindingError> {
    if raw_query.len() > MAX_QUERY_BYTES {
        return Err(BindingError::QueryTooLarge {
            size: raw_query.len(),
            limit: MAX_QUERY_BYTES,
        });
    }
    let mut request = None;
    let mut response = None;
    let mut relay_state = None;
    let mut sig_alg = None;
    let mut signature = None;
    for raw in raw_query.split('&').filter(|p| !p.is_empty()) {
        // A single pair: form-urlencoded decoding of name and value, so a
        // parameter is recognised here exactly as an HTTP framework would.
        let Some((name, value)) = url::form_urlencoded::parse(raw.as_bytes()).next() else {
            continue;
        };
        let (slot, param) = match name.as_ref() {
            P_REQUEST => (&mut request, P_REQUEST),
            P_RESPONSE => (&mut response, P_RESPONSE),
            P_RELAY_STATE => (&mut relay_state, P_RELAY_STATE),
            P_SIG_ALG => (&mut sig_alg, P_SIG_ALG),
            P_SIGNATURE => (&mut signature, P_SIGNATURE),
            _ => continue,
        };
        if slot.is_some() {
            return Err(BindingError::Duplicate(param));
        }
        *slot = Some(Param {
            raw,
            value: value.into_owned(),
        });
    }

    let (kind, message) = match (request, response) {
        (Some(m), None) => (MessageKind::Request, m),
        (None, Some(m)) => (MessageKind::Response, m),
        (None, None) => return Err(BindingError::NoMessage),
        (Some(_), Some(_)) => return Err(BindingError::BothMessages),
    };
    let param = kind.param();
    let limit = Limits::MESSAGE.max_encoded_bytes();
    if message.value.len() > limit {
        return Err(BindingError::EncodedTooLarge {
            param,
            size: message.value.len(),
            limit,
        });
    }
    let deflated = super::b64_decode_lenient(&message.value).ok_or(BindingError::Base64(param))?;
    if deflated.is_empty() {
        return Err(BindingError::Empty(param));
    }
    let xml = inflate_capped(&deflated, Limits::MESSAGE.max_bytes)?;

    let signature = match (sig_alg, signature) {
        (None, None) => None,
        (Some(alg), Some(sig)) => {
            let value =
                super::b64_decode_lenient(&sig.value).ok_or(BindingError::Base64(P_SIGNATURE))?;
            if value.is_empty() {
                return Err(BindingError::Empty(P_SIGNATURE));
            }
            let mut signed_octets = String::with_capacity(
                message.raw.len()
                    + alg.raw.len()
                    + relay_state.as_ref().map_or(0, |r| r.raw.len())
                    + 2,
            );
            signed_octets.push_str(message.raw);
            if let Some(rs) = &relay_state {
                signed_octets.push('&');
                signed_octets.push_str(rs.raw);
            }
            signed_octets.push('&');
            signed_octets.push_str(alg.raw);
            Some(QuerySignature {
                sig_alg: alg.value,
                value,
                signed_octets,
            })
        }
        _ => return Err(BindingError::SignaturePair),
    };
    Ok(RedirectMessage {
        kind,
        xml,
        relay_state: relay_state.map(|r| r.value),
        signature,
    })
}

/// Inflates a raw DEFLATE stream (RFC 1951) into at most `cap` bytes. The
/// output buffer grows by doubling up to `cap + 1` and is never grown past
/// it: one byte more than `cap` is enough to know the message is too large.
/// A truncated stream or data after the final block is refused.
fn inflate_capped(deflated: &[u8], cap: usize) -> Result<Vec<u8>, BindingError> {
    let hard = cap.saturating_add(1);
    let mut z = Decompress::new(false);
    let mut out = Vec::with_capacity(deflated.len().saturating_mul(4).max(1024).min(hard));
    loop {
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let consumed = usize::try_from(in_before).unwrap_or(usize::MAX);
        let input = deflated.get(consumed..).unwrap_or_default();
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|_| BindingError::Inflate("corrupt stream"))?;
        if out.len() > cap {
            return Err(BindingError::InflatedTooLarge(cap));
        }
        if status == Status::StreamEnd {
            break;
        }
        if out.len() == out.capacity() {
            // Output space ran out; grow, but never beyond cap + 1.
            let want = out.capacity().saturating_mul(2).min(hard);
            out.reserve_exact(want.saturating_sub(out.len()));
            continue;
        }
        if z.total_in() == in_before && z.total_out() == out_before {
            return Err(BindingError::Inflate("stream ends before its final block"));
        }
    }
    if usize::try_from(z.total_in()).ok() != Some(deflated.len()) {
        return Err(BindingError::Inflate("data after the final block"));
    }
    Ok(out)
}

/// Verifies the query signature of a decoded message against the IdP's
/// configured keys (SAML Bindings §3.4.4.1): RSA-SHA256/384/512 or
/// ECDSA-SHA256/384/512, RSA-SHA1 only with `allow_sha1`. Returns the
/// algorithm used. The message must still be checked as a protocol message
/// (Issuer, Destination, InResponseTo, …) by its caller.
pub fn verify_redirect_signature(
    msg: &RedirectMessage,
    keys: &[TrustedKey],
    allow_sha1: bool,
) -> Result<SigAlg, BindingError> {
    let sig = msg.signature.as_ref().ok_or(BindingError::Unsigned)?;
    let alg = SigAlg::from_uri(&sig.sig_alg)
        .ok_or_else(|| DsigError::SignatureMethod(sig.sig_alg.chars().take(120).collect()))?;
    if alg.uses_sha1() && !allow_sha1 {
        return Err(DsigError::Sha1NotAllowed.into());
    }
    let data = sig.signed_octets.as_bytes();
    let ok = keys.iter().any(|k| verify_with(k, alg, data, &sig.value));
    if ok {
        Ok(alg)
    } else {
        Err(DsigError::BadSignature.into())
    }
}

/// The algorithm URIs define an ECDSA value as r || s (RFC 4050 §3.3,
/// XMLDSig 1.1 §6.4.3); some Java senders put the DER form in the query.
/// Either is a signature by this key over these octets. The key type must be
/// the algorithm's.
fn verify_with(key: &TrustedKey, alg: SigAlg, data: &[u8], sig: &[u8]) -> bool {
    key.verify(alg, data, sig) || (alg.is_ecdsa() && crypto::verify_der(key.pkey(), alg, data, sig))
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
    redirect_url_for(
        location,
        MessageKind::Request,
        message_xml,
        Some(relay_state),
        key,
    )
}

/// [`redirect_url`] for either message kind, RelayState left out when
/// there is none (SAML Bindings §3.4.3, §3.4.4.1).
pub fn redirect_url_for(
    location: &str,
    kind: MessageKind,
    message_xml: &str,
    relay_state: Option<&str>,
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
    let mut signed = format!("{}={}", kind.param(), enc(&b64.encode(deflated)));
    if let Some(rs) = relay_state {
        signed.push_str(&format!("&{P_RELAY_STATE}={}", enc(rs)));
    }
    signed.push_str(&format!("&{P_SIG_ALG}={}", enc(alg.uri())));
    let sig =
        crypto::sign(key, alg, signed.as_bytes()).map_err(|e| BindingError::Sign(e.to_string()))?;
    let sep = if location.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{location}{sep}{signed}&{P_SIGNATURE}={}",
        enc(&b64.encode(sig))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::authn_request::AuthnRequest;
    use openssl::rsa::Rsa;
    use std::io::Read;
    use time::OffsetDateTime;

    fn rsa() -> (PKey<Private>, TrustedKey) {
        let k = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let p = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        (k, TrustedKey::new(p).unwrap())
    }

    fn request_xml() -> String {
        AuthnRequest {
            id: "_abc",
            issue_instant: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            destination: "https://idp/sso?x=1",
            acs_url: "https://sp/saml/acs",
            sp_entity_id: "https://sp/saml/metadata",
            force_authn: false,
        }
        .to_xml()
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    fn b64(data: &[u8]) -> String {
        enc(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    #[test]
    fn redirect_url_carries_a_verifiable_signature_over_the_query() {
        let (k, _) = rsa();
        let url = redirect_url("https://idp/sso?x=1", &request_xml(), "h1", &k).unwrap();
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

    #[test]
    fn round_trip_with_the_encoder_and_verify() {
        let (k, t) = rsa();
        let xml = request_xml();
        let url = redirect_url("https://idp/sso?x=1", &xml, "h/1 +&=", &k).unwrap();
        let query = url.split_once('?').unwrap().1;
        let m = decode_redirect(query).unwrap();
        assert_eq!(m.kind, MessageKind::Request);
        assert_eq!(m.xml, xml.as_bytes());
        assert_eq!(m.relay_state.as_deref(), Some("h/1 +&="));
        let sig = m.signature.as_ref().unwrap();
        assert_eq!(sig.sig_alg, SigAlg::RsaSha256.uri());
        let signed = query
            .strip_prefix("x=1&")
            .unwrap()
            .split_once("&Signature=")
            .unwrap()
            .0;
        assert_eq!(sig.signed_octets, signed);
        assert_eq!(
            verify_redirect_signature(&m, std::slice::from_ref(&t), false),
            Ok(SigAlg::RsaSha256)
        );

        // Parameter order in the query does not change the signed octets.
        let (head, sig_param) = query.rsplit_once('&').unwrap();
        let mut parts: Vec<&str> = head.split('&').collect();
        parts.reverse();
        let shuffled = format!("{sig_param}&{}", parts.join("&"));
        let m2 = decode_redirect(&shuffled).unwrap();
        assert_eq!(m2, m);

        // Another key, a changed RelayState, or SHA-1 refused.
        let (_, other) = rsa();
        assert_eq!(
            verify_redirect_signature(&m, &[other], false),
            Err(BindingError::Signature(DsigError::BadSignature))
        );
        let tampered = query.replace("RelayState=h", "RelayState=H");
        let m3 = decode_redirect(&tampered).unwrap();
        assert_eq!(
            verify_redirect_signature(&m3, std::slice::from_ref(&t), false),
            Err(BindingError::Signature(DsigError::BadSignature))
        );
        let mut sha1 = m.clone();
        if let Some(s) = sha1.signature.as_mut() {
            s.sig_alg = SigAlg::RsaSha1.uri().into();
        }
        assert_eq!(
            verify_redirect_signature(&sha1, std::slice::from_ref(&t), false),
            Err(BindingError::Signature(DsigError::Sha1NotAllowed))
        );
    }

    #[test]
    fn ecdsa_and_rsa_sha512_signatures_verify() {
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let k = PKey::from_ec_key(ec).unwrap();
        let t =
            TrustedKey::new(PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap())
                .unwrap();
        let (rk, rt) = rsa();
        for (alg, key, trusted) in [(SigAlg::EcdsaSha256, &k, &t), (SigAlg::RsaSha512, &rk, &rt)] {
            let signed = format!(
                "SAMLResponse={}&SigAlg={}",
                b64(&deflate(b"<r/>")),
                enc(alg.uri())
            );
            let der = openssl::sign::Signer::new(alg.digest(), key)
                .unwrap()
                .sign_oneshot_to_vec(signed.as_bytes())
                .unwrap();
            if alg == SigAlg::EcdsaSha256 {
                // The DER form some Java senders use verifies too.
                let q = format!("{signed}&Signature={}", b64(&der));
                let m = decode_redirect(&q).unwrap();
                assert_eq!(
                    verify_redirect_signature(&m, std::slice::from_ref(trusted), false),
                    Ok(alg)
                );
            }
            let sig = if alg == SigAlg::EcdsaSha256 {
                crypto::ecdsa_der_to_raw(&der, 32).unwrap()
            } else {
                der
            };
            let q = format!("{signed}&Signature={}", b64(&sig));
            let m = decode_redirect(&q).unwrap();
            assert_eq!(m.kind, MessageKind::Response);
            assert_eq!(m.relay_state, None);
            assert_eq!(
                verify_redirect_signature(&m, std::slice::from_ref(trusted), false),
                Ok(alg)
            );
            // The key type must match the algorithm.
            assert!(verify_redirect_signature(&m, &[rt.clone(), t.clone()], false).is_ok());
            let wrong = if alg == SigAlg::EcdsaSha256 { &rt } else { &t };
            assert!(verify_redirect_signature(&m, std::slice::from_ref(wrong), false).is_err());
        }
    }

    #[test]
    fn deflate_bomb_stops_at_the_cap() {
        // 50 MB of zeros deflates to about 50 KB: under the encoded cap.
        let bomb = {
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..50 {
                z.write_all(&zeros).unwrap();
            }
            z.finish().unwrap()
        };
        assert!(bomb.len() < 100_000);
        let q = format!("SAMLRequest={}", b64(&bomb));
        assert!(q.len() < Limits::MESSAGE.max_encoded_bytes());
        assert_eq!(
            decode_redirect(&q),
            Err(BindingError::InflatedTooLarge(Limits::MESSAGE.max_bytes))
        );
        // Exactly at the cap is fine; one byte over is not.
        let cap = Limits::MESSAGE.max_bytes;
        let at = vec![b'a'; cap];
        let m = decode_redirect(&format!("SAMLRequest={}", b64(&deflate(&at)))).unwrap();
        assert_eq!(m.xml.len(), cap);
        let over = vec![b'a'; cap + 1];
        assert_eq!(
            decode_redirect(&format!("SAMLRequest={}", b64(&deflate(&over)))),
            Err(BindingError::InflatedTooLarge(cap))
        );
    }

    #[test]
    fn refuses_oversized_encodings() {
        let limit = Limits::MESSAGE.max_encoded_bytes();
        let long = "A".repeat(limit + 4);
        assert!(matches!(
            decode_redirect(&format!("SAMLRequest={long}")),
            Err(BindingError::EncodedTooLarge {
                param: "SAMLRequest",
                ..
            })
        ));
        let huge = "x".repeat(MAX_QUERY_BYTES + 1);
        assert!(matches!(
            decode_redirect(&huge),
            Err(BindingError::QueryTooLarge { .. })
        ));
    }

    #[test]
    fn refuses_bad_encodings_and_parameter_sets() {
        let good = b64(&deflate(b"<r/>"));
        let cases: Vec<(String, BindingError)> = vec![
            (
                "SAMLRequest=%%%".into(),
                BindingError::Base64("SAMLRequest"),
            ),
            (
                "SAMLRequest=abc*".into(),
                BindingError::Base64("SAMLRequest"),
            ),
            ("SAMLRequest=".into(), BindingError::Empty("SAMLRequest")),
            ("RelayState=x".into(), BindingError::NoMessage),
            ("".into(), BindingError::NoMessage),
            (
                format!("SAMLRequest={good}&SAMLResponse={good}"),
                BindingError::BothMessages,
            ),
            (
                format!("SAMLRequest={good}&RelayState=a&RelayState=b"),
                BindingError::Duplicate("RelayState"),
            ),
            (
                format!("SAMLRequest={good}&SAML%52equest={good}"),
                BindingError::Duplicate("SAMLRequest"),
            ),
            (
                format!("SAMLRequest={good}&Signature=AAAA"),
                BindingError::SignaturePair,
            ),
            (
                format!("SAMLRequest={good}&SigAlg=x"),
                BindingError::SignaturePair,
            ),
            (
                format!("SAMLRequest={good}&SigAlg=x&Signature=***"),
                BindingError::Base64("Signature"),
            ),
            // zlib-wrapped, not raw DEFLATE.
            (
                format!("SAMLRequest={}", {
                    let mut z =
                        flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                    z.write_all(b"<r/>").unwrap();
                    b64(&z.finish().unwrap())
                }),
                BindingError::Inflate("corrupt stream"),
            ),
        ];
        for (q, want) in cases {
            assert_eq!(decode_redirect(&q), Err(want), "{q}");
        }
        // Truncated stream, and bytes after the final block.
        let d = deflate(b"<samlp:LogoutRequest/>");
        let cut = &d[..d.len() - 2];
        assert!(matches!(
            decode_redirect(&format!("SAMLRequest={}", b64(cut))),
            Err(BindingError::Inflate(_))
        ));
        let mut extra = d.clone();
        extra.push(0);
        assert_eq!(
            decode_redirect(&format!("SAMLRequest={}", b64(&extra))),
            Err(BindingError::Inflate("data after the final block"))
        );
        // Unsigned messages decode, but do not verify.
        let m = decode_redirect(&format!("a=b&SAMLRequest={good}&&c")).unwrap();
        assert_eq!(m.xml, b"<r/>");
        assert_eq!(m.signature, None);
        assert_eq!(
            verify_redirect_signature(&m, &[], true),
            Err(BindingError::Unsigned)
        );
    }
}
