#!/bin/sh
# Start Debian's dockerd (package docker.io) unless a docker daemon already answers, and wait until it does. Host
# networking only: no docker0 bridge and no iptables rules (--bridge=none), so containers and builds run with
# --network host. Needs root. The daemon keeps running, with its image store and build cache, for the next run.
set -eu
docker info >/dev/null 2>&1 && exit 0
PATH=$PATH:/usr/sbin:/sbin
command -v dockerd >/dev/null || { echo "dockerd not found" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "dockerd is not running, and only root can start it" >&2; exit 1; }
log=${DOCKERD_LOG:-/var/log/dockerd.log}
setsid dockerd --bridge=none --iptables=false --ip6tables=false >>"$log" 2>&1 </dev/null &
tries=0
until docker info >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ]; then echo "dockerd did not answer within 60 s: see $log" >&2; exit 1; fi
    sleep 0.5
done
echo "dockerd started (host networking only; log: $log)"
