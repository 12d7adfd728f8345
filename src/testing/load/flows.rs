//! The HTTP steps of the load, each judged against the one answer the hub
//! must give: `Ok` for that answer, otherwise `Err` saying what came back.
//! A [`Browser`] is one worker's connection to the hub; each login clears
//! its cookie jar first, so every login is a new browser on a kept-alive
//! connection (as behind a reverse proxy).

use super::{Target, HA_GROUP, HA_INSTANCE, HA_SECRET, IDP_ID, OIDC_CLIENT, OIDC_REDIRECT};
use crate::saml::sign::SignOptions;
use crate::testing::idp::{sign, Attr, Signing, Spec};
use crate::testing::peers::browser::{query_param, Browser, Page};
use crate::testing::peers::hub::request_id_of;
use base64::Engine as _;
use time::OffsetDateTime;

/// The PKCE verifier of every exchange (RFC 7636 §4.1: 43 to 128 chars).
const VERIFIER: &str = "load-verifier-0123456789abcdef0123456789abcdef";

/// A login whose answer is ready: the login cookie set by
/// `GET /saml/login`, its RelayState, and the signed Response (base64).
#[derive(Clone, Debug)]
pub struct Prepared {
    pub user: String,
    cookies: Vec<String>,
    relay_state: String,
    saml_response: String,
}

impl Prepared {
    /// The size of the posted SAMLResponse field (base64).
    pub fn response_len(&self) -> usize {
        self.saml_response.len()
    }
}

/// Seven attributes as a SimpleSAMLphp IdP sends them (SAML Core §2.7.3).
pub fn ssp_attributes(user: &str) -> Vec<Attr> {
    let mail = format!("{user}@example.org");
    vec![
        Attr::new("uid", &[user]),
        Attr::new("mail", &[&mail]),
        Attr::new("displayName", &[&format!("Load User {user}")]),
        Attr::new("givenName", &["Load"]),
        Attr::new("sn", &[&format!("User {user}")]),
        Attr::new(
            "groups",
            &[HA_GROUP, "users", "family", "garage-door", "cameras"],
        ),
        Attr::new("eduPersonPrincipalName", &[&mail]),
    ]
}

fn expect(page: &Page, status: u16) -> Result<(), String> {
    if page.status == status {
        return Ok(());
    }
    Err(format!(
        "{} answered {} ({}), not {status}",
        page.url,
        page.status,
        page.header("x-samlhub-error").unwrap_or("-")
    ))
}

fn base64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Starts a login as a new browser (`GET /saml/login`), then builds and
/// signs (Response and Assertion, as SimpleSAMLphp does) the IdP's answer
/// for `user` at `now`. Not timed by the callers.
pub fn prepare(
    b: &mut Browser,
    t: &Target,
    user: &str,
    now: OffsetDateTime,
) -> Result<Prepared, String> {
    b.agent().cookie_jar_lock().clear();
    let page = b.try_get(&format!("{}/saml/login?idp={IDP_ID}", t.base))?;
    expect(&page, 302)?;
    let to_idp = page.location.clone().unwrap_or_default();
    let relay_state =
        query_param(&to_idp, "RelayState").ok_or("no RelayState in the redirect to the IdP")?;
    if query_param(&to_idp, "SAMLRequest").is_none() {
        return Err("no SAMLRequest in the redirect to the IdP".into());
    }
    let request_id = request_id_of(&to_idp);
    let mut spec = Spec::valid(&t.idp, &t.entity_id, &t.acs_url, Some(&request_id), now);
    spec.name_id = user.to_owned();
    spec.attributes = ssp_attributes(user);
    let signed = sign(
        &spec.to_xml(),
        &spec,
        Signing::Both,
        &t.idp.key,
        &SignOptions::default(),
    );
    Ok(Prepared {
        user: user.to_owned(),
        cookies: page
            .header_all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        relay_state,
        saml_response: base64(&signed),
    })
}

/// Posts the prepared Response to the ACS as the browser that started the
/// login, expects the 303 with the session cookie (SAML Profiles §4.1.4.3),
/// then `GET /session?format=json` must name the user.
pub fn login(b: &mut Browser, t: &Target, p: &Prepared) -> Result<(), String> {
    let uri: ureq::http::Uri = t.base.parse().map_err(|e| format!("{e}"))?;
    {
        let mut jar = b.agent().cookie_jar_lock();
        jar.clear();
        for c in &p.cookies {
            let cookie = ureq::Cookie::parse(c.clone(), &uri).map_err(|e| e.to_string())?;
            jar.insert(cookie, &uri).map_err(|e| e.to_string())?;
        }
    }
    post_response(b, t, p, 303)?;
    let page = b.try_get(&format!("{}/session?format=json", t.base))?;
    expect(&page, 200)?;
    let v: serde_json::Value =
        serde_json::from_str(&page.body).map_err(|e| format!("/session: {e}"))?;
    if v["username"] != p.user.as_str() {
        return Err(format!("/session names {}, not {}", v["username"], p.user));
    }
    Ok(())
}

