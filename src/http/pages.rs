//! The few HTML pages, written by hand with every value escaped.

use crate::config::Idp;
use crate::identity::Identity;

/// HTML-escapes text for element content and attribute values.
pub fn h(s: &str) -> String {
    crate::xml::escape(s)
}

/// The one inline style sheet; its hash is in the CSP (`headers.rs`).
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}\
code,.ref{font-family:ui-monospace,monospace;font-size:.9em}table{border-collapse:collapse}td,th{text-align:left;padding:.2rem .8rem .2rem 0;vertical-align:top}\
.btn{display:inline-block;padding:.5rem 1rem;border:1px solid #246;border-radius:.3rem;text-decoration:none;color:#246;background:#fff;cursor:pointer;font:inherit}\
.code{font-size:1.6em;letter-spacing:.1em}";

/// The HA code page's script: the copy button and the countdown, which
/// reads the seconds left from `data-left`. Static, so the CSP can name
/// its hash.
pub const HA_SCRIPT: &str = "(function(){var c=document.getElementById('c');var b=document.getElementById('copy');\
if(b){b.addEventListener('click',function(){navigator.clipboard.writeText(c.textContent);});}\
var t=document.getElementById('t');var left=parseInt(t.getAttribute('data-left'),10);\
var i=setInterval(function(){left--;if(left<=0){t.textContent='now: get a new code';clearInterval(i);return;}\
t.textContent=Math.floor(left/60)+':'+('0'+left%60).slice(-2);},1000);})();";

/// Submits the sign-in continuation form at once.
pub const CONTINUE_SCRIPT: &str = "document.getElementById('continue').submit();";

/// Submits the form of [`post_form_page`] at once.
pub const POST_FORM_SCRIPT: &str = "document.getElementById('post').submit();";

/// Every inline script a page may carry.
pub const SCRIPTS: &[&str] = &[HA_SCRIPT, CONTINUE_SCRIPT, POST_FORM_SCRIPT, COPY_SCRIPT];
/// The setup page's copy buttons: each copies the text of the element its
/// `data-copy` names.
pub const COPY_SCRIPT: &str = "document.querySelectorAll('button[data-copy]').forEach(function(b){b.addEventListener('click',function(){\
navigator.clipboard.writeText(document.getElementById(b.getAttribute('data-copy')).textContent);});});";

/// The common page frame (title, style) around `body`, for pages written
/// in other modules.
pub fn layout_page(title: &str, body: &str) -> String {
    layout(title, body)
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · samlhub</title><style>{STYLE}</style></head>\
<body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = h(title)
    )
}

pub fn error_page(title: &str, text: &str, code: &str, corr: &str) -> String {
    layout(
        title,
        &format!(
            "<p>{}</p><p class=\"ref\">Error: {} · reference {}</p><p><a href=\"/\">Front page</a></p>",
            h(text),
            h(code),
            h(corr)
        ),
    )
}

/// The front page. `login_suffix` is appended to each IdP's login link
/// (already URL-encoded, e.g. `&return_to=%2Fha&force_authn=1`).
pub fn index(
    idps: &[std::sync::Arc<Idp>],
    signed_in: Option<&Identity>,
    login_suffix: &str,
) -> String {
    chooser(idps, None, signed_in, login_suffix)
}

