//! What a Redis store URL says, parsed without connecting, and how to show it
//! without its secrets.
//!
//! Accepted forms (`rediss…` uses TLS for every connection, sentinels
//! included):
//! - `redis://[user:pass@]host:port[/db]` — one server;
//! - `redis+sentinel://[user:pass@]s1:port,s2:port,…/service[/db]
//!   [?sentinel_username=…&sentinel_password=…]` — the master of `service`
//!   as named by the sentinels; the userinfo authenticates to the master,
//!   the query parameters to the sentinels;
//! - `redis+cluster://[user:pass@]seed1:port,seed2:port,…` — a Redis
//!   Cluster, found from any of the seeds (database 0 only, no TLS).
//!
//! Passwords never appear in [`RedisSpec`]'s `Debug`, in [`RedisSpec::describe`]
//! or in [`redact`]ed URLs.

use std::fmt;
use std::time::Duration;

/// Default bound on one store call, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A host and port.
#[derive(Clone, PartialEq, Eq)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A username and password, either optional.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Topology {
    Standalone(Addr),
    Sentinel {
        sentinels: Vec<Addr>,
        service: String,
        sentinel_auth: Auth,
    },
    Cluster(Vec<Addr>),
}

/// PEM material for `rediss` connections (`[store_tls]`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate(s) to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and PKCS#8 key, for servers that require one.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

/// A parsed Redis store configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSpec {
    pub topology: Topology,
    /// `Some` for `rediss…` URLs.
    pub tls: Option<TlsFiles>,
    pub auth: Auth,
    pub db: i64,
    /// Bound on every store call (`store_timeout`).
    pub timeout: Duration,
    /// Replicas that must acknowledge a one-time write (`replay_wait_replicas`).
    pub wait_replicas: u32,
}

impl fmt::Debug for RedisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl RedisSpec {
    /// Parses a store URL; the error names the problem without echoing
    /// secrets.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("a Redis store URL looks like redis://host:port/db")?;
        let (tls, kind) = match scheme {
            "redis" => (false, Kind::Standalone),
            "rediss" => (true, Kind::Standalone),
            "redis+sentinel" => (false, Kind::Sentinel),
            "rediss+sentinel" => (true, Kind::Sentinel),
            "redis+cluster" => (false, Kind::Cluster),
            "rediss+cluster" => {
                return Err(
                    "Redis Cluster over TLS (rediss+cluster://) is not supported; \
                            use redis+cluster:// on a private network"
                        .into(),
                )
            }
            other => {
                return Err(format!(
                    "unknown scheme '{other}': use redis://, rediss://, redis+sentinel://, \
                     rediss+sentinel:// or redis+cluster://"
                ))
            }
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let auth = userinfo
            .map(parse_userinfo)
            .transpose()?
            .unwrap_or_default();
        let default_port = if kind == Kind::Sentinel { 26379 } else { 6379 };
        let addrs = hosts
            .split(',')
            .map(|h| parse_addr(h, default_port))
            .collect::<Result<Vec<_>, _>>()?;
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let mut sentinel_auth = Auth::default();
        for (k, v) in query.map(parse_query).transpose()?.unwrap_or_default() {
            match (kind, k.as_str()) {
                (Kind::Sentinel, "sentinel_username") => sentinel_auth.username = Some(v),
                (Kind::Sentinel, "sentinel_password") => sentinel_auth.password = Some(v),
                _ => return Err(format!("unknown URL parameter '{k}'")),
            }
        }
        let topology = match kind {
            Kind::Standalone => match addrs.as_slice() {
                [one] => Topology::Standalone(one.clone()),
                _ => {
                    return Err("redis:// takes one host; use redis+sentinel:// or \
                                redis+cluster:// for several"
                        .into())
                }
            },
            Kind::Sentinel => {
                let service = segments
                    .next()
                    .ok_or("redis+sentinel:// needs the service name as its path, e.g. redis+sentinel://s1:26379,s2:26379/mymaster")?
                    .to_owned();
                Topology::Sentinel {
                    sentinels: addrs,
                    service,
                    sentinel_auth,
                }
            }
            Kind::Cluster => Topology::Cluster(addrs),
        };
        let db = match segments.next() {
            None => 0,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| format!("'{d}' is not a database number"))?,
        };
        if segments.next().is_some() {
            return Err("the URL path has too many parts".into());
        }
        if kind == Kind::Cluster && db != 0 {
            return Err("Redis Cluster has only database 0".into());
        }
        Ok(Self {
            topology,
            tls: tls.then(TlsFiles::default),
            auth,
            db,
            timeout: DEFAULT_TIMEOUT,
            wait_replicas: 0,
        })
    }

    /// Checks what only connecting would otherwise find: that the `[store_tls]`
    /// PEM material parses and fits together.
    pub fn check(&self) -> Result<(), String> {
        super::conn::Dialer::new(self).map(drop)
    }

    /// A one-line description for `check-config` and logs: topology,
    /// addresses, TLS, timeout; never a password.
    pub fn describe(&self) -> String {
        let join = |a: &[Addr]| a.iter().map(Addr::to_string).collect::<Vec<_>>().join(",");
        let mut s = match &self.topology {
            Topology::Standalone(a) => format!("redis {a} db {}", self.db),
            Topology::Sentinel {
                sentinels, service, ..
            } => format!(
                "redis sentinel service {service} via {} db {}",
                join(sentinels),
                self.db
            ),
            Topology::Cluster(seeds) => format!("redis cluster seeds {}", join(seeds)),
        };
        if let Some(tls) = &self.tls {
            s.push_str(if tls.ca_pem.is_some() {
                ", tls (own CA)"
            } else {
                ", tls (system CAs)"
            });
            if tls.client.is_some() {
                s.push_str(" with client certificate");
            }
        }
        if self.auth.password.is_some() {
            s.push_str(", password set");
        }
        s.push_str(&format!(", timeout {} ms", self.timeout.as_millis()));
        if self.wait_replicas > 0 {
            s.push_str(&format!(
                ", one-time writes wait for {} replica(s)",
                self.wait_replicas
            ));
        }
        s
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Standalone,
    Sentinel,
    Cluster,
}

