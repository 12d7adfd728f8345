//! Integration tests: one binary, one module per area. Peers (Redis,
//! SimpleSAMLphp, xmlsec1, the samlhub binary itself) are started by
//! `peers::*` on free loopback ports and stopped when dropped.

mod e2e_ssp;
mod peers;
mod peers_selftest;
mod store_conformance;
