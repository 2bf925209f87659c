#!/usr/bin/env bash
# Runs the failover benchmark of vrrpkit against keepalived
# (internal/bench) in network namespaces, and prints its markdown tables.
#
#   sudo scripts/bench-failover.sh [PARTS]
#
# PARTS is "all" (the default) or a comma-separated list of failover, cpu,
# stable and heap. The test log goes to standard error, the tables to standard
# output. Knobs, passed through from the environment (see
# internal/bench/doc.go): VRRPKIT_BENCH_N, VRRPKIT_BENCH_PERIOD,
# VRRPKIT_BENCH_STABLE, VRRPKIT_BENCH_IMPLS, VRRPKIT_BENCH_PROFILE.
#
# Needs root, ip (iproute2) and keepalived 2.2.7; everything runs in
# namespaces named vrrpkit-<pid>-..., deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

parts="${1:-all}"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-failover: run as root (the benchmark creates network namespaces)" >&2
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "bench-failover: $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
  echo "bench-failover: commit $rev, $(git status --porcelain | wc -l) paths changed in the working tree" >&2
fi
status=0
VRRPKIT_BENCH="$parts" VRRPKIT_BENCH_OUT="$out" \
  go test ./internal/bench -run . -count 1 -v -timeout 3h >&2 || status=$?
echo "bench-failover: done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cat "$out"
exit "$status"
