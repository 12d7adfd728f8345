//! SimpleSAMLphp 1.19 (Debian `simplesamlphp`) as a real SAML 2.0 IdP
//! (owned by the peers harness): writes a private config in a temp dir,
//! runs it with `php -S 127.0.0.1:PORT` in its own process group and stops
//! the whole group on drop.
//!
//! Users (exampleauth:UserPass, attributes with basic name format):
//! - alice:alicepass: uid alice, mail alice@example.org, displayName
//!   "Alice Example", groups [ha-admins, users]
//! - bob:bobpass: uid bob, mail bob@example.org, displayName "Bob Example",
//!   groups [users]
//! - carol:carolpass: uid carol, mail carol@example.org, displayName
//!   "Carol Example", no groups attribute
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pki::TestKey;
use super::{free_port, wait_for_http, ProcessGroup};

/// One `saml20-sp-remote.php` entry.
#[derive(Clone, Debug)]
pub struct SspSp {
    pub entity_id: String,
    /// HTTP-POST AssertionConsumerService.
    pub acs_url: String,
    /// The SP certificate, DER base64 (`certData`); needed for encryption and
    /// signed AuthnRequests.
    pub sp_cert_b64: Option<String>,
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// Require signed AuthnRequests.
    pub validate_authnrequest: bool,
    pub encrypt_assertion: bool,
    /// The SP's SingleLogoutService (HTTP-Redirect and HTTP-POST). When set,
    /// logout messages both ways are signed and their signatures checked
    /// with `sp_cert_b64`.
    pub slo_url: Option<String>,
    /// SP certificates by use, in the order of the SP's metadata (the
    /// `keys` form; SimpleSAMLphp encrypts to the first encryption key and
    /// checks signatures with every signing key). Empty: `sp_cert_b64` only.
    pub keys: Vec<SspKey>,
}

/// One entry of an SP's `keys`: a certificate (DER base64) and its uses.
#[derive(Clone, Debug)]
pub struct SspKey {
    pub signing: bool,
    pub encryption: bool,
    pub cert_b64: String,
}

impl SspSp {
    /// SSP's defaults: Response and Assertion signed, nothing else.
    pub fn new(entity_id: &str, acs_url: &str) -> SspSp {
        SspSp {
            entity_id: entity_id.to_owned(),
            acs_url: acs_url.to_owned(),
            sp_cert_b64: None,
            sign_response: true,
            sign_assertion: true,
            validate_authnrequest: false,
            encrypt_assertion: false,
            slo_url: None,
            keys: Vec::new(),
        }
    }
}

/// A running SimpleSAMLphp IdP.
pub struct SimpleSamlPhp {
    // Field order: the process stops before the directory goes away.
    process: ProcessGroup,
    dir: tempfile::TempDir,
    base_url: String,
    idp_key: TestKey,
}

/// A PHP single-quoted string literal.
fn php_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn php_bool(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn www_dir() -> PathBuf {
    let php_ok = Command::new("php")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let listed = Command::new("dpkg")
        .args(["-L", "simplesamlphp"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.ends_with("/simplesamlphp/www"))
                .map(PathBuf::from)
        });
    match listed {
        Some(www) if php_ok && www.join("saml2/idp/metadata.php").is_file() => www,
        _ => panic!(
            "SimpleSAMLphp is not available: install the Debian packages \
             `simplesamlphp php8.2-xml php8.2-mbstring` \
             (apt-get install -y simplesamlphp php8.2-xml php8.2-mbstring)"
        ),
    }
}

