//! The one place where errors become HTTP. Each layer has its own error
//! enum; [`AppError`] wraps them, and [`AppError::class`] is one exhaustive
//! nested match that gives every error its status, its stable short code and
//! how it is shown: the HTML page for browsers, RFC 6749 §5.2 JSON for the
//! token endpoint, RFC 6750 §3 for bearer refusals, one uniform JSON per
//! class for the HA hook. A rate-limit refusal is 429 with `Retry-After`
//! (RFC 6585 §4), as a page or as JSON. Every answer carries a correlation id
//! (`X-Samlhub-Reference`, and on the page); the precise reason goes to the
//! log at warn. Messages never carry assertions, keys or cookies.

use super::pages;
use crate::ha::login::{HaError, RedeemError};
use crate::oidc::error::OAuthError;
use crate::saml::logout::LogoutError;
use crate::saml::response::ResponseError;
use crate::saml::slo::SloError;
use crate::saml::sp::LoginError;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError as ActixResponseError};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself could not be read (form, query, parameters).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("no session")]
    NoSession,
    /// A state-changing request from another site (Fetch Metadata / Origin).
    #[error("cross-site request refused: {0}")]
    CrossSite(String),
    #[error(transparent)]
    Oidc(#[from] OAuthError),
    #[error(transparent)]
    Ha(#[from] HaError),
    #[error(transparent)]
    Redeem(#[from] RedeemError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
    /// The client address wrote too much anonymous state lately.
    #[error(transparent)]
    RateLimited(#[from] crate::ratelimit::RetryAfter),
    /// A request body over the endpoint's limit (in bytes).
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    /// Single Logout, either direction.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// `/setup` for someone who is not an administrator, or a setup link
    /// that is wrong or already used.
    #[error("setup: {0}")]
    SetupRefused(crate::setup::Refusal),
}

impl From<crate::session::SessionError> for AppError {
    fn from(e: crate::session::SessionError) -> Self {
        match e {
            crate::session::SessionError::Store(e) => Self::Store(e),
            crate::session::SessionError::Rng(e) => Self::Internal(e.to_string()),
        }
    }
}

/// How an error is shown.
enum Shape {
    /// The HTML page with a title and a hint for the person.
    Page(&'static str, String),
    /// RFC 6749 §5.2 JSON with a description; `basic` adds the Basic
    /// challenge (§5.2 `invalid_client`).
    OAuth { description: String, basic: bool },
    /// RFC 6750 §3.1: `WWW-Authenticate: Bearer error="invalid_token"`.
    Bearer,
    /// `{"error": code}` only.
    Bare,
}

/// Status, code and shape of one error.
struct Class {
    status: StatusCode,
    code: &'static str,
    shape: Shape,
}

const UNAVAILABLE_TEXT: &str = "Sign-in is unavailable because the session store cannot be reached. Nothing was accepted. Try again in a minute.";

fn page(status: StatusCode, code: &'static str, title: &'static str, text: String) -> Class {
    Class {
        status,
        code,
        shape: Shape::Page(title, text),
    }
}

fn store_down() -> Class {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "Temporarily unavailable",
        UNAVAILABLE_TEXT.into(),
    )
}

fn internal() -> Class {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Something went wrong",
        "An internal error occurred.".into(),
    )
}

impl AppError {
    /// A stable short code, shown on the page and in `X-Samlhub-Error`.
    pub fn code(&self) -> &'static str {
        self.class().code
    }

    fn class(&self) -> Class {
        use StatusCode as S;
        match self {
            Self::BadRequest(_) => page(
                S::BAD_REQUEST,
                "bad_request",
                "Bad request",
                "The request was not understood.".into(),
            ),
            Self::Login(e) => login_class(e),
            Self::NoSession => page(
                S::UNAUTHORIZED,
                "no_session",
                "Not signed in",
                "You are not signed in.".into(),
            ),
            Self::CrossSite(_) => page(
                S::FORBIDDEN,
                "cross_site",
                "Request refused",
                "This request came from another site, so nothing was changed. Use the button on this site's own page.".into(),
            ),
            Self::Oidc(e) => oauth_class(e),
            Self::Ha(e) => ha_class(e),
            Self::Redeem(e) => match e {
                RedeemError::Refused(_) => Class {
                    status: S::FORBIDDEN,
                    code: "refused",
                    shape: Shape::Bare,
                },
                RedeemError::Unavailable(_) => Class {
                    status: S::SERVICE_UNAVAILABLE,
                    code: "unavailable",
                    shape: Shape::Bare,
                },
                RedeemError::Internal(_) => Class {
                    status: S::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    shape: Shape::Bare,
                },
            },
            Self::Store(_) => store_down(),
            Self::Internal(_) => internal(),
            Self::RateLimited(r) => page(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                format!(
                    "Too many sign-in requests came from your network. Try again in {} seconds.",
                    r.secs
                ),
            ),
            Self::TooLarge(_) => page(
                S::PAYLOAD_TOO_LARGE,
                "too_large",
                "Request too large",
                "The request was larger than this page accepts.".into(),
            ),
            Self::Slo(e) => slo_class(e),
            Self::SetupRefused(r) => match r {
                crate::setup::Refusal::NotAdmin => page(
                    S::FORBIDDEN,
                    "setup_refused",
                    "Setup is for administrators",
                    "Open the setup link printed when samlhub started, or sign in as a member of one of the configured admin_groups.".into(),
                ),
                crate::setup::Refusal::BadToken => page(
                    S::FORBIDDEN,
                    "setup_token",
                    "Setup link not valid",
                    "This setup link is wrong, was already used, or was replaced by a restart. Use the link from the latest start, or sign in as a member of admin_groups.".into(),
                ),
            },
        }
    }
}

fn login_class(e: &LoginError) -> Class {
    use StatusCode as S;
    let choose = || {
        (
            "Choose a sign-in provider",
            "That identity provider is not configured here. Start from the front page.".to_owned(),
        )
    };
    match e {
        LoginError::UnknownIdp(_) => {
            let (t, x) = choose();
            page(S::NOT_FOUND, "unknown_idp", t, x)
        }
        LoginError::ChooseIdp(_) => {
            let (t, x) = choose();
            page(S::BAD_REQUEST, "unknown_idp", t, x)
        }
        LoginError::BadReturnTo(_) => page(
            S::BAD_REQUEST,
            "bad_return_to",
            "Bad request",
            "The page to return to must be a page of this site.".into(),
        ),
        LoginError::NoResponse => page(
            S::BAD_REQUEST,
            "bad_request",
            "Bad request",
            "The request was not understood.".into(),
        ),
        LoginError::RelayState(_) => page(
            S::FORBIDDEN,
            "unknown_relay_state",
            "Sign-in expired",
            "This sign-in was not started here, or it expired. Start again from the front page."
                .into(),
        ),
        LoginError::Response(r) => {
            let code = response_code(r);
            let status = if code == ResponseCode::Malformed {
                S::BAD_REQUEST
            } else {
                S::FORBIDDEN
            };
            page(status, code.as_str(), "Sign-in refused", r.hint())
        }
        LoginError::Replay { .. } | LoginError::AlreadyAnswered(_) => page(
            S::FORBIDDEN,
            "replay",
            "Sign-in already used",
            "This sign-in answer was already used. Start a new sign-in.".into(),
        ),
        LoginError::OtherBrowser(_) => page(
            S::FORBIDDEN,
            "other_browser",
            "Sign-in not accepted",
            "This sign-in was started in another browser, so it was not accepted and nothing changed here. If you meant to sign in, start again from this browser's front page.".into(),
        ),
        LoginError::ContinueExpired => page(
            S::FORBIDDEN,
            "unknown_relay_state",
            "Sign-in expired",
            "This sign-in took too long or was already completed. Start again from the front page."
                .into(),
        ),
        LoginError::UnsolicitedOff(idp) => page(
            S::FORBIDDEN,
            "unsolicited_off",
            "Sign-in not started here",
            format!("The identity provider '{idp}' started this sign-in itself (for example from an app tile or a test button), and sign-ins started by the identity provider are turned off for it. Start from this site's front page instead. An administrator can turn them on with allow_unsolicited = true in that [[idp]] section of the configuration."),
        ),
        LoginError::Store(_) => store_down(),
        LoginError::Internal(_) => internal(),
        // 503, not 502: no upstream answered badly during this request; the
        // hub itself cannot serve this IdP until its refresh brings metadata
        // that is valid again (SAML Metadata §2.3.1), and then it recovers
        // on its own, which is what 503 says (RFC 9110 §15.6.4).
        LoginError::MetadataExpired {
            display_name,
            valid_until,
            ..
        } => page(
            S::SERVICE_UNAVAILABLE,
            "idp_metadata_expired",
            "Sign-in temporarily unavailable",
            format!("Signing in with {display_name} is stopped: the trust information (SAML metadata) published by this identity provider expired at {valid_until}, and no fresh copy could be fetched yet. Try again later; if this persists, tell whoever runs this site."),
        ),
    }
}

fn slo_class(e: &SloError) -> Class {
    use StatusCode as S;
    let refused = |code| {
        page(
            S::FORBIDDEN,
            code,
            "Sign-out message refused",
            "The sign-out message from the identity provider could not be accepted. Nothing was changed by it.".into(),
        )
    };
    match e {
        SloError::Message(m) => match m {
            LogoutError::Binding(_)
            | LogoutError::Base64
            | LogoutError::TooLarge(_)
            | LogoutError::Xml(_)
            | LogoutError::Root { .. }
            | LogoutError::Version(_)
            | LogoutError::Missing(..)
            | LogoutError::BadTime { .. }
            | LogoutError::Identifier(_) => page(
                S::BAD_REQUEST,
                "malformed",
                "Bad request",
                "The sign-out message was not understood.".into(),
            ),
            LogoutError::Signature(..) | LogoutError::Unsigned(_) => refused("signature"),
            LogoutError::Issuer { .. } | LogoutError::UnknownIssuer(_) => refused("issuer"),
            LogoutError::Destination { .. } => refused("destination"),
            LogoutError::Future { .. } | LogoutError::Stale { .. } | LogoutError::Expired(_) => {
                refused("time")
            }
            LogoutError::InResponseTo(_) => refused("in_response_to"),
            LogoutError::Status(_) => page(
                S::FORBIDDEN,
                "idp_status",
                "Sign-out incomplete",
                "You are signed out of this service, but the identity provider reported that it could not sign you out there. Close the browser to be sure.".into(),
            ),
            LogoutError::Replay(_) => refused("replay"),
            LogoutError::Build(_) => internal(),
        },
        SloError::NoEndpoint(_) | SloError::UnknownIdp(_) => page(
            S::FORBIDDEN,
            "no_slo",
            "Sign-out not possible",
            "The identity provider of this sign-out is not set up for single logout here.".into(),
        ),
        SloError::Store(_) => store_down(),
        SloError::Internal(_) => internal(),
    }
}

fn oauth_class(e: &OAuthError) -> Class {
    use StatusCode as S;
    let oauth = |status, description: &String, basic| Class {
        status,
        code: e.code(),
        shape: Shape::OAuth {
            description: description.clone(),
            basic,
        },
    };
    match e {
        OAuthError::AuthorizePage(why) => page(
            S::BAD_REQUEST,
            "invalid_request",
            "Sign-in request refused",
            format!("The application's sign-in request cannot be honoured: {why}."),
        ),
        OAuthError::InvalidRequest(d)
        | OAuthError::InvalidGrant(d)
        | OAuthError::UnsupportedGrantType(d) => oauth(S::BAD_REQUEST, d, false),
        OAuthError::InvalidClient { description, basic } => {
            oauth(S::UNAUTHORIZED, description, *basic)
        }
        OAuthError::InvalidToken(_) => Class {
            status: S::UNAUTHORIZED,
            code: "invalid_token",
            shape: Shape::Bearer,
        },
        OAuthError::Store(_) => store_down(),
        OAuthError::AccessDenied(why) => page(
            S::FORBIDDEN,
            "access_denied",
            "No access to this application",
            format!("You are signed in, but {why}. Ask whoever runs this service to add you to the right group."),
        ),
        OAuthError::Internal(_) => internal(),
    }
}

fn ha_class(e: &HaError) -> Class {
    use StatusCode as S;
    let refused = "No access to Home Assistant";
    match e {
        HaError::Refused(p) => page(
            S::FORBIDDEN,
            "ha_refused",
            refused,
            format!("You are signed in, but {p}. Ask whoever runs Home Assistant to add you to the right group."),
        ),
        HaError::IdpNotAllowed(_) => page(
            S::FORBIDDEN,
            "ha_refused",
            refused,
            "Accounts from this identity provider may not sign in to this Home Assistant.".into(),
        ),
        HaError::UsernameTaken(u) => page(
            S::FORBIDDEN,
            "ha_username_taken",
            "Username already taken",
            format!("The Home Assistant username '{u}' already belongs to someone else signed in through another account. Ask whoever runs Home Assistant to resolve it."),
        ),
        HaError::Store(_) => store_down(),
        HaError::Internal(_) => internal(),
        HaError::UnstableSubject(why) => page(
            S::FORBIDDEN,
            "unstable_subject",
            "Sign-in cannot be used here",
            format!("You are signed in, but {why}."),
        ),
    }
}

/// The `X-Samlhub-Error` codes of refused responses (SAML Core §3.2.2 and
/// Profiles §4.1.4 checks, grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseCode {
    Malformed,
    IdpStatus,
    Issuer,
    AssertionCount,
    Decrypt,
    EncryptionRefused,
    Signature,
    Destination,
    InResponseTo,
    Incomplete,
    Recipient,
    Time,
    Audience,
    Mapping,
}

