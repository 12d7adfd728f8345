//! A strict Rust relying party against the hub: the `openidconnect` crate
//! (no reqwest: its synchronous HTTP client is a closure over ureq) runs
//! discovery, the code flow with PKCE S256, verifies the id_token against
//! the JWKS with a nonce, calls userinfo and refreshes. The browser part is
//! driven by the scripted browser with generated IdP responses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_rig::*;
use crate::peers::browser::Browser;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, IssuerUrl, JsonWebKeySetUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `groups` claim, which must be a JSON list of strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Groups {
    pub groups: Vec<String>,
}
impl AdditionalClaims for Groups {}

pub type GroupsIdTokenFields = IdTokenFields<
    Groups,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub type GroupsTokenResponse = StandardTokenResponse<GroupsIdTokenFields, CoreTokenType>;

/// A client as `from_provider_metadata` makes it, with the groups claim.
pub type GroupsClient = Client<
    Groups,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    GroupsTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The crate's synchronous HTTP client, over ureq: no redirects followed
/// (the crate's advice against SSRF), statuses passed through.
pub fn http_client(
) -> impl Fn(openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into();
    move |req: openidconnect::HttpRequest| {
        let (parts, body) = req.into_parts();
        let mut resp = if body.is_empty() {
            agent.run(ureq::http::Request::from_parts(parts, ()))?
        } else {
            agent.run(ureq::http::Request::from_parts(parts, body))?
        };
        let mut out = openidconnect::http::Response::builder().status(resp.status());
        for (k, v) in resp.headers() {
            out = out.header(k, v);
        }
        let body = resp.body_mut().read_to_vec()?;
        Ok(out.body(body).expect("a response built from a response"))
    }
}

/// Discovery and the client for `CONF` with client_secret_basic.
pub fn discover(rig: &Rig) -> GroupsClient {
    let http = http_client();
    let issuer = IssuerUrl::new(rig.issuer()).unwrap();
    let meta = CoreProviderMetadata::discover(&issuer, &http)
        .unwrap_or_else(|e| panic!("discovery: {e:?}\n{}", rig.hub.log()));
    GroupsClient::from_provider_metadata(
        meta,
        ClientId::new(CONF.into()),
        Some(ClientSecret::new(CONF_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CONF_REDIRECT.into()).unwrap())
}

/// The code flow through `b`; returns the token response and the nonce.
pub fn login(rig: &Rig, client: &GroupsClient, b: &mut Browser) -> (GroupsTokenResponse, Nonce) {
    let http = http_client();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = rig.drive(b, url.as_str(), 5);
    assert!(
        flow.location().starts_with(CONF_REDIRECT),
        "{} {}",
        flow.location(),
        flow.page.head()
    );
    assert_eq!(flow.param("state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(flow.param("iss"), Some(rig.issuer()));
    let code = flow.param("code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request(&http)
        .unwrap_or_else(|e| panic!("token exchange: {e:?}\n{}", rig.hub.log()));
    (tokens, nonce)
}

#[test]
fn openidconnect_crate_discovery_code_pkce_userinfo_refresh() {
    let rig = Rig::start();
    let http = http_client();
    let client = discover(&rig);

    let mut b = Browser::new();
    let (tokens, nonce) = login(&rig, &client, &mut b);
    let id_token = tokens.id_token().expect("an id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .unwrap_or_else(|e| panic!("id_token refused: {e:?}"));
    assert_eq!(claims.subject().as_str(), expected_sub(IDP, "alice"));
    assert_eq!(claims.issuer().as_str(), rig.issuer());
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.org")
    );
    assert_eq!(claims.email_verified(), Some(true));
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    assert_eq!(name, Some("Alice Example"));
    assert_eq!(claims.additional_claims().groups, ["ha-admins", "users"]);
    assert!(claims.auth_time().is_some());
    // The wrong nonce is refused by the same verifier.
    assert!(id_token
        .claims(&verifier, &Nonce::new("another".into()))
        .is_err());

    let info: UserInfoClaims<Groups, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request(&http)
        .unwrap_or_else(|e| panic!("userinfo: {e:?}"));
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.org"));
    assert_eq!(info.additional_claims().groups, ["ha-admins", "users"]);

    let rt = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(rt)
        .unwrap()
        .request(&http)
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    let new_rt = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(new_rt.secret(), rt.secret());
    let new_id = refreshed.id_token().expect("an id_token on refresh");
    // OIDC Core §12.2: same iss, sub, aud; auth_time of the original login.
    // A nonce, if repeated, must be the original one.
    let expected_nonce = nonce.secret().clone();
    let c2 = new_id
        .claims(&verifier, |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(n) if *n.secret() == expected_nonce => Ok(()),
            Some(_) => Err("a different nonce".to_owned()),
        })
        .unwrap_or_else(|e| panic!("refreshed id_token refused: {e:?}"));
    assert_eq!(c2.subject(), claims.subject());
    assert_eq!(c2.auth_time(), claims.auth_time());
    assert_eq!(c2.additional_claims().groups, ["ha-admins", "users"]);
    // The old refresh token is spent, and the new access token works.
    assert!(client
        .exchange_refresh_token(rt)
        .unwrap()
        .request(&http)
        .is_err());
    let _ = new_rt;

    // The JWKS fetched on its own verifies the id_token too (as any RP
    // holding a cached JWKS would).
    let jwks_url = JsonWebKeySetUrl::new(rig.url("/oidc/jwks")).unwrap();
    let jwks = CoreJsonWebKeySet::fetch(&jwks_url, &http).unwrap();
    let standalone: IdTokenVerifier<CoreJsonWebKey> = IdTokenVerifier::new_confidential_client(
        ClientId::new(CONF.into()),
        ClientSecret::new(CONF_SECRET.into()),
        IssuerUrl::new(rig.issuer()).unwrap(),
        jwks,
    );
    id_token.claims(&standalone, &nonce).unwrap();
    // A token for another audience is refused.
    let wrong_aud: IdTokenVerifier<CoreJsonWebKey> = IdTokenVerifier::new_public_client(
        ClientId::new(OTHER.into()),
        IssuerUrl::new(rig.issuer()).unwrap(),
        CoreJsonWebKeySet::fetch(&jwks_url, &http).unwrap(),
    );
    assert!(id_token.claims(&wrong_aud, &nonce).is_err());
}
