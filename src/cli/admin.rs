//! The admin commands: `samlhub sessions list|revoke` and
//! `samlhub ha release-username`. Each opens the configured store, calls one
//! function of `crate::admin` and prints the outcome. Exit codes: 0 done,
//! 1 nothing to release, 2 the command could not run (configuration, store,
//! selector).
//!
//! With Redis they work beside the running hub. The embedded store is one
//! redb file that a single process may open; while the hub holds it the
//! commands say so and exit 2 rather than wait.

use crate::admin::{self, AdminError, Selector};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::logsafe::esc;
use crate::store::{embedded, AnyStore, StoreError, StoreSpec};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// What to do, once the store is open.
pub(super) enum Action {
    List {
        sel: Selector,
        json: bool,
    },
    Revoke {
        sel: Selector,
    },
    Release {
        name: String,
        instance: Option<String>,
    },
}

/// Runs `action` against the store of the configuration at `path`.
pub(super) fn run(path: Option<&Path>, action: Action) -> ExitCode {
    if let Action::Revoke { sel } = &action {
        if sel.is_empty() {
            eprintln!("sessions revoke: say which sessions to end: --user, --idp or --session");
            return ExitCode::from(2);
        }
    }
    let c = match super::load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now().unix_timestamp();
    let store = match AnyStore::open(&c.store, clock) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", open_failure(&c.store, &e));
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(act(&store, &c, action, now))
}

/// The store error, with the way out when the hub holds the embedded file.
fn open_failure(spec: &StoreSpec, e: &StoreError) -> String {
    match (spec, e) {
        (StoreSpec::Embedded(_), StoreError::Unavailable(m)) if m.contains(embedded::IN_USE) => {
            format!(
                "store: {m}.\nThe embedded store can be opened by one process at a time: \
                 stop the hub first, or use Redis (store = \"redis://…\") to run admin \
                 commands beside it."
            )
        }
        _ => format!("store: {e}"),
    }
}

fn failed(what: &str, e: &AdminError) -> ExitCode {
    eprintln!("{what}: {e}");
    ExitCode::from(2)
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

async fn act(store: &AnyStore, c: &Config, action: Action, now: i64) -> ExitCode {
    match action {
        Action::List { sel, json } => match admin::find(store, &sel, now).await {
            Err(e) => failed("sessions list", &e),
            Ok(found) => {
                let rows: Vec<admin::Listed> =
                    found.iter().map(|(k, s)| admin::describe(k, s)).collect();
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                } else {
                    print_table(&rows);
                }
                ExitCode::SUCCESS
            }
        },
        Action::Revoke { sel } => match admin::revoke(store, c, &sel, now).await {
            Err(e) => failed("sessions revoke", &e),
            Ok(n) => {
                println!("revoked {n} session(s)");
                ExitCode::SUCCESS
            }
        },
        Action::Release { name, instance } => {
            match admin::release_username(store, c, &name, instance.as_deref()).await {
                Err(e) => failed("ha release-username", &e),
                Ok(released) if released.is_empty() => {
                    eprintln!(
                        "no binding: HA username '{}' is not bound{}",
                        esc(&name),
                        instance
                            .map(|i| format!(" at instance '{}'", esc(&i)))
                            .unwrap_or_default()
                    );
                    ExitCode::from(1)
                }
                Ok(released) => {
                    for r in released {
                        println!(
                            "released HA username '{}' at instance '{}' (was bound to {})",
                            esc(&name),
                            r.instance,
                            esc(&r.owner)
                        );
                    }
                    ExitCode::SUCCESS
                }
            }
        }
    }
}

fn print_table(rows: &[admin::Listed]) {
    println!(
        "{:<16}  {:<24}  {:<12}  {:<25}  {:<25}",
        "SESSION", "USER", "IDP", "CREATED", "EXPIRES"
    );
    for r in rows {
        println!(
            "{:<16}  {:<24}  {:<12}  {:<25}  {:<25}",
            r.session,
            esc(&r.user).to_string(),
            esc(&r.idp).to_string(),
            rfc3339(r.created),
            rfc3339(r.expires)
        );
    }
    println!("{} session(s)", rows.len());
}