impl ResponseCode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::IdpStatus => "idp_status",
            Self::Issuer => "issuer",
            Self::AssertionCount => "assertion_count",
            Self::Decrypt => "decrypt",
            Self::EncryptionRefused => "encryption_refused",
            Self::Signature => "signature",
            Self::Destination => "destination",
            Self::InResponseTo => "in_response_to",
            Self::Incomplete => "incomplete",
            Self::Recipient => "recipient",
            Self::Time => "time",
            Self::Audience => "audience",
            Self::Mapping => "mapping",
        }
    }
}

fn response_code(e: &ResponseError) -> ResponseCode {
    use ResponseCode as C;
    use ResponseError as E;
    match e {
        E::Base64
        | E::TooLarge(_)
        | E::Xml(_)
        | E::NotResponse(_)
        | E::Version(..)
        | E::BadTime { .. }
        | E::Saml1(_)
        | E::EmptyNameId
        | E::DuplicateAttribute(_) => C::Malformed,
        E::Status { .. } => C::IdpStatus,
        E::Issuer { .. } => C::Issuer,
        E::AssertionCount(_) | E::AssertionPlacement => C::AssertionCount,
        E::Decrypt => C::Decrypt,
        E::Encryption(_) => C::EncryptionRefused,
        E::Unsigned | E::Signature { .. } => C::Signature,
        E::Destination { .. } | E::DestinationMissing => C::Destination,
        E::InResponseTo { .. } => C::InResponseTo,
        E::Missing(_) | E::NoBearer => C::Incomplete,
        E::Recipient { .. } => C::Recipient,
        E::NotYetValid { .. } | E::Expired { .. } | E::SessionEnded(_) => C::Time,
        E::Audience { .. } | E::SpNameQualifier { .. } => C::Audience,
        E::Mapping(_) => C::Mapping,
    }
}

