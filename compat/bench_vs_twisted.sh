#!/usr/bin/env bash
# weft's fast poetry server against compat/twisted_fastpoetry.py, back to back on this
# machine, same poem (loom, 3,003 bytes), same load generator (`weft bench tcp`).
# Three measurements: weft's server inside the benchmark process (the bench's default),
# `weft fast-poetry` as a process of its own, and the Twisted server (a process, as
# Python must be); then the ratios of the medians. For the two server processes it also
# prints the CPU time (user + system) each spent per request, from /proc (Linux).
#
# Usage: compat/bench_vs_twisted.sh [CLIENTS] [REQUESTS] [RUNS]   (50 20000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-50}
requests=${2:-20000}
runs=${3:-5}
poem=src/programs/poetry/poems/loom.txt
cargo build --release --quiet
weft=target/release/weft
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts a server in the background, waits for its first line, and sets `port` from
# it (not in a subshell, so that `pids` keeps the server for the cleanup).
start() {
  local out=$1; shift
  "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  port=$(head -1 "$out" | grep -oE '[0-9]+\.?$' | tr -d .)
}

bench() {
  "$weft" bench tcp --clients "$clients" --requests "$requests" --runs "$runs" "$@"
}

median() { grep -oE ' requests_per_s=[0-9]+' <<<"$1" | cut -d= -f2; }

# CPU time a process has used so far, in clock ticks: "user system".
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

# Benchmarks the server of the last `start` and prints its line with the server's CPU
# per request (user + system, all runs).
bench_process() {
  local pid=${pids[-1]} u0 s0 u1 s1 line
  read -r u0 s0 < <(ticks "$pid")
  line=$(bench --server "127.0.0.1:$port")
  read -r u1 s1 < <(ticks "$pid")
  awk -v line="$line" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
    -v n=$((requests * runs)) \
    'BEGIN { k = 1e6 / hz / n; printf "%s server_cpu_us_per_request=%.1f user=%.1f system=%.1f\n",
             line, (u + s) * k, u * k, s * k }'
}

inproc=$(bench)
echo "weft (in-process): $inproc"
start "$tmp/weft" env RUST_LOG=warn "$weft" fast-poetry "$poem"
proc=$(bench_process)
echo "weft fast-poetry:  $proc"
start "$tmp/twisted" python3 compat/twisted_fastpoetry.py "$poem"
twisted=$(bench_process)
echo "twisted:           $twisted"
awk -v a="$(median "$inproc")" -v b="$(median "$proc")" -v t="$(median "$twisted")" \
  'BEGIN { printf "ratio weft(in-process)/twisted=%.2f weft(process)/twisted=%.2f\n", a / t, b / t }'
