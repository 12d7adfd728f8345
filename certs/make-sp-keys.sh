#!/usr/bin/env bash
# Makes the SP key pairs samlhub expects in DIR (default ./samlhub-data), unless they exist.
set -euo pipefail
dir="${1:-./samlhub-data}"
mkdir -p "$dir"
umask 077
for stem in sp-signing sp-encryption; do
  if [ -e "$dir/$stem.key" ]; then echo "$dir/$stem.key exists; left alone"; continue; fi
  openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
    -subj "/CN=samlhub $stem" -keyout "$dir/$stem.key" -out "$dir/$stem.crt" 2>/dev/null
  chmod 644 "$dir/$stem.crt"
  echo "made $dir/$stem.key and $dir/$stem.crt"
done
