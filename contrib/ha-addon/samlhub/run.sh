#!/usr/bin/env bash
# The add-on's entry point. Turns the options the Supervisor wrote to
# /data/options.json into samlhub's config file, makes the Home Assistant
# hook secret on first start, copies the Python hook and that secret into
# Home Assistant's config directory (mapped at /homeassistant, seen by HA
# as /config), and runs the hub as the container's main process.
set -euo pipefail

options=/data/options.json
config=/data/samlhub.toml
secret=/data/ha-hook.secret
ha_config=/homeassistant

if [ ! -r "$options" ]; then
  echo "samlhub add-on: $options is missing (the Supervisor writes it)" >&2
  exit 1
fi

if [ ! -s "$secret" ]; then
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$secret")
fi

# JSON string and array literals (`tojson`) are valid TOML values, escapes
# included. Options left empty are left out, so samlhub names what is missing.
jq -r '
  def set(k): select(. != null and . != "") | "\(k) = \(tojson)";
  (.public_url | set("public_url")),
  "listen = \"0.0.0.0:8080\"",
  "data_dir = \"/data/samlhub\"",
  (.store | set("store")),
  (.idps[] |
    "", "[[idp]]",
    (.id | set("id")),
    (.display_name | set("display_name")),
    (.metadata_url | set("metadata_url")),
    (.metadata_file | set("metadata_file")),
    (.profile | set("profile"))),
  (select(.ha_external_url != null and .ha_external_url != "") |
    "", "[[ha]]",
    (.ha_instance | set("id")),
    (.ha_external_url | set("external_url")),
    ((.ha_internal_url // "http://homeassistant:8123") | set("internal_url")),
    "hook_secret_file = \"/data/ha-hook.secret\"",
    (.username | set("username")),
    "admin_groups = \(.admin_groups | tojson)",
    "user_groups = \(.user_groups | tojson)",
    "read_only_groups = \(.read_only_groups | tojson)",
    (.admin_mfa | set("admin_mfa")))
' "$options" >"$config"

if [ -d "$ha_config" ]; then
  install -m 0644 /usr/share/samlhub/samlhub_hook.py "$ha_config/samlhub_hook.py"
  install -m 0600 "$secret" "$ha_config/samlhub-ha.secret"
fi

RUST_LOG="$(jq -r '.log_level // "info"' "$options")"
export RUST_LOG
exec /usr/local/bin/samlhub serve --config "$config"
