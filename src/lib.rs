//! samlhub: a SAML 2.0 service provider and federation hub.
//!
//! Protocol code (`xml`, `saml`, `oidc`, `ha`, `identity`) is pure: functions
//! of (input, configuration, now). Only `http` knows actix-web and only
//! `store` knows Redis and redb.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod directory;
pub mod ha;
pub mod heap;
pub mod hook;
pub mod http;
pub mod identity;
pub mod keys;
pub mod logging;
pub mod logsafe;
pub mod metrics;
pub mod oidc;
pub mod outbound;
pub mod ratelimit;
pub mod routes;
pub mod saml;
pub mod session;
pub mod setup;
pub mod startup;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod xml;
