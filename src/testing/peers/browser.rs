//! Scripted browser (shared by tests and benchmarks): a ureq agent with a cookie
//! store that never follows redirects on its own, small HTML form scraping
//! helpers, and `ssp_login`, which drives SimpleSAMLphp's login page up to
//! (not including) the auto-POST of the SAMLResponse.

use std::time::Duration;

/// One HTTP response.
#[derive(Clone, Debug)]
pub struct Page {
    /// The URL that was requested.
    pub url: String,
    pub status: u16,
    /// `Location`, resolved against `url`.
    pub location: Option<String>,
    pub body: String,
    /// Response headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
}

impl Page {
    /// The first response header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of response header `name` (e.g. `set-cookie`).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.location.is_some()
    }

    /// The start of the body, for panic messages.
    pub fn head(&self) -> String {
        let mut s: String = self.body.chars().take(1500).collect();
        if s.len() < self.body.len() {
            s.push_str("\n[...]");
        }
        s
    }
}

/// What SimpleSAMLphp's auto-submitting form would POST to the SP.
#[derive(Clone, Debug)]
pub struct SamlPost {
    /// The form action (the ACS URL).
    pub action: String,
    /// Base64 as sent (HTML entities decoded).
    pub saml_response: String,
    pub relay_state: Option<String>,
}

impl SamlPost {
    /// The decoded XML of the SAMLResponse.
    pub fn xml(&self) -> String {
        use base64::Engine as _;
        let clean: String = self
            .saml_response
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .expect("SAMLResponse is not base64");
        String::from_utf8(raw).expect("SAMLResponse is not UTF-8")
    }

    /// The form fields to submit with `Browser::post_form`.
    pub fn form(&self) -> Vec<(String, String)> {
        let mut f = vec![("SAMLResponse".to_owned(), self.saml_response.clone())];
        if let Some(rs) = &self.relay_state {
            f.push(("RelayState".to_owned(), rs.clone()));
        }
        f
    }
}

