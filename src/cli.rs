//! Command-line interface: `serve`, `check-config`, `metadata`, `inspect`,
//! and the admin commands `sessions` and `ha`.

mod admin;
mod sp_keys;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::keys::SpKeys;
use crate::saml::dsig::TrustedKey;
use crate::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use crate::saml::metadata;
use crate::saml::response::{self, Expect, IdpTrust, InResponseTo};
use crate::store::AnyStore;
use crate::xml::Limits;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "samlhub",
    version,
    about = "SAML 2.0 service provider and federation hub for Home Assistant single sign-on"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the hub.
    Serve {
        /// TOML config file (default: $SAMLHUB_CONFIG; none = defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check the configuration and IdP metadata; print every problem.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print our SP metadata.
    Metadata {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The hook for Home Assistant's command_line auth provider (reads the
    /// `username` and `password` environment variables HA sets).
    HaVerify {
        /// samlhub's public URL.
        #[arg(long)]
        hub: String,
        /// File holding this HA instance's hook secret.
        #[arg(long)]
        secret_file: PathBuf,
        /// This HA instance's id (`[[ha]] id`).
        #[arg(long)]
        instance: String,
        /// Seconds to wait for the hub.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Manage the OpenID Connect signing keys and roll the SP (SAML) keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Make a new OIDC client secret and print it with its `client_secret_hash` line.
    OidcSecret,
    /// Verify a SAML Response offline and print a JSON verdict (exit 0 valid, 1 not).
    Inspect {
        /// The IdP's metadata (EntityDescriptor or EntitiesDescriptor).
        #[arg(long)]
        idp_metadata: PathBuf,
        /// Which entity to use from an EntitiesDescriptor.
        #[arg(long)]
        idp_entity_id: Option<String>,
        /// A file holding the Response: raw XML, or the base64 SAMLResponse value.
        #[arg(long, value_name = "FILE")]
        response: PathBuf,
        /// Evaluate time conditions at this instant (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        /// Our entityID, for the AudienceRestriction check.
        #[arg(long)]
        audience: Option<String>,
        /// Our ACS URL, for the Destination and Recipient checks.
        #[arg(long)]
        acs: Option<String>,
        /// The AuthnRequest ID the response must answer.
        #[arg(long, conflicts_with = "unsolicited")]
        in_response_to: Option<String>,
        /// The response must be unsolicited (no InResponseTo).
        #[arg(long)]
        unsolicited: bool,
        #[arg(long)]
        allow_sha1: bool,
        /// Accept an AES-CBC encrypted assertion without a Response signature.
        #[arg(long)]
        allow_cbc: bool,
        /// Accept RSA PKCS#1 v1.5 key transport.
        #[arg(long = "allow-rsa1-5")]
        allow_rsa1_5: bool,
        /// An SP private key (PEM) to decrypt an EncryptedAssertion; repeat
        /// for a rollover's previous key.
        #[arg(long = "sp-key", value_name = "FILE")]
        sp_keys: Vec<PathBuf>,
        /// Attribute profile: entra, keycloak, generic.
        #[arg(long, default_value = "generic")]
        profile: String,
        /// Allowed clock skew in seconds.
        #[arg(long, default_value_t = 60)]
        clock_skew: i64,
        /// Accept IDs that are not NCNames (e.g. starting with a digit).
        #[arg(long)]
        allow_non_ncname_ids: bool,
    },
    /// List or end sessions (works beside a running hub on Redis).
    Sessions {
        #[command(subcommand)]
        cmd: SessionsCmd,
    },
    /// Home Assistant username bindings.
    Ha {
        #[command(subcommand)]
        cmd: HaCmd,
    },
}

#[derive(Subcommand)]
enum SessionsCmd {
    /// Print the live sessions: key hash prefix, user, IdP, created, expires.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        who: Who,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End sessions as a logout does, with their OIDC grants and the
    /// person's HA login codes; prints how many ended.
    Revoke {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        who: Who,
        /// The one session whose key hash starts with these hex digits.
        #[arg(long, value_name = "HASHPREFIX")]
        session: Option<String>,
    },
}

/// Which person's or IdP's sessions.
#[derive(clap::Args)]
struct Who {
    /// Sessions of this person: username, email, subject or `<idp>|<subject>`.
    #[arg(long)]
    user: Option<String>,
    /// Sessions from this IdP (`[[idp]] id`).
    #[arg(long)]
    idp: Option<String>,
}

#[derive(Subcommand)]
enum HaCmd {
    /// Release an HA username, so the next person to use it may take it
    /// (exit 1 when it was not bound).
    ReleaseUsername {
        /// The HA username.
        name: String,
        /// Only at this `[[ha]]` instance (default: every instance).
        #[arg(long)]
        instance: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Add a new signing key: published at once, signing after --activate-in;
    /// the old key stays published until the tokens it signed expired.
    Rotate {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seconds before the new key starts signing (let relying parties fetch the JWKS first).
        #[arg(long, default_value_t = 600)]
        activate_in: i64,
    },
    /// SP key rollover, step 1: create a next SAML signing and/or encryption
    /// key pair, published in the SP metadata beside the current one.
    SpNext {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Which key pair to roll over.
        #[arg(long = "use", value_enum, default_value = "both")]
        usage: sp_keys::UseArg,
    },
    /// SP key rollover, step 2: the next pairs become current; the former
    /// current encryption key keeps decrypting as the previous one.
    SpActivate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// SP key rollover, step 3: delete the previous pairs.
    SpRetire {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show the SP key pairs on disk (current, next, previous).
    SpStatus {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn env_map() -> std::collections::BTreeMap<String, String> {
    std::env::vars().collect()
}

fn config_path(arg: Option<PathBuf>) -> Option<PathBuf> {
    arg.or_else(|| std::env::var_os("SAMLHUB_CONFIG").map(PathBuf::from))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve { config } => serve(config_path(config)),
        Cmd::CheckConfig { config } => check_config(config_path(config)),
        Cmd::Metadata { config } => print_metadata(config_path(config)),
        Cmd::Keys {
            cmd:
                KeysCmd::Rotate {
                    config,
                    activate_in,
                },
        } => keys_rotate(config_path(config), activate_in),
        Cmd::Keys { cmd } => sp_keys_step(cmd),
        Cmd::OidcSecret => oidc_secret(),
        Cmd::HaVerify {
            hub,
            secret_file,
            instance,
            timeout,
        } => crate::hook::run(&crate::hook::HookArgs {
            hub: &hub,
            secret_file: &secret_file,
            instance: &instance,
            timeout: std::time::Duration::from_secs(timeout.clamp(1, 30)),
        }),
        Cmd::Inspect {
            idp_metadata,
            idp_entity_id,
            response,
            now,
            audience,
            acs,
            in_response_to,
            unsolicited,
            allow_sha1,
            allow_cbc,
            allow_rsa1_5,
            sp_keys,
            profile,
            clock_skew,
            allow_non_ncname_ids,
        } => inspect(InspectArgs {
            idp_metadata,
            idp_entity_id,
            response,
            now,
            audience,
            acs,
            in_response_to,
            unsolicited,
            allow_sha1,
            allow_cbc,
            allow_rsa1_5,
            sp_keys,
            profile,
            clock_skew,
            allow_non_ncname_ids,
        }),
        Cmd::Sessions { cmd } => sessions(cmd),
        Cmd::Ha {
            cmd:
                HaCmd::ReleaseUsername {
                    name,
                    instance,
                    config,
                },
        } => admin::run(
            config_path(config).as_deref(),
            admin::Action::Release { name, instance },
        ),
    }
}

fn sessions(cmd: SessionsCmd) -> ExitCode {
    let (config, action) = match cmd {
        SessionsCmd::List {
            config,
            who: Who { user, idp },
            json,
        } => (
            config,
            admin::Action::List {
                sel: crate::admin::Selector {
                    user,
                    idp,
                    session: None,
                },
                json,
            },
        ),
        SessionsCmd::Revoke {
            config,
            who: Who { user, idp },
            session,
        } => (
            config,
            admin::Action::Revoke {
                sel: crate::admin::Selector { user, idp, session },
            },
        ),
    };
    admin::run(config_path(config).as_deref(), action)
}

fn load(path: Option<&Path>) -> Result<Config, ExitCode> {
    crate::outbound::metadata::load_config(path, &env_map()).map_err(|e| {
        eprintln!("configuration has {} problem(s):", e.problems.len());
        for l in e.lines() {
            eprintln!("  {l}");
        }
        ExitCode::from(2)
    })
}

fn check_config(path: Option<PathBuf>) -> ExitCode {
    match load(path.as_deref()) {
        Err(code) => code,
        Ok(c) => {
            if let Err(e) = crate::startup::check_data_dir(&c.data_dir, false) {
                eprintln!("configuration has 1 problem(s):");
                eprintln!("  data_dir: {e}");
                return ExitCode::from(2);
            }
            for w in &c.warnings {
                println!("warning: {w}");
            }
            for w in cert_warnings(&c) {
                println!("warning: {}", w.text);
            }
            println!("configuration OK: {} IdP(s)", c.idps.len());
            for i in &c.idps {
                let sso = i
                    .sso()
                    .map(|e| format!("{} {}", e.binding.name(), e.location))
                    .unwrap_or_else(|e| e.to_string());
                println!(
                    "  {}: {} ({} signing certificate(s), SSO {sso}{})",
                    i.id,
                    i.metadata.entity_id,
                    i.keys.len(),
                    if i.allow_unsolicited {
                        ", IdP-initiated login allowed"
                    } else {
                        ""
                    }
                );
            }
            println!("  store: {}", c.store.describe());
            ExitCode::SUCCESS
        }
    }
}

/// Certificates of trusted IdPs near or past their expiry, at this moment.
fn cert_warnings(c: &Config) -> Vec<crate::config::expiry::CertWarning> {
    crate::config::expiry::cert_warnings(&c.idps, SystemClock.now(), c.cert_expiry_warning_days)
}

fn print_metadata(path: Option<PathBuf>) -> ExitCode {
    let c = match load(path.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match SpKeys::load_or_create(&c.data_dir) {
        Ok((keys, _)) => {
            print!("{}", keys.metadata_xml(&c));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keys: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    crate::logging::init();
    // A reload (SIGHUP) sent while starting must not end the process: it is
    // taken over now and acted on once the server runs.
    let sys = actix_web::rt::System::new();
    let hangup = match sys.block_on(async { crate::http::hangup() }) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("signals: {e}");
            return ExitCode::from(1);
        }
    };
    let c = match load(path.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::logging::set_format(c.ops.log_format);
    for w in &c.warnings {
        log::warn!("{w}");
    }
    if let Err(e) = crate::startup::check_data_dir(&c.data_dir, true) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    for w in cert_warnings(&c) {
        w.log();
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = match AnyStore::open(&c.store, clock.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("store: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "samlhub {} on http://{}",
        env!("CARGO_PKG_VERSION"),
        c.listen
    );
    println!("  SP entityID:  {}", c.entity_id);
    println!("  ACS URL:      {}", c.acs_url());
    println!("  SLO URL:      {}", c.url(crate::routes::SAML_SLO));
    println!("  SP metadata:  {}", c.metadata_url());
    println!("  store:        {}", c.store.describe());
    if c.idps.is_empty() {
        println!(
            "  IdPs:         none yet. Save your IdP's SAML metadata as {}/<name>.xml and restart,\n                or add [[idp]] sections to a config file (see README).",
            c.data_dir.join("idp").display()
        );
    }
    for i in &c.idps {
        println!(
            "  IdP {}:  {} → {}",
            i.id,
            i.metadata.entity_id,
            c.url(&format!("/saml/login?idp={}", i.id))
        );
    }
    let state = match crate::http::AppState::new(c, clock, store) {
        Ok((state, created)) => {
            for p in &created {
                println!("created {}", p.display());
            }
            for note in sp_keys::startup_notes(&state.keys) {
                println!("  {note}");
            }
            // The one place the setup token is ever shown (only its hash is
            // kept); a new one at each start until one has been used.
            match crate::setup::issue_token(&state.config().data_dir) {
                Ok(Some(token)) => println!(
                    "  setup:        {}?token={token}  (one-time link for the administrator)",
                    state.config().url(crate::routes::SETUP)
                ),
                Ok(None) => println!(
                    "  setup:        {} (for admin_groups)",
                    state.config().url(crate::routes::SETUP)
                ),
                Err(e) => eprintln!("setup token: {e}"),
            }
            state
        }
        Err(e) => {
            eprintln!("keys: {e}");
            return ExitCode::from(2);
        }
    };
    let res = sys.block_on(crate::http::run_with(state, hangup));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::from(1)
        }
    }
}

struct InspectArgs {
    idp_metadata: PathBuf,
    idp_entity_id: Option<String>,
    response: PathBuf,
    now: Option<String>,
    audience: Option<String>,
    acs: Option<String>,
    in_response_to: Option<String>,
    unsolicited: bool,
    allow_sha1: bool,
    allow_cbc: bool,
    allow_rsa1_5: bool,
    sp_keys: Vec<PathBuf>,
    profile: String,
    clock_skew: i64,
    allow_non_ncname_ids: bool,
}

fn verdict(valid: bool, reason: Option<String>, extra: serde_json::Value) -> ExitCode {
    let mut v = serde_json::json!({ "valid": valid, "reason": reason });
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn inspect(a: InspectArgs) -> ExitCode {
    let fail = |r: String| verdict(false, Some(r), serde_json::json!({}));
    let md_bytes = match std::fs::read(&a.idp_metadata) {
        Ok(b) => b,
        Err(e) => {
            return fail(format!(
                "cannot read IdP metadata {}: {e}",
                a.idp_metadata.display()
            ))
        }
    };
    let md = match metadata::parse_idp(&md_bytes, a.idp_entity_id.as_deref()) {
        Ok(m) => m,
        Err(e) => return fail(format!("IdP metadata: {e}")),
    };
    let mut keys = Vec::new();
    for der in &md.signing_certs {
        match TrustedKey::from_cert_der(der) {
            Ok(k) => keys.push(k),
            Err(e) => return fail(format!("IdP metadata signing certificate: {e}")),
        }
    }
    let mut sp_keys = Vec::new();
    for f in &a.sp_keys {
        let key = std::fs::read(f).map_err(|e| e.to_string()).and_then(|pem| {
            openssl::pkey::PKey::private_key_from_pem(&pem)
                .map_err(|_| "not a PEM private key".to_owned())
        });
        match key {
            Ok(k) => sp_keys.push(k),
            Err(e) => return fail(format!("--sp-key {}: {e}", f.display())),
        }
    }
    let raw = match std::fs::read(&a.response) {
        Ok(b) => b,
        Err(e) => {
            return fail(format!(
                "cannot read response {}: {e}",
                a.response.display()
            ))
        }
    };
    let trimmed = String::from_utf8_lossy(&raw).trim().to_owned();
    let xml = if trimmed.starts_with('<') || trimmed.starts_with('\u{FEFF}') {
        raw
    } else {
        let value = url_decode_if_needed(&trimmed);
        match response::decode_post(&value, &Limits::MESSAGE) {
            Ok(x) => x,
            Err(e) => return fail(e.to_string()),
        }
    };
    let now = match a.now.as_deref() {
        None => SystemClock.now(),
        Some(s) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => t,
                Err(_) => return fail(format!("--now '{s}' is not an RFC 3339 time")),
            }
        }
    };
    let profile = match a.profile.as_str() {
        "entra" => Profile::Entra,
        "keycloak" => Profile::Keycloak,
        "generic" => Profile::Generic,
        other => {
            return fail(format!(
                "--profile '{other}' is not one of entra, keycloak, generic"
            ))
        }
    };
    let map = AttributeMap::new(profile, &AttributeOverrides::default());
    let trust = IdpTrust {
        id: "inspect",
        entity_id: &md.entity_id,
        keys: &keys,
        allow_sha1: a.allow_sha1,
        allow_cbc: a.allow_cbc,
        allow_rsa1_5: a.allow_rsa1_5,
        clock_skew: time::Duration::seconds(a.clock_skew.clamp(0, 3600)),
        attributes: &map,
        allow_non_ncname_ids: a.allow_non_ncname_ids,
    };
    let in_response_to = match (&a.in_response_to, a.unsolicited) {
        (Some(id), _) => InResponseTo::Request(id),
        (None, true) => InResponseTo::Unsolicited,
        (None, false) => InResponseTo::Unchecked,
    };
    let mut skipped = Vec::new();
    if a.audience.is_none() {
        skipped.push("audience");
    }
    if a.acs.is_none() {
        skipped.push("destination_and_recipient");
    }
    if in_response_to == InResponseTo::Unchecked {
        skipped.push("in_response_to");
    }
    skipped.push("replay");
    let expect = Expect {
        sp_entity_id: a.audience.as_deref(),
        acs_url: a.acs.as_deref(),
        in_response_to,
        now,
        decryption_keys: &sp_keys,
    };
    match response::validate(&xml, &trust, &expect) {
        Ok(acc) => verdict(
            true,
            None,
            serde_json::json!({
                "identity": acc.identity,
                "assertion_id": acc.assertion_id,
                "signed_response": acc.signed_response,
                "signed_assertion": acc.signed_assertion,
                "encrypted": acc.encrypted,
                "skipped_checks": skipped,
            }),
        ),
        Err(e) => verdict(
            false,
            Some(e.to_string()),
            serde_json::json!({ "skipped_checks": skipped }),
        ),
    }
}

/// Accepts a SAMLResponse copied from a browser's form data (URL-encoded).
fn url_decode_if_needed(s: &str) -> String {
    if s.contains('%') {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| s.to_owned())
    } else {
        s.to_owned()
    }
}

fn keys_rotate(path: Option<PathBuf>, activate_in: i64) -> ExitCode {
    let c = match load(path.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let now = SystemClock.now().unix_timestamp();
    match crate::keys::oidc_ring::rotate(&c.data_dir, c.oidc.id_token_alg, now, activate_in) {
        Ok(kid) => {
            println!(
                "new signing key {kid}: published now, signs from {}s from now; running hubs pick it up within seconds",
                activate_in.max(0)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keys rotate: {e}");
            ExitCode::from(2)
        }
    }
}

/// The `keys sp-*` steps: each needs only the data directory.
fn sp_keys_step(cmd: KeysCmd) -> ExitCode {
    let (config, step): (_, fn(&Path) -> ExitCode) = match cmd {
        KeysCmd::SpNext { config, usage } => {
            let c = match load(config_path(config).as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            return sp_keys::next(&c.data_dir, usage);
        }
        KeysCmd::SpActivate { config } => (config, sp_keys::activate),
        KeysCmd::SpRetire { config } => (config, sp_keys::retire),
        KeysCmd::SpStatus { config } => (config, sp_keys::status),
        KeysCmd::Rotate {
            config,
            activate_in,
        } => return keys_rotate(config_path(config), activate_in),
    };
    match load(config_path(config).as_deref()) {
        Ok(c) => step(&c.data_dir),
        Err(code) => code,
    }
}

fn oidc_secret() -> ExitCode {
    let Ok(secret) = crate::crypto::random_hex(32) else {
        eprintln!("the system random number generator failed");
        return ExitCode::from(2);
    };
    println!("client secret (give it to the application; it is not stored): {secret}");
    println!(
        "client_secret_hash = \"{}\"",
        crate::config::oidc::secret_hash(&secret)
    );
    ExitCode::SUCCESS
}
