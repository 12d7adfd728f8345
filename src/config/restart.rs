//! The settings a configuration reload (`SIGHUP`) cannot change: each is
//! bound when the process starts (a listening socket, the store connection,
//! the data directory that holds the keys and the embedded store, the OIDC
//! key ring's algorithm, the routes mounted on the main listener). A reload
//! keeps the running value of each and names the ones the new file changed.

use super::Config;

/// Puts the running value of every start-up-bound setting into `new` and
/// returns the keys whose value `new` had changed, in a fixed order.
pub fn keep_running(new: &mut Config, running: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut keep = |key: &'static str, differs: bool| {
        if differs {
            changed.push(key);
        }
    };
    keep("listen", new.listen != running.listen);
    keep(
        "metrics_listen",
        new.ops.metrics_listen != running.ops.metrics_listen,
    );
    keep("metrics", new.ops.metrics != running.ops.metrics);
    keep("store", new.store != running.store);
    keep("data_dir", new.data_dir != running.data_dir);
    keep(
        "oidc.id_token_alg",
        new.oidc.id_token_alg != running.oidc.id_token_alg,
    );
    new.listen = running.listen;
    new.ops.metrics_listen = running.ops.metrics_listen;
    new.ops.metrics = running.ops.metrics;
    new.store = running.store.clone();
    new.data_dir = running.data_dir.clone();
    new.oidc.id_token_alg = running.oidc.id_token_alg;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::MemorySource;
    use std::path::PathBuf;

    fn load(body: &str) -> Config {
        let file = PathBuf::from("/etc/samlhub/samlhub.toml");
        let mut src = MemorySource::default();
        src.files.insert(file.clone(), body.as_bytes().to_vec());
        crate::config::load(Some(&file), &Default::default(), &src).unwrap()
    }

    #[test]
    fn start_up_settings_keep_their_running_values() {
        let running = load("listen = '127.0.0.1:8080'\ndata_dir = '/d'\n");
        let mut same =
            load("listen = '127.0.0.1:8080'\ndata_dir = '/d'\nsession_lifetime = '1h'\n");
        assert!(keep_running(&mut same, &running).is_empty());
        assert_eq!(same.session_lifetime.as_secs(), 3600);

        let mut new = load(
            "listen = '127.0.0.1:9090'\ndata_dir = '/e'\nmetrics = true\n\
             metrics_listen = '127.0.0.1:9100'\nstore = 'redis://127.0.0.1:6379'\n\
             session_lifetime = '2h'\n[oidc]\nid_token_alg = 'ES256'\n",
        );
        assert_eq!(
            keep_running(&mut new, &running),
            [
                "listen",
                "metrics_listen",
                "metrics",
                "store",
                "data_dir",
                "oidc.id_token_alg"
            ]
        );
        assert_eq!(new.listen, running.listen);
        assert_eq!(new.data_dir, running.data_dir);
        assert_eq!(new.store, running.store);
        assert_eq!(new.ops, running.ops);
        assert_eq!(new.oidc.id_token_alg, running.oidc.id_token_alg);
        // What a reload may change, it changes.
        assert_eq!(new.session_lifetime.as_secs(), 7200);
    }
}
