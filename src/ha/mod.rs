//! Home Assistant login through stock HA's `command_line` auth provider:
//! one-time codes, usernames and roles from the SAML identity, and the
//! short-lived token the hook verifies. Pure: no HTTP, no store.

pub mod code;
pub mod policy;
pub mod token;