impl SimpleSamlPhp {
    /// Starts an IdP that knows the given SPs; returns once its metadata URL
    /// answers 200.
    pub fn start(sps: &[SspSp]) -> SimpleSamlPhp {
        let www = www_dir();
        let dir = tempfile::Builder::new()
            .prefix("samlhub-ssp-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path();
        for sub in [
            "config", "metadata", "cert", "tmp", "data", "log", "sessions",
        ] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        let idp_key = TestKey::generate("simplesamlphp-idp", 2048);
        idp_key.write_to(&root.join("cert"), "idp");

        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}/");
        let entity_id = format!("{base_url}saml2/idp/metadata.php");

        write(root, "config/config.php", &config_php(root, &base_url));
        write(root, "config/authsources.php", AUTHSOURCES_PHP);
        write(
            root,
            "metadata/saml20-idp-hosted.php",
            &idp_hosted_php(&entity_id),
        );
        write(root, "metadata/saml20-sp-remote.php", &sp_remote_php(sps));

        let stdout = std::fs::File::create(root.join("log/php-stdout.log")).expect("log file");
        let stderr = std::fs::File::create(root.join("log/php-stderr.log")).expect("log file");
        let mut cmd = Command::new("php");
        cmd.env("SIMPLESAMLPHP_CONFIG_DIR", root.join("config"))
            .env("PHP_CLI_SERVER_WORKERS", "2")
            .arg("-d")
            .arg("display_errors=stderr")
            // `set_sps` rewrites the SP list while it runs: recheck every time.
            .arg("-d")
            .arg("opcache.revalidate_freq=0")
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-t")
            .arg(&www)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let process = ProcessGroup::spawn("simplesamlphp (php -S)", cmd);
        let mut ssp = SimpleSamlPhp {
            process,
            dir,
            base_url,
            idp_key,
        };
        let ready = wait_for_http(&ssp.metadata_url(), Duration::from_secs(20));
        if let Err(e) = ready {
            let exited = ssp.process.try_exit_status();
            panic!(
                "SimpleSAMLphp did not start ({e}; php exit: {exited:?})\n{}",
                ssp.log_tail()
            );
        }
        ssp
    }

    /// Replaces the SPs the IdP knows, as an administrator edits
    /// `saml20-sp-remote.php` (e.g. to give it an SP's new certificate);
    /// the next request reads the new list, no restart. The file's mtime
    /// moves one second on per call, so the PHP opcache cannot miss the edit.
    pub fn set_sps(&self, sps: &[SspSp]) {
        let path = self.dir.path().join("metadata/saml20-sp-remote.php");
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        write(
            self.dir.path(),
            "metadata/saml20-sp-remote.php",
            &sp_remote_php(sps),
        );
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(before + Duration::from_secs(1)).unwrap();
    }

    /// `http://127.0.0.1:PORT/` (with the trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The IdP entityID, which is also its metadata URL.
    pub fn entity_id(&self) -> String {
        self.metadata_url()
    }

    pub fn metadata_url(&self) -> String {
        format!("{}saml2/idp/metadata.php", self.base_url)
    }

    /// SSO endpoint (HTTP-Redirect and HTTP-POST).
    pub fn sso_url(&self) -> String {
        format!("{}saml2/idp/SSOService.php", self.base_url)
    }

    /// SLO endpoint (HTTP-Redirect).
    pub fn slo_url(&self) -> String {
        format!("{}saml2/idp/SingleLogoutService.php", self.base_url)
    }

    /// IdP-initiated SSO towards `sp_entity_id`.
    pub fn idp_initiated_url(&self, sp_entity_id: &str, relay_state: Option<&str>) -> String {
        let mut u = url::Url::parse(&self.sso_url()).expect("sso url");
        u.query_pairs_mut().append_pair("spentityid", sp_entity_id);
        if let Some(rs) = relay_state {
            u.query_pairs_mut().append_pair("RelayState", rs);
        }
        u.to_string()
    }

    pub fn idp_cert_pem(&self) -> &str {
        &self.idp_key.cert_pem
    }

    /// DER base64 of the IdP certificate.
    pub fn idp_cert_b64(&self) -> &str {
        &self.idp_key.cert_b64
    }

    pub fn idp_key_pem(&self) -> &str {
        &self.idp_key.key_pem
    }

    /// The temp dir holding config, metadata, keys and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Fetches the IdP metadata XML.
    pub fn metadata_xml(&self) -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        agent
            .get(&self.metadata_url())
            .call()
            .unwrap_or_else(|e| panic!("GET {}: {e}\n{}", self.metadata_url(), self.log_tail()))
            .body_mut()
            .read_to_string()
            .expect("metadata body")
    }

    /// The last lines of the SimpleSAMLphp log and of php's stderr.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for f in ["log/simplesamlphp.log", "log/php-stderr.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(80);
            let _ = writeln!(out, "==> {f} <==");
            for l in lines.iter().skip(from) {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }
}

fn write(root: &Path, rel: &str, content: &str) {
    std::fs::write(root.join(rel), content).unwrap_or_else(|e| panic!("write {rel}: {e}"));
}

