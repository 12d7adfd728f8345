//! End-to-end load over HTTP against the real samlhub binary, shared by the
//! load benchmark (`benches/login_load.rs`), the one-minute soak test
//! (`tests/it/soak.rs`) and the single-endpoint benchmarks
//! (`benches/oidc_token.rs`, `benches/ha_redeem.rs`).
//!
//! - [`Rig`]: a hub with a generated, signing IdP, one `[[oidc.client]]` and
//!   one `[[ha]]` instance, on the embedded store or on a `redis-server`
//!   started for it;
//! - [`flows`]: the HTTP steps of a login, an OIDC exchange and refresh, an
//!   HA redeem, each judged against the answer the hub must give;
//! - [`tally`]: counts per step and outcome, and latencies;
//! - [`procstat`]: CPU time and RSS of the hub and redis-server from `/proc`;
//! - [`run`]: concurrent workers over [`flows`], with what is timed.
//!
//! What is timed: a login is prepared first, untimed (`GET /saml/login`,
//! which yields the AuthnRequest ID, RelayState and login cookie; then the
//! IdP Response for that ID is built and signed here, since its
//! `InResponseTo` must name the request). The timed part of a login is the
//! ACS POST and the `GET /session` that proves the session. OIDC and HA
//! steps are each timed on their own.

pub mod flows;
pub mod procstat;
pub mod run;
pub mod tally;

pub use run::{run, Budget, Mix, Options, Report};

use crate::testing::idp::TestIdp;
use crate::testing::peers::hub::Samlhub;
use crate::testing::peers::redis::RedisServer;
use std::path::PathBuf;

/// The `[[idp]]` id of the generated IdP.
pub const IDP_ID: &str = "test";
/// The confidential OIDC client the rig configures.
pub const OIDC_CLIENT: &str = "load";
pub const OIDC_SECRET: &str = "load-client-secret-0123456789abcdef";
pub const OIDC_REDIRECT: &str = "http://127.0.0.1:9/cb";
/// The `[[ha]]` instance the rig configures, and its hook secret.
pub const HA_INSTANCE: &str = "home";
pub const HA_SECRET: &str = "load-hook-secret-0123456789abcdef0123";
/// The group that the generated identities carry and the HA instance admits.
pub const HA_GROUP: &str = "ha-admins";

/// Where the rig's hub keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Redis,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Embedded => "embedded",
            StoreKind::Redis => "redis",
        }
    }

    /// Redis when `BENCH_REDIS` is set (the single-endpoint benchmarks'
    /// switch), else embedded.
    pub fn from_bench_env() -> StoreKind {
        if std::env::var_os("BENCH_REDIS").is_some() {
            StoreKind::Redis
        } else {
            StoreKind::Embedded
        }
    }

    /// `embedded` or `redis`.
    pub fn parse(s: &str) -> Option<StoreKind> {
        match s.trim() {
            "embedded" => Some(StoreKind::Embedded),
            "redis" => Some(StoreKind::Redis),
            _ => None,
        }
    }
}

/// A running hub trusting a generated IdP, with an OIDC client and an HA
/// instance, and its redis-server when the store is Redis. Dropping it stops
/// the hub first, then redis-server.
pub struct Rig {
    pub hub: Samlhub,
    pub idp: TestIdp,
    pub redis: Option<RedisServer>,
    ha_secret_file: PathBuf,
}

impl Rig {
    /// Starts the samlhub binary at `bin` on `store`.
    pub fn start(bin: &str, store: StoreKind) -> Rig {
        Self::start_with(bin, store, "")
    }

    /// As [`Rig::start`], with `tables` (TOML tables such as `[oidc]`) put
    /// in the configuration before the IdP.
    pub fn start_with(bin: &str, store: StoreKind, tables: &str) -> Rig {
        let redis = (store == StoreKind::Redis).then(RedisServer::start);
        let idp = TestIdp::new("load");
        let mut hub = Samlhub::prepare(bin);
        let md = hub.dir().join("idp.xml");
        std::fs::write(&md, idp.metadata_xml()).unwrap();
        let ha_secret_file = hub.dir().join("ha.secret");
        std::fs::write(&ha_secret_file, HA_SECRET).unwrap();
        let store_line = redis
            .as_ref()
            .map(|r| format!("store = \"{}\"\n", r.url()))
            .unwrap_or_default();
        hub.write_config(&format!(
            "{store_line}{tables}[[idp]]\nid = \"{IDP_ID}\"\nmetadata_file = \"{md}\"\n\
[[oidc.client]]\nclient_id = \"{OIDC_CLIENT}\"\nclient_secret_hash = \"{hash}\"\nredirect_uris = [\"{OIDC_REDIRECT}\"]\n\
[[ha]]\nid = \"{HA_INSTANCE}\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{secret}\"\nadmin_groups = [\"{HA_GROUP}\"]\n",
            md = md.display(),
            hash = crate::config::oidc::secret_hash(OIDC_SECRET),
            secret = ha_secret_file.display(),
        ));
        hub.start();
        Rig {
            hub,
            idp,
            redis,
            ha_secret_file,
        }
    }

    pub fn store(&self) -> StoreKind {
        if self.redis.is_some() {
            StoreKind::Redis
        } else {
            StoreKind::Embedded
        }
    }

    /// The file holding the HA hook secret (for `samlhub ha-verify`).
    pub fn ha_secret_file(&self) -> &std::path::Path {
        &self.ha_secret_file
    }

    /// What the workers need to reach the hub and sign as the IdP.
    pub fn target(&self) -> Target {
        Target {
            base: self.hub.base_url(),
            entity_id: self.hub.entity_id(),
            acs_url: self.hub.acs_url(),
            idp: self.idp.clone(),
        }
    }

    /// The processes whose CPU and memory the figures cover: the hub and,
    /// on Redis, redis-server.
    pub fn processes(&self) -> Vec<procstat::Proc> {
        let mut out = vec![procstat::Proc::new("hub", self.hub.pid().unwrap())];
        if let Some(pid) = self.redis.as_ref().and_then(RedisServer::pid) {
            out.push(procstat::Proc::new("redis", pid));
        }
        out
    }
}

/// A hub to drive: its URLs and the IdP it trusts (whose key signs).
#[derive(Clone, Debug)]
pub struct Target {
    pub base: String,
    pub entity_id: String,
    pub acs_url: String,
    pub idp: TestIdp,
}

/// RSA-2048 PKCS#1 SHA-256 verifications per second on this machine over
/// about `seconds` (at least one): the baseline measured beside a load run.
pub fn rsa2048_verifies_per_sec(seconds: f64) -> f64 {
    use openssl::hash::MessageDigest;
    use openssl::sign::{Signer, Verifier};
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let data = [7u8; 600];
    let sig = Signer::new(MessageDigest::sha256(), &key)
        .unwrap()
        .sign_oneshot_to_vec(&data)
        .unwrap();
    let t = std::time::Instant::now();
    let mut n = 0u64;
    while n == 0 || t.elapsed().as_secs_f64() < seconds {
        let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
        assert!(v.verify_oneshot(&sig, &data).unwrap());
        n += 1;
    }
    n as f64 / t.elapsed().as_secs_f64()
}
