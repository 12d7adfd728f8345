#!/usr/bin/env python3
# samlhub_hook.py - Home Assistant `command_line` auth hook for samlhub.
#
# Stdlib only, Python 3.9+. It does what `samlhub ha-verify` does, for HA
# installs (HA OS, containers) where the samlhub binary is not available.
#
# Copy this file and the instance's hook secret next to configuration.yaml
# and add:
#
#   homeassistant:
#     auth_providers:
#       - type: command_line
#         command: /usr/local/bin/python3
#         args: ["/config/samlhub_hook.py",
#                "--hub", "https://sso.example.org",
#                "--secret-file", "/config/samlhub-ha.secret",
#                "--instance", "home"]
#         meta: true
#       - type: homeassistant   # keep a local fallback login
#
# Arguments: --hub URL --secret-file FILE --instance ID [--timeout SECONDS]
#
# HA runs the command with an environment holding only `username` and
# `password` (no PATH, no HOME; cwd = HA's config directory), so nothing here
# depends on either. The password is the one-time code shown by samlhub.
#
# The hook POSTs {"instance", "username", "code"} to {hub}/ha/redeem with
# `Authorization: Bearer <hook secret>`, and verifies the returned token
# exactly as samlhub's src/ha/token.rs `verify` does: HS256 compact JWS keyed
# with HMAC-SHA256(secret, "samlhub-ha-token-v1"), aud == instance, lifetime
# at most 60 s, not expired (5 s leeway), sub == username, a valid HA group.
# On success it prints HA's meta lines and exits 0:
#
#   name = <display name>
#   group = system-admin | system-users | system-read-only
#   local_only = true            (only when the token says so)
#
# Every failure exits 1 with one line on stderr starting `samlhub-hook: `,
# worded as `samlhub ha-verify` words it (a refusal by the hub reads
# `hub refused the code: HTTP <status>[: <error>]` in both).
# The code, the secret and the token are never printed.

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

KEY_LABEL = b"samlhub-ha-token-v1"
MAX_LIFETIME_SECS = 60
LEEWAY_SECS = 5
DEFAULT_TIMEOUT_SECS = 5.0
MAX_BODY_BYTES = 64 * 1024
MIN_SECRET_BYTES = 16
GROUPS = ("system-admin", "system-users", "system-read-only")
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
B64URL_RE = re.compile(r"\A[A-Za-z0-9_-]*\Z")

# Filled in as soon as they are known, so that no message can ever leak them.
_SENSITIVE = []


class HookError(Exception):
    """A refusal: its message goes to stderr after `samlhub-hook: `."""


def _clean(text):
    text = str(text)
    # A backstop: no message is built from these values. Very short ones are
    # skipped, or ordinary words would be mangled.
    for s in _SENSITIVE:
        if len(s) >= 6:
            text = text.replace(s, "[redacted]")
    text = "".join(c if c.isprintable() else " " for c in text)
    return text[:300]


def _emit_error(message):
    try:
        line = "samlhub-hook: " + _clean(message) + "\n"
        sys.stderr.buffer.write(line.encode("utf-8", "replace"))
        sys.stderr.buffer.flush()
    except BaseException:  # noqa: B036 - nothing else left to do
        pass


class _ArgParser(argparse.ArgumentParser):
    # argparse would print usage and exit 2 (or exit 0 for --help); a hook
    # must answer with one line and never exit 0 on anything but success.
    def error(self, message):
        raise HookError("bad arguments: " + message)

    def exit(self, status=0, message=None):
        raise HookError("bad arguments" + (": " + message if message else ""))


def parse_args(argv):
    p = _ArgParser(prog="samlhub_hook.py", add_help=False, allow_abbrev=False)
    p.add_argument("--hub", required=True)
    p.add_argument("--secret-file", required=True)
    p.add_argument("--instance", required=True)
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECS)
    args = p.parse_args(argv)
    if not (0 < args.timeout <= 60):
        raise HookError("bad arguments: --timeout must be in (0, 60] seconds")
    if not args.instance:
        raise HookError("bad arguments: --instance is empty")
    return args


def redeem_url(hub):
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in hub):
        raise HookError("--hub must be an http(s) URL without spaces")
    u = urllib.parse.urlsplit(hub)
    if u.scheme.lower() not in ("http", "https") or not u.hostname:
        raise HookError("--hub must be an http:// or https:// URL")
    if u.query or u.fragment or u.username or u.password:
        raise HookError("--hub must not carry credentials, a query or a fragment")
    return hub.rstrip("/") + "/ha/redeem"


