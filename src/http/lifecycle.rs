//! Signals: `SIGHUP` reloads the configuration, `SIGTERM` and `SIGINT`
//! drain the server, `SIGQUIT` stops it at once. actix-web's own signal
//! handling is turned off so that this module is the one place that decides.
//!
//! A reload reads the config file again from the same path (and the same
//! environment), with the checks `serve` and `check-config` run, every
//! IdP's metadata loaded again included (a `metadata_url` is fetched, its
//! saved copy used when the fetch fails). Only a configuration without a
//! problem is put in force, whole: the [`Live`] value (configuration, SP
//! metadata, rate limiters) and the IdP set, and the metadata refresh starts
//! over for the new set of `metadata_url` IdPs. Otherwise the running
//! configuration stays and one error line gives every problem. Settings
//! bound at start-up keep their running values (`config::restart`), each
//! named in a warning. Requests in flight finish with the configuration
//! they started with; a request that straddles the swap may take the old
//! configuration and the new IdP set, each whole.
//!
//! On `SIGTERM` the listeners close at once and requests in flight get
//! [`SHUTDOWN_TIMEOUT_SECS`] to finish; the background tasks (metadata
//! refresh, store sweep) stop with the server.

use super::live::Live;
use super::AppState;
use crate::config::{Config, ConfigError};
use crate::logsafe::esc;
use crate::outbound::refresh::{self, RefreshHandle, Refresher};
use actix_web::dev::ServerHandle;
use actix_web::web;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// How long a graceful stop waits for requests in flight.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// The signals this process acts on, registered before the server starts
/// (until then each keeps its default action).
pub struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
    quit: Signal,
}

/// `SIGHUP`, taken over from its default action (which ends the process).
/// `serve` registers it before the slow part of start-up (config, metadata
/// fetches), so a reload sent meanwhile is acted on once the server runs.
pub struct Hangup(Signal);

impl Hangup {
    /// Must run inside the runtime that later serves.
    pub fn register() -> std::io::Result<Self> {
        signal(SignalKind::hangup()).map(Self)
    }
}

impl Signals {
    /// Every signal this module acts on; `SIGHUP` from `early` when given.
    pub fn register(early: Option<Hangup>) -> std::io::Result<Self> {
        let hup = match early {
            Some(Hangup(s)) => s,
            None => signal(SignalKind::hangup())?,
        };
        Ok(Self {
            hup,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
        })
    }
}

/// The stop signals of [`Signals`].
struct Stops {
    term: Signal,
    int: Signal,
    quit: Signal,
}

impl Stops {
    /// The next stop signal: its name and whether requests in flight finish.
    /// A signal stream that ended (the runtime is going away) never fires.
    async fn next(&mut self) -> (&'static str, bool) {
        tokio::select! {
            Some(()) = self.term.recv() => ("SIGTERM", true),
            Some(()) = self.int.recv() => ("SIGINT", true),
            Some(()) = self.quit.recv() => ("SIGQUIT", false),
            else => std::future::pending().await,
        }
    }
}

/// Acts on signals until a stop signal has stopped every server in
/// `servers`. Holds the metadata refresh of the running IdP set and
/// replaces it on a reload.
pub async fn watch(
    signals: Signals,
    data: web::Data<AppState>,
    servers: Vec<ServerHandle>,
    mut refresh: Option<RefreshHandle>,
) {
    let Signals {
        mut hup,
        term,
        int,
        quit,
    } = signals;
    let mut stops = Stops { term, int, quit };
    let (name, graceful) = loop {
        tokio::select! {
            Some(()) = hup.recv() => {}
            stop = stops.next() => break stop,
        }
        log::info!("SIGHUP: reloading the configuration");
        let path = data.config().file.clone();
        let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
        let load = tokio::task::spawn_blocking(move || {
            crate::outbound::metadata::load_config(path.as_deref(), &env)
        });
        let loaded = tokio::select! {
            r = load => r,
            stop = stops.next() => break stop,
        };
        let Ok(loaded) = loaded else {
            log::error!("configuration reload failed (the loading task ended); the running configuration stays");
            continue;
        };
        if apply(&data, loaded) {
            // The new set of metadata_url IdPs, scheduled afresh; the old
            // task stops when its handle is dropped.
            drop(refresh.take());
            refresh = refresh::spawn(
                Refresher::new(&data.config(), data.idps.clone(), data.clock.now()),
                data.clock.clone(),
            );
        }
    };
    drop(refresh);
    if graceful {
        log::info!(
            "{name}: shutting down: draining requests in flight (at most {SHUTDOWN_TIMEOUT_SECS} s)"
        );
    } else {
        log::info!("{name}: shutting down now; requests in flight are dropped");
    }
    let stopping: Vec<_> = servers.iter().map(|s| s.stop(graceful)).collect();
    for s in stopping {
        s.await;
    }
}

/// Puts `loaded` in force, or keeps the running configuration and says
/// why. Returns whether the new one is in force.
pub fn apply(st: &AppState, loaded: Result<Config, ConfigError>) -> bool {
    let mut next = match loaded {
        Ok(c) => c,
        Err(e) => {
            let lines: Vec<String> = e.lines().iter().map(|l| esc(l).to_string()).collect();
            log::error!(
                "configuration reload refused, the running configuration stays; {} problem(s): {}",
                lines.len(),
                lines.join("; ")
            );
            return false;
        }
    };
    let running = st.live();
    for key in crate::config::restart::keep_running(&mut next, &running.config) {
        log::warn!(
            "configuration reload: {key} changed; it takes a restart, the running value stays"
        );
    }
    for w in &next.warnings {
        log::warn!("{}", esc(w));
    }
    let now = st.clock.now();
    for w in crate::config::expiry::cert_warnings(&next.idps, now, next.cert_expiry_warning_days) {
        w.log();
    }
    crate::logging::set_format(next.ops.log_format);
    let count = next.idps.len();
    let change = st.idps.replace_all(next.idps.clone(), now.unix_timestamp());
    st.set_live(Live::new(next, &st.keys, Some(&running)));
    let names = |v: &[String]| {
        if v.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.join(", "))
        }
    };
    log::info!(
        "reloaded configuration: {count} IdP(s), added {}{}, removed {}{}",
        change.added.len(),
        names(&change.added),
        change.removed.len(),
        names(&change.removed)
    );
    true
}
