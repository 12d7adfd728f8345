//! The container image end to end: built from the repository's
//! `Dockerfile` on the locally made Debian base, packaging the binary this
//! suite built (the `PREBUILT` build argument), then run with Redis and
//! SimpleSAMLphp on the host's loopback (`--network host`, the hub on
//! 127.0.0.1:<free port>): the start-up refusals, the HEALTHCHECK turning
//! healthy, a SAML login through the container, and readiness failing
//! closed when Redis goes away.

use super::docker::{self, Container};
use crate::peers::browser::Browser;
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TAG: &str = "samlhub-test/samlhub:latest";

/// A build context holding the Dockerfile, the healthcheck and the binary
/// (debug symbols stripped, to keep the context small).
fn context(dir: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("Dockerfile"), dir.join("Dockerfile")).unwrap();
    std::fs::create_dir(dir.join("scripts")).unwrap();
    std::fs::copy(
        repo.join("scripts/healthcheck.sh"),
        dir.join("scripts/healthcheck.sh"),
    )
    .unwrap();
    let stripped = Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(dir.join("samlhub"))
        .arg(BIN)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(BIN, dir.join("samlhub")).unwrap();
    }
}

/// Builds the hub image from the local base; `Err(reason)` to skip.
pub fn hub_image() -> Result<&'static str, String> {
    let base = docker::ready()?;
    let ctx = tempfile::tempdir().unwrap();
    context(ctx.path());
    docker::build(
        ctx.path(),
        TAG,
        &[
            ("BUILD_IMAGE", base),
            ("RUNTIME_IMAGE", base),
            ("PREBUILT", "samlhub"),
        ],
    );
    Ok(TAG)
}

#[test]
fn the_image_serves_a_saml_login_with_redis() {
    // Containers add network interfaces, which abort page loads in a
    // browser test running at the same time.
    let _net = crate::peers::netlock::exclusive();
    let image = match hub_image() {
        Ok(i) => i,
        Err(why) => {
            println!("SKIPPED the_image_serves_a_saml_login_with_redis: {why}");
            return;
        }
    };
    let mut redis = RedisServer::start();
    let hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    let ssp = SimpleSamlPhp::start(&[sp]);
    let data = hub.data_dir();
    std::fs::create_dir(data.join("idp")).unwrap();
    std::fs::write(data.join("idp/ssp.xml"), ssp.metadata_xml()).unwrap();
    let volume = format!("{}:/data", data.display());
    let base = hub.base_url();
    let listen = format!("SAMLHUB_LISTEN={}", base.trim_start_matches("http://"));
    let public = format!("SAMLHUB_PUBLIC_URL={base}");
    let store = format!("SAMLHUB_STORE={}0", redis.url());
    let common = [
        "--network",
        "host",
        "-v",
        &volume,
        "-e",
        &listen,
        "-e",
        &store,
    ];

    // A root-owned volume: one clear line, exit 2, no crash loop of errors.
    let mut args = common.to_vec();
    args.extend(["-e", &public, image]);
    let (code, log) = Container::run_to_exit(&args, Duration::from_secs(30));
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("data directory /data is not writable by uid 65532 gid 65532")
            && log.contains("chown -R 65532:65532"),
        "{log}"
    );

    // No public URL inside the container: refused, naming the variable.
    let user = docker::give_to_container_user(&data);
    let mut args: Vec<&str> = common.to_vec();
    args.extend(user.iter().map(String::as_str));
    let no_url = args.clone();
    let mut no_url = no_url;
    no_url.push(image);
    let (code, log) = Container::run_to_exit(&no_url, Duration::from_secs(30));
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("public_url: not set, and this runs in a container"),
        "{log}"
    );

    // The real thing: healthy through the image's HEALTHCHECK, then a login.
    args.extend(["-e", &public, "--health-interval", "1s", image]);
    let c = Container::start(&args);
    if let Err(e) = c.wait_health("healthy", Duration::from_secs(60)) {
        panic!("{e}; log:\n{}", c.logs());
    }
    let mut b = Browser::new();
    let start = b.get(&format!("{base}/saml/login?idp=ssp&return_to=/session"));
    assert_eq!(start.status, 302, "{}\n{}", start.head(), c.logs());
    let post = b.ssp_login(start, "alice", "alicepass");
    assert_eq!(post.action, hub.acs_url());
    let done = b.post_form(&post.action, &post.form());
    assert_eq!(done.status, 303, "{}\n{}", done.head(), c.logs());
    let j = b.get(&format!("{base}/session?format=json"));
    assert_eq!(j.status, 200, "{}", j.head());
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(
        (v["idp"].as_str(), v["subject"].as_str()),
        (Some("ssp"), Some("alice"))
    );

    // The same assertion again is a replay, caught through Redis.
    let again = b.post_form(&post.action, &post.form());
    assert_ne!(again.status, 303, "replay accepted: {}", again.head());

    // Redis gone: the hub is not ready (fail closed), the check says so.
    redis.stop();
    let down = b.get(&format!("{base}/readyz"));
    assert_eq!(down.status, 503, "{}", down.head());
    let probe = Command::new("docker")
        .args(["exec", &c.name, "samlhub-healthcheck"])
        .output()
        .unwrap();
    assert!(!probe.status.success(), "healthcheck passed without Redis");
}
