//! Shibboleth SP 3 (Debian `libapache2-mod-shib`: Apache's `mod_shib` and
//! the `shibd` daemon) as a comparison peer for the benchmarks: installed
//! with apt when missing, configured in a temp dir of its own, bound to
//! 127.0.0.1 on a free port, and stopped (both process groups) on drop.
//!
//! What the configuration sets up: one SP (`<base>/shibboleth`) with its
//! handler at `/Shibboleth.sso`, an RSA key pair made for the run, one IdP
//! from a metadata file, shibd's default in-memory storage, replay cache
//! and session cache, and a location `/secure` that needs a session.
//! Unsolicited responses are accepted, as Shibboleth does by default; the
//! RelayState of one names the page to land on. Attributes with the basic
//! name format that a SimpleSAMLphp IdP sends are mapped, so shibd decodes
//! them as it would in use.
//!
//! Everything here answers `Err` with the reason instead of panicking, so a
//! benchmark can print why it skips Shibboleth and go on.

use super::redis::on_path;
use super::{free_port, wait_for_http, ProcessGroup};
use crate::testing::load::procstat::Proc;
use crate::testing::pki::TestKey;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The Debian packages of Apache and Shibboleth SP.
const PACKAGES: &[&str] = &["apache2", "libapache2-mod-shib"];
/// Where Debian puts Apache's modules.
const MODULES: &str = "/usr/lib/apache2/modules";
/// The support files of Debian's own configuration that shibd needs too.
const SUPPORT: &[&str] = &["protocols.xml", "security-policy.xml"];
/// The attributes (basic name format) that the generated IdP responses
/// carry, mapped under their own names.
const ATTRIBUTES: &[&str] = &[
    "uid",
    "mail",
    "displayName",
    "givenName",
    "sn",
    "groups",
    "eduPersonPrincipalName",
];

/// Installs Apache and Shibboleth SP with apt unless `shibd` and `mod_shib`
/// are there already. `Err` says why they are not.
pub fn ensure_installed() -> Result<(), String> {
    if installed() {
        return Ok(());
    }
    if !on_path("apt-get") {
        return Err("shibd or mod_shib is missing and there is no apt-get".into());
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .map_err(|e| format!("apt-get: {e}"))
    };
    eprintln!("installing {} with apt-get", PACKAGES.join(" "));
    let _ = apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(PACKAGES);
    let status = apt(&args)?;
    if !status.success() || !installed() {
        return Err(format!("apt-get install {} failed", PACKAGES.join(" ")));
    }
    Ok(())
}

/// Whether `shibd`, Apache, `mod_shib` and the support files are there.
pub fn installed() -> bool {
    Path::new("/usr/sbin/shibd").is_file()
        && Path::new("/usr/sbin/apache2").is_file()
        && Path::new(MODULES).join("mod_shib.so").is_file()
        && SUPPORT
            .iter()
            .all(|f| Path::new("/etc/shibboleth").join(f).is_file())
}

/// A running Shibboleth SP: Apache with `mod_shib` and `shibd`.
pub struct Shibboleth {
    dir: tempfile::TempDir,
    port: u16,
    apache: Option<ProcessGroup>,
    shibd: Option<ProcessGroup>,
}

