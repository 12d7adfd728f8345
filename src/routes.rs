//! Every path we serve, shared by the router, metadata and links.

pub const INDEX: &str = "/";
pub const HEALTH: &str = "/healthz";
pub const SAML_LOGIN: &str = "/saml/login";
pub const SAML_ACS: &str = "/saml/acs";
pub const SAML_CONTINUE: &str = "/saml/continue";
pub const SAML_METADATA: &str = "/saml/metadata";
pub const SESSION: &str = "/session";
pub const LOGOUT: &str = "/logout";
pub const HA: &str = "/ha";
pub const HA_LOGIN: &str = "/ha/login";
pub const HA_REDEEM: &str = "/ha/redeem";
pub const OIDC_DISCOVERY: &str = "/.well-known/openid-configuration";
pub const OIDC_AUTHORIZE: &str = "/oidc/authorize";
pub const OIDC_TOKEN: &str = "/oidc/token";
pub const OIDC_USERINFO: &str = "/oidc/userinfo";
pub const OIDC_JWKS: &str = "/oidc/jwks";
pub const OIDC_END_SESSION: &str = "/oidc/end_session";
pub const READY: &str = "/readyz";
