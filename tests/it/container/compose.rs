//! `docker-compose.yml` and `.dockerignore`, read as data: every published
//! port binds 127.0.0.1, the demo profile's hub, IdP and their configs
//! agree on the URLs the browser uses, and the build context leaves out
//! build output and data directories (which hold private keys). The demo
//! itself runs with `docker compose --profile demo up demo-hub`.

use super::addon::load_yaml;
use serde_json::Value;
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compose_publishes_on_loopback_and_the_demo_urls_agree() {
    let c = load_yaml(&repo().join("docker-compose.yml")).unwrap();
    let services = c["services"].as_object().unwrap();
    for (name, s) in services {
        for p in s["ports"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap();
            assert!(
                p.starts_with("127.0.0.1:"),
                "{name} publishes {p} beyond loopback"
            );
        }
    }
    let profile = |n: &str| services[n]["profiles"].clone();
    assert_eq!(
        profile("samlhub"),
        Value::Null,
        "the hub runs without a profile"
    );
    assert_eq!(profile("redis"), Value::Null);
    for n in ["demo-idp", "demo-hub"] {
        assert_eq!(profile(n), serde_json::json!(["demo"]), "{n}");
    }
    let env = services["samlhub"]["environment"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e == "SAMLHUB_PUBLIC_URL"),
        "SAMLHUB_PUBLIC_URL is passed through, so unset stays unset: {env:?}"
    );

    // The demo hub's public URL is where compose publishes it, and the
    // demo IdP knows that hub under the same URLs.
    let toml_text = std::fs::read_to_string(repo().join("contrib/demo/samlhub.toml")).unwrap();
    let conf: toml::Value = toml::from_str(&toml_text).unwrap();
    let public = conf["public_url"].as_str().unwrap();
    let port = public.rsplit(':').next().unwrap();
    let published = services["demo-hub"]["ports"][0].as_str().unwrap();
    assert_eq!(published, format!("127.0.0.1:{port}:8080"));
    let sp_remote =
        std::fs::read_to_string(repo().join("contrib/demo/idp/metadata/saml20-sp-remote.php"))
            .unwrap();
    for want in [
        format!("$metadata['{public}/saml/metadata']"),
        format!("'Location' => '{public}/saml/acs'"),
    ] {
        assert!(
            sp_remote.contains(&want),
            "{want} not in the demo IdP's SP list"
        );
    }
    let idp_url = conf["idp"][0]["metadata_url"].as_str().unwrap();
    assert!(idp_url.starts_with("http://demo-idp:8081/"), "{idp_url}");
}

#[test]
fn the_build_context_leaves_out_build_output_and_keys() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for want in ["target/", "samlhub-data/", ".git/", "*.key"] {
        assert!(lines.contains(&want), "{want} not in .dockerignore");
    }
}
