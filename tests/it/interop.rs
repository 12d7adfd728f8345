//! Interop rules of the response pipeline, found by running other SAML
//! libraries' fixtures through `inspect`: each rule on a response signed by
//! a test IdP and validated in-process, with the refusal beside the
//! acceptance (docs/security.md, "What an assertion says").

use samlhub::saml::dsig::TrustedKey;
use samlhub::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use samlhub::saml::response::{
    fmt_time, validate, Accepted, Expect, IdpTrust, InResponseTo, ResponseError,
};
use samlhub::saml::sign::SignOptions;
use samlhub::testing::idp::{sign, Attr, Signing, Spec, TestIdp};
use time::OffsetDateTime;

const SP: &str = "https://sp.interop.test/saml/metadata";
const ACS: &str = "https://sp.interop.test/saml/acs";
const REQ: &str = "_req-interop";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Validates `spec`, both levels signed, after `edit` on the XML text (before
/// signing), with `lenient_ids` as the IdP's `allow_non_ncname_ids`.
fn run(
    spec: &Spec,
    edit: impl Fn(String) -> String,
    lenient_ids: bool,
) -> Result<Accepted, ResponseError> {
    let idp = TestIdp::new("interop");
    let xml = edit(spec.to_xml());
    let signed = sign(&xml, spec, Signing::Both, &idp.key, &SignOptions::default());
    check(&signed, lenient_ids)
}

/// Validates `xml` as it is.
fn check(xml: &str, lenient_ids: bool) -> Result<Accepted, ResponseError> {
    let idp = TestIdp::new("interop");
    let keys = vec![TrustedKey::from_cert_der(&idp.cert_der()).unwrap()];
    let map = AttributeMap::new(Profile::Generic, &AttributeOverrides::default());
    let trust = IdpTrust {
        id: "interop",
        entity_id: &idp.entity_id,
        keys: &keys,
        allow_sha1: false,
        allow_cbc: false,
        allow_rsa1_5: false,
        clock_skew: time::Duration::minutes(1),
        attributes: &map,
        allow_non_ncname_ids: lenient_ids,
    };
    let expect = Expect {
        sp_entity_id: Some(SP),
        acs_url: Some(ACS),
        in_response_to: InResponseTo::Request(REQ),
        now: now(),
        decryption_keys: &[],
    };
    validate(xml.as_bytes(), &trust, &expect)
}

fn spec() -> Spec {
    Spec::valid(&TestIdp::new("interop"), SP, ACS, Some(REQ), now())
}

fn same(s: String) -> String {
    s
}

#[test]
fn sp_name_qualifier_must_be_ours_when_present() {
    let with = |q: &'static str| {
        move |x: String| {
            x.replacen(
                "<saml:NameID ",
                &format!("<saml:NameID SPNameQualifier=\"{q}\" "),
                1,
            )
        }
    };
    let ok = run(&spec(), with(SP), false).unwrap();
    assert_eq!(ok.identity.subject, "alice");
    let e = run(&spec(), with("https://other-sp.example/"), false).unwrap_err();
    assert!(matches!(e, ResponseError::SpNameQualifier { .. }), "{e}");
    assert!(e.to_string().contains("SAML Core §2.2.2"), "{e}");
    assert!(run(&spec(), same, false).is_ok());
}

#[test]
fn an_attribute_twice_in_one_statement_is_refused() {
    let mut s = spec();
    s.attributes
        .push(Attr::new("groups", &["ha-admins-by-merge"]));
    let e = run(&s, same, false).unwrap_err();
    assert_eq!(e, ResponseError::DuplicateAttribute("groups".into()));
    let ok = run(&spec(), same, false).unwrap();
    assert_eq!(ok.identity.groups, ["ha-admins", "users"]);
}

