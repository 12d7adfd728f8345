//! SAML 2.0 protocol code, pure: no HTTP, no store, `now` is a parameter.

pub mod authn_request;
pub mod dsig;
pub mod mapping;
pub mod metadata;
pub mod response;
