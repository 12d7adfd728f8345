//! The signed-metadata attack corpus, a sibling of `tamper` (same table
//! style: a stable id, one line on what the variant does, the expected
//! outcome, the spec it cites). Each variant is a document derived from a
//! validly signed federation aggregate (an EntitiesDescriptor holding the
//! IdP among other entities) or a signed EntityDescriptor, and goes through
//! `config::trust::trust_from_xml` with the federation signer pinned: the
//! one function start-up (`metadata_signing_cert`) and the background
//! refresh both use. A refusal must carry the expected reason; an
//! acceptance must yield the IdP's real certificate and nothing injected.
//! The refresh test (`metadata_refresh`) shows the same refusals on the
//! running hub, where the last good copy stays in force.

use crate::peers::pki::TestKey;
use samlhub::config::trust::trust_from_xml;
use samlhub::config::MetadataSigner;
use samlhub::crypto::{DigestAlg, SigAlg};
use samlhub::saml::dsig::TrustedKey;
use samlhub::saml::sign::{sign_enveloped, SignOptions};
use samlhub::testing::idp::{cert_der, TestIdp};
use std::path::PathBuf;

const DSIG: &str = "XML-DSig §3.2 (core validation); SAML Metadata §3.1 (signed metadata)";
const WRAP: &str = "XML Signature Wrapping (Somorovsky et al., 2012); SAML Metadata §3.1";

/// What must happen to a variant.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Refused with a reason containing this text.
    Refused(&'static str),
    /// Accepted, with the IdP's real certificate.
    Accepted,
}

struct Case {
    id: &'static str,
    what: &'static str,
    expect: Expect,
    reference: &'static str,
    build: fn(&Fed) -> String,
}

/// The federation: its signer, an impostor key, the IdP and its aggregate.
struct Fed {
    signer: TestKey,
    evil: TestKey,
    idp: TestIdp,
}

const AGG_ID: &str = "_fed-aggregate";
const ED_ID: &str = "_idp-entity";

impl Fed {
    fn new() -> Fed {
        Fed {
            signer: TestKey::generate("federation-signer", 2048),
            evil: TestKey::generate("federation-impostor", 2048),
            idp: TestIdp::new("federated"),
        }
    }

    /// The IdP's EntityDescriptor with an ID.
    fn entity(&self) -> String {
        self.idp.metadata_xml().trim_end().replacen(
            "<md:EntityDescriptor ",
            &format!("<md:EntityDescriptor ID=\"{ED_ID}\" "),
            1,
        )
    }

    /// A neighbour entity (another IdP of the federation), keyed by `key`.
    fn other(n: usize, key: &TestKey) -> String {
        let mut o = TestIdp::new("federated");
        o.key = key.clone();
        o.entity_id = format!("https://idp{n}.neighbour.test/");
        o.sso_url = format!("https://idp{n}.neighbour.test/sso");
        o.metadata_xml().trim_end().to_owned()
    }

    /// The unsigned aggregate: two neighbours, the IdP, one more.
    fn aggregate(&self) -> String {
        self.aggregate_of(&[
            Self::other(1, &self.signer),
            Self::other(2, &self.signer),
            self.entity(),
            Self::other(3, &self.signer),
        ])
    }

    fn aggregate_of(&self, entities: &[String]) -> String {
        format!(
            "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"{AGG_ID}\" Name=\"urn:example:federation\" cacheDuration=\"PT6H\">{}</md:EntitiesDescriptor>",
            entities.concat()
        )
    }

    fn sign(&self, xml: &str, id: &str, key: &TestKey, opts: &SignOptions) -> String {
        sign_enveloped(xml, id, &key.pkey(), opts).unwrap()
    }

    /// The aggregate, signed by the federation.
    fn signed(&self) -> String {
        self.sign(
            &self.aggregate(),
            AGG_ID,
            &self.signer,
            &SignOptions::default(),
        )
    }

    fn pinned(&self) -> MetadataSigner {
        let der = cert_der(&self.signer);
        MetadataSigner {
            path: PathBuf::from("federation.pem"),
            keys: vec![TrustedKey::from_cert_der(&der).unwrap()],
            certs: vec![der],
        }
    }
}

/// The first `<ds:Signature …>…</ds:Signature>` in `xml`.
fn signature_of(xml: &str) -> String {
    let s = xml.find("<ds:Signature").unwrap();
    let e = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    xml[s..e].to_owned()
}

