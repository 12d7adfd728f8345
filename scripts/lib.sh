# Shared by scripts/serve.sh and scripts/test.sh: install missing Debian/Ubuntu packages.
# shellcheck shell=bash

# ensure_packages PKG... : installs with apt-get whatever dpkg does not report installed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing system packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "need root to run: apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Packages needed to build samlhub (openssl-sys).
BUILD_PACKAGES=(pkg-config libssl-dev ca-certificates)

# start_dockerd: best effort. Starts dockerd in the background (log in
# ${TMPDIR:-/tmp}/samlhub-dockerd.log) unless an engine already answers, and
# waits up to 30 s for `docker info`. Never fails: without an engine the
# container tests skip and say why.
start_dockerd() {
  command -v docker >/dev/null 2>&1 || return 0
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n" || return 0
  fi
  local log="${TMPDIR:-/tmp}/samlhub-dockerd.log"
  echo "starting dockerd (log: $log)" >&2
  # shellcheck disable=SC2086
  (nohup $sudo dockerd >"$log" 2>&1 &) || return 0
  for _ in $(seq 30); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not come up; the container tests will skip (see $log)" >&2
  return 0
}
