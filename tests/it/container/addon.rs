//! The Home Assistant add-on (`contrib/ha-addon/`): its `config.yaml`
//! checked against the Supervisor's add-on configuration rules, and its
//! image built by `scripts/ha-addon.sh` + `docker build` with a local
//! Debian base as `BUILD_FROM`, then started with an options file.
//!
//! The rules checked ([`validate`]), from Home Assistant's developer
//! documentation on add-on configuration:
//! - required: `name`, `version`, `slug`, `description` (strings) and `arch`
//!   (a non-empty list of armhf, armv7, aarch64, amd64, i386); `slug` is
//!   lowercase letters, digits and `_`;
//! - every other top-level key is a known one, of its type; `startup` and
//!   `boot` take their listed values; `map` entries are a known folder with
//!   an optional `:rw`/`:ro`;
//! - `ports`: keys `PORT/tcp` or `PORT/udp`, values a host port 1..=65535
//!   or null (not published); `ports_description` describes only those keys;
//! - `schema` values are types: str, bool, int, float, email, url, port,
//!   password, match(REGEX), list(A|B|…), device, with `(min,max)` ranges on
//!   str/int/float and a trailing `?` for optional; `[type]` is a list of
//!   that type, a mapping a nested object (in a list: a list of objects);
//! - every `options` key is a `schema` key, and its default is null (no
//!   default: the user must set it before the add-on starts, allowed only
//!   for required keys) or a value of the schema type.

use super::docker::{self, Container};
use crate::peers::free_port;
use crate::peers::wait_for_http;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ARCHES: &[&str] = &["armhf", "armv7", "aarch64", "amd64", "i386"];
const MAP_FOLDERS: &[&str] = &[
    "homeassistant_config",
    "addon_config",
    "all_addon_configs",
    "ssl",
    "addons",
    "backup",
    "share",
    "media",
    "config",
];

/// The add-on's `config.yaml` as JSON (through Python's YAML parser).
pub fn load_yaml(path: &Path) -> Result<Value, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// Every rule broken by an add-on config, one line each.
pub fn validate(c: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(top) = c.as_object() else {
        return vec!["not a mapping".into()];
    };
    for k in ["name", "version", "slug", "description"] {
        match top.get(k) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => bad.push(format!("{k}: required, a non-empty string")),
        }
    }
    if let Some(Value::String(s)) = top.get("slug") {
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            bad.push(format!("slug: '{s}' is not lowercase letters, digits, _"));
        }
    }
    match top.get("arch").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            for x in a {
                if !x.as_str().is_some_and(|s| ARCHES.contains(&s)) {
                    bad.push(format!("arch: {x} is not one of {ARCHES:?}"));
                }
            }
        }
        _ => bad.push("arch: required, a non-empty list".into()),
    }
    let one_of = |k: &str, allowed: &[&str], bad: &mut Vec<String>| {
        if let Some(v) = top.get(k) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                bad.push(format!("{k}: {v} is not one of {allowed:?}"));
            }
        }
    };
    one_of(
        "startup",
        &["initialize", "system", "services", "application", "once"],
        &mut bad,
    );
    one_of("boot", &["auto", "manual"], &mut bad);
    for (k, v) in top {
        let ok = match k.as_str() {
            "name" | "version" | "slug" | "description" | "arch" | "startup" | "boot" => true,
            "url" | "image" | "webui" | "panel_icon" | "panel_title" => v.is_string(),
            "init" | "hassio_api" | "homeassistant_api" | "host_network" | "ingress" => {
                v.is_boolean()
            }
            "ports" => check_ports(v, &mut bad),
            "ports_description" => v.as_object().is_some_and(|d| {
                d.iter().all(|(p, s)| {
                    s.is_string() && top.get("ports").and_then(|x| x.get(p)).is_some()
                })
            }),
            "map" => v.as_array().is_some_and(|m| m.iter().all(map_entry_ok)),
            "options" | "schema" => v.is_object(),
            _ => {
                bad.push(format!("{k}: not a key this validator knows"));
                true
            }
        };
        if !ok {
            bad.push(format!("{k}: wrong type or value: {v}"));
        }
    }
    let schema = top.get("schema").cloned().unwrap_or(json!({}));
    if let Some(s) = schema.as_object() {
        for (k, t) in s {
            check_schema(&format!("schema.{k}"), t, &mut bad);
        }
    }
    if let Some(opts) = top.get("options").and_then(Value::as_object) {
        for (k, v) in opts {
            match schema.get(k) {
                None => bad.push(format!("options.{k}: not in schema")),
                Some(t) => check_value(&format!("options.{k}"), t, v, true, &mut bad),
            }
        }
    }
    bad
}

