//! The one place where errors become HTTP: a status, a short page for the
//! person, a correlation id, and the precise reason in the log at warn.
//! Messages never carry assertions, keys or cookies.

use super::pages;
use crate::saml::response::ResponseError;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError as ActixResponseError};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unknown IdP '{0}'")]
    UnknownIdp(String),
    #[error("no IdP chosen and {0} are configured")]
    ChooseIdp(usize),
    #[error("return_to refused: {0}")]
    BadReturnTo(String),
    #[error("RelayState refused: {0}")]
    RelayState(String),
    #[error("response refused: {0}")]
    Response(#[from] ResponseError),
    #[error("replay: assertion '{0}' from IdP '{1}' was already used")]
    Replay(String, String),
    #[error("request '{0}' was already answered by another assertion")]
    AlreadyAnswered(String),
    #[error("no session")]
    NoSession,
    #[error("HA login refused: {0}")]
    HaRefused(#[from] crate::ha::policy::PolicyError),
    #[error("HA username '{0}' already belongs to another person")]
    HaUsernameTaken(String),
    #[error("your IdP '{0}' may not log in to this Home Assistant")]
    HaIdpNotAllowed(String),
    #[error("redeem refused: {0}")]
    RedeemRefused(String),
    /// An authorization request that cannot be answered by redirect.
    #[error("authorize: {0}")]
    OidcPage(String),
    /// A token-endpoint error (RFC 6749 §5.2).
    #[error("token: {error}: {description}")]
    OidcToken {
        error: &'static str,
        description: String,
        basic: bool,
    },
    /// A refused Bearer token (RFC 6750 §3.1).
    #[error("bearer: {0}")]
    OidcBearer(String),
    #[error("redeem: store unavailable: {0}")]
    RedeemUnavailable(StoreError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// A stable short code, shown on the page and in `X-Samlhub-Error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::UnknownIdp(_) | Self::ChooseIdp(_) => "unknown_idp",
            Self::BadReturnTo(_) => "bad_return_to",
            Self::RelayState(_) => "unknown_relay_state",
            Self::Response(e) => response_code(e),
            Self::Replay(..) => "replay",
            Self::AlreadyAnswered(_) => "replay",
            Self::NoSession => "no_session",
            Self::HaRefused(_) | Self::HaIdpNotAllowed(_) => "ha_refused",
            Self::HaUsernameTaken(_) => "ha_username_taken",
            Self::RedeemRefused(_) => "refused",
            Self::OidcPage(_) => "invalid_request",
            Self::OidcToken { error, .. } => error,
            Self::OidcBearer(_) => "invalid_token",
            Self::RedeemUnavailable(_) => "unavailable",
            Self::Store(_) => "store_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn user_text(&self) -> (&'static str, String) {
        match self {
            Self::BadRequest(_) => ("Bad request", "The request was not understood.".into()),
            Self::UnknownIdp(_) | Self::ChooseIdp(_) => (
                "Choose a sign-in provider",
                "That identity provider is not configured here. Start from the front page.".into(),
            ),
            Self::BadReturnTo(_) => ("Bad request", "The page to return to must be a page of this site.".into()),
            Self::RelayState(_) => (
                "Sign-in expired",
                "This sign-in was not started here, or it expired. Start again from the front page.".into(),
            ),
            Self::Response(e) => ("Sign-in refused", e.hint()),
            Self::Replay(..) | Self::AlreadyAnswered(_) => (
                "Sign-in already used",
                "This sign-in answer was already used. Start a new sign-in.".into(),
            ),
            Self::NoSession => ("Not signed in", "You are not signed in.".into()),
            Self::HaRefused(e) => ("No access to Home Assistant", format!("You are signed in, but {e}. Ask whoever runs Home Assistant to add you to the right group.")),
            Self::HaIdpNotAllowed(_) => ("No access to Home Assistant", "Accounts from this identity provider may not sign in to this Home Assistant.".into()),
            Self::HaUsernameTaken(u) => (
                "Username already taken",
                format!("The Home Assistant username '{u}' already belongs to someone else signed in through another account. Ask whoever runs Home Assistant to resolve it."),
            ),
            Self::RedeemRefused(_) | Self::RedeemUnavailable(_) => ("Refused", String::new()),
            Self::OidcPage(why) => ("Sign-in request refused", format!("The application's sign-in request cannot be honoured: {why}.")),
            Self::OidcToken { .. } | Self::OidcBearer(_) => ("Refused", String::new()),
            Self::Store(_) => (
                "Temporarily unavailable",
                "Sign-in is unavailable because the session store cannot be reached. Nothing was accepted. Try again in a minute.".into(),
            ),
            Self::Internal(_) => ("Something went wrong", "An internal error occurred.".into()),
        }
    }
}

fn response_code(e: &ResponseError) -> &'static str {
    use ResponseError as E;
    match e {
        E::Base64
        | E::TooLarge(_)
        | E::Xml(_)
        | E::NotResponse(_)
        | E::Version(..)
        | E::BadTime { .. } => "malformed",
        E::Status { .. } => "idp_status",
        E::Issuer { .. } => "issuer",
        E::AssertionCount(_) | E::AssertionPlacement => "assertion_count",
        E::Decrypt => "decrypt",
        E::Encryption(_) => "encryption_refused",
        E::Unsigned | E::Signature { .. } => "signature",
        E::Destination { .. } | E::DestinationMissing => "destination",
        E::InResponseTo { .. } => "in_response_to",
        E::Missing(_) | E::NoBearer => "incomplete",
        E::Recipient { .. } => "recipient",
        E::NotYetValid { .. } | E::Expired { .. } | E::SessionEnded(_) => "time",
        E::Audience { .. } => "audience",
        E::Mapping(_) => "mapping",
    }
}

