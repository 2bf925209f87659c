#!/usr/bin/env bash
# The floor of CPU per advert sent on this machine, at one instance: the
# least any Master that sends each advert from user space can spend
# (scripts/floor/minsend.c: one clock_nanosleep and one sendto per advert,
# nothing else), measured side by side with keepalived's Master, each
# sending to a keepalived Backup on a second host of a lab.
#
#   sudo scripts/bench-floor.sh [SECONDS]
#
# Needs root, ip (iproute2), gcc and keepalived. Everything runs in network
# namespaces named vrrpkit-<pid>-floor-*, with 198.18.0.0/24 addresses,
# deleted on exit; only processes this script started are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
secs="${1:-30}"
interval_ms=100
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-floor: run as root (it creates network namespaces)" >&2
  exit 1
fi
p="vrrpkit-$$-floor"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for ns in "$p-h1" "$p-h2" "$p-sw"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

gcc -O2 -o "$work/minsend" scripts/floor/minsend.c
gcc -O2 -o "$work/minrecv" scripts/floor/minrecv.c

# The lab: a bridge in a switch namespace, two hosts on it. IPv6 off
# everywhere: the lab sends nothing but what is measured.
for ns in "$p-sw" "$p-h1" "$p-h2"; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$p-sw" link add br0 type bridge mcast_snooping 0
ip -n "$p-sw" link set br0 up
for i in 1 2; do
  ip -n "$p-sw" link add "p$i" type veth peer name eth0 netns "$p-h$i"
  ip -n "$p-sw" link set "p$i" master br0 up
  ip -n "$p-h$i" addr add "198.18.0.$i/24" dev eth0
  ip -n "$p-h$i" link set eth0 up
done

keepalived_conf() { # PRIORITY
  cat <<CONF
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority $1
  advert_int 0.$((interval_ms / 100))
  version 3
  virtual_ipaddress {
    198.18.0.100/24
  }
}
CONF
}
# start_keepalived runs keepalived in a host and sets vrrp_pid to the pid of
# its VRRP child. (Not in a command substitution: the subshell would keep
# the pid it adds to pids, and cleanup would miss the process.)
start_keepalived() { # HOST PRIORITY DIR
  mkdir -p "$3"
  keepalived_conf "$2" > "$3/keepalived.conf"
  ip netns exec "$p-h$1" keepalived --dont-fork --no-syslog --vrrp --use-file="$3/keepalived.conf" \
    --pid="$3/keepalived.pid" --vrrp_pid="$3/vrrp.pid" --checkers_pid="$3/checkers.pid" \
    --bfd_pid="$3/bfd.pid" > "$3/log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do [ -s "$3/vrrp.pid" ] && break; sleep 0.1; done
  vrrp_pid=$(cat "$3/vrrp.pid")
}
oncpu() { # PID: nanoseconds on a CPU, all threads
  local sum=0 f
  for f in /proc/"$1"/task/*/schedstat; do
    sum=$((sum + $(cut -d' ' -f1 "$f")))
  done
  echo "$sum"
}
measure() { # NAME PID
  sleep 2
  local a b
  a=$(oncpu "$2")
  sleep "$secs"
  b=$(oncpu "$2")
  local adverts=$((secs * 1000 / interval_ms))
  awk -v n="$1" -v d=$((b - a)) -v c="$adverts" 'BEGIN { printf "| %s | %d | %.1f |\n", n, c, d / c / 1000 }'
}

echo "bench-floor: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
minsend() { # NAME
  ip netns exec "$p-h1" "$work/minsend" eth0 198.18.0.1 "$interval_ms" $(((secs + 4) * 1000 / interval_ms)) &
  local pid=$!
  pids+=("$pid")
  measure "$1" "$pid"
  wait "$pid"
}
echo "| Master (${interval_ms} ms adverts) | adverts | µs on a CPU per advert (schedstat) |"
echo "|---|---:|---:|"
minsend "minsend (the floor: clock_nanosleep + sendto), nothing listening on host 2"
start_keepalived 2 100 "$work/backup"
backup_pid=$vrrp_pid
sleep 1
minsend "minsend, to a keepalived Backup on host 2"
start_keepalived 1 200 "$work/master"
measure "keepalived 2.2.7, to the keepalived Backup" "$vrrp_pid"

# The receiving side, from keepalived's Master (still running): keepalived's
# Backup, woken by each advert, and minrecv, which reads them in batches at
# the mean period of a deferred Backup at priority 100 (Master_Down_Interval
# 3.61 intervals, less half an interval).
echo
echo "| Backup (from keepalived's Master, ${interval_ms} ms adverts) | adverts | µs on a CPU per advert received (schedstat) |"
echo "|---|---:|---:|"
measure "keepalived 2.2.7 Backup (woken by each advert)" "$backup_pid"
period=$((interval_ms * 361 / 100 - interval_ms / 2))
ip netns exec "$p-h2" "$work/minrecv" eth0 "$period" $((secs + 4)) > "$work/minrecv.out" &
mrecv=$!
pids+=("$mrecv")
measure "minrecv (the floor of a deferred Backup: a wake-up every ${period} ms, one recvmmsg)" "$mrecv"
wait "$mrecv"
echo "(minrecv read $(cat "$work/minrecv.out") adverts in $((secs + 4)) s)" >&2
echo "bench-floor: done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