/// The front page as the IdP chooser: the IdP `last` chosen in this browser
/// is listed first and marked; the others keep the configuration's order.
pub fn chooser(
    idps: &[std::sync::Arc<Idp>],
    last: Option<&str>,
    signed_in: Option<&Identity>,
    login_suffix: &str,
) -> String {
    let mut body = String::new();
    if let Some(who) = signed_in {
        body.push_str(&format!(
            "<p>Signed in as <b>{}</b>. <a href=\"/session\">Session details</a></p>",
            h(who
                .name
                .as_deref()
                .or(who.username.as_deref())
                .unwrap_or(&who.subject))
        ));
    }
    if idps.is_empty() {
        body.push_str("<p>No identity provider is configured yet. Put an IdP's SAML metadata into the data directory's <code>idp/</code> folder and restart, or add an <code>[[idp]]</code> section to the config file.</p>");
    } else {
        body.push_str("<p>Sign in with:</p><ul>");
        let is_last = |i: &Idp| last == Some(i.id.as_str());
        let ordered = idps
            .iter()
            .filter(|i| is_last(i))
            .chain(idps.iter().filter(|i| !is_last(i)));
        for i in ordered {
            body.push_str(&format!(
                "<li><a class=\"btn\" href=\"/saml/login?idp={}{}\">{}</a>{}</li>",
                h(&url::form_urlencoded::byte_serialize(i.id.as_bytes()).collect::<String>()),
                h(login_suffix),
                h(&i.display_name),
                if is_last(i) { " (last used)" } else { "" }
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str("<p><a href=\"/saml/metadata\">SP metadata</a></p>");
    layout("samlhub", &body)
}

pub fn session(who: &Identity, idp_name: &str) -> String {
    let row = |k: &str, v: &str| format!("<tr><th>{}</th><td>{}</td></tr>", h(k), h(v));
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut t = String::from("<table>");
    t.push_str(&row("IdP", &format!("{idp_name} ({})", who.idp)));
    t.push_str(&row("Subject", &who.subject));
    t.push_str(&row("Username", &opt(&who.username)));
    t.push_str(&row("Name", &opt(&who.name)));
    t.push_str(&row("Email", &opt(&who.email)));
    t.push_str(&row("Groups", &who.groups.join(", ")));
    t.push_str(&row("Authentication", &opt(&who.authn_context)));
    t.push_str("</table>");
    t.push_str("<form method=\"post\" action=\"/logout\"><p><button class=\"btn\" type=\"submit\">Sign out</button></p></form>");
    t.push_str(&format!(
        "<form method=\"post\" action=\"{}\"><p><button class=\"btn\" type=\"submit\">Sign out here and at the identity provider</button></p></form>",
        crate::routes::SAML_LOGOUT
    ));
    layout("Signed in", &t)
}

/// What the `/ha` page shows.
pub struct HaCodeView<'a> {
    pub instance_name: &'a str,
    pub instance_id: &'a str,
    pub external_url: &'a str,
    pub username: &'a str,
    pub group: &'a str,
    pub demoted: bool,
    pub code: &'a str,
    pub lifetime_secs: u64,
    pub notice: Option<&'a str>,
}

pub fn ha_code(v: &HaCodeView<'_>) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(v.instance_id.as_bytes()).collect();
    let mut b = String::new();
    if let Some(n) = v.notice {
        b.push_str(&format!("<p><b>{}</b></p>", h(n)));
    }
    b.push_str(&format!(
        "<p>On the {name} login page, choose the single sign-on option, then enter:</p>\
<table><tr><th>Username</th><td><code id=\"u\">{user}</code></td></tr>\
<tr><th>Password</th><td><code id=\"c\" class=\"code\">{code}</code> \
<button class=\"btn\" type=\"button\" id=\"copy\">Copy</button></td></tr></table>\
<p>The code works once and expires in <b id=\"t\" data-left=\"{left}\">{mins}:{secs:02}</b>.</p>\
<p>Role: <code>{group}</code>{demoted}</p>\
<p><a class=\"btn\" href=\"/ha/login?instance={enc}\">Sign in to {name} in this browser</a> \
<a class=\"btn\" href=\"/ha?instance={enc}\">New code</a></p>\
<p>On a phone app: open {url}, choose the single sign-on option, and type the username and code above.</p>\
<script>{script}</script>",
        script = HA_SCRIPT,
        name = h(v.instance_name),
        user = h(v.username),
        code = h(v.code),
        mins = v.lifetime_secs / 60,
        secs = v.lifetime_secs % 60,
        group = h(v.group),
        demoted = if v.demoted { " (an administrator role needs multi-factor sign-in; sign in with MFA to get it)" } else { "" },
        url = h(v.external_url),
        left = v.lifetime_secs,
    ));
    layout(&format!("Sign in to {}", v.instance_name), &b)
}

pub fn signed_out() -> String {
    layout(
        "Signed out",
        "<p>You are signed out of samlhub.</p><p><a href=\"/\">Front page</a></p>",
    )
}

/// Signed out, saying what happened (e.g. that the IdP was not asked).
pub fn signed_out_because(why: &str) -> String {
    let mut text = why.to_owned();
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    layout(
        "Signed out",
        &format!("<p>{}.</p><p><a href=\"/\">Front page</a></p>", h(&text)),
    )
}

/// An HTTP-POST binding hop (SAML Bindings §3.5.4), or any other form that
/// must reach another site with the browser: the fields as hidden inputs,
/// submitted at once by a hashed script, with a visible button for
/// browsers without script.
/// `text` is the one line shown above the button.
pub fn post_form_page(title: &str, text: &str, action: &str, fields: &[(&str, String)]) -> String {
    let mut inputs = String::new();
    for (name, value) in fields {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            h(name),
            h(value)
        ));
    }
    layout(
        title,
        &format!(
            "<form id=\"post\" method=\"post\" action=\"{action}\">{inputs}\
<p>{text}</p><p><button class=\"btn\" type=\"submit\">Continue</button></p></form>\
<script>{POST_FORM_SCRIPT}</script>",
            action = h(action),
            text = h(text),
        ),
    )
}

/// The same-site second hop of a login: posts the ticket to `/saml/continue`
/// at once (or on a click without script), so the browser's own login cookie
/// comes along.
pub fn continue_login(ticket: &str) -> String {
    layout(
        "Signing in",
        &format!(
            "<form id=\"continue\" method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"ticket\" value=\"{t}\">\
<p>Finishing your sign-in…</p><noscript><p><button class=\"btn\" type=\"submit\">Continue</button></p></noscript></form>\
<script>{CONTINUE_SCRIPT}</script>",
            action = crate::routes::SAML_CONTINUE,
            t = h(ticket)
        ),
    )
}

/// The fields of the sign-out confirmation form.
pub struct SignOutForm<'a> {
    pub action: &'a str,
    pub confirm: &'a str,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// RP-Initiated Logout without a valid hint: ask before signing out.
pub fn confirm_sign_out(f: &SignOutForm<'_>) -> String {
    let hidden = |name: &str, v: Option<&str>| {
        v.map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                h(name),
                h(v)
            )
        })
        .unwrap_or_default()
    };
    layout(
        "Sign out?",
        &format!(
            "<p>An application asked to sign you out of samlhub. This also signs you out of every application you entered through it.</p>\
<form method=\"post\" action=\"{action}\">{c}{r}{s}{i}\
<p><button class=\"btn\" type=\"submit\">Sign out</button> <a class=\"btn\" href=\"/\">Stay signed in</a></p></form>",
            action = h(f.action),
            c = hidden("confirm", Some(f.confirm)),
            r = hidden("post_logout_redirect_uri", f.post_logout_redirect_uri),
            s = hidden("state", f.state),
            i = hidden("client_id", f.client_id),
        ),
    )
}

