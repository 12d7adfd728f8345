//! Oracles from Debian tools (owned by the peers harness): `xmlsec1` to
//! sign and verify XML-DSig, and `xmllint` to validate against the OASIS
//! SAML 2.0 schemas from `opensaml-schemas` / `xmltooling-schemas`, fully
//! offline through an XML catalog that maps the W3C schema URLs to files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `--id-attr:ID` registrations for every SAML element that carries an `ID`.
const ID_NODES: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
    "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
    "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
];

fn id_attr_args(extra_node: &str, cmd: &mut Command) {
    let mut nodes: Vec<&str> = ID_NODES.to_vec();
    if !extra_node.is_empty() && !nodes.contains(&extra_node) {
        nodes.insert(0, extra_node);
    }
    for n in nodes {
        cmd.arg("--id-attr:ID").arg(n);
    }
}

fn need_tool(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` not found: install the Debian package `{package}` (apt-get install -y {package})"
    );
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Verifies the first `ds:Signature` in document order (for a Response signed
/// at both levels that is the Response's) with the public key of `cert_pem`.
/// `id_attr_node` (e.g. `urn:oasis:names:tc:SAML:2.0:assertion:Assertion`) is
/// registered as an ID-carrying node in addition to all SAML 2.0 ones.
pub fn xmlsec1_verify(xml: &str, cert_pem: &str, id_attr_node: &str) -> Result<(), String> {
    xmlsec1_verify_impl(xml, cert_pem, id_attr_node, None)
}

/// Like [`xmlsec1_verify`], but verifies the `ds:Signature` selected by
/// `xpath` (xmlsec1 `--node-xpath`), e.g.
/// `//*[local-name()='Assertion']/*[local-name()='Signature']`.
pub fn xmlsec1_verify_xpath(xml: &str, cert_pem: &str, xpath: &str) -> Result<(), String> {
    xmlsec1_verify_impl(xml, cert_pem, "", Some(xpath))
}

fn xmlsec1_verify_impl(
    xml: &str,
    cert_pem: &str,
    id_attr_node: &str,
    xpath: Option<&str>,
) -> Result<(), String> {
    need_tool("xmlsec1", "xmlsec1");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let input = dir.path().join("in.xml");
    std::fs::write(&cert, cert_pem).expect("write cert");
    std::fs::write(&input, xml).expect("write xml");
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify");
    id_attr_args(id_attr_node, &mut cmd);
    if let Some(x) = xpath {
        cmd.arg("--node-xpath").arg(x);
    }
    cmd.arg("--pubkey-cert-pem").arg(&cert).arg(&input);
    let (ok, stdout, stderr) = run(&mut cmd);
    if ok {
        Ok(())
    } else {
        Err(format!("xmlsec1 --verify failed:\n{stdout}{stderr}"))
    }
}

/// Signs a template (one with an empty `ds:Signature` whose `ds:Reference URI`
/// names an element's `ID`) with `key_pem`; the certificate fills an empty
/// `ds:X509Certificate`. Panics with xmlsec1's output on failure.
pub fn xmlsec1_sign(template_xml: &str, key_pem: &str, cert_pem: &str) -> String {
    need_tool("xmlsec1", "xmlsec1");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let cert = dir.path().join("cert.pem");
    let input = dir.path().join("in.xml");
    let output = dir.path().join("out.xml");
    std::fs::write(&key, key_pem).expect("write key");
    std::fs::write(&cert, cert_pem).expect("write cert");
    std::fs::write(&input, template_xml).expect("write xml");
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--sign")
        .arg("--privkey-pem")
        .arg(format!("{},{}", key.display(), cert.display()));
    id_attr_args("", &mut cmd);
    cmd.arg("--output").arg(&output).arg(&input);
    let (ok, stdout, stderr) = run(&mut cmd);
    assert!(
        ok,
        "xmlsec1 --sign failed:\n{stdout}{stderr}\ntemplate:\n{template_xml}"
    );
    std::fs::read_to_string(&output).expect("read signed output")
}

struct Schemas {
    opensaml: PathBuf,
    catalog_xml: String,
    /// XML Encryption 1.1 (`xenc11:MGF` in an EncryptionMethod).
    xenc11: PathBuf,
}

fn package_file(package: &str, file_name: &str, fallback: &str) -> PathBuf {
    let listed = Command::new("dpkg")
        .args(["-L", package])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.ends_with(&format!("/{file_name}")))
                .map(PathBuf::from)
        });
    let path = listed.unwrap_or_else(|| PathBuf::from(fallback));
    assert!(
        path.is_file(),
        "{file_name} not found: install the Debian packages `opensaml-schemas xmltooling-schemas libxml2-utils`"
    );
    path
}