/// `xml` with `extra` inserted right after the root's start tag.
fn after_root_start(xml: &str, extra: &str) -> String {
    let at = xml.find('>').unwrap() + 1;
    format!("{}{extra}{}", &xml[..at], &xml[at..])
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        Case {
            id: "MD-control-signed-aggregate",
            what: "aggregate signed by the pinned federation signer; the IdP is picked by entity_id",
            expect: Accepted,
            reference: "control",
            build: |f| f.signed(),
        },
        Case {
            id: "MD-control-comment-only",
            what: "a comment added inside the signed content: exc-c14n without comments drops it, nothing read changes",
            expect: Accepted,
            reference: "Exclusive XML Canonicalization §3 (comments omitted); XML-DSig §4.3.3.2",
            build: |f| f.signed().replacen("<md:NameIDFormat>", "<!-- note --><md:NameIDFormat>", 1),
        },
        Case {
            id: "MD-unsigned-when-pinned",
            what: "the aggregate without any signature while a signer is pinned",
            expect: Refused("carries no Signature"),
            reference: "SAML Metadata §3.1: metadata from an untrusted channel must be signed",
            build: |f| f.aggregate(),
        },
        Case {
            id: "MD-wrap-signed-entity-under-unsigned-root",
            what: "the IdP's EntityDescriptor, validly signed on its own, moved under an unsigned EntitiesDescriptor that also holds an impostor",
            expect: Refused("carries no Signature"),
            reference: WRAP,
            build: |f| {
                let ed = f.sign(&f.entity(), ED_ID, &f.signer, &SignOptions::default());
                f.aggregate_of(&[Fed::other(9, &f.evil), ed])
            },
        },
        Case {
            id: "MD-inject-second-entity",
            what: "a second EntityDescriptor for the same entityID, with the impostor's key, injected first into the signed aggregate",
            expect: Refused("digest of the signed element does not match"),
            reference: WRAP,
            build: |f| {
                let mut evil = f.idp.clone();
                evil.key = f.evil.clone();
                let signed = f.signed();
                let first = signed.find("<md:EntityDescriptor").unwrap();
                format!("{}{}{}", &signed[..first], evil.metadata_xml().trim_end(), &signed[first..])
            },
        },
        Case {
            id: "MD-signature-of-child-moved-to-root",
            what: "the signature over the IdP's own EntityDescriptor placed on the unsigned aggregate root",
            expect: Refused("does not point at the signed element's ID"),
            reference: DSIG,
            build: |f| {
                let ed = f.sign(&f.entity(), ED_ID, &f.signer, &SignOptions::default());
                let sig = signature_of(&ed);
                let bare = ed.replacen(&sig, "", 1);
                let agg = f.aggregate_of(&[Fed::other(1, &f.signer), bare]);
                after_root_start(&agg, &sig)
            },
        },
        Case {
            id: "MD-reference-whole-document",
            what: "the root's Reference URI changed to \"\" (the whole document) instead of the root's ID",
            expect: Refused("does not point at the signed element's ID"),
            reference: "SAML Core §5.4.2 (Reference to the signed element's ID); SAML Metadata §3.1",
            build: |f| f.signed().replacen(&format!("URI=\"#{AGG_ID}\""), "URI=\"\"", 1),
        },
        Case {
            id: "MD-wrong-signer",
            what: "the aggregate signed by a key other than the pinned one",
            expect: Refused("does not verify"),
            reference: DSIG,
            build: |f| f.sign(&f.aggregate(), AGG_ID, &f.evil, &SignOptions::default()),
        },
        Case {
            id: "MD-keydescriptor-edited",
            what: "the IdP's signing certificate in the signed aggregate replaced by the impostor's",
            expect: Refused("digest of the signed element does not match"),
            reference: DSIG,
            build: |f| f.signed().replacen(&f.idp.key.cert_b64, &f.evil.cert_b64, 1),
        },
        Case {
            id: "MD-whitespace-edited",
            what: "whitespace added between two signed elements",
            expect: Refused("digest of the signed element does not match"),
            reference: "XML-DSig §3.2.1 (reference validation); Exclusive XML Canonicalization §3",
            build: |f| f.signed().replacen("</md:KeyDescriptor>", "</md:KeyDescriptor>\n  ", 1),
        },
        Case {
            id: "MD-comment-hides-edit",
            what: "a comment inserted and the SSO Location changed next to it",
            expect: Refused("digest of the signed element does not match"),
            reference: DSIG,
            build: |f| {
                f.signed().replacen(
                    "Location=\"https://idp.federated.test/sso\"/>",
                    "Location=\"https://evil.test/sso\"/><!-- unchanged -->",
                    1,
                )
            },
        },
        Case {
            id: "MD-sha1",
            what: "the aggregate signed with RSA-SHA1 and a SHA-1 digest (allow_sha1 not set)",
            expect: Refused("SHA-1 is not allowed"),
            reference: "XML-DSig 1.1 §6.2/§6.4 (SHA-1 discouraged); design §3 rule 2",
            build: |f| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha1,
                    digest: DigestAlg::Sha1,
                    ..Default::default()
                };
                f.sign(&f.aggregate(), AGG_ID, &f.signer, &opts)
            },
        },
        Case {
            id: "MD-two-signatures",
            what: "a second, impostor-made Signature added beside the valid one on the root",
            expect: Refused("more than one Signature"),
            reference: "SAML Core §5.4.1; SAML Metadata §3.1",
            build: |f| {
                let evil = f.sign(&f.aggregate(), AGG_ID, &f.evil, &SignOptions::default());
                after_root_start(&f.signed(), &signature_of(&evil))
            },
        },
        Case {
            id: "MD-signed-entity-not-root-id",
            what: "a signed EntityDescriptor (root) whose Reference points at a nested element's ID",
            expect: Refused("does not point at the signed element's ID"),
            reference: "SAML Core §5.4.2; SAML Metadata §3.1",
            build: |f| {
                let ed = f.entity().replacen(
                    "<md:IDPSSODescriptor ",
                    "<md:IDPSSODescriptor ID=\"_role\" ",
                    1,
                );
                let role_signed = f.sign(&ed, "_role", &f.signer, &SignOptions::default());
                let sig = signature_of(&role_signed);
                after_root_start(&role_signed.replacen(&sig, "", 1), &sig)
            },
        },
    ]
}

