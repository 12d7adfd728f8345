//! `application/x-www-form-urlencoded` bodies read straight from their
//! bytes, for the POSTs that carry a whole SAML message (the ACS and
//! Single Logout, SAML Bindings §3.5.4). A field of 7 KB or more is
//! percent-decoded into one buffer, in runs between escapes, rather than
//! byte by byte through an iterator with a lossy UTF-8 copy after.
//!
//! The rules are the URL Standard's (§5.1, "application/x-www-form-urlencoded
//! parsing"): fields split at `&`, the name at the first `=`, `+` is a
//! space, `%` and two hex digits is that byte, and any other `%` is kept as
//! it is. Stricter than that standard: a field named twice is refused
//! (HTTP parameter pollution), and a value that is not UTF-8 is refused
//! rather than repaired. Fields not asked for are skipped.

use super::error::AppError;
use crate::crypto::nibble;
use actix_web::{web, HttpMessage, HttpRequest};
use thiserror::Error;

/// The largest body of a form that carries a SAML message: the largest
/// encoded message, and room for the other fields and the names.
pub fn message_limit() -> usize {
    crate::xml::Limits::MESSAGE.max_encoded_bytes() + 8192
}

/// The fields `names` of a POSTed form that carries a SAML message (the
/// HTTP-POST binding, SAML Bindings §3.5.4), in the same order. Refused
/// with a 400: another media type, a body over [`message_limit`], a field
/// given twice, a value that is not UTF-8.
pub async fn read<const N: usize>(
    req: &HttpRequest,
    body: web::Payload,
    names: [&'static str; N],
) -> Result<[Option<String>; N], AppError> {
    if !req
        .content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(AppError::BadRequest(
            "form: the body is not application/x-www-form-urlencoded".into(),
        ));
    }
    let limit = message_limit();
    let body = body
        .to_bytes_limited(limit)
        .await
        .map_err(|_| AppError::BadRequest(format!("form: the body is over {limit} bytes")))?
        .map_err(|e| AppError::BadRequest(format!("form: {e}")))?;
    fields(&body, names).map_err(|e| AppError::BadRequest(format!("form: {e}")))
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormError {
    #[error("duplicate field {0}: the form gives it more than once")]
    Repeated(&'static str),
    #[error("the field {0} is not UTF-8 once decoded")]
    NotUtf8(&'static str),
}

/// The values of the fields `names` in `body`, in the same order; `None`
/// for a field the body does not hold.
pub fn fields<const N: usize>(
    body: &[u8],
    names: [&'static str; N],
) -> Result<[Option<String>; N], FormError> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut name_buf = Vec::new();
    for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = match memchr::memchr(b'=', part) {
            Some(i) => (
                part.get(..i).unwrap_or_default(),
                part.get(i + 1..).unwrap_or_default(),
            ),
            None => (part, &[][..]),
        };
        name_buf.clear();
        decode_into(raw_name, &mut name_buf);
        let Some(i) = names.iter().position(|n| n.as_bytes() == name_buf) else {
            continue;
        };
        let (Some(name), Some(slot)) = (names.get(i), out.get_mut(i)) else {
            continue;
        };
        if slot.is_some() {
            return Err(FormError::Repeated(name));
        }
        let mut value = Vec::with_capacity(raw_value.len());
        decode_into(raw_value, &mut value);
        *slot = Some(String::from_utf8(value).map_err(|_| FormError::NotUtf8(name))?);
    }
    Ok(out)
}

/// Appends the percent-decoded `raw` to `out` (URL Standard §1.3
/// "percent-decode", after `+` became a space). Runs without `%` or `+`
/// are copied whole.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    while let Some(at) = raw
        .get(from..)
        .and_then(|rest| memchr::memchr2(b'%', b'+', rest))
        .map(|i| from + i)
    {
        out.extend_from_slice(raw.get(from..at).unwrap_or_default());
        let escaped = match (raw.get(at), raw.get(at + 1), raw.get(at + 2)) {
            (Some(b'%'), Some(hi), Some(lo)) => {
                nibble(*hi).zip(nibble(*lo)).map(|(h, l)| h << 4 | l)
            }
            _ => None,
        };
        match (raw.get(at), escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                from = at + 3;
            }
            (Some(b'+'), None) => {
                out.push(b' ');
                from = at + 1;
            }
            // A `%` not followed by two hex digits stands for itself.
            _ => {
                out.push(b'%');
                from = at + 1;
            }
        }
    }
    out.extend_from_slice(raw.get(from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two(body: &str) -> Result<[Option<String>; 2], FormError> {
        fields(body.as_bytes(), ["SAMLResponse", "RelayState"])
    }

    #[test]
    fn reads_the_fields_asked_for_and_skips_the_rest() {
        let [r, s] = two("x=1&SAMLResponse=PD94&&RelayState=h_1&y").unwrap();
        assert_eq!(r.as_deref(), Some("PD94"));
        assert_eq!(s.as_deref(), Some("h_1"));
        assert_eq!(two("").unwrap(), [None, None]);
        assert_eq!(two("RelayState").unwrap(), [None, Some(String::new())]);
        assert_eq!(two("RelayState=a=b").unwrap()[1].as_deref(), Some("a=b"));
    }

    #[test]
    fn decodes_escapes_and_plus_and_keeps_a_stray_percent() {
        let [r, s] = two("SAMLResponse=a%2Bb%2fc%3D+d%0D%0A&RelayState=%E2%82%AC%%4%zz%").unwrap();
        assert_eq!(r.as_deref(), Some("a+b/c= d\r\n"));
        assert_eq!(s.as_deref(), Some("€%%4%zz%"));
        // Names are decoded too.
        assert_eq!(two("SAML%52esponse=x").unwrap()[0].as_deref(), Some("x"));
        assert_eq!(two("Relay+State=x").unwrap(), [None, None]);
    }

    #[test]
    fn a_repeated_field_and_bytes_that_are_not_utf8_are_refused() {
        assert_eq!(
            two("SAMLResponse=a&SAMLResponse=b"),
            Err(FormError::Repeated("SAMLResponse"))
        );
        assert_eq!(
            two("RelayState=&SAMLResponse=a&RelayState="),
            Err(FormError::Repeated("RelayState"))
        );
        assert_eq!(two("RelayState=%FF"), Err(FormError::NotUtf8("RelayState")));
        // A field not asked for may repeat and hold anything.
        assert!(two("x=%FF&x=1").is_ok());
    }

    #[test]
    fn agrees_with_the_url_crates_decoding_on_long_values() {
        // The form a browser posts: base64 with `+`, `/` and `=` escaped,
        // around escapes at every offset of a vector register.
        let b64 = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXMi+/9=".repeat(9);
        for at in 0..64 {
            let mut value = b64.clone();
            value.insert_str(at, "%7e+~%g%2B");
            let body = format!("SAMLResponse={value}&RelayState=r");
            let ours = two(&body).unwrap();
            let theirs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(ours[0].as_deref(), Some(theirs[0].1.as_str()), "{at}");
            assert_eq!(ours[1].as_deref(), Some("r"));
        }
    }
}