def read_secret(path):
    try:
        with open(path, "rb") as f:
            raw = f.read(64 * 1024 + 1)
    except OSError as e:
        raise HookError(
            "cannot read secret file %s: %s" % (path, e.strerror or type(e).__name__)
        )
    if len(raw) > 64 * 1024:
        raise HookError("secret file %s is too large" % path)
    secret = raw.strip()
    if len(secret) < MIN_SECRET_BYTES:
        # Same floor as `samlhub ha-verify`.
        raise HookError(
            "secret file %s holds %d bytes; use at least %d (e.g. openssl rand -hex 32)"
            % (path, len(secret), MIN_SECRET_BYTES)
        )
    try:
        text = secret.decode("ascii")
    except UnicodeDecodeError:
        raise HookError("secret file %s is not ASCII" % path)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise HookError("secret file %s contains whitespace or control characters" % path)
    _SENSITIVE.append(text)
    return secret


# --- the hub request ------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Never follow a redirect: it would carry the secret somewhere else.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _describe_url_error(e):
    reason = getattr(e, "reason", e)
    if isinstance(reason, (TimeoutError,)) or type(reason).__name__ == "timeout":
        return "timeout waiting for the hub"
    if isinstance(reason, ConnectionRefusedError):
        return "hub unreachable: connection refused"
    if isinstance(reason, OSError):
        detail = reason.strerror or str(reason) or type(reason).__name__
        return "hub unreachable: %s" % detail
    return "hub unreachable: %s" % (reason or type(e).__name__)


def _hub_error_detail(body):
    try:
        err = json.loads(body.decode("utf-8")).get("error")
    except Exception:
        return ""
    if isinstance(err, str) and re.match(r"\A[A-Za-z0-9 _.:-]{1,80}\Z", err):
        return ": " + err
    return ""


def _post(url, secret, body, timeout, out):
    try:
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Authorization": "Bearer " + secret.decode("ascii"),
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "samlhub-hook/1",
            },
        )
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _NoRedirect()
        )
        try:
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            try:
                detail = _hub_error_detail(e.read(4096))
            except Exception:
                detail = ""
            finally:
                e.close()
            out["error"] = "hub refused the code: HTTP %d%s" % (e.code, detail)
            return
        with resp:
            status = resp.status
            data = resp.read(MAX_BODY_BYTES + 1)
        if status != 200:
            out["error"] = "hub refused the code: HTTP %d%s" % (
                status,
                _hub_error_detail(data[:4096]),
            )
        elif len(data) > MAX_BODY_BYTES:
            out["error"] = "hub answer is too large"
        else:
            out["body"] = data
    except urllib.error.URLError as e:
        out["error"] = _describe_url_error(e)
    except (TimeoutError, OSError) as e:
        if isinstance(e, TimeoutError) or type(e).__name__ == "timeout":
            out["error"] = "timeout waiting for the hub"
        else:
            out["error"] = "hub unreachable: %s" % (e.strerror or type(e).__name__)
    except Exception as e:  # a bug or an odd HTTP answer
        out["error"] = "hub request failed: %s" % type(e).__name__


