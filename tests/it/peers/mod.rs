//! Real third-party peers for the integration tests.
//!
//! The process helpers (`free_port`, `ProcessGroup`, `wait_for_http`), the
//! test PKI, the scripted browser, `redis-server` and the samlhub process
//! itself are shared with the benchmarks, so they live in
//! `samlhub::testing`; they are re-exported here under their old paths.
//! Every peer binds 127.0.0.1 only.
#![allow(dead_code)]

pub mod apache_oidc;
pub mod chromium;
pub mod homeassistant;
pub mod netlock;
pub mod samlhub;
pub mod simplesamlphp;
pub mod xmlsec;

pub use ::samlhub::testing::peers::redis::on_path;
pub use ::samlhub::testing::peers::{
    browser, free_port, redis, redis_topology, wait_for_http, ProcessGroup,
};
pub use ::samlhub::testing::pki;