fn map_entry_ok(e: &Value) -> bool {
    let Some(s) = e.as_str() else { return false };
    let (folder, mode) = s.split_once(':').unwrap_or((s, "ro"));
    MAP_FOLDERS.contains(&folder) && matches!(mode, "rw" | "ro")
}

fn check_ports(v: &Value, bad: &mut Vec<String>) -> bool {
    let Some(m) = v.as_object() else { return false };
    for (k, p) in m {
        let key_ok = k.split_once('/').is_some_and(|(n, proto)| {
            n.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp")
        });
        let port_ok = p.is_null() || p.as_u64().is_some_and(|n| (1..=65535).contains(&n));
        if !key_ok || !port_ok {
            bad.push(format!(
                "ports: '{k}: {p}' is not \"PORT/tcp|udp\": 1..65535 or null"
            ));
        }
    }
    true
}

/// A schema type string: (base, optional).
fn parse_type(t: &str) -> Result<(&str, bool), String> {
    let (t, optional) = t.strip_suffix('?').map_or((t, false), |t| (t, true));
    let base = t.split_once('(').map_or(t, |(b, _)| b);
    let args = t.split_once('(').map(|(_, a)| a);
    let ok = match (base, args) {
        ("bool" | "email" | "url" | "port" | "password" | "device", None) => true,
        ("str" | "int" | "float", None) => true,
        ("str" | "int" | "float", Some(a)) => a.strip_suffix(')').is_some_and(|r| {
            r.split(',').count() == 2
                && r.split(',')
                    .all(|n| n.is_empty() || n.trim().parse::<f64>().is_ok())
        }),
        ("match" | "device", Some(a)) => a.len() > 1 && a.ends_with(')'),
        ("list", Some(a)) => a
            .strip_suffix(')')
            .is_some_and(|r| !r.is_empty() && r.split('|').all(|x| !x.is_empty())),
        _ => false,
    };
    if ok {
        Ok((base, optional))
    } else {
        Err(format!("'{t}' is not an add-on schema type"))
    }
}

fn check_schema(at: &str, t: &Value, bad: &mut Vec<String>) {
    match t {
        Value::String(s) => {
            if let Err(e) = parse_type(s) {
                bad.push(format!("{at}: {e}"));
            }
        }
        Value::Array(a) if a.len() == 1 => check_schema(&format!("{at}[]"), &a[0], bad),
        Value::Object(o) => {
            for (k, v) in o {
                check_schema(&format!("{at}.{k}"), v, bad);
            }
        }
        other => bad.push(format!("{at}: {other} is not a type")),
    }
}

/// `v` against schema type `t`; `top` allows null for a required key.
fn check_value(at: &str, t: &Value, v: &Value, top: bool, bad: &mut Vec<String>) {
    match (t, v) {
        (Value::String(s), _) => {
            let Ok((base, optional)) = parse_type(s) else {
                return;
            };
            if v.is_null() {
                if optional || !top {
                    bad.push(format!(
                        "{at}: null default for optional '{s}' (leave it out)"
                    ));
                }
                return;
            }
            let ok = match base {
                "bool" => v.is_boolean(),
                "int" => v.is_i64() || v.is_u64(),
                "float" => v.is_number(),
                "port" => v.as_u64().is_some_and(|n| (1..=65535).contains(&n)),
                "list" => {
                    let allowed = s
                        .trim_end_matches('?')
                        .trim_start_matches("list(")
                        .trim_end_matches(')');
                    v.as_str()
                        .is_some_and(|x| allowed.split('|').any(|a| a == x))
                }
                _ => v.is_string(),
            };
            if !ok {
                bad.push(format!("{at}: {v} is not a {s}"));
            }
        }
        (Value::Array(ts), Value::Array(vs)) if ts.len() == 1 => {
            for (i, x) in vs.iter().enumerate() {
                check_value(&format!("{at}[{i}]"), &ts[0], x, false, bad);
            }
        }
        (Value::Object(ts), Value::Object(vs)) => {
            for (k, x) in vs {
                match ts.get(k) {
                    Some(tt) => check_value(&format!("{at}.{k}"), tt, x, false, bad),
                    None => bad.push(format!("{at}.{k}: not in schema")),
                }
            }
        }
        _ => bad.push(format!("{at}: {v} does not match {t}")),
    }
}

fn addon_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ha-addon")
}

