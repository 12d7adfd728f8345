//! Shared rig for the OpenID Connect provider tests: a running hub with a
//! generated test IdP and three registered clients, a browser that answers
//! the hub's SAML login with a signed generated Response, and small helpers
//! for the token and userinfo endpoints, PKCE and JWTs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code)]

use crate::peers::browser::{query_param, Browser, Page};
use crate::peers::samlhub::{Samlhub, BIN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use samlhub::config::oidc::secret_hash;
use samlhub::testing::idp::{Spec, TestIdp};
use std::io::Read as _;
use time::OffsetDateTime;

/// A confidential client (client_secret_basic or client_secret_post).
pub const CONF: &str = "conf";
pub const CONF_SECRET: &str = "conf-secret-4f1c2a9d0e7b6a5c3d2e1f00";
pub const CONF_REDIRECT: &str = "https://app.example/cb";
pub const CONF_LOGOUT: &str = "https://app.example/signed-out";
/// A public client (PKCE required, no secret).
pub const PUBLIC: &str = "pub";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:8123/auth/callback";
/// A second confidential client, for cross-client checks.
pub const OTHER: &str = "other";
pub const OTHER_SECRET: &str = "other-secret-9a8b7c6d5e4f3a2b1c0d";
pub const OTHER_REDIRECT: &str = "https://other.example/cb";

/// The id the test IdP has in the hub's config.
pub const IDP: &str = "test";
/// A second IdP's id, for hubs that offer a choice.
pub const SECOND_IDP: &str = "second";

/// The `[oidc]` part of the config for the three clients.
pub fn clients_toml() -> String {
    format!(
        "[oidc]\nid_token_alg = \"RS256\"\n\n\
[[oidc.client]]\nclient_id = \"{CONF}\"\nclient_secret_hash = \"{}\"\n\
redirect_uris = [\"{CONF_REDIRECT}\"]\npost_logout_redirect_uris = [\"{CONF_LOGOUT}\"]\n\n\
[[oidc.client]]\nclient_id = \"{PUBLIC}\"\npublic = true\nredirect_uris = [\"{PUBLIC_REDIRECT}\"]\n\
scopes = [\"openid\", \"profile\", \"groups\"]\n\n\
[[oidc.client]]\nclient_id = \"{OTHER}\"\nclient_secret_hash = \"{}\"\nredirect_uris = [\"{OTHER_REDIRECT}\"]\n",
        secret_hash(CONF_SECRET),
        secret_hash(OTHER_SECRET)
    )
}

pub fn now() -> OffsetDateTime {
    #[allow(clippy::disallowed_methods)] // the IdP's clock, not the hub's
    OffsetDateTime::now_utc()
}

/// A hub with a generated IdP (`test`) and the three clients.
pub struct Rig {
    pub idp: TestIdp,
    pub hub: Samlhub,
}

impl Rig {
    pub fn start() -> Rig {
        Self::start_with(|_| {})
    }

    /// `before_start` may place files in the data dir.
    pub fn start_with(before_start: impl FnOnce(&Samlhub)) -> Rig {
        let idp = TestIdp::new("oidc");
        let mut hub = Samlhub::prepare(BIN);
        let md = hub.dir().join("idp.xml");
        std::fs::write(&md, idp.metadata_xml()).unwrap();
        hub.write_config(&format!(
            "[[idp]]\nid = \"{IDP}\"\ndisplay_name = \"Test IdP\"\nmetadata_file = \"{}\"\nemail_verified = true\n\n{}",
            md.display(),
            clients_toml()
        ));
        before_start(&hub);
        hub.start();
        Rig { idp, hub }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub.base_url())
    }

    pub fn issuer(&self) -> String {
        self.hub.base_url()
    }

    /// `/oidc/authorize?<params>`.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("{}?{q}", self.url("/oidc/authorize"))
    }

    /// Drives `b` from `start` (any URL of the flow) until the hub redirects
    /// away from itself (to the client) or answers without a redirect. A
    /// SAML login on the way is answered by the test IdP as `subject`, with
    /// `authn_age` seconds since the IdP authenticated them.
    pub fn drive(&self, b: &mut Browser, start: &str, authn_age: i64) -> Flow {
        let mut page = b.get(start);
        let mut authn_requests = Vec::new();
        for _ in 0..8 {
            let Some(loc) = page.location.clone() else {
                break;
            };
            if loc.starts_with(&self.idp.sso_url) {
                let (xml, relay) = authn_request(&loc);
                let id = attr(&xml, "ID").unwrap();
                page = self.answer(b, &id, &relay, authn_age);
                assert_eq!(page.status, 303, "ACS: {}\n{}", page.head(), self.hub.log());
                authn_requests.push(xml);
                continue;
            }
            if !loc.starts_with(&self.hub.base_url()) {
                break;
            }
            page = b.get(&loc);
        }
        Flow {
            page,
            authn_requests,
        }
    }

    /// POSTs a signed generated Response for request `id` to the ACS.
    pub fn answer(&self, b: &mut Browser, id: &str, relay: &str, authn_age: i64) -> Page {
        let now = now();
        let mut spec = Spec::valid(
            &self.idp,
            &self.hub.entity_id(),
            &self.hub.acs_url(),
            Some(id),
            now,
        );
        spec.authn_instant = spec.issue_instant - time::Duration::seconds(authn_age);
        b.post_form(
            &self.hub.acs_url(),
            &[
                ("SAMLResponse", spec.post_field(&self.idp.key)),
                ("RelayState", relay.to_owned()),
            ],
        )
    }

    /// A browser with a hub session (no OIDC involved).
    pub fn signed_in_browser(&self, authn_age: i64) -> Browser {
        let mut b = Browser::new();
        let (relay, id) = self.hub.begin_login(&mut b, IDP);
        let r = self.answer(&mut b, &id, &relay, authn_age);
        assert_eq!(r.status, 303, "{}\n{}", r.head(), self.hub.log());
        b
    }

    /// The whole code flow for `client` in `b`: returns the code and the
    /// client-side redirect. `extra` adds or overrides parameters.
    pub fn code(
        &self,
        b: &mut Browser,
        client: &str,
        pkce: Option<&Pkce>,
        extra: &[(&str, &str)],
    ) -> (String, Flow) {
        let params = code_params(client, pkce, extra);
        let flow = self.drive(b, &self.authorize_url(&params), 5);
        let code = flow.param("code").unwrap_or_else(|| {
            panic!(
                "no code: {} {:?}\n{}\n{}",
                flow.page.status,
                flow.page.location,
                flow.page.head(),
                self.hub.log()
            )
        });
        (code, flow)
    }

    /// POST /oidc/token with `form`, and Basic credentials if given.
    pub fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let mut b = Browser::new();
        let auth = basic.map(|(id, secret)| basic_auth(id, secret));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        Reply::from(b.post_form_with_headers(&self.url("/oidc/token"), form, &headers))
    }

    /// Exchanges `code` for `client` with its usual authentication.
    pub fn exchange(&self, client: &str, code: &str, verifier: Option<&str>) -> Reply {
        let (form, basic) = as_client(client, exchange_form(client, code, verifier));
        self.token(&form, basic)
    }

    /// A refresh for `client` with its usual authentication.
    pub fn refresh(&self, client: &str, refresh_token: &str) -> Reply {
        let (form, basic) = as_client(client, refresh_form(refresh_token));
        self.token(&form, basic)
    }

    /// GET /oidc/userinfo with a Bearer token.
    pub fn userinfo(&self, access_token: &str) -> Reply {
        let mut b = Browser::new();
        Reply::from(b.get_with_headers(
            &self.url("/oidc/userinfo"),
            &[("Authorization", &format!("Bearer {access_token}"))],
        ))
    }

    /// The served JSON at `path` (200 expected).
    pub fn json(&self, path: &str) -> serde_json::Value {
        let mut b = Browser::new();
        let p = b.get(&self.url(path));
        assert_eq!(p.status, 200, "{path}: {}", p.head());
        serde_json::from_str(&p.body).unwrap()
    }
}