/// The common headers of every error answer.
fn builder(status: StatusCode, corr: &str) -> HttpResponseBuilder {
    let mut r = HttpResponse::build(status);
    r.insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Samlhub-Reference", corr.to_owned()));
    r
}

fn log(err: &AppError, code: &str, corr: &str) {
    // Error texts quote what the client sent (an IdP id, a client id, a
    // redirect URI): the whole message is escaped for the log.
    let text = err.to_string();
    let e = crate::logsafe::EscLine(&text);
    match err {
        // Refusals by the rate limit come in floods; logging each would
        // turn the attack into log growth.
        AppError::NoSession | AppError::RateLimited(_) => log::debug!("[{corr}] {e}"),
        AppError::Internal(_)
        | AppError::Store(_)
        | AppError::Oidc(OAuthError::Store(_) | OAuthError::Internal(_))
        | AppError::Login(LoginError::Store(_) | LoginError::Internal(_))
        | AppError::Ha(HaError::Store(_) | HaError::Internal(_))
        | AppError::Redeem(RedeemError::Unavailable(_) | RedeemError::Internal(_))
        | AppError::Slo(
            SloError::Store(_) | SloError::Internal(_) | SloError::Message(LogoutError::Build(_)),
        ) => {
            log::error!("[{corr}] {code}: {e}")
        }
        _ => log::warn!("[{corr}] {code}: {e}"),
    }
}

