#!/bin/sh
# Writes the mesh's intentions into Consul: deny by default (`*` -> `*`), then one allow per edge of the shop's
# call graph, as service-intentions config entries (one per destination; writing one replaces it, so reruns are
# idempotent). Waits for Consul (its leader) first. Runs in the hashicorp/consul image; CONSUL_HTTP_ADDR (and
# CONSUL_HTTP_TOKEN when ACLs are on) name the agent.
set -eu
dir=$(dirname "$0")
tries=0
until consul config list -kind service-intentions >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then
    echo "Consul at ${CONSUL_HTTP_ADDR:-127.0.0.1:8500} did not answer in 2 minutes" >&2
    exit 1
  fi
  sleep 1
done
for entry in "$dir"/*.json; do
  consul config write "$entry"
done
consul intention list || true
