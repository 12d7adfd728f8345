#!/usr/bin/env bash
# Run every check and test. Installs the system packages the tests use
# (SimpleSAMLphp as the IdP, Redis, xmlsec1, xmllint and the OASIS schemas,
# headless Chromium with chromedriver, Docker and debootstrap for the
# container tests) when they are missing, and starts dockerd if it can.
# Servers started by tests bind to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}" \
  simplesamlphp php-xml php-mbstring \
  redis-server xmlsec1 libxml2-utils opensaml-schemas xmltooling-schemas libapache2-mod-auth-openidc \
  chromium chromium-driver socat \
  docker.io debootstrap python3-yaml
start_dockerd

export CARGO_TERM_COLOR=never
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