/// The error answer's code, kept in the response's extensions for the
/// middleware that counts and audits refusals (`http::ops::observe`).
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

fn correlation_id() -> String {
    // The request's id (`X-Request-Id`, on every log line of the request);
    // outside a request, a fresh one.
    crate::logging::request_id().unwrap_or_else(crate::logging::new_request_id)
}

/// Renders `e`; with `json`, the page shape becomes `{"error": code}` (for
/// endpoints whose callers are programs).
fn render(e: &AppError, json: bool) -> HttpResponse {
    let code = e.class().code;
    let mut r = render_shape(e, json);
    r.extensions_mut().insert(ErrorCode(code));
    r
}

fn render_shape(e: &AppError, json: bool) -> HttpResponse {
    let corr = correlation_id();
    let c = e.class();
    log(e, c.code, &corr);
    let mut r = builder(c.status, &corr);
    if let AppError::RateLimited(after) = e {
        r.insert_header(("Retry-After", after.secs.to_string()));
    }
    match c.shape {
        Shape::OAuth { description, basic } => {
            r.insert_header(("Pragma", "no-cache"));
            if basic {
                r.insert_header(("WWW-Authenticate", "Basic realm=\"samlhub\""));
            }
            r.json(serde_json::json!({ "error": c.code, "error_description": description }))
        }
        Shape::Bearer => r
            .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            .json(serde_json::json!({ "error": c.code })),
        Shape::Bare => r.json(serde_json::json!({ "error": c.code })),
        Shape::Page(..) if json => r
            .insert_header(("X-Samlhub-Error", c.code))
            .json(serde_json::json!({ "error": c.code })),
        Shape::Page(title, text) => r
            .insert_header(("X-Samlhub-Error", c.code))
            .content_type("text/html; charset=utf-8")
            .body(pages::error_page(title, &text, c.code, &corr)),
    }
}

impl ActixResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.class().status
    }

    fn error_response(&self) -> HttpResponse {
        render(self, false)
    }
}

/// An [`AppError`] from an endpoint whose callers are programs: always JSON.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct JsonError(pub AppError);

impl<E: Into<AppError>> From<E> for JsonError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl ActixResponseError for JsonError {
    fn status_code(&self) -> StatusCode {
        self.0.class().status
    }

    fn error_response(&self) -> HttpResponse {
        render(&self.0, true)
    }
}