#[test]
fn name_id_and_values_are_trimmed_and_a_blank_name_id_refused() {
    let mut s = spec();
    s.name_id = "\n  alice \t".into();
    s.attributes = vec![
        Attr::new("mail", &["  alice@example.org\n"]),
        Attr::new("groups", &[" users ", "   ", "two words"]),
    ];
    let ok = run(&s, same, false).unwrap();
    assert_eq!(ok.identity.subject, "alice");
    assert_eq!(ok.identity.name_id.as_deref(), Some("alice"));
    assert_eq!(ok.identity.email.as_deref(), Some("alice@example.org"));
    assert_eq!(ok.identity.groups, ["users", "two words"]);

    let mut blank = spec();
    blank.name_id = " \n ".into();
    assert_eq!(
        run(&blank, same, false).unwrap_err(),
        ResponseError::EmptyNameId
    );
}

#[test]
fn zero_offsets_are_utc_and_other_offsets_stay_refused() {
    let noa = fmt_time(spec().not_on_or_after);
    // Every NotOnOrAfter (Conditions and SubjectConfirmationData) written
    // with `zone` in place of Z.
    let with_zone = |zone: &str| {
        let written = format!("NotOnOrAfter=\"{}\"", noa.replace('Z', zone));
        run(
            &spec(),
            |x| x.replace(&format!("NotOnOrAfter=\"{noa}\""), &written),
            false,
        )
    };
    for zero in ["+00:00", "-00:00"] {
        let ok = with_zone(zero).unwrap_or_else(|e| panic!("{zero}: {e}"));
        assert!(ok.replay_until > now());
    }
    for other in ["+01:00", "-05:00", ""] {
        let e = with_zone(other).unwrap_err();
        assert!(matches!(e, ResponseError::BadTime { .. }), "{other}: {e}");
    }
}

#[test]
fn non_ncname_ids_only_with_the_opt_in() {
    let mut s = spec();
    s.response_id = "4f1c0a9e-response".into();
    s.assertion_id = "7a2b-assertion".into();
    let e = run(&s, same, false).unwrap_err();
    assert!(e.to_string().contains("not an NCName"), "{e}");
    let ok = run(&s, same, true).unwrap();
    assert_eq!(ok.assertion_id, "7a2b-assertion");
    assert!(ok.signed_response && ok.signed_assertion);
    // Uniqueness is unchanged.
    let mut twice = spec();
    twice.response_id = "1same".into();
    twice.assertion_id = "1same".into();
    let e = check(&twice.to_xml(), true).unwrap_err();
    assert!(
        e.to_string().contains("appears on more than one element"),
        "{e}"
    );
}

#[test]
fn saml1_messages_name_their_namespace() {
    let p = "urn:oasis:names:tc:SAML:1.0:protocol";
    let a = "urn:oasis:names:tc:SAML:1.0:assertion";
    let saml1 = format!(
        "<samlp:Response xmlns:samlp=\"{p}\" xmlns:saml=\"{a}\" ResponseID=\"_r1\" MajorVersion=\"1\" MinorVersion=\"1\" IssueInstant=\"2027-01-15T08:00:00Z\">\
         <samlp:Status><samlp:StatusCode Value=\"samlp:Success\"/></samlp:Status>\
         <saml:Assertion AssertionID=\"_a1\" MajorVersion=\"1\" MinorVersion=\"1\" Issuer=\"https://idp.interop.test/\" IssueInstant=\"2027-01-15T08:00:00Z\"/></samlp:Response>"
    );
    let e = check(&saml1, false).unwrap_err();
    assert_eq!(
        e,
        ResponseError::Saml1("urn:oasis:names:tc:SAML:1.0:protocol")
    );
    assert!(e.to_string().contains(p), "{e}");
    // A SAML 2.0 Response carrying a SAML 1.x Assertion.
    let x = spec().to_xml();
    let at = x.find("<saml:Assertion").unwrap();
    let end = x.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mixed = format!(
        "{}<s1:Assertion xmlns:s1=\"{a}\" AssertionID=\"_x\"/>{}",
        &x[..at],
        &x[end..]
    );
    assert_eq!(
        check(&mixed, false).unwrap_err(),
        ResponseError::Saml1(a_static())
    );
    // A SAML 2.0 Response is not taken for one.
    assert!(!matches!(
        check(&x, false).unwrap_err(),
        ResponseError::Saml1(_)
    ));
}

fn a_static() -> &'static str {
    "urn:oasis:names:tc:SAML:1.0:assertion"
}
