//! The operations keys: `log_format`, `audit_user`, `metrics` and
//! `metrics_listen` (top-level keys of the config file).

use super::Problems;
use crate::audit::AuditUser;
use crate::logging::LogFormat;
use std::net::SocketAddr;

/// How the hub is observed: log format, audit naming, metrics exposure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ops {
    /// `log_format = "text" | "json"` (default text).
    pub log_format: LogFormat,
    /// `audit_user = "clear" | "hashed" | "off"` (default clear).
    pub audit_user: AuditUser,
    /// `metrics = true`: serve `/metrics` on the main listener (default off:
    /// the main listener is usually public, and the metrics name IdPs and
    /// clients).
    pub metrics: bool,
    /// `metrics_listen = "127.0.0.1:9100"`: serve `/metrics` (and the health
    /// endpoints) on a separate address.
    pub metrics_listen: Option<SocketAddr>,
}

/// The raw keys, as read.
#[derive(Debug, Default)]
pub(super) struct RawOps<'a> {
    pub log_format: Option<&'a str>,
    pub audit_user: Option<&'a str>,
    pub metrics: Option<bool>,
    pub metrics_listen: Option<&'a str>,
}

pub(super) fn load(r: RawOps<'_>, p: &mut Problems) -> Ops {
    let log_format = match r.log_format {
        None => LogFormat::default(),
        Some(s) => LogFormat::parse(s).unwrap_or_else(|| {
            p.add("log_format", format!("'{s}' is not \"text\" or \"json\""));
            LogFormat::default()
        }),
    };
    let audit_user = match r.audit_user {
        None => AuditUser::default(),
        Some(s) => AuditUser::parse(s).unwrap_or_else(|| {
            p.add(
                "audit_user",
                format!("'{s}' is not \"clear\", \"hashed\" or \"off\""),
            );
            AuditUser::default()
        }),
    };
    let metrics_listen = r.metrics_listen.and_then(|s| {
        s.parse::<SocketAddr>()
            .map_err(|_| {
                p.add(
                    "metrics_listen",
                    format!("'{s}' is not an address:port such as 127.0.0.1:9100"),
                )
            })
            .ok()
    });
    Ops {
        log_format,
        audit_user,
        metrics: r.metrics.unwrap_or(false),
        metrics_listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_and_bad_values_named() {
        let mut p = Problems(Vec::new());
        let ok = load(
            RawOps {
                log_format: Some("json"),
                audit_user: Some("hashed"),
                metrics: Some(true),
                metrics_listen: Some("127.0.0.1:9100"),
            },
            &mut p,
        );
        assert!(p.0.is_empty(), "{:?}", p.0);
        assert_eq!(ok.log_format, LogFormat::Json);
        assert_eq!(ok.audit_user, AuditUser::Hashed);
        assert!(ok.metrics);
        assert_eq!(ok.metrics_listen.map(|a| a.port()), Some(9100));
        assert_eq!(load(RawOps::default(), &mut p), Ops::default());
        load(
            RawOps {
                log_format: Some("xml"),
                audit_user: Some("names"),
                metrics: None,
                metrics_listen: Some("9100"),
            },
            &mut p,
        );
        let keys: Vec<&str> = p.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["log_format", "audit_user", "metrics_listen"]);
    }
}