impl ActixResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Response(e) if response_code(e) == "malformed" => StatusCode::BAD_REQUEST,
            Self::BadRequest(_) | Self::BadReturnTo(_) | Self::ChooseIdp(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::UnknownIdp(_) => StatusCode::NOT_FOUND,
            Self::RelayState(_)
            | Self::Response(_)
            | Self::Replay(..)
            | Self::AlreadyAnswered(_) => StatusCode::FORBIDDEN,
            Self::NoSession => StatusCode::UNAUTHORIZED,
            Self::HaRefused(_) | Self::HaIdpNotAllowed(_) | Self::HaUsernameTaken(_) => {
                StatusCode::FORBIDDEN
            }
            Self::RedeemRefused(_) => StatusCode::FORBIDDEN,
            Self::OidcPage(_) => StatusCode::BAD_REQUEST,
            Self::OidcToken {
                error: "invalid_client",
                ..
            } => StatusCode::UNAUTHORIZED,
            Self::OidcToken { .. } => StatusCode::BAD_REQUEST,
            Self::OidcBearer(_) => StatusCode::UNAUTHORIZED,
            Self::RedeemUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let corr = super::random_hex(6);
        match self {
            Self::NoSession => log::debug!("[{corr}] {self}"),
            Self::Internal(_) | Self::Store(_) => log::error!("[{corr}] {}: {self}", self.code()),
            _ => log::warn!("[{corr}] {}: {self}", self.code()),
        }
        if let Self::OidcToken {
            error,
            description,
            basic,
        } = self
        {
            let mut r = HttpResponse::build(self.status_code());
            r.insert_header(("Cache-Control", "no-store"))
                .insert_header(("Pragma", "no-cache"));
            if *basic && *error == "invalid_client" {
                r.insert_header(("WWW-Authenticate", "Basic realm=\"samlhub\""));
            }
            return r.json(serde_json::json!({ "error": error, "error_description": description }));
        }
        if let Self::OidcBearer(_) = self {
            return HttpResponse::build(self.status_code())
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
                .json(serde_json::json!({ "error": "invalid_token" }));
        }
        if let Self::RedeemRefused(_) | Self::RedeemUnavailable(_) = self {
            // The hook gets one uniform answer per class; the reason is logged.
            return HttpResponse::build(self.status_code())
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({ "error": self.code() }));
        }
        let (title, text) = self.user_text();
        let body = pages::error_page(title, &text, self.code(), &corr);
        HttpResponse::build(self.status_code())
            .insert_header(("X-Samlhub-Error", self.code()))
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
