//! The OpenID Connect provider's protocol code, pure: JWS and JWK, the key
//! schedule, request validation, PKCE, claims. No HTTP, no store; `now` is a
//! parameter.

pub mod authorize;
pub mod claims;
pub mod jwt;