/// The authorization request of the code flow for `client`; `extra` adds
/// or overrides parameters.
pub fn code_params<'a>(
    client: &'a str,
    pkce: Option<&'a Pkce>,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect_of(client)),
        ("scope", "openid profile email groups"),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ];
    if let Some(p) = pkce {
        params.push(("code_challenge", &p.challenge));
        params.push(("code_challenge_method", "S256"));
    }
    for &(k, v) in extra {
        params.retain(|&(pk, _)| pk != k);
        params.push((k, v));
    }
    params
}

/// The token request redeeming `code` at `client`'s redirect URI.
pub fn exchange_form<'a>(
    client: &'a str,
    code: &'a str,
    verifier: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_of(client)),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form
}

pub fn refresh_form(refresh_token: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]
}

/// Form fields, in order.
pub type Form<'a> = Vec<(&'a str, &'a str)>;

/// `form` with `client`'s usual authentication: Basic credentials for a
/// confidential client, `client_id` in the body for a public one.
pub fn as_client<'a>(
    client: &'a str,
    mut form: Form<'a>,
) -> (Form<'a>, Option<(&'a str, &'a str)>) {
    match secret_of(client) {
        Some(s) => (form, Some((client, s))),
        None => {
            form.push(("client_id", client));
            (form, None)
        }
    }
}

