//! The OpenID Connect provider's domain: registered clients, authorization
//! request validation and the authorize decision, PKCE, codes, refresh
//! rotation with family revocation, id_token claims, JWS and JWK, logout
//! targets, and [`error::OAuthError`]. No HTTP: state goes through the
//! `Store` trait, and `now` is a parameter.

pub mod authorize;
pub mod claims;
pub mod client;
pub mod error;
pub mod grant;
pub mod jwt;
pub mod logout;
pub mod token;
