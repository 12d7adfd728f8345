#!/usr/bin/env bash
# Assembles the Home Assistant add-on repository into OUT:
#
#   scripts/ha-addon.sh OUT                 # bundles the sources (HEAD); HA compiles them
#   scripts/ha-addon.sh OUT --binary FILE   # bundles a samlhub binary built for bookworm
#
# OUT then holds repository.yaml and samlhub/ (config.yaml, Dockerfile,
# run.sh, DOCS.md, icon, the Python hook). Copy OUT/samlhub to /addons/samlhub
# on HA OS (Samba or SSH add-on) for a local add-on, or publish OUT as the
# root of a git repository and add its URL in the add-on store.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:?usage: scripts/ha-addon.sh OUT [--binary FILE]}"
binary=""
if [ "${2:-}" = "--binary" ]; then
  binary="${3:?--binary needs a file}"
fi

mkdir -p "$out"
cp contrib/ha-addon/repository.yaml "$out/"
rm -rf "$out/samlhub"
cp -r contrib/ha-addon/samlhub "$out/samlhub"
cp contrib/ha/samlhub_hook.py "$out/samlhub/samlhub_hook.py"
if [ -n "$binary" ]; then
  strip --strip-debug -o "$out/samlhub/samlhub" "$binary" 2>/dev/null \
    || cp "$binary" "$out/samlhub/samlhub"
  chmod 0755 "$out/samlhub/samlhub"
else
  git archive --format=tar.gz -o "$out/samlhub/samlhub-src.tar.gz" HEAD
fi
echo "add-on repository in $out"