fn config_php(root: &Path, base_url: &str) -> String {
    let p = |sub: &str| php_str(&format!("{}/", root.join(sub).display()));
    format!(
        r#"<?php
$config = [
    'baseurlpath' => {base},
    'certdir' => {cert},
    'metadatadir' => {metadata},
    'metadata.sources' => [['type' => 'flatfile', 'directory' => {metadata}]],
    'tempdir' => {tmp},
    'datadir' => {data},
    'loggingdir' => {log},
    'secretsalt' => 'samlhub-test-salt-not-secret',
    'auth.adminpassword' => 'admin-test-password',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'technicalcontact_name' => 'Test',
    'technicalcontact_email' => 'test@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.processname' => 'simplesamlphp',
    'trusted.url.domains' => null,
    'store.type' => 'phpsession',
    'session.duration' => 8 * 60 * 60,
    'session.cookie.name' => 'SSPSessionID',
    'session.cookie.path' => '/',
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => 'SSPPHPSESSID',
    'session.phpsession.savepath' => {sessions},
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SSPAuthToken',
    'language.default' => 'en',
    'theme.use' => 'default',
];
"#,
        base = php_str(base_url),
        cert = p("cert"),
        metadata = p("metadata"),
        tmp = p("tmp"),
        data = p("data"),
        log = p("log"),
        sessions = php_str(&root.join("sessions").display().to_string()),
    )
}

const AUTHSOURCES_PHP: &str = r#"<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'alice:alicepass' => [
            'uid' => ['alice'],
            'mail' => ['alice@example.org'],
            'displayName' => ['Alice Example'],
            'groups' => ['ha-admins', 'users'],
        ],
        'bob:bobpass' => [
            'uid' => ['bob'],
            'mail' => ['bob@example.org'],
            'displayName' => ['Bob Example'],
            'groups' => ['users'],
        ],
        'carol:carolpass' => [
            'uid' => ['carol'],
            'mail' => ['carol@example.org'],
            'displayName' => ['Carol Example'],
        ],
    ],
];
"#;

fn idp_hosted_php(entity_id: &str) -> String {
    format!(
        r#"<?php
$metadata[{id}] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
];
"#,
        id = php_str(entity_id)
    )
}

fn sp_remote_php(sps: &[SspSp]) -> String {
    let mut s = String::from("<?php\n");
    for sp in sps {
        let _ = writeln!(s, "$metadata[{}] = [", php_str(&sp.entity_id));
        let _ = writeln!(
            s,
            "    'AssertionConsumerService' => [['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => {}, 'index' => 0]],",
            php_str(&sp.acs_url)
        );
        s.push_str(
            "    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',\n",
        );
        s.push_str("    'simplesaml.nameidattribute' => 'uid',\n");
        s.push_str("    'simplesaml.attributes' => true,\n");
        let _ = writeln!(
            s,
            "    'saml20.sign.response' => {},",
            php_bool(sp.sign_response)
        );
        let _ = writeln!(
            s,
            "    'saml20.sign.assertion' => {},",
            php_bool(sp.sign_assertion)
        );
        let _ = writeln!(
            s,
            "    'validate.authnrequest' => {},",
            php_bool(sp.validate_authnrequest)
        );
        let _ = writeln!(
            s,
            "    'assertion.encryption' => {},",
            php_bool(sp.encrypt_assertion)
        );
        if let Some(cert) = &sp.sp_cert_b64 {
            let _ = writeln!(s, "    'certData' => {},", php_str(cert));
        }
        if let Some(slo) = &sp.slo_url {
            let _ = writeln!(
                s,
                "    'SingleLogoutService' => [['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'Location' => {slo}], ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => {slo}]],",
                slo = php_str(slo)
            );
            s.push_str("    'sign.logout' => true,\n    'validate.logout' => true,\n");
        }
        if !sp.keys.is_empty() {
            s.push_str("    'keys' => [\n");
            for k in &sp.keys {
                let _ = writeln!(
                    s,
                    "        ['type' => 'X509Certificate', 'signing' => {}, 'encryption' => {}, 'X509Certificate' => {}],",
                    php_bool(k.signing),
                    php_bool(k.encryption),
                    php_str(&k.cert_b64)
                );
            }
            s.push_str("    ],\n");
        }
        s.push_str("];\n");
    }
    s
}