#[test]
fn addon_config_follows_the_supervisor_rules() {
    let c = load_yaml(&addon_dir().join("samlhub/config.yaml")).unwrap();
    assert_eq!(validate(&c), Vec::<String>::new());
    assert_eq!(c["ports"]["8080/tcp"], 8080);
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"), "add-on version");
    let repo = load_yaml(&addon_dir().join("repository.yaml")).unwrap();
    assert!(repo["name"].is_string(), "repository.yaml needs a name");
    for f in ["Dockerfile", "DOCS.md", "icon.png", "run.sh", "build.yaml"] {
        assert!(addon_dir().join("samlhub").join(f).is_file(), "{f} missing");
    }

    // The validator catches what it claims to.
    let broken = [
        ("slug", json!(null), "slug: required"),
        ("arch", json!(["amd64", "sparc"]), "is not one of"),
        ("ports", json!({"8080": 8080}), "ports:"),
        ("ports", json!({"8080/tcp": 70000}), "ports:"),
        ("map", json!(["config:rx"]), "map: wrong"),
        ("startup", json!("later"), "startup:"),
        ("colour", json!("red"), "colour: not a key"),
    ];
    for (k, v, want) in broken {
        let mut b = c.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        let found = validate(&b);
        assert!(found.iter().any(|l| l.contains(want)), "{k}: {found:?}");
    }
    let mut b = c.clone();
    b["options"]["colour"] = json!("red");
    b["options"]["log_level"] = json!("loud");
    b["options"]["admin_groups"] = json!([1]);
    b["schema"]["store"] = json!("text?");
    b["options"]["idps"] = json!([{"id": "a", "flavour": "x"}]);
    let found = validate(&b).join("\n");
    for want in [
        "options.colour: not in schema",
        "options.log_level: \"loud\" is not a list(",
        "options.admin_groups[0]: 1 is not a str",
        "schema.store: 'text' is not an add-on schema type",
        "options.idps[0].flavour: not in schema",
    ] {
        assert!(found.contains(want), "{want} not in:\n{found}");
    }
}

#[test]
fn addon_image_builds_on_a_local_base_and_starts_the_hub() {
    // Containers add network interfaces, which abort page loads in a
    // browser test running at the same time.
    let _net = crate::peers::netlock::exclusive();
    let base = match docker::ready() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED addon_image_builds_on_a_local_base_and_starts_the_hub: {why}");
            return;
        }
    };
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let st = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ha-addon.sh"))
        .arg(&repo)
        .arg("--binary")
        .arg(crate::peers::samlhub::BIN)
        .status()
        .unwrap();
    assert!(st.success(), "scripts/ha-addon.sh failed");
    let tag = "samlhub-test/addon:latest";
    docker::build(
        &repo.join("samlhub"),
        tag,
        &[("BUILD_FROM", base), ("BUILD_IMAGE", base)],
    );

    let data = work.path().join("data");
    let ha = work.path().join("homeassistant");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&ha).unwrap();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let mut options = json!({
        "ha_external_url": "http://127.0.0.1:8123",
        "ha_instance": "home",
        "username": "username_local",
        "admin_groups": ["ha-admins"],
        "user_groups": [],
        "read_only_groups": [],
        "admin_mfa": "demote",
        "idps": [],
        "log_level": "info"
    });
    let write = |o: &Value| std::fs::write(data.join("options.json"), o.to_string()).unwrap();
    let vol_data = format!("{}:/data", data.display());
    let vol_ha = format!("{}:/homeassistant", ha.display());
    let publish = format!("127.0.0.1:{port}:8080");
    let args = ["-v", &vol_data, "-v", &vol_ha, "-p", &publish, tag];

    // Without public_url the hub refuses to start and says why.
    write(&options);
    let (code, log) = Container::run_to_exit(&args, Duration::from_secs(30));
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("public_url: not set, and this runs in a container"),
        "{log}"
    );

    options["public_url"] = json!(public);
    write(&options);
    let c = Container::start(&args);
    if let Err(e) = wait_for_http(&format!("{public}/readyz"), Duration::from_secs(30)) {
        panic!("add-on hub not ready: {e}\n{}", c.logs());
    }
    let md = ureq::get(&format!("{public}/saml/metadata"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        md.contains(&format!("entityID=\"{public}/saml/metadata\"")),
        "{md}"
    );
    // The hook and its secret are where DOCS.md says, and the secret is the hub's.
    let secret = std::fs::read_to_string(data.join("ha-hook.secret")).unwrap();
    assert_eq!(secret.len(), 64, "32 random bytes in hex");
    assert_eq!(
        std::fs::read_to_string(ha.join("samlhub-ha.secret")).unwrap(),
        secret
    );
    assert_eq!(
        std::fs::read(ha.join("samlhub_hook.py")).unwrap(),
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ha/samlhub_hook.py"))
            .unwrap()
    );
    let conf = std::fs::read_to_string(data.join("samlhub.toml")).unwrap();
    assert!(conf.contains("[[ha]]\nid = \"home\""), "{conf}");
}
