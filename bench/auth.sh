#!/usr/bin/env bash
# bench/auth.sh: what creator auth costs a create — wrk (2 threads, 32 connections, 8 s) of 64-byte
# creates against readonce on a real redis-server, anonymous, with an API token and with a v1 JWT,
# two rounds; server and Redis CPU per request from /proc. Ports 16411 and 18790 on loopback.
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ro" . || exit 1
RP=16411
redis-server --port $RP --save '' --appendonly no --daemonize yes >/dev/null; sleep 0.5
SK=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
token=$(REDIS_URL=redis://127.0.0.1:$RP SECRET_KEY=$SK "$tmp/ro" tokens create --name bench 2>/dev/null)
jwt=$(SECRET_KEY=$SK "$tmp/ro" token --subject bench)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # name, extra env, header
  name=$1; shift; hdr=$1; shift
  env REDIS_URL=redis://127.0.0.1:$RP SECRET_KEY=$SK PORT=18790 HOST=127.0.0.1 LOG_LEVEL=error "$@" "$tmp/ro" serve >/dev/null 2>&1 &
  pid=$!; sleep 1
  cat > "$tmp/wrk.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ttl_seconds":60}'
wrk.headers["Content-Type"] = "application/json"
LUA
  [ -n "$hdr" ] && echo "wrk.headers[\"Authorization\"] = \"Bearer $hdr\"" >> "$tmp/wrk.lua"
  c0=$(cpu $pid); r0=$(awk '{print $14+$15}' /proc/$(pgrep -f "redis-server.*$RP" | head -1)/stat)
  out=$(wrk -t2 -c32 -d8s -s "$tmp/wrk.lua" http://127.0.0.1:18790/api/v1/secrets/ 2>&1)
  c1=$(cpu $pid); r1=$(awk '{print $14+$15}' /proc/$(pgrep -f "redis-server.*$RP" | head -1)/stat)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$name: $reqs creates, non-2xx ${non2xx:-0}, server $(( (c1-c0)*10000000/reqs ))ns CPU/req, redis $(( (r1-r0)*10000000/reqs ))ns/req, $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s"
  kill $pid; wait $pid 2>/dev/null; redis-cli -p $RP flushall >/dev/null
}
for round in 1 2; do
  run "none" "" 
  token=$(REDIS_URL=redis://127.0.0.1:$RP SECRET_KEY=$SK "$tmp/ro" tokens revoke bench >/dev/null 2>&1; REDIS_URL=redis://127.0.0.1:$RP SECRET_KEY=$SK "$tmp/ro" tokens create --name bench 2>/dev/null)
  run "api_token" "$token" REQUIRE_AUTH=true
  run "jwt" "$jwt" REQUIRE_AUTH=true
done
redis-cli -p $RP shutdown nosave >/dev/null 2>&1