def redeem(url, secret, instance, username, code, timeout):
    body = json.dumps(
        {"instance": instance, "username": username, "code": code}
    ).encode("utf-8")
    out = {}
    # A total deadline (DNS + connect + TLS + read), not a per-read one.
    worker = threading.Thread(
        target=_post, args=(url, secret, body, timeout, out), daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise HookError("timeout: hub did not answer within %g s" % timeout)
    if "error" in out:
        raise HookError(out["error"])
    if "body" not in out:
        raise HookError("hub request failed")
    try:
        answer = json.loads(out["body"].decode("utf-8"))
    except Exception:
        raise HookError("hub answer is not JSON")
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise HookError("hub answer has no token")
    _SENSITIVE.append(token)
    return token


# --- token verification (mirrors src/ha/token.rs `verify`) ----------------


def _b64url_decode(s):
    # Strict like Rust's URL_SAFE_NO_PAD: no padding, no stray characters,
    # no non-zero trailing bits.
    if not B64URL_RE.match(s) or len(s) % 4 == 1:
        raise ValueError("bad base64url")
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != s:
        raise ValueError("non-canonical base64url")
    return raw


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key")
        d[k] = v
    return d


def _reject_constant(name):
    raise ValueError("non-JSON constant " + name)


def _json(raw, no_duplicates):
    # serde_json: UTF-8 only, no NaN/Infinity; a struct (the claims) refuses
    # duplicate keys, a generic Value (the header) keeps the last one.
    return json.loads(
        raw.decode("utf-8"),
        object_pairs_hook=_no_duplicates if no_duplicates else None,
        parse_constant=_reject_constant,
    )


def _string(claims, key):
    v = claims.get(key)
    if not isinstance(v, str):
        raise HookError("token claims are malformed (%s)" % key)
    try:
        v.encode("utf-8")  # lone surrogates, which serde_json refuses
    except UnicodeEncodeError:
        raise HookError("token claims are malformed (%s)" % key)
    return v


def _int(claims, key):
    v = claims.get(key)
    if type(v) is not int or not (I64_MIN <= v <= I64_MAX):
        raise HookError("token claims are malformed (%s)" % key)
    return v


def verify(token, secret, audience, username, now):
    parts = token.split(".")
    if len(parts) != 3:
        raise HookError("token is not a compact JWS")
    h, p, sig = parts
    try:
        header = _json(_b64url_decode(h), False)
    except Exception:
        raise HookError("token is not a compact JWS")
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise HookError("token header is not HS256")
    key = hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()
    expected = hmac.new(key, (h + "." + p).encode("ascii"), hashlib.sha256).digest()
    try:
        given = _b64url_decode(sig)
    except Exception:
        raise HookError("token is not a compact JWS")
    if not hmac.compare_digest(given, expected):
        raise HookError("bad signature: token does not verify with this hook secret")
    try:
        payload = _b64url_decode(p)
    except Exception:
        raise HookError("token is not a compact JWS")
    try:
        claims = _json(payload, True)
    except Exception:
        raise HookError("token claims are malformed")
    if not isinstance(claims, dict):
        raise HookError("token claims are malformed")
    for k in ("iss", "aud", "sub", "name", "jti"):
        _string(claims, k)
    group = _string(claims, "group")
    if group not in GROUPS:
        raise HookError("token claims are malformed (group)")
    if not isinstance(claims.get("local_only"), bool):
        raise HookError("token claims are malformed (local_only)")
    iat = _int(claims, "iat")
    exp = _int(claims, "exp")
    if claims["aud"] != audience:
        raise HookError(
            "wrong audience: token is for HA instance '%s', not this one"
            % claims["aud"][:64]
        )
    if exp - iat > MAX_LIFETIME_SECS or iat > now + LEEWAY_SECS:
        raise HookError(
            "token lifetime is over %d s or issued in the future" % MAX_LIFETIME_SECS
        )
    if now >= exp + LEEWAY_SECS:
        raise HookError("token expired")
    if claims["sub"] != username:
        raise HookError("wrong username: token is for another username")
    return claims


# --- main -----------------------------------------------------------------


def run(argv, environ):
    username = environ.get("username")
    code = environ.get("password")
    if code:
        _SENSITIVE.append(code)
    args = parse_args(argv)
    if not username:
        raise HookError("no username in the environment")
    if not code:
        raise HookError("no code (password) in the environment")
    url = redeem_url(args.hub)
    secret = read_secret(args.secret_file)
    token = redeem(url, secret, args.instance, username, code, args.timeout)
    claims = verify(token, secret, args.instance, username, int(time.time()))
    name = claims["name"].replace("\r", "").replace("\n", "")
    lines = "name = %s\ngroup = %s\n" % (name, claims["group"])
    if claims["local_only"] is True:
        lines += "local_only = true\n"
    sys.stdout.buffer.write(lines.encode("utf-8"))
    sys.stdout.buffer.flush()
    return 0


def main():
    code = 1
    try:
        code = run(sys.argv[1:], os.environ)
    except HookError as e:
        _emit_error(str(e))
        code = 1
    except BaseException as e:  # a bug, Ctrl-C, SystemExit...: never accept
        _emit_error("internal error: %s" % type(e).__name__)
        code = 1
    if code != 0:
        code = 1
    try:
        sys.stdout.flush()
    except BaseException:
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
