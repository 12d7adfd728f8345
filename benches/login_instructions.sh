#!/usr/bin/env bash
# The instructions one login costs the hub, counted by callgrind: the ACS
# POST (both-signed Response) and GET /session, on Redis, one client. A
# count does not move with the host's speed, so two builds can be compared
# on a busy machine where wall-clock runs cannot.
#
#   cargo build --release && cp target/release/samlhub /tmp/hub-a   # one build
#   ...                                                            # the other
#   benches/login_instructions.sh /tmp/hub-a /tmp/hub-b
#
# Build another checkout into its own target directory (CARGO_TARGET_DIR):
# cargo fingerprints a path package the same wherever it sits, so a second
# checkout whose files are older than the first one's build is taken as up
# to date, and the first one's binary comes back. Compare the two binaries'
# hashes before counting.
#
# For each hub: runs the login_load bench with the hub under callgrind,
# resets the counts once 20 logins are done (the set-up and the first
# requests are left out), counts for COUNT_SECONDS (default 12), and
# divides by the logins Redis saw in that window (its EVALSHA calls: one
# per ACS POST). Needs valgrind and redis-cli (apt install valgrind
# redis-tools).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 HUB_BINARY..." >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null \
    && command -v redis-cli >/dev/null \
    || { echo "needs valgrind and redis-cli: apt-get install valgrind redis-tools" >&2; exit 2; }
seconds=${COUNT_SECONDS:-12}
cd "$(dirname "$0")/.."

load=$(cargo bench --bench login_load --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*login_load[^"]*\)".*/\1/p' | tail -1)
[ -x "$load" ] || { echo "cannot build the login_load bench" >&2; exit 1; }

evalsha_calls() {
    redis-cli -p "$1" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'
}

for hub in "$@"; do
    hub=$(realpath "$hub")
    dir=$(mktemp -d)
    printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p %s "$@"\n' \
        "$dir" "$hub" > "$dir/hub"
    chmod +x "$dir/hub"
    LOAD_HUB_BIN="$dir/hub" LOAD_STORE=redis LOAD_CONCURRENCY=1 LOAD_LOGINS=1000 \
        LOAD_MIX=login "$load" --bench > "$dir/load.out" 2>&1 &
    harness=$!
    pid= port=
    for _ in $(seq 600); do
        pid=$(pgrep -f -- "--callgrind-out-file=$dir/" | head -1 || true)
        redis=$(pgrep -P "$harness" redis-server | head -1 || true)
        [ -n "$redis" ] && port=$(tr '\0' ' ' < "/proc/$redis/cmdline" | grep -o '127.0.0.1:[0-9]*' | cut -d: -f2 || true)
        [ -n "$pid" ] && [ -n "$port" ] && break
        sleep 0.2
    done
    [ -n "$pid" ] && [ -n "$port" ] || { echo "$hub: the hub or Redis did not start" >&2; kill "$harness"; exit 1; }
    until [ "$(evalsha_calls "$port")" -ge 20 ] 2>/dev/null; do
        kill -0 "$harness" 2>/dev/null || { echo "$hub: the bench ended early: $dir/load.out" >&2; exit 1; }
        sleep 0.2
    done
    callgrind_control -d "$pid" >/dev/null
    first=$(evalsha_calls "$port")
    sleep "$seconds"
    callgrind_control -d "$pid" >/dev/null
    last=$(evalsha_calls "$port")
    kill "$harness" 2>/dev/null || true
    pkill -9 -f -- "--callgrind-out-file=$dir/" || true
    [ -n "${redis:-}" ] && kill "$redis" 2>/dev/null || true
    dump=$(ls "$dir"/cg.*.2)
    ir=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$dump" | head -1)
    logins=$((last - first))
    echo "$hub: $logins logins, $((ir / logins)) instructions per login"
    rm -rf "$dir"
done
