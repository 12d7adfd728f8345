//! Apache httpd with mod_auth_openidc (Debian `libapache2-mod-auth-openidc`)
//! as a real OpenID Connect relying party: a private `httpd.conf` in a temp
//! dir, `Listen 127.0.0.1:PORT`, one protected CGI that prints the claims the
//! module passed on (`OIDCPassClaimsAs environment`). Runs in the foreground
//! in its own process group; on drop it is stopped with `apache2 -k stop`,
//! and the group (and the pid in its PidFile) is killed as a fallback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use super::{free_port, wait_for_http, ProcessGroup};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODULES: &str = "/usr/lib/apache2/modules";
const APACHE: &str = "/usr/sbin/apache2";

/// What the relying party is configured with.
#[derive(Clone, Debug)]
pub struct RpSettings {
    /// The OpenID provider's issuer (its discovery document is below it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// `OIDCScope`.
    pub scope: String,
}

/// A running Apache with mod_auth_openidc.
pub struct ApacheOidc {
    // Field order: the process stops before the directory goes away.
    process: Option<ProcessGroup>,
    dir: tempfile::TempDir,
    port: u16,
}

/// The CGI behind `/protected/claims`: REMOTE_USER and every OIDC_CLAIM_*
/// variable, one `NAME=value` a line, sorted.
const CLAIMS_CGI: &str = "#!/bin/sh\n\
printf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
printf 'REMOTE_USER=%s\\n' \"$REMOTE_USER\"\n\
env | grep '^OIDC_CLAIM_' | LC_ALL=C sort\n";

