//! One IdP out of a generated federation aggregate
//! (`samlhub::testing::aggregate`, a few hundred realistic entities), through
//! `config::trust::trust_from_xml` as start-up and the refresh call it: the
//! named entity is the one read, a signed aggregate is verified as a whole
//! (a change in any other entity refuses it), and a file over the metadata
//! size limit is refused with an error that names the limit. The large
//! figures are in `benches/metadata_aggregate.rs`.

use samlhub::config::trust::{trust_from_xml, MetadataSigner};
use samlhub::saml::dsig::TrustedKey;
use samlhub::saml::metadata::BINDING_REDIRECT;
use samlhub::testing::aggregate::{entity_id, Aggregate};
use samlhub::testing::idp::cert_der;
use samlhub::testing::pki::TestKey;
use samlhub::xml::Limits;
use std::path::PathBuf;

const ENTITIES: usize = 300;

fn keys() -> (TestKey, TestKey) {
    (
        TestKey::generate("aggregate-entity", 2048),
        TestKey::generate("aggregate-federation", 2048),
    )
}

fn pinned(key: &TestKey) -> MetadataSigner {
    let der = cert_der(key);
    MetadataSigner {
        path: PathBuf::from("federation.pem"),
        keys: vec![TrustedKey::from_cert_der(&der).unwrap()],
        certs: vec![der],
    }
}

fn problems(
    r: Result<samlhub::config::trust::Trust, Vec<samlhub::config::trust::Problem>>,
) -> String {
    match r {
        Ok(t) => panic!("accepted {}", t.metadata.entity_id),
        Err(p) => p
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[test]
fn the_named_entity_is_read_from_a_large_aggregate() {
    let (entity, _) = keys();
    let xml = Aggregate {
        entities: ENTITIES,
        entity_key: &entity,
        signer: None,
    }
    .xml();
    for n in [0, 137, ENTITIES - 1] {
        let want = entity_id(n);
        let t = trust_from_xml(xml.as_bytes(), Some(&want), None, false, None).unwrap();
        assert_eq!(t.metadata.entity_id, want);
        assert_eq!(
            t.metadata.sso_for(BINDING_REDIRECT),
            Some(
                format!("https://idp{n:05}.campus.example.org/idp/profile/SAML2/Redirect/SSO")
                    .as_str()
            ),
            "the endpoints are the named entity's, not a neighbour's"
        );
        assert_eq!(t.metadata.signing_certs, vec![cert_der(&entity)]);
        assert_eq!(t.metadata.cache_duration, Some(time::Duration::hours(6)));
    }
    let missing = problems(trust_from_xml(
        xml.as_bytes(),
        Some("https://idp.elsewhere.test/"),
        None,
        false,
        None,
    ));
    assert!(missing.contains("is not in this metadata"), "{missing}");
    let unnamed = problems(trust_from_xml(xml.as_bytes(), None, None, false, None));
    assert!(
        unnamed.contains(&format!("metadata holds {ENTITIES} IdPs")),
        "{unnamed}"
    );
}

#[test]
fn a_signed_aggregate_is_verified_as_a_whole() {
    let (entity, fed) = keys();
    let xml = Aggregate {
        entities: ENTITIES,
        entity_key: &entity,
        signer: Some(&fed),
    }
    .xml();
    let want = entity_id(42);
    let signer = pinned(&fed);
    let t = trust_from_xml(xml.as_bytes(), Some(&want), Some(&signer), false, None).unwrap();
    assert_eq!(t.metadata.entity_id, want);

    // One changed character in an entity far from the selected one.
    let from = "Example University number 250<";
    assert!(xml.contains(from));
    let tampered = xml.replacen(from, "Example University number 251<", 1);
    let refused = problems(trust_from_xml(
        tampered.as_bytes(),
        Some(&want),
        Some(&signer),
        false,
        None,
    ));
    assert!(refused.contains("metadata signature refused"), "{refused}");

    // Signed, but by a key that is not the pinned one.
    let other = pinned(&entity);
    let refused = problems(trust_from_xml(
        xml.as_bytes(),
        Some(&want),
        Some(&other),
        false,
        None,
    ));
    assert!(refused.contains("metadata signature refused"), "{refused}");
}

#[test]
fn metadata_over_the_size_limit_is_refused_by_name() {
    let (entity, _) = keys();
    let xml = Aggregate {
        entities: 3,
        entity_key: &entity,
        signer: None,
    }
    .xml();
    let limit = Limits::METADATA.max_bytes;
    assert_eq!(limit, 64 * 1024 * 1024);
    // Padded with trailing white space (allowed after the root) to the
    // limit exactly: accepted. One byte more: refused before parsing.
    let mut at_limit = xml.into_bytes();
    at_limit.resize(limit, b'\n');
    let want = entity_id(1);
    let t = trust_from_xml(&at_limit, Some(&want), None, false, None).unwrap();
    assert_eq!(t.metadata.entity_id, want);
    at_limit.push(b'\n');
    let refused = problems(trust_from_xml(&at_limit, Some(&want), None, false, None));
    assert!(
        refused.contains(&format!("{} bytes, over the {limit}-byte limit", limit + 1)),
        "{refused}"
    );
}
