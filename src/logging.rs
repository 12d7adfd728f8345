//! The log line format and the request id.
//!
//! Every line carries an RFC 3339 UTC timestamp, the level, the target and,
//! while a request is being handled, that request's id. `log_format = "text"`
//! (the default) writes one plain line; `"json"` writes one JSON object per
//! line with the fields `ts`, `level`, `target`, `request_id` and `msg`, plus
//! each structured field of the record (the audit events of `crate::audit`).
//! Filtering stays `RUST_LOG` (env_logger's syntax, default `info`).
//!
//! The timestamp comes from [`SystemClock`]: a log line states when it was
//! written, which is the wall clock by definition, not the injected clock a
//! test pins for protocol decisions.
//!
//! The request id is generated per request by the HTTP layer and kept in a
//! task-local ([`with_request_id`]), so domain code logs it without taking it
//! as a parameter. Messages are escaped where they embed untrusted values
//! (`crate::logsafe`); the JSON form escapes again as JSON strings.

use crate::clock::{Clock, SystemClock};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// `log_format`: how log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches the format of every later line (set once the config is read).
pub fn set_format(f: LogFormat) {
    JSON.store(f == LogFormat::Json, Ordering::Relaxed);
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `fut` with `id` as the request id of every line it logs.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The id of the request being handled, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A new request id: 12 hex digits (48 random bits). If the RNG fails, a
/// fixed id is harmless: it only matches reports to log lines.
pub fn new_request_id() -> String {
    crate::crypto::random_hex(6).unwrap_or_else(|_| "000000000000".into())
}

/// Installs the logger (`RUST_LOG`, default `info`) with this module's
/// format. Call once, before anything logs.
pub fn init() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            let line = render(record, JSON.load(Ordering::Relaxed));
            writeln!(buf, "{line}")
        })
        .try_init();
}

fn timestamp() -> String {
    let now = SystemClock.now();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Collects a record's structured fields as strings.
struct Fields(Vec<(String, String)>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

/// One log line, without its newline.
pub fn render(record: &log::Record<'_>, json: bool) -> String {
    let mut fields = Fields(Vec::new());
    let _ = record.key_values().visit(&mut fields);
    let id = request_id();
    let msg = record.args().to_string();
    if json {
        let mut o = serde_json::Map::new();
        o.insert("ts".into(), timestamp().into());
        o.insert("level".into(), record.level().as_str().into());
        o.insert("target".into(), record.target().into());
        if let Some(id) = id {
            o.insert("request_id".into(), id.into());
        }
        o.insert("msg".into(), msg.into());
        for (k, v) in fields.0 {
            o.entry(k).or_insert(v.into());
        }
        return serde_json::Value::Object(o).to_string();
    }
    let mut line = format!("{} {:<5} {}", timestamp(), record.level(), record.target());
    if let Some(id) = id {
        line.push_str(&format!(" [{id}]"));
    }
    line.push(' ');
    line.push_str(&msg);
    for (k, v) in fields.0 {
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
            line.push_str(&format!(" {k}={v:?}"));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: bool) -> String {
        render(
            &log::Record::builder()
                .args(format_args!("hello"))
                .level(log::Level::Info)
                .target("audit")
                .key_values(&[("event", "login"), ("idp", "a b")])
                .build(),
            json,
        )
    }

    #[test]
    fn text_and_json_lines() {
        let t = rec(false);
        assert!(
            t.contains(" INFO  audit hello event=login idp=\"a b\""),
            "{t}"
        );
        assert!(t.get(..4).is_some_and(|y| y.parse::<u32>().is_ok()), "{t}");
        let j: serde_json::Value = serde_json::from_str(&rec(true)).unwrap();
        assert_eq!(j["event"], "login");
        assert_eq!(j["target"], "audit");
        assert!(j["ts"].as_str().unwrap().ends_with('Z'));
        assert!(j.get("request_id").is_none());
    }

    #[tokio::test]
    async fn request_id_in_scope_only() {
        let inside = with_request_id("abc".into(), async { rec(false) }).await;
        assert!(inside.contains("[abc]"), "{inside}");
        assert!(!rec(false).contains("[abc]"));
    }
}
