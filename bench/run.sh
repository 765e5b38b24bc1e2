#!/usr/bin/env bash
# make bench: a real redis-server, bench/floor (the HTTP floor), bench/baseline
# and readonce on loopback, the default profiles run against the three in
# alternation; readonce's ratios to the floor and to the baseline. VUS=1,16,64,512
# sweeps the concurrency; TARGETS=readonce runs readonce alone (profiles the
# baseline cannot run). Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILES=${PROFILES:-bench/profiles/pair.json,bench/profiles/mixed.json}
ROUNDS=${ROUNDS:-3}
VUS=${VUS:-}
OUT=${OUT:-bench/results/latest.json}

command -v redis-server >/dev/null || { echo "bench: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { # a port nothing listens on
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_http() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on $1" >&2; exit 1
}

echo "== building"
go build -o "$tmp/readonce" .
go build -o "$tmp/baseline" ./bench/baseline
go build -o "$tmp/floor" ./bench/floor
go build -o "$tmp/bench" ./bench

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
  --maxmemory-policy noeviction --loglevel warning >"$tmp/redis.log" 2>&1 &
REDIS_PID=$!; pids+=($REDIS_PID)
wait_http "$RPORT"

FPORT=$(free_port)
PORT="$FPORT" "$tmp/floor" >/dev/null 2>&1 &
FLOOR_PID=$!; pids+=($FLOOR_PID)

APORT=$(free_port)
REDIS_URL="redis://127.0.0.1:$RPORT/0" PORT="$APORT" "$tmp/baseline" >/dev/null 2>&1 &
BASELINE_PID=$!; pids+=($BASELINE_PID)

OPORT=$(free_port)
# MAX_CONNS_PER_IP=0: the load generator is one address with up to 512 connections.
REDIS_URL="redis://127.0.0.1:$RPORT/1" PORT="$OPORT" HOST=127.0.0.1 PUBLIC_URL="http://127.0.0.1:$OPORT" MAX_CONNS_PER_IP=0 \
  SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" env ${READONCE_ENV:-} \
  "$tmp/readonce" >/dev/null 2>"$tmp/readonce.log" &
READONCE_PID=$!; pids+=($READONCE_PID)
wait_http "$FPORT"; wait_http "$APORT"; wait_http "$OPORT"

mkdir -p "$(dirname "$OUT")"
echo "== $(date -u +%FT%TZ) $(nproc) cores, $(redis-server --version | cut -d' ' -f3), $(go version | cut -d' ' -f3)"
if [ "${TARGETS:-all}" = readonce ]; then # profiles the baseline cannot run (receipts, passphrases)
  "$tmp/bench" -target "http://127.0.0.1:$OPORT" -pids "$READONCE_PID" -redis-pid "$REDIS_PID" -rounds "$ROUNDS" \
    -profile "$PROFILES" ${VUS:+-vus "$VUS"} -out "$OUT"
else
  "$tmp/bench" -floor "http://127.0.0.1:$FPORT" -compare "baseline=http://127.0.0.1:$APORT,readonce=http://127.0.0.1:$OPORT" \
    -pids "$FLOOR_PID,$BASELINE_PID,$READONCE_PID" -redis-pid "$REDIS_PID" -rounds "$ROUNDS" -profile "$PROFILES" \
    ${VUS:+-vus "$VUS"} -out "$OUT"
fi
echo "== results: $OUT"