fn parse_addr(h: &str, default_port: u16) -> Result<Addr, String> {
    let (host, port) = if let Some(v6) = h.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{h}' is not a host:port"))?;
        (host, after.strip_prefix(':'))
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("'{h}' has no valid port"))?,
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !valid {
        return Err(format!("'{h}' is not a host:port"));
    }
    Ok(Addr {
        host: host.to_owned(),
        port,
    })
}

fn decode(s: &str) -> Result<String, String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| "bad percent-encoding".to_owned())
}

fn parse_userinfo(u: &str) -> Result<Auth, String> {
    let (user, pass) = match u.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (u, None),
    };
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    Ok(Auth {
        username: nonempty(decode(user)?),
        password: pass.map(decode).transpose()?.and_then(nonempty),
    })
}

fn parse_query(q: &str) -> Result<Vec<(String, String)>, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Ok((k.to_owned(), decode(v)?))
        })
        .collect()
}

/// `url` with every password replaced by `***`: the one in the userinfo and
/// `sentinel_password`. For messages about a URL that did not parse.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user, hosts)) => match user.split_once(':') {
                    Some((name, _)) => format!("{name}:***@{hosts}"),
                    None => format!("{user}@{hosts}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None if head.contains('@') => "***".to_owned(),
        None => head.to_owned(),
    };
    if let Some(q) = query {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.contains("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let s = RedisSpec::parse("redis://:p%40ss@127.0.0.1:6380/2").unwrap();
        assert!(matches!(&s.topology, Topology::Standalone(a) if a.port == 6380));
        assert_eq!(s.auth.password.as_deref(), Some("p@ss"));
        assert_eq!(s.db, 2);
        assert!(s.tls.is_none());

        let s = RedisSpec::parse("rediss://user:pw@redis.example").unwrap();
        assert!(s.tls.is_some());
        assert_eq!(s.auth.username.as_deref(), Some("user"));

        let s =
            RedisSpec::parse("redis+sentinel://:pw@a:1,b,[::1]:3/mymaster/1?sentinel_password=sp")
                .unwrap();
        match &s.topology {
            Topology::Sentinel {
                sentinels,
                service,
                sentinel_auth,
            } => {
                assert_eq!(sentinels.len(), 3);
                assert_eq!(sentinels[1].port, 26379);
                assert_eq!(sentinels[2].host, "::1");
                assert_eq!(service, "mymaster");
                assert_eq!(sentinel_auth.password.as_deref(), Some("sp"));
            }
            _ => panic!("not sentinel"),
        }
        assert_eq!(s.db, 1);

        let s = RedisSpec::parse("redis+cluster://h1:7000,h2:7001").unwrap();
        assert!(matches!(&s.topology, Topology::Cluster(seeds) if seeds.len() == 2));
    }

    #[test]
    fn refuses_bad_urls_without_echoing_secrets() {
        for bad in [
            "http://h:1",
            "redis://a:1,b:2",
            "redis+sentinel://a:1",
            "redis+cluster://a:1/3",
            "rediss+cluster://a:1",
            "redis://h:notaport",
            "redis://h:1/x",
            "redis://h:1?foo=bar",
            "redis://:secret@h:1/x",
            "redis://:secret@h:0",
        ] {
            let e = RedisSpec::parse(bad).unwrap_err();
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
    }

    #[test]
    fn descriptions_and_redaction_hide_passwords() {
        let s = RedisSpec::parse("rediss+sentinel://u:secret@a:1,b:2/m?sentinel_password=secret2")
            .unwrap();
        let d = s.describe();
        assert!(
            !d.contains("secret") && d.contains("sentinel service m"),
            "{d}"
        );
        assert!(!format!("{s:?}").contains("secret"));
        assert_eq!(
            redact("redis://u:secret@h:1/0?sentinel_password=x&a=b"),
            "redis://u:***@h:1/0?sentinel_password=***&a=b"
        );
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(redact("nonsense:secret@x"), "***");
    }
}