/// The catalog maps the absolute W3C `schemaLocation`s written in the OASIS
/// schemas (they are not local) to the copies in xmltooling-schemas.
fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| {
        let metadata = package_file(
            "opensaml-schemas",
            "saml-schema-metadata-2.0.xsd",
            "/usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd",
        );
        let dsig = package_file(
            "xmltooling-schemas",
            "xmldsig-core-schema.xsd",
            "/usr/share/xml/xmltooling/xmldsig-core-schema.xsd",
        );
        let xenc = package_file(
            "xmltooling-schemas",
            "xenc-schema.xsd",
            "/usr/share/xml/xmltooling/xenc-schema.xsd",
        );
        let xenc11 = package_file(
            "xmltooling-schemas",
            "xenc11-schema.xsd",
            "/usr/share/xml/xmltooling/xenc11-schema.xsd",
        );
        let xmlxsd = package_file(
            "xmltooling-schemas",
            "xml.xsd",
            "/usr/share/xml/xmltooling/xml.xsd",
        );
        let map: [(&str, &Path); 6] = [
            (
                "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd",
                &dsig,
            ),
            (
                "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd",
                &dsig,
            ),
            (
                "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd",
                &xenc,
            ),
            ("http://www.w3.org/TR/xmlenc-core/xenc-schema.xsd", &xenc),
            ("http://www.w3.org/2001/xml.xsd", &xmlxsd),
            ("http://www.w3.org/XML/1998/namespace", &xmlxsd),
        ];
        let mut cat = String::from(
            "<?xml version=\"1.0\"?>\n<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">\n",
        );
        for (from, to) in map {
            let to = format!("file://{}", to.display());
            cat.push_str(&format!("  <uri name=\"{from}\" uri=\"{to}\"/>\n"));
            cat.push_str(&format!("  <system systemId=\"{from}\" uri=\"{to}\"/>\n"));
        }
        cat.push_str("</catalog>\n");
        Schemas {
            opensaml: metadata.parent().expect("schema dir").to_path_buf(),
            catalog_xml: cat,
            xenc11,
        }
    })
}

/// Validates `xml` with `xmllint --noout --nonet --schema <opensaml>/<xsd_name>`
/// (e.g. `saml-schema-protocol-2.0.xsd`), offline. Any failure to load an
/// imported schema counts as an error, so nothing is silently skipped.
pub fn xmllint_validate(xml: &str, xsd_name: &str) -> Result<(), String> {
    need_tool("xmllint", "libxml2-utils");
    let s = schemas();
    let xsd = s.opensaml.join(xsd_name);
    assert!(xsd.is_file(), "no schema {}", xsd.display());
    xmllint_validate_with(xml, &xsd, xsd_name)
}

fn xmllint_validate_with(xml: &str, xsd: &Path, xsd_name: &str) -> Result<(), String> {
    let s = schemas();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("doc.xml");
    let catalog = dir.path().join("catalog.xml");
    std::fs::write(&input, xml).expect("write xml");
    std::fs::write(&catalog, &s.catalog_xml).expect("write catalog");
    let (ok, stdout, stderr) = run(Command::new("xmllint")
        .env("XML_CATALOG_FILES", &catalog)
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg(&input));
    let broken_import = ["Failed to locate", "failed to load", "network entity"]
        .iter()
        .any(|m| stderr.contains(m));
    if ok && !broken_import {
        Ok(())
    } else {
        Err(format!(
            "xmllint against {xsd_name} failed:\n{stdout}{stderr}"
        ))
    }
}

/// Validates SAML 2.0 metadata against `saml-schema-metadata-2.0.xsd`.
/// The strict wildcard in `md:EncryptionMethod` (xenc's
/// EncryptionMethodType) needs the declaration of any child it carries, so
/// XML Encryption 1.1 is loaded beside the metadata schema.
pub fn xmllint_validate_metadata(xml: &str) -> Result<(), String> {
    let s = schemas();
    let dir = tempfile::tempdir().expect("tempdir");
    let both = dir.path().join("metadata-and-xenc11.xsd");
    std::fs::write(
        &both,
        format!(
            "<?xml version=\"1.0\"?>\n<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n\
             <xs:import namespace=\"urn:oasis:names:tc:SAML:2.0:metadata\" schemaLocation=\"file://{}\"/>\n\
             <xs:import namespace=\"http://www.w3.org/2009/xmlenc11#\" schemaLocation=\"file://{}\"/>\n\
             </xs:schema>\n",
            s.opensaml.join("saml-schema-metadata-2.0.xsd").display(),
            s.xenc11.display()
        ),
    )
    .expect("write schema");
    xmllint_validate_with(
        xml,
        &both,
        "saml-schema-metadata-2.0.xsd with xenc11-schema.xsd",
    )
}

/// Validates a SAML 2.0 protocol message (AuthnRequest, Response,
/// LogoutRequest…) against `saml-schema-protocol-2.0.xsd`.
pub fn xmllint_validate_protocol(xml: &str) -> Result<(), String> {
    xmllint_validate(xml, "saml-schema-protocol-2.0.xsd")
}

/// Decrypts the first `xenc:EncryptedData` (e.g. inside a SAML
/// `EncryptedAssertion`) with `key_pem` and returns the whole document with
/// the plaintext in place.
pub fn xmlsec1_decrypt(xml: &str, key_pem: &str) -> Result<String, String> {
    need_tool("xmlsec1", "xmlsec1");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let input = dir.path().join("in.xml");
    let output = dir.path().join("out.xml");
    std::fs::write(&key, key_pem).expect("write key");
    std::fs::write(&input, xml).expect("write xml");
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--decrypt").arg("--privkey-pem").arg(&key);
    id_attr_args("", &mut cmd);
    cmd.arg("--output").arg(&output).arg(&input);
    let (ok, stdout, stderr) = run(&mut cmd);
    if ok {
        Ok(std::fs::read_to_string(&output).expect("read decrypted output"))
    } else {
        Err(format!("xmlsec1 --decrypt failed:\n{stdout}{stderr}"))
    }
}
