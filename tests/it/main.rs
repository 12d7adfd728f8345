//! Integration tests: one binary, one module per area. Peers (Redis,
//! SimpleSAMLphp, xmlsec1, the samlhub binary itself) are started by
//! `peers::*` on free loopback ports and stopped when dropped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin_cmds;
mod c14n_diff;
mod check_config;
mod chromium_login;
mod chromium_selftest;
mod container;
mod e2e_ha;
mod e2e_post;
mod e2e_ssp;
mod encrypted;
mod fuzz_regressions;
mod gen_enc;
mod ha_browser;
mod ha_codes;
mod ha_hook;
mod ha_rig;
mod ha_selftest;
mod inproc;
mod instances;
mod interop;
mod layers;
mod limits;
mod log_injection;
mod login_csrf;
mod metadata_aggregate;
mod metadata_refresh;
mod metadata_schema;
mod oidc_apache;
mod oidc_client;
mod oidc_keys;
mod oidc_rig;
mod ops;
mod peers;
mod peers_selftest;
mod readme;
mod reload;
mod slo_ssp;
mod slo_tamper;
mod soak;
mod sp_rollover;
mod store_commit;
mod store_conformance;
mod store_expiry;
mod store_failover;
mod tamper;
mod tamper_metadata;
mod xmlsec_diff;