/// A cookie-keeping HTTP client that shows every redirect to the test.
pub struct Browser {
    agent: ureq::Agent,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        Browser { agent }
    }

    /// The underlying agent (shares the cookie store).
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    pub fn get(&mut self, url: &str) -> Page {
        self.get_with_headers(url, &[])
    }

    pub fn get_with_headers(&mut self, url: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req
            .call()
            .unwrap_or_else(|e| panic!("GET {url} failed: {e}"));
        to_page(url, resp)
    }

    /// GET that reports a transport failure (or an unreadable body) as an
    /// error instead of panicking, for load drivers that count failures.
    pub fn try_get(&mut self, url: &str) -> Result<Page, String> {
        let resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| format!("GET {url}: {e}"))?;
        try_page(url, resp)
    }

    /// POST of `body` as `content_type`, with extra headers; errors as
    /// [`Self::try_get`].
    pub fn try_post(
        &mut self,
        url: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Page, String> {
        let mut req = self.agent.post(url).header("Content-Type", content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send(body).map_err(|e| format!("POST {url}: {e}"))?;
        try_page(url, resp)
    }

    /// POSTs `application/x-www-form-urlencoded`.
    pub fn post_form<K: AsRef<str>, V: AsRef<str>>(&mut self, url: &str, form: &[(K, V)]) -> Page {
        self.post_form_with_headers(url, form, &[])
    }

    pub fn post_form_with_headers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        url: &str,
        form: &[(K, V)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.agent.post(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req
            .send_form(form.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .unwrap_or_else(|e| panic!("POST {url} failed: {e}"));
        to_page(url, resp)
    }

    /// Follows a chain of 30x responses with GET (at most 10 hops) and returns
    /// the first non-redirect page (`page` itself if it isn't a redirect).
    pub fn follow(&mut self, page: Page) -> Page {
        let mut page = page;
        for _ in 0..10 {
            if !page.is_redirect() {
                return page;
            }
            let next = page.location.clone().unwrap_or_default();
            page = self.get(&next);
        }
        assert!(
            !page.is_redirect(),
            "more than 10 redirects, last: {} -> {:?}",
            page.url,
            page.location
        );
        page
    }

    /// Logs in at SimpleSAMLphp. `start` is the SP's answer that redirects to
    /// the IdP's SSO URL (or any page on the way). Follows to the login form,
    /// POSTs AuthState/username/password and returns the auto-POST form
    /// content without submitting it. If the IdP already has a session the
    /// form is returned without logging in again.
    pub fn ssp_login(&mut self, start: Page, user: &str, pass: &str) -> SamlPost {
        let mut page = self.follow(start);
        let mut logged_in = false;
        for _ in 0..3 {
            let inputs = hidden_inputs(&page.body);
            if let Some(post) = saml_post_from(&page, &inputs) {
                return post;
            }
            let auth_state = inputs
                .iter()
                .find(|(k, _)| k == "AuthState")
                .map(|(_, v)| v.clone())
                .or_else(|| query_param(&page.url, "AuthState"));
            let has_password = page.body.contains("name=\"password\"");
            if page.status != 200 || !has_password || logged_in {
                panic!(
                    "SimpleSAMLphp login: unexpected page (status {}, url {}{}):\n{}",
                    page.status,
                    page.url,
                    if logged_in {
                        ", after posting the password (wrong password? SSP error?)"
                    } else {
                        ""
                    },
                    page.head()
                );
            }
            let auth_state = auth_state.unwrap_or_else(|| {
                panic!(
                    "SimpleSAMLphp login form without AuthState at {}:\n{}",
                    page.url,
                    page.head()
                )
            });
            let action = form_action(&page.body)
                .map(|a| resolve(&page.url, &a))
                .unwrap_or_else(|| page.url.clone());
            let posted = self.post_form(
                &action,
                &[
                    ("AuthState", auth_state.as_str()),
                    ("username", user),
                    ("password", pass),
                ],
            );
            logged_in = true;
            page = self.follow(posted);
        }
        panic!(
            "SimpleSAMLphp login did not produce a SAMLResponse form at {}:\n{}",
            page.url,
            page.head()
        )
    }
}

fn saml_post_from(page: &Page, inputs: &[(String, String)]) -> Option<SamlPost> {
    let saml_response = inputs
        .iter()
        .find(|(k, _)| k == "SAMLResponse")
        .map(|(_, v)| v.clone())?;
    let action = form_action(&page.body).unwrap_or_else(|| {
        panic!(
            "SAMLResponse form without action at {}:\n{}",
            page.url,
            page.head()
        )
    });
    Some(SamlPost {
        action: resolve(&page.url, &action),
        saml_response,
        relay_state: inputs
            .iter()
            .find(|(k, _)| k == "RelayState")
            .map(|(_, v)| v.clone()),
    })
}

fn to_page(url: &str, resp: ureq::http::Response<ureq::Body>) -> Page {
    try_page(url, resp).unwrap_or_else(|e| panic!("{e}"))
}

fn try_page(url: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<Page, String> {
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| resolve(url, v));
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("reading body of {url}: {e}"))?;
    Ok(Page {
        url: url.to_owned(),
        status,
        location,
        body,
        headers,
    })
}

/// Resolves `reference` against `base` (like a browser does).
pub fn resolve(base: &str, reference: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(reference)) {
        Ok(u) => u.to_string(),
        Err(_) => reference.to_owned(),
    }
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Decodes HTML character references: the named ones HTML templates use
/// (`&amp; &quot; &lt; &gt; &apos; &nbsp;`) and all numeric ones.
pub fn html_decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let decoded = after.find(';').filter(|&j| j <= 12).and_then(|j| {
            let ent = &after[1..j];
            let c = match ent {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = ent.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, j + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &after[len..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The attributes of every `<tag ...>` (lower-case tag name) in `html`, names
/// lower-cased and values entity-decoded.
pub fn tags(html: &str, tag: &str) -> Vec<Vec<(String, String)>> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{tag}");
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find(&open) {
        let start = pos + i + open.len();
        pos = start;
        // `<input` must not match `<inputfoo`.
        match html[start..].chars().next() {
            Some(c) if c.is_ascii_whitespace() || c == '>' || c == '/' => {}
            _ => continue,
        }
        let (attrs, end) = parse_attrs(&html[start..]);
        pos = start + end;
        found.push(attrs);
    }
    found
}

/// Parses attributes up to the closing `>`; returns them and the bytes used.
fn parse_attrs(s: &str) -> (Vec<(String, String)>, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    let mut attrs = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] as char).is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            return (attrs, i);
        }
        if b[i] == b'>' {
            return (attrs, i + 1);
        }
        if b[i] == b'/' {
            i += 1;
            continue;
        }
        let name_start = i;
        while i < b.len() && !(b[i] as char).is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
            i += 1;
        }
        let name = s[name_start..i].to_ascii_lowercase();
        skip_ws(&mut i);
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            skip_ws(&mut i);
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = s[vs..].find(q as char).map_or(s.len(), |e| vs + e);
                value = html_decode(&s[vs..ve]);
                i = (ve + 1).min(s.len());
            } else {
                let vs = i;
                while i < b.len() && !(b[i] as char).is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = html_decode(&s[vs..i]);
            }
        }
        if !name.is_empty() {
            attrs.push((name, value));
        }
    }
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `(name, value)` of every `<input type="hidden">`, entity-decoded, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    tags(html, "input")
        .into_iter()
        .filter(|a| attr(a, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")))
        .filter_map(|a| {
            let name = attr(&a, "name")?.to_owned();
            let value = attr(&a, "value").unwrap_or("").to_owned();
            Some((name, value))
        })
        .collect()
}

/// The `action` of the first `<form>`, entity-decoded (not resolved).
pub fn form_action(html: &str) -> Option<String> {
    tags(html, "form")
        .into_iter()
        .find_map(|a| attr(&a, "action").map(str::to_owned))
}
