#!/usr/bin/env bash
# Build and start samlhub on the embedded store. Extra arguments go to
# `samlhub serve` (e.g. --config samlhub.toml). With no config it listens on
# 127.0.0.1:8080 and keeps its data in ./samlhub-data.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages "${BUILD_PACKAGES[@]}"
cargo build --release --locked
exec ./target/release/samlhub serve "$@"
