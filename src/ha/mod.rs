//! Home Assistant login through stock HA's `command_line` auth provider:
//! one-time codes, usernames and roles from the SAML identity, and the
//! short-lived token the hook verifies. No HTTP; `login` keeps its state
//! through the `Store` trait and takes `now` as a parameter.

pub mod attempts;
pub mod code;
pub mod login;
pub mod policy;
pub mod token;