#[test]
fn signed_metadata_corpus() {
    let f = Fed::new();
    let pinned = f.pinned();
    let mut failures = Vec::new();
    let mut refused = 0;
    for c in cases() {
        let xml = (c.build)(&f);
        let got = trust_from_xml(
            xml.as_bytes(),
            Some(&f.idp.entity_id),
            Some(&pinned),
            false,
            None,
        );
        match (c.expect, got) {
            (Expect::Accepted, Ok(t)) => {
                if t.metadata.signing_certs != [f.idp.cert_der()]
                    || t.metadata
                        .sso_for(samlhub::saml::metadata::BINDING_REDIRECT)
                        != Some(f.idp.sso_url.as_str())
                {
                    failures.push(format!("{}: accepted with other content", c.id));
                }
            }
            (Expect::Refused(why), Err(p)) => {
                refused += 1;
                if !p.iter().any(|m| m.to_string().contains(why)) {
                    failures.push(format!("{}: refused for {p:?}, expected '{why}'", c.id));
                }
            }
            (e, Ok(_)) => failures.push(format!("{}: accepted, expected {e:?}", c.id)),
            (e, Err(p)) => failures.push(format!("{}: refused ({p:?}), expected {e:?}", c.id)),
        }
        assert!(!c.what.is_empty() && !c.reference.is_empty());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused >= 8, "only {refused} refusals");
}

/// Without a pinned signer the same documents are read unsigned (that is
/// what `metadata_signing_cert` changes), so each refusal above is the
/// signer's doing, not a parse error.
#[test]
fn without_a_pin_the_corpus_documents_parse() {
    let f = Fed::new();
    for c in cases() {
        let xml = (c.build)(&f);
        if let Err(p) = trust_from_xml(xml.as_bytes(), Some(&f.idp.entity_id), None, false, None) {
            panic!("{}: {p:?}", c.id);
        }
    }
}

/// A federation feed of a few thousand entities, signed on the aggregate
/// root: the IdP is found by entity_id and the signature checked once.
#[test]
fn large_signed_aggregate() {
    let f = Fed::new();
    let mut entities: Vec<String> = (0..3000).map(|n| Fed::other(n, &f.signer)).collect();
    entities.insert(1700, f.entity());
    let xml = f.sign(
        &f.aggregate_of(&entities),
        AGG_ID,
        &f.signer,
        &SignOptions::default(),
    );
    let t = trust_from_xml(
        xml.as_bytes(),
        Some(&f.idp.entity_id),
        Some(&f.pinned()),
        false,
        None,
    )
    .unwrap();
    assert_eq!(t.metadata.entity_id, f.idp.entity_id);
    assert_eq!(t.metadata.signing_certs, [f.idp.cert_der()]);
    assert_eq!(t.metadata.cache_duration, Some(time::Duration::hours(6)));
    let e = trust_from_xml(
        xml.replacen("idp2999.neighbour", "idp2999.elsewhere", 1)
            .as_bytes(),
        Some(&f.idp.entity_id),
        Some(&f.pinned()),
        false,
        None,
    )
    .unwrap_err();
    assert!(e[0].to_string().contains("digest"), "{e:?}");
}

const TABLE_BEGIN: &str = "<!-- metadata-corpus:begin (generated from tests/it/tamper_metadata.rs; see metadata_corpus_table_matches_docs) -->";
const TABLE_END: &str = "<!-- metadata-corpus:end -->";

/// The Markdown table of every variant, as docs/security.md holds it.
fn corpus_table() -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut t = String::from("| id | what it does | expected | reference |\n|---|---|---|---|\n");
    for c in cases() {
        let expected = match c.expect {
            Expect::Refused(why) => format!("refused: {}", esc(why)),
            Expect::Accepted => "accepted, the IdP's own certificate and endpoint".to_owned(),
        };
        t.push_str(&format!(
            "| `{}` | {} | {expected} | {} |\n",
            c.id,
            esc(c.what),
            esc(c.reference)
        ));
    }
    t
}

/// docs/security.md holds exactly the generated table between the markers.
#[test]
fn metadata_corpus_table_matches_docs() {
    crate::tamper::assert_docs_block(
        TABLE_BEGIN,
        TABLE_END,
        &corpus_table(),
        "metadata-corpus-table.md",
    );
}
