#!/bin/bash
# The container's HEALTHCHECK: asks samlhub's /readyz (200 when the hub
# serves and its store answers) on the port of SAMLHUB_LISTEN. Plain bash
# (/dev/tcp), so the image needs no HTTP client. Exit 0 healthy, 1 not.
set -u
listen="${SAMLHUB_LISTEN:-0.0.0.0:8080}"
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"
host="${host%]}"
case "$host" in
  0.0.0.0 | "") host=127.0.0.1 ;;
  ::) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) echo "samlhub not ready: ${status%$'\r'}"; exit 1 ;;
esac