/// `Basic` credentials as RFC 6749 §2.3.1 encodes them.
pub fn basic_auth(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

pub fn redirect_of(client: &str) -> &'static str {
    match client {
        CONF => CONF_REDIRECT,
        PUBLIC => PUBLIC_REDIRECT,
        OTHER => OTHER_REDIRECT,
        _ => panic!("unknown client {client}"),
    }
}

pub fn secret_of(client: &str) -> Option<&'static str> {
    match client {
        CONF => Some(CONF_SECRET),
        OTHER => Some(OTHER_SECRET),
        _ => None,
    }
}

/// Where a browser flow ended, and the AuthnRequests sent on the way.
pub struct Flow {
    pub page: Page,
    pub authn_requests: Vec<String>,
}

impl Flow {
    /// A query parameter of the final redirect.
    pub fn param(&self, name: &str) -> Option<String> {
        self.page
            .location
            .as_deref()
            .and_then(|l| query_param(l, name))
    }

    pub fn location(&self) -> &str {
        self.page.location.as_deref().unwrap_or("")
    }
}

/// The decoded XML and RelayState of a Redirect-binding AuthnRequest URL.
pub fn authn_request(url: &str) -> (String, String) {
    let relay = query_param(url, "RelayState").unwrap();
    let req = query_param(url, "SAMLRequest").unwrap();
    let raw = STANDARD.decode(req).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    (xml, relay)
}

/// The value of the first attribute ` name="..."` in `xml`.
pub fn attr(xml: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let start = xml.find(&pat)? + pat.len();
    let len = xml[start..].find('"')?;
    Some(xml[start..start + len].to_owned())
}

/// A PKCE pair (RFC 7636).
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let mut raw = [0u8; 32];
        openssl::rand::rand_bytes(&mut raw).unwrap();
        let verifier = URL_SAFE_NO_PAD.encode(raw);
        Pkce {
            challenge: s256(&verifier),
            verifier,
        }
    }
}

pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

/// An endpoint's answer, with its JSON body parsed (`Null` if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub page: Page,
    pub json: serde_json::Value,
}

impl From<Page> for Reply {
    fn from(page: Page) -> Reply {
        let json = serde_json::from_str(&page.body).unwrap_or(serde_json::Value::Null);
        Reply { page, json }
    }
}

impl Reply {
    pub fn status(&self) -> u16 {
        self.page.status
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.page.header(name)
    }
    pub fn str(&self, key: &str) -> String {
        self.json[key]
            .as_str()
            .unwrap_or_else(|| panic!("no '{key}' in {}", self.page.body))
            .to_owned()
    }
    pub fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }
    /// A successful token response: 200, JSON, no-store.
    pub fn assert_tokens(&self) -> &Self {
        assert_eq!(self.status(), 200, "token response: {}", self.page.body);
        assert_token_headers(self);
        assert_eq!(self.json["token_type"], "Bearer");
        self
    }
    /// A refused token request: `status`, RFC 6749 §5.2 `error`, no-store.
    pub fn assert_token_error(&self, status: u16, error: &str) -> &Self {
        assert_eq!(
            (self.status(), self.error()),
            (status, Some(error)),
            "{}",
            self.page.body
        );
        assert_token_headers(self);
        self
    }
}

/// RFC 6749 §5.1/§5.2: JSON, `Cache-Control: no-store`.
pub fn assert_token_headers(r: &Reply) {
    assert_eq!(
        r.header("cache-control"),
        Some("no-store"),
        "{:?}",
        r.page.headers
    );
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.page.headers
    );
}

/// The header and claims of a compact JWS, unverified.
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let raw = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice::<serde_json::Value>(&raw).unwrap()
    };
    let header = next();
    let claims = next();
    (header, claims)
}

/// The `sub` the hub derives for a subject of the test IdP.
pub fn expected_sub(idp: &str, subject: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(format!("{idp}|{subject}").as_bytes()))
}