fn available() -> Result<(), String> {
    for f in [
        APACHE.to_owned(),
        format!("{MODULES}/mod_auth_openidc.so"),
        format!("{MODULES}/mod_cgid.so"),
    ] {
        if !Path::new(&f).exists() {
            return Err(format!(
                "{f} is missing: install the Debian packages `apache2 libapache2-mod-auth-openidc` \
                 (apt-get install -y apache2 libapache2-mod-auth-openidc)"
            ));
        }
    }
    Ok(())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl ApacheOidc {
    /// A free port, known before the provider is configured (the redirect
    /// URI contains it). Nothing runs yet.
    pub fn prepare() -> ApacheOidc {
        if let Err(e) = available() {
            panic!("{e}");
        }
        let dir = tempfile::Builder::new()
            .prefix("samlhub-apache-")
            .tempdir()
            .unwrap();
        ApacheOidc {
            process: None,
            dir,
            port: free_port(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `OIDCRedirectURI`: handled by the module inside the protected location.
    pub fn redirect_uri(&self) -> String {
        format!("{}/protected/redirect_uri", self.base_url())
    }

    /// The protected page that prints the claims.
    pub fn claims_url(&self) -> String {
        format!("{}/protected/claims", self.base_url())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("httpd.conf")
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.path().join("run/httpd.pid")
    }

    fn httpd_conf(&self, rp: &RpSettings) -> String {
        let d = self.dir.path().display();
        let user = if running_as_root() {
            // httpd refuses to serve as root; its children switch to this.
            "User www-data\nGroup www-data\n"
        } else {
            ""
        };
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        format!(
            "ServerRoot {root}\n\
ServerName 127.0.0.1\n\
Listen 127.0.0.1:{port}\n\
PidFile {d}/run/httpd.pid\n\
DefaultRuntimeDir {d}/run\n\
Mutex file:{d}/run default\n\
ErrorLog {d}/logs/error.log\n\
LogLevel warn auth_openidc:debug\n\
{user}\
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n\
LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
LoadModule authn_core_module {MODULES}/mod_authn_core.so\n\
LoadModule authz_user_module {MODULES}/mod_authz_user.so\n\
LoadModule alias_module {MODULES}/mod_alias.so\n\
LoadModule cgid_module {MODULES}/mod_cgid.so\n\
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so\n\
StartServers 1\n\
ServerLimit 1\n\
ThreadsPerChild 8\n\
ThreadLimit 8\n\
MaxRequestWorkers 8\n\
MinSpareThreads 1\n\
MaxSpareThreads 8\n\
ScriptSock {d}/run/cgid.sock\n\
DocumentRoot {d}/htdocs\n\
<Directory />\n  Require all denied\n</Directory>\n\
<Directory {d}/htdocs>\n  Require all granted\n</Directory>\n\
OIDCProviderMetadataURL {metadata}\n\
OIDCClientID {client_id}\n\
OIDCClientSecret {client_secret}\n\
OIDCRedirectURI {redirect}\n\
OIDCCryptoPassphrase {passphrase}\n\
OIDCResponseType code\n\
OIDCScope {scope}\n\
OIDCPKCEMethod S256\n\
OIDCProviderTokenEndpointAuth client_secret_basic\n\
OIDCIDTokenSignedResponseAlg RS256\n\
OIDCRemoteUserClaim sub\n\
OIDCPassClaimsAs environment\n\
OIDCCacheShmMax 200\n\
ScriptAlias /protected/claims {d}/cgi-bin/claims.cgi\n\
<Directory {d}/cgi-bin>\n  Require all granted\n</Directory>\n\
<Location /protected>\n  AuthType openid-connect\n  Require valid-user\n</Location>\n",
            root = self.dir.path().display(),
            port = self.port,
            metadata = q(&format!(
                "{}/.well-known/openid-configuration",
                rp.issuer.trim_end_matches('/')
            )),
            client_id = q(&rp.client_id),
            client_secret = q(&rp.client_secret),
            redirect = q(&self.redirect_uri()),
            passphrase = q("samlhub-test-passphrase-0123456789"),
            scope = q(&rp.scope),
        )
    }

    /// Writes the config and the CGI, checks the config (`-t`), starts httpd
    /// and waits until it answers on its port.
    pub fn start(&mut self, rp: &RpSettings) {
        assert!(self.process.is_none(), "already running");
        let root = self.dir.path();
        for sub in ["run", "logs", "htdocs", "cgi-bin"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        // The children run as www-data when we are root: they must reach the
        // CGI (the temp dir is 0700 when created).
        for p in [
            root.to_path_buf(),
            root.join("htdocs"),
            root.join("cgi-bin"),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(root.join("htdocs/index.html"), "public\n").unwrap();
        let cgi = root.join("cgi-bin/claims.cgi");
        std::fs::write(&cgi, CLAIMS_CGI).unwrap();
        std::fs::set_permissions(&cgi, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(self.conf_path(), self.httpd_conf(rp)).unwrap();

        let check = self.apachectl(&["-t"]).output().unwrap();
        assert!(
            check.status.success(),
            "apache2 -t refused the config:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        let out = std::fs::File::create(root.join("logs/stdout.log")).unwrap();
        let mut cmd = self.apachectl(&["-k", "start", "-DFOREGROUND"]);
        cmd.stdout(out.try_clone().unwrap()).stderr(out);
        let mut pg = ProcessGroup::spawn("apache2", cmd);
        let url = format!("{}/index.html", self.base_url());
        if let Err(e) = wait_for_http(&url, Duration::from_secs(15)) {
            let exited = pg.try_exit_status();
            pg.stop();
            panic!(
                "apache2 did not start ({e}, exit {exited:?}); log:\n{}",
                self.log()
            );
        }
        self.process = Some(pg);
    }

    fn apachectl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(APACHE);
        cmd.arg("-d")
            .arg(self.dir.path())
            .arg("-f")
            .arg(self.conf_path())
            .args(args)
            .stdin(Stdio::null())
            // libcurl inside the module must talk to loopback directly.
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env("LANG", "C");
        cmd
    }

    /// The whole error log, with the module's debug lines.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }

    /// The end of the error log and stdout/stderr, for failure messages.
    pub fn log(&self) -> String {
        let mut s = String::new();
        for f in ["logs/error.log", "logs/stdout.log"] {
            s.push_str(&std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default());
        }
        // The module's debug output is long: keep the end.
        let skip = s.len().saturating_sub(20_000);
        let mut start = skip;
        while !s.is_char_boundary(start) {
            start += 1;
        }
        s[start..].to_owned()
    }

    /// `apache2 -k stop` (graceful), then the process group and the pid in
    /// the PidFile are killed in case anything is left.
    pub fn stop(&mut self) {
        let Some(mut pg) = self.process.take() else {
            return;
        };
        let pid_from_file = std::fs::read_to_string(self.pid_path())
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let _ = self
            .apachectl(&["-k", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && pg.try_exit_status().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        pg.stop();
        // Only if that pid is still an httpd (never a recycled pid).
        let still_httpd = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "apache2")
        };
        if let Some(pid) = pid_from_file.filter(|p| *p != pg.pid() && still_httpd(*p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for ApacheOidc {
    fn drop(&mut self) {
        self.stop();
    }
}
