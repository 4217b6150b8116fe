#!/bin/sh
# Three Belfry nodes on this machine sharing the local PostgreSQL and NATS: a cluster to try
# things on (each node serves plain HTTP and TLS on its own port; no load balancer). Stop them
# with Ctrl-C.
#   createdb belfry_cluster   # once
#   sh examples/cluster/run-local.sh
set -eu
BIN=${BELFRY_BIN:-target/release/belfry}
STORE=${BELFRY_STORE:-postgres://127.0.0.1:5432/belfry_cluster}
export BELFRY_STORE="$STORE" BELFRY_BUS=${BELFRY_BUS:-nats://127.0.0.1:4222}
export BELFRY_BUS_SUBJECT=${BELFRY_BUS_SUBJECT:-belfry.local.events}
trap 'kill 0' INT TERM EXIT
for n in 1 2 3; do
    "$BIN" serve --listen "127.0.0.1:775$n" --data-dir "./belfry-cluster/node$n" &
done
wait
