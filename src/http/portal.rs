//! The signed-in front page (the portal): who you are, a tile for each Home
//! Assistant instance (`/ha/login`) and for each OIDC client with a
//! `home_url`, sign out, and a link to `/setup` for administrators.

use super::pages::{h, layout_page};
use crate::config::Config;
use crate::identity::Identity;

/// The portal for `who` under `c`; `admin` adds the setup link.
pub fn portal(c: &Config, who: &Identity, admin: bool) -> String {
    let name = who
        .name
        .as_deref()
        .or(who.username.as_deref())
        .unwrap_or(&who.subject);
    let idp = c
        .idps
        .iter()
        .find(|i| i.id == who.idp)
        .map(|i| i.display_name.as_str())
        .unwrap_or(&who.idp);
    let mut b = format!(
        "<p>Signed in as <b id=\"who\">{}</b> through {}. <a href=\"/session\">Session details</a></p>",
        h(name),
        h(idp)
    );
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut tiles = String::new();
    for inst in &c.ha {
        tiles.push_str(&format!(
            "<li><a class=\"btn tile\" href=\"{}?instance={}\">{}</a></li>",
            crate::routes::HA_LOGIN,
            h(&enc(&inst.id)),
            h(&inst.display_name)
        ));
    }
    for client in &c.oidc.clients {
        if let Some(u) = &client.home_url {
            tiles.push_str(&format!(
                "<li><a class=\"btn tile\" href=\"{}\">{}</a></li>",
                h(u),
                h(&client.client_id)
            ));
        }
    }
    if tiles.is_empty() {
        b.push_str("<p>No applications are configured yet.</p>");
    } else {
        b.push_str("<h2>Applications</h2><ul class=\"tiles\">");
        b.push_str(&tiles);
        b.push_str("</ul>");
    }
    if admin {
        b.push_str(
            "<p><a href=\"/setup\">Setup</a>: the values to give your IdP and Home Assistant</p>",
        );
    }
    b.push_str("<form method=\"post\" action=\"/logout\"><p><button class=\"btn\" type=\"submit\">Sign out</button></p></form>");
    layout_page("samlhub", &b)
}
