#!/bin/sh
# "Many cores: MDP broker" (issue 17): `zbroker mdp --threads 1` against
# `--threads 2`, 100 green clients (one zclient) and 8 zworker processes
# on one service, interleaved rounds, medians, in two placements:
#   pinned:   the broker on CPU 1, every worker and the client on CPU 0;
#   shared:   the broker on CPUs 0-1, the load generator on CPUs 0-1.
# Usage: benches/mdp-threads.sh [RUNS] [COUNT]   (after
# `cargo build --release -p zgreen-brokers -p brokers-bench`)
set -eu
runs=${1:-5}
count=${2:-40000}
bench=./target/release/brokers-bench
out=${OUT:-/tmp/mdp-threads}
mkdir -p "$out"
$bench all --only mdp-t1,mdp-t2 --runs "$runs" --mdp-count "$count" \
  --broker-cpus 1 --load-cpus 0 --markdown-out "$out/pinned.md" --json-out "$out/pinned.json"
$bench all --only mdp-t1,mdp-t2 --runs "$runs" --mdp-count "$count" \
  --broker-cpus 0-1 --load-cpus 0-1 --markdown-out "$out/shared.md" --json-out "$out/shared.json"
