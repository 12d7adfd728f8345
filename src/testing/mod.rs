//! Test support shared by the integration tests, the benchmarks and the fuzz
//! targets; compiled only with the `test-support` feature (which the
//! crate's own dev-dependency on itself turns on), never into a release.
//!
//! - [`pki`]: throwaway RSA keys with self-signed certificates;
//! - [`idp`]: a test IdP and generated, signed SAML Responses;
//! - [`peers`]: processes on loopback (`redis-server`, the samlhub binary)
//!   and a scripted browser;
//! - [`fuzz`]: what each fuzz target runs, replayed by the regression tests;
//! - [`login_load`]: store traffic shaped like SAML logins;
//! - [`load`]: end-to-end load over HTTP against the samlhub binary.
//!
//! Failing loudly is the point of this code, so the crate's panic lints are
//! lifted here, as in the tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod fuzz;
pub mod idp;
pub mod load;
pub mod login_load;
pub mod peers;
pub mod pki;
