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