impl Shibboleth {
    /// Writes the configuration for an SP trusting the IdP whose metadata is
    /// `idp_metadata` (its entityID `idp_entity_id`), then starts shibd and
    /// Apache and waits until the handler answers. Installs the packages
    /// first when missing.
    pub fn start(idp_entity_id: &str, idp_metadata: &str) -> Result<Shibboleth, String> {
        ensure_installed()?;
        let dir = tempfile::Builder::new()
            .prefix("samlhub-shib-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut sp = Shibboleth {
            dir,
            port: free_port(),
            apache: None,
            shibd: None,
        };
        sp.write_config(idp_entity_id, idp_metadata)
            .map_err(|e| format!("writing the Shibboleth config: {e}"))?;
        sp.launch()?;
        Ok(sp)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// The SP's entityID (the Audience its responses must name).
    pub fn entity_id(&self) -> String {
        format!("{}/shibboleth", self.base_url())
    }
    /// The HTTP-POST assertion consumer service (Destination and Recipient).
    pub fn acs_url(&self) -> String {
        format!("{}/Shibboleth.sso/SAML2/POST", self.base_url())
    }
    /// The protected page a login lands on (the RelayState to post). It
    /// reads [`Self::PAGE_TEXT`].
    pub fn target_url(&self) -> String {
        format!("{}/secure/index.html", self.base_url())
    }
    /// The text of the protected page.
    pub const PAGE_TEXT: &'static str = "signed in";
    /// The name of the session cookie a login sets starts with this.
    pub const SESSION_COOKIE: &'static str = "_shibsession_";

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_config(&self, idp_entity_id: &str, idp_metadata: &str) -> std::io::Result<()> {
        let d = self.dir.path();
        for sub in ["run", "log", "cache", "www/secure"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        // Apache's workers may run as another user when started as root:
        // they must reach the socket and the pages.
        for sub in ["", "run", "www", "www/secure"] {
            set_mode(&d.join(sub), 0o755)?;
        }
        std::fs::write(
            d.join("www/secure/index.html"),
            format!("{}\n", Self::PAGE_TEXT),
        )?;
        std::fs::write(d.join("idp.xml"), idp_metadata)?;
        let key = TestKey::generate("shibboleth-sp", 2048);
        let (key_file, _) = key.write_to(d, "sp");
        // Only shibd reads the key; Apache's workers need the pages alone.
        set_mode(&key_file, 0o600)?;
        for f in SUPPORT {
            std::fs::copy(Path::new("/etc/shibboleth").join(f), d.join(f))?;
        }
        std::fs::write(d.join("attribute-map.xml"), attribute_map())?;
        std::fs::write(d.join("attribute-policy.xml"), ATTRIBUTE_POLICY)?;
        for (name, level) in [("shibd", "INFO"), ("native", "WARN")] {
            std::fs::write(d.join(format!("{name}.logger")), logger(d, name, level))?;
        }
        std::fs::write(d.join("shibboleth2.xml"), self.shibboleth2(idp_entity_id))?;
        std::fs::write(d.join("httpd.conf"), self.httpd_conf())?;
        Ok(())
    }

    fn shibboleth2(&self, idp_entity_id: &str) -> String {
        let d = self.dir.path().display();
        let idp = crate::xml::escape(idp_entity_id);
        let eid = crate::xml::escape(&self.entity_id());
        format!(
            r#"<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
  <OutOfProcess logger="{d}/shibd.logger"/>
  <InProcess logger="{d}/native.logger"/>
  <UnixListener address="{d}/run/shibd.sock"/>
  <ApplicationDefaults entityID="{eid}" REMOTE_USER="persistent-id uid">
    <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false"
              handlerURL="/Shibboleth.sso" handlerSSL="false" cookieProps="http" redirectLimit="exact">
      <SSO entityID="{idp}">SAML2</SSO>
      <Logout>Local</Logout>
      <Handler type="Status" Location="/Status" acl="127.0.0.1"/>
    </Sessions>
    <Errors supportContact="root@localhost"/>
    <MetadataProvider type="XML" validate="true" path="{d}/idp.xml"/>
    <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="{d}/attribute-map.xml"/>
    <AttributeFilter type="XML" validate="true" path="{d}/attribute-policy.xml"/>
    <CredentialResolver type="File" key="{d}/sp.key" certificate="{d}/sp.crt"/>
  </ApplicationDefaults>
  <SecurityPolicyProvider type="XML" validate="true" path="{d}/security-policy.xml"/>
  <ProtocolProvider type="XML" validate="true" reloadChanges="false" path="{d}/protocols.xml"/>
</SPConfig>
"#
        )
    }

    /// Apache with the event MPM and a fixed pool (two worker processes of
    /// 32 threads, none started or stopped under load, so the CPU of the
    /// processes seen at start is all the CPU), as root as `www-data`.
    fn httpd_conf(&self) -> String {
        let d = self.dir.path().display();
        let user = if is_root() {
            "User www-data\nGroup www-data\n"
        } else {
            ""
        };
        format!(
            "ServerRoot {d}\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
PidFile {d}/run/httpd.pid\nDefaultRuntimeDir {d}/run\nMutex file:{d}/run default\n\
ErrorLog {d}/log/error.log\nLogLevel warn\n{user}\
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n\
LoadModule authn_core_module {MODULES}/mod_authn_core.so\n\
LoadModule authz_core_module {MODULES}/mod_authz_core.so\n\
LoadModule mod_shib {MODULES}/mod_shib.so\n\
StartServers 2\nServerLimit 2\nThreadsPerChild 32\nMaxRequestWorkers 64\n\
MinSpareThreads 1\nMaxSpareThreads 64\nMaxConnectionsPerChild 0\n\
ShibConfig {d}/shibboleth2.xml\nDocumentRoot {d}/www\n\
<Location /Shibboleth.sso>\n  SetHandler shib\n</Location>\n\
<Location /secure>\n  AuthType shibboleth\n  ShibRequestSetting requireSession 1\n  Require shib-session\n</Location>\n",
            port = self.port,
        )
    }

    /// The environment that points shibd and mod_shib at the temp dir.
    fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env("SHIBSP_CONFIG", d.join("shibboleth2.xml"))
            .env("SHIBSP_CFGDIR", d)
            .env("SHIBSP_LOGDIR", d.join("log"))
            .env("SHIBSP_RUNDIR", d.join("run"))
            .env("SHIBSP_CACHEDIR", d.join("cache"))
            .stdin(Stdio::null());
    }

    fn output_to(&self, cmd: &mut Command, name: &str) -> Result<(), String> {
        let log = std::fs::File::create(self.path(&format!("log/{name}.out")))
            .map_err(|e| format!("{name} log: {e}"))?;
        let err = log.try_clone().map_err(|e| format!("{name} log: {e}"))?;
        cmd.stdout(log).stderr(err);
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let conf = self.path("shibboleth2.xml");
        let mut shibd = Command::new("/usr/sbin/shibd");
        // -F: foreground, -f: start even if a stale socket is left.
        shibd
            .arg("-F")
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .args(["-w", "30"]);
        self.env(&mut shibd);
        self.output_to(&mut shibd, "shibd")?;
        self.shibd = Some(spawn("shibd", shibd)?);
        // Apache's workers connect to shibd's socket as they start.
        let sock = self.path("run/shibd.sock");
        let mut waited = Duration::ZERO;
        while !sock.exists() {
            if waited > Duration::from_secs(30) || self.exited("shibd") {
                return Err(format!("shibd did not start; log:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        }
        let mut apache = Command::new("/usr/sbin/apache2");
        apache
            .arg("-f")
            .arg(self.path("httpd.conf"))
            .arg("-DFOREGROUND");
        self.env(&mut apache);
        self.output_to(&mut apache, "apache")?;
        self.apache = Some(spawn("apache2", apache)?);
        let status = format!("{}/Shibboleth.sso/Status", self.base_url());
        wait_for_http(&status, Duration::from_secs(20))
            .map_err(|e| format!("Shibboleth SP did not start ({e}); log:\n{}", self.log()))
    }

    fn exited(&mut self, which: &str) -> bool {
        let p = if which == "shibd" {
            self.shibd.as_mut()
        } else {
            self.apache.as_mut()
        };
        p.is_none_or(|p| p.try_exit_status().is_some())
    }

    /// The SP's processes, for CPU figures: shibd and every Apache process
    /// (the parent and its workers, which share its process group).
    pub fn processes(&self) -> Vec<Proc> {
        let mut out = Vec::new();
        if let Some(p) = &self.shibd {
            out.push(Proc::new("shibd", p.pid()));
        }
        if let Some(p) = &self.apache {
            out.extend(
                group_members(p.pid())
                    .into_iter()
                    .map(|pid| Proc::new("apache2", pid)),
            );
        }
        out
    }

    /// What shibd and Apache logged (shibd's log, Apache's error log, and
    /// what either printed).
    pub fn log(&self) -> String {
        [
            "log/shibd.out",
            "log/apache.out",
            "log/error.log",
            "log/shibd.log",
        ]
        .iter()
        .map(|f| std::fs::read_to_string(self.path(f)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// Stops Apache, then shibd. Also done on drop.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.apache.take() {
            p.stop();
        }
        if let Some(mut p) = self.shibd.take() {
            p.stop();
        }
    }
}

impl Drop for Shibboleth {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(name: &str, cmd: Command) -> Result<ProcessGroup, String> {
    // ProcessGroup::spawn panics when the program cannot start; this is
    // checked first so the caller gets a reason instead.
    let program = PathBuf::from(cmd.get_program());
    if !program.is_file() {
        return Err(format!("{} is not installed", program.display()));
    }
    Ok(ProcessGroup::spawn(name, cmd))
}

fn is_root() -> bool {
    // proc(5): the real, effective, saved and filesystem UIDs.
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The processes whose process group is `pgid` (proc(5): field 5 of
/// `/proc/PID/stat`).
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            // After the command name: state, ppid, pgrp.
            rest.split_whitespace().nth(2) == Some(&pgid.to_string())
        })
        .collect()
}

/// A log4shib configuration writing to `<dir>/log/<name>.log` at `level`.
fn logger(dir: &Path, name: &str, level: &str) -> String {
    format!(
        "log4j.rootCategory={level}, f\n\
log4j.appender.f=org.apache.log4j.FileAppender\n\
log4j.appender.f.fileName={}/log/{name}.log\n\
log4j.appender.f.layout=org.apache.log4j.PatternLayout\n\
log4j.appender.f.layout.ConversionPattern=%d %p %c %x: %m%n\n",
        dir.display()
    )
}

/// The persistent NameID and the [`ATTRIBUTES`] under their own names.
fn attribute_map() -> String {
    let basic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
    let attrs: String = ATTRIBUTES
        .iter()
        .map(|a| format!("  <Attribute name=\"{a}\" nameFormat=\"{basic}\" id=\"{a}\"/>\n"))
        .collect();
    format!(
        "<Attributes xmlns=\"urn:mace:shibboleth:2.0:attribute-map\">\n\
  <Attribute name=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\" id=\"persistent-id\">\n\
    <AttributeDecoder xsi:type=\"NameIDAttributeDecoder\" formatter=\"$NameQualifier!$SPNameQualifier!$Name\" defaultQualifiers=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>\n\
  </Attribute>\n{attrs}</Attributes>\n"
    )
}

/// Every mapped attribute is let through (the IdP is the test's own).
const ATTRIBUTE_POLICY: &str = r#"<AttributeFilterPolicyGroup xmlns="urn:mace:shibboleth:2.0:afp" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <AttributeFilterPolicy>
    <PolicyRequirementRule xsi:type="ANY"/>
    <AttributeRule attributeID="*" permitAny="true"/>
  </AttributeFilterPolicy>
</AttributeFilterPolicyGroup>
"#;