/// The HTTP-POST binding's form (SAML Bindings §3.5.4): posts the signed
/// AuthnRequest and RelayState to the IdP's SSO endpoint at once, or on a
/// click of the visible Continue button without script.
pub fn post_to_idp(action: &str, saml_request: &str, relay_state: &str, idp_name: &str) -> String {
    post_form_page(
        "Signing in",
        &format!("Taking you to {idp_name} to sign in…"),
        action,
        &[
            ("SAMLRequest", saml_request.to_owned()),
            ("RelayState", relay_state.to_owned()),
        ],
    )
}

/// An IdP-initiated sign-in, verified: names the account and asks before
/// signing in (no script: a login CSRF post stops here).
pub fn confirm_unsolicited(ticket: &str, who: &Identity, idp_name: &str) -> String {
    let name = who
        .name
        .as_deref()
        .or(who.username.as_deref())
        .unwrap_or(&who.subject);
    let email = who
        .email
        .as_deref()
        .map(|e| format!(" ({})", h(e)))
        .unwrap_or_default();
    layout(
        "Continue signing in?",
        &format!(
            "<p>{idp} sent a sign-in for <b>{name}</b>{email}. It was started at {idp}, not on this site.</p>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"ticket\" value=\"{t}\">\
<p><button class=\"btn\" type=\"submit\">Continue as {name}</button> <a class=\"btn\" href=\"/\">Cancel</a></p></form>\
<p>If you did not just choose this account at {idp}, choose Cancel.</p>",
            idp = h(idp_name),
            name = h(name),
            action = crate::routes::SAML_CONTINUE,
            t = h(ticket),
        ),
    )
}