/// Posts the same Response again: one Response answers one request, so it
/// must be refused with `replay` (SAML Profiles §4.1.4.5).
pub fn replay(b: &mut Browser, t: &Target, p: &Prepared) -> Result<(), String> {
    let page = post_response_page(b, t, p)?;
    expect(&page, 403)?;
    match page.header("x-samlhub-error") {
        Some("replay") => Ok(()),
        other => Err(format!("replay refused as {other:?}, not replay")),
    }
}

fn post_response_page(b: &mut Browser, t: &Target, p: &Prepared) -> Result<Page, String> {
    let body = form(&[
        ("SAMLResponse", &p.saml_response),
        ("RelayState", &p.relay_state),
    ]);
    b.try_post(&t.acs_url, "application/x-www-form-urlencoded", &body, &[])
}

fn post_response(b: &mut Browser, t: &Target, p: &Prepared, status: u16) -> Result<(), String> {
    expect(&post_response_page(b, t, p)?, status)
}

/// `GET /oidc/authorize` with the session: a 302 to the client carrying a
/// code (OpenID Connect Core §3.1.2.5). Returns the code.
pub fn authorize(b: &mut Browser, t: &Target) -> Result<String, String> {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    let query = form(&[
        ("response_type", "code"),
        ("client_id", OIDC_CLIENT),
        ("redirect_uri", OIDC_REDIRECT),
        ("scope", "openid profile email groups"),
        ("state", "s"),
        ("nonce", "n"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let page = b.try_get(&format!("{}/oidc/authorize?{query}", t.base))?;
    expect(&page, 302)?;
    let to = page.location.clone().unwrap_or_default();
    if !to.starts_with(OIDC_REDIRECT) {
        return Err(format!("authorize sent the browser to {to}"));
    }
    query_param(&to, "code").ok_or_else(|| format!("no code in {to}"))
}

fn token_request(b: &mut Browser, t: &Target, body: &str) -> Result<serde_json::Value, String> {
    let basic = format!(
        "Basic {}",
        base64(&format!("{OIDC_CLIENT}:{}", super::OIDC_SECRET))
    );
    let page = b.try_post(
        &format!("{}/oidc/token", t.base),
        "application/x-www-form-urlencoded",
        body,
        &[("Authorization", &basic)],
    )?;
    expect(&page, 200)?;
    serde_json::from_str(&page.body).map_err(|e| format!("token answer: {e}"))
}

/// Redeems `code` (RFC 6749 §4.1.3, PKCE RFC 7636 §4.5): the answer must
/// carry an id_token and a refresh token. Returns the refresh token.
pub fn token(b: &mut Browser, t: &Target, code: &str) -> Result<String, String> {
    let v = token_request(
        b,
        t,
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", OIDC_REDIRECT),
            ("code_verifier", VERIFIER),
        ]),
    )?;
    if !v["id_token"].is_string() {
        return Err("token answer without id_token".into());
    }
    v["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "token answer without refresh_token".into())
}

/// Uses `refresh_token` (RFC 6749 §6): a new access token must come back.
pub fn refresh(b: &mut Browser, t: &Target, refresh_token: &str) -> Result<(), String> {
    let v = token_request(
        b,
        t,
        &form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ]),
    )?;
    if v["access_token"].is_string() {
        Ok(())
    } else {
        Err("refresh answer without access_token".into())
    }
}

/// `GET /ha?instance=…` with the session: the code page. Returns the code.
pub fn ha_code(b: &mut Browser, t: &Target) -> Result<String, String> {
    let page = b.try_get(&format!("{}/ha?instance={HA_INSTANCE}", t.base))?;
    expect(&page, 200)?;
    code_on_page(&page.body).ok_or_else(|| "no code on the HA page".into())
}

/// The text of the element with `id="c"`, where the HA page shows the code.
pub fn code_on_page(html: &str) -> Option<String> {
    let rest = html.get(html.find("id=\"c\"")?..)?;
    let from = rest.find('>')? + 1;
    let len = rest.get(from..)?.find('<')?;
    rest.get(from..from + len).map(str::to_owned)
}

/// `POST /ha/redeem` as the HA hook makes it: must answer 200.
pub fn ha_redeem(b: &mut Browser, t: &Target, user: &str, code: &str) -> Result<(), String> {
    let body =
        serde_json::json!({"instance": HA_INSTANCE, "username": user, "code": code}).to_string();
    let page = b.try_post(
        &format!("{}/ha/redeem", t.base),
        "application/json",
        &body,
        &[("Authorization", &format!("Bearer {HA_SECRET}"))],
    )?;
    expect(&page, 200)
}
