//! The Single Logout corpus: every variant, in table order.

use super::*;

pub(super) fn corpus() -> Vec<Case> {
    use Dir::{Request as Q, Response as R};
    use Expect::{Accepted as OK, Refused as No};
    vec![
        case(
            "SLO-CTRL-request-redirect",
            "valid LogoutRequest by HTTP-Redirect",
            Q,
            OK,
            "control",
            |c, m| valid_redirect(c, &m, Q),
            false,
        ),
        case(
            "SLO-CTRL-request-post",
            "valid LogoutRequest by HTTP-POST, enveloped signature",
            Q,
            OK,
            "control",
            |c, m| post_signed(Q, &m, &c.idp),
            false,
        ),
        case(
            "SLO-CTRL-response-redirect",
            "valid LogoutResponse by HTTP-Redirect",
            R,
            OK,
            "control",
            |c, m| valid_redirect(c, &m, R),
            false,
        ),
        case(
            "SLO-CTRL-response-post",
            "valid LogoutResponse by HTTP-POST",
            R,
            OK,
            "control",
            |c, m| post_signed(R, &m, &c.idp),
            false,
        ),
        // --- LogoutRequest ---
        case(
            "SLO-REQ-unsigned-redirect",
            "LogoutRequest by Redirect without SigAlg and Signature",
            Q,
            No(SIG, NOT_SIGNED),
            QUERY_SIG,
            |_, m| redirect_unsigned(Q, &m.xml(Q)),
            false,
        ),
        case(
            "SLO-REQ-unsigned-post",
            "LogoutRequest by POST without a Signature",
            Q,
            No(SIG, NOT_SIGNED),
            CORE_SIG,
            |_, m| post(Q, m.xml(Q)),
            false,
        ),
        case(
            "SLO-REQ-wrong-signer-redirect",
            "query signed by a key the IdP's metadata does not hold",
            Q,
            No(SIG, BAD_SIG),
            QUERY_SIG,
            |c, m| redirect(Q, &m.xml(Q), SigAlg::RsaSha256, &c.attacker),
            false,
        ),
        case(
            "SLO-REQ-wrong-signer-post",
            "enveloped signature by a key the IdP's metadata does not hold",
            Q,
            No(SIG, BAD_SIG),
            CORE_SIG,
            |c, m| post_signed(Q, &m, &c.attacker),
            false,
        ),
        case(
            "SLO-REQ-sha1-downgrade",
            "query signed by the IdP's key with RSA-SHA1",
            Q,
            No(SIG, "SHA-1 is not allowed"),
            "SAML Bindings §3.4.4.1; XMLDSig 1.1 §6.4.2 (SHA-1)",
            |c, m| redirect(Q, &m.xml(Q), SigAlg::RsaSha1, &c.idp),
            false,
        ),
        case(
            "SLO-REQ-param-order",
            "signature computed over SigAlg before SAMLRequest",
            Q,
            No(SIG, BAD_SIG),
            QUERY_SIG,
            |c, m| {
                let pairs = [
                    ("SAMLRequest", deflate_b64(&m.xml(Q))),
                    ("SigAlg", enc(SigAlg::RsaSha256.uri())),
                ];
                query(
                    &pairs,
                    |p| format!("{}={}&{}={}", p[1].0, p[1].1, p[0].0, p[0].1),
                    SigAlg::RsaSha256,
                    &c.idp,
                )
            },
            false,
        ),
        case(
            "SLO-REQ-extra-relaystate",
            "RelayState added to a query signed without it",
            Q,
            No(SIG, BAD_SIG),
            QUERY_SIG,
            |c, m| {
                let pairs = [
                    ("SAMLRequest", deflate_b64(&m.xml(Q))),
                    ("RelayState", "evil".into()),
                    ("SigAlg", enc(SigAlg::RsaSha256.uri())),
                ];
                query(
                    &pairs,
                    |p| format!("{}={}&{}={}", p[0].0, p[0].1, p[2].0, p[2].1),
                    SigAlg::RsaSha256,
                    &c.idp,
                )
            },
            false,
        ),
        case(
            "SLO-REQ-swapped-message",
            "SAMLRequest replaced (NameID bob) under the IdP's query signature",
            Q,
            No(SIG, BAD_SIG),
            QUERY_SIG,
            |c, m| {
                let mut bob = m.clone();
                bob.name_id = "bob".into();
                let pairs = [
                    ("SAMLRequest", deflate_b64(&bob.xml(Q))),
                    ("SigAlg", enc(SigAlg::RsaSha256.uri())),
                ];
                let good = deflate_b64(&m.xml(Q));
                query(
                    &pairs,
                    move |p| format!("SAMLRequest={good}&{}={}", p[1].0, p[1].1),
                    SigAlg::RsaSha256,
                    &c.idp,
                )
            },
            false,
        ),
        case(
            "SLO-REQ-wrapped-post",
            "unsigned LogoutRequest wrapping the IdP's signed one in Extensions",
            Q,
            No(SIG, NOT_SIGNED),
            "XSW (Somorovsky et al. 2012); SAML Core §5.4.2",
            |c, m| {
                let mut inner = m.clone();
                inner.name_id = "nobody".into();
                let signed =
                    sign_enveloped(&inner.xml(Q), &inner.id, &c.idp, &SignOptions::default())
                        .unwrap();
                let mut outer = m.clone();
                outer.id = random_id();
                let x = outer.xml(Q).replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer><samlp:Extensions>{signed}</samlp:Extensions>"),
                    1,
                );
                post(Q, x)
            },
            false,
        ),
        case(
            "SLO-REQ-moved-signature-post",
            "the IdP's Signature moved onto an unsigned LogoutRequest for alice",
            Q,
            No(SIG, "Reference URI"),
            "XSW (Somorovsky et al. 2012); SAML Core §5.4.2",
            |c, m| {
                let mut inner = m.clone();
                inner.name_id = "nobody".into();
                let signed =
                    sign_enveloped(&inner.xml(Q), &inner.id, &c.idp, &SignOptions::default())
                        .unwrap();
                let sig = &signed[signed.find("<ds:Signature").unwrap()
                    ..signed.find("</ds:Signature>").unwrap() + 15];
                let mut outer = m.clone();
                outer.id = random_id();
                post(
                    Q,
                    outer
                        .xml(Q)
                        .replacen("</saml:Issuer>", &format!("</saml:Issuer>{sig}"), 1),
                )
            },
            false,
        ),
        case(
            "SLO-REQ-wrong-destination",
            "Destination is another SP's SLO URL",
            Q,
            No("destination", "is not our SLO URL"),
            "SAML Bindings §3.4.5.2",
            req!(m, {
                m.destination = Some("https://other-sp.example/saml/slo".into())
            }),
            false,
        ),
        case(
            "SLO-REQ-no-destination",
            "signed LogoutRequest without Destination",
            Q,
            No("malformed", "has no Destination"),
            "SAML Bindings §3.4.5.2",
            req!(m, { m.destination = None }),
            false,
        ),
        case(
            "SLO-REQ-unknown-issuer",
            "Issuer is no configured IdP",
            Q,
            No("issuer", "no configured IdP has the entityID"),
            "SAML Profiles §4.4.4.1",
            req!(m, { m.issuer = "https://evil.example/".into() }),
            false,
        ),
        case(
            "SLO-REQ-stale",
            "IssueInstant 10 minutes ago",
            Q,
            No("time", "old, over the"),
            "SAML Core §3.2.1",
            req!(m, { m.issue_instant -= Duration::minutes(10) }),
            false,
        ),
        case(
            "SLO-REQ-future",
            "IssueInstant 10 minutes ahead",
            Q,
            No("time", "in the future"),
            "SAML Core §3.2.1",
            req!(m, { m.issue_instant += Duration::minutes(10) }),
            false,
        ),
        case(
            "SLO-REQ-expired",
            "NotOnOrAfter 2 minutes ago",
            Q,
            No("time", "NotOnOrAfter"),
            "SAML Core §3.7.1",
            req!(m, {
                m.not_on_or_after = Some(m.issue_instant - Duration::minutes(2))
            }),
            false,
        ),
        case(
            "SLO-REQ-replayed",
            "the same valid LogoutRequest a second time",
            Q,
            No("replay", "already processed"),
            "SAML Profiles §4.4.4.1; Core §3.2.1 (ID uniqueness)",
            |c, m| valid_redirect(c, &m, Q),
            true,
        ),
        case(
            "SLO-REQ-encrypted-id",
            "EncryptedID instead of NameID",
            Q,
            No("malformed", "EncryptedID"),
            "SAML Core §3.7.1",
            |c, m| {
                let x = m.xml(Q);
                let start = x.find("<saml:NameID").unwrap();
                let end = x.find("</saml:NameID>").unwrap() + 14;
                let x = format!("{}<saml:EncryptedID/>{}", &x[..start], &x[end..]);
                redirect(Q, &x, SigAlg::RsaSha256, &c.idp)
            },
            false,
        ),
        // --- LogoutResponse ---
        case(
            "SLO-RESP-unsigned-redirect",
            "LogoutResponse by Redirect without a signature",
            R,
            No(SIG, NOT_SIGNED),
            QUERY_SIG,
            |_, m| redirect_unsigned(R, &m.xml(R)),
            false,
        ),
        case(
            "SLO-RESP-unsigned-post",
            "LogoutResponse by POST without a Signature",
            R,
            No(SIG, NOT_SIGNED),
            "SAML Core §5.4; Profiles §4.4.4.2",
            |_, m| post(R, m.xml(R)),
            false,
        ),
        case(
            "SLO-RESP-wrong-signer",
            "LogoutResponse signed by a key the IdP's metadata does not hold",
            R,
            No(SIG, BAD_SIG),
            QUERY_SIG,
            |c, m| redirect(R, &m.xml(R), SigAlg::RsaSha256, &c.attacker),
            false,
        ),
        case(
            "SLO-RESP-sha1",
            "LogoutResponse query signed with RSA-SHA1",
            R,
            No(SIG, "SHA-1 is not allowed"),
            QUERY_SIG,
            |c, m| redirect(R, &m.xml(R), SigAlg::RsaSha1, &c.idp),
            false,
        ),
        case(
            "SLO-RESP-forged-status",
            "signed Responder status rewritten to Success after signing (POST)",
            R,
            No(SIG, "digest of the signed element does not match"),
            CORE_SIG,
            |c, mut m| {
                m.status = STATUS_RESPONDER.into();
                let signed =
                    sign_enveloped(&m.xml(R), &m.id, &c.idp, &SignOptions::default()).unwrap();
                post(R, signed.replace(STATUS_RESPONDER, STATUS_SUCCESS))
            },
            false,
        ),
        case(
            "SLO-RESP-error-status",
            "the IdP answers Responder (logout failed there)",
            R,
            No("idp_status", "status:Responder"),
            "SAML Core §3.2.2.2, §3.7.3.2",
            resp!(m, { m.status = STATUS_RESPONDER.into() }),
            false,
        ),
        case(
            "SLO-RESP-unknown-in-response-to",
            "InResponseTo names no request of ours",
            R,
            No("in_response_to", "is not a logout request of ours"),
            "SAML Core §3.2.2; Profiles §4.4.4.2",
            resp!(m, { m.in_response_to = random_id() }),
            false,
        ),
        case(
            "SLO-RESP-reused",
            "the same valid LogoutResponse a second time",
            R,
            No("in_response_to", "is not a logout request of ours"),
            "SAML Profiles §4.4.4.2 (one answer per request)",
            |c, m| valid_redirect(c, &m, R),
            true,
        ),
        case(
            "SLO-RESP-wrong-destination",
            "Destination is another SP's SLO URL",
            R,
            No("destination", "is not our SLO URL"),
            "SAML Bindings §3.4.5.2",
            resp!(m, {
                m.destination = Some("https://other-sp.example/saml/slo".into())
            }),
            false,
        ),
        case(
            "SLO-RESP-wrong-issuer",
            "Issuer is not the IdP the request went to",
            R,
            No("issuer", "is not the IdP's entityID"),
            "SAML Profiles §4.4.4.2",
            resp!(m, { m.issuer = "https://evil.example/".into() }),
            false,
        ),
        case(
            "SLO-RESP-stale",
            "IssueInstant 10 minutes ago",
            R,
            No("time", "old, over the"),
            "SAML Core §3.2.1",
            resp!(m, { m.issue_instant -= Duration::minutes(10) }),
            false,
        ),
    ]
}
