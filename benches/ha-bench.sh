#!/usr/bin/env bash
# Titanic and Binary Star figures (BENCHMARKS.md, "Titanic and Binary Star"):
#
#   throughput  per round, interleaved: plain MDP (zclient mdp, request and
#               reply through zbroker mdp to two echo workers), then Titanic
#               with --fsync always and with --fsync group (zclient titanic:
#               titanic.request, titanic.reply polled every 1 ms, then
#               titanic.close; each a full 9/TSP cycle), 16 green clients;
#               then stores only (titanic.request, 64 clients, 64 request
#               workers): what the fsync policy changes
#   failover    per round: a Binary Star pair (state heartbeat 100 ms), two
#               workers registered with both, one client (one request in
#               flight, 200 ms timeout); the primary is SIGKILLed and the
#               figure is the time from the kill to the answer of the request
#               it disrupted (the first answer from the backup)
#
# Medians of ROUNDS (default 5). The journal lives under target/ (the real
# disk, not a tmpfs). Usage, after cargo build --release -p zgreen-brokers:
#   benches/ha-bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=${ZGREEN_BIN:-target/release}
mdp_count=${ZGREEN_HA_MDP_COUNT:-20000}
tsp_count=${ZGREEN_HA_TSP_COUNT:-3000}
store_count=${ZGREEN_HA_STORE_COUNT:-5000}
work=target/ha-bench
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
start() { # LOG ARGS...: starts a binary in the background, remembers its pid
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    pids+=($!)
    last=$!
}
wait_log() { # FILE TEXT: up to 10 s
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "timed out waiting for '$2' in $1" >&2
    return 1
}
json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | tail -1; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] }'; }
last_int() { printf '%.0f' "$(tail -1 "$1")"; }

ep=tcp://127.0.0.1:$(port)
start "$work/broker.log" "$bin/zbroker" mdp --bind "$ep"
wait_log "$work/broker.log" "mdp broker listening"
for i in 1 2; do start "$work/worker$i.log" "$bin/zworker" mdp --connect "$ep" --service echo; done
sleep 0.5

: >"$work/mdp.txt" >"$work/always.txt" >"$work/group.txt" >"$work/failover.txt"
: >"$work/always-batch.txt" >"$work/group-batch.txt" >"$work/always-store.txt" >"$work/group-store.txt"
for r in $(seq "$rounds"); do
    "$bin/zclient" mdp --connect "$ep" --count "$mdp_count" --concurrency 16 --progress-ms 0 --json \
        >"$work/mdp-$r.json" 2>/dev/null
    json "$work/mdp-$r.json" throughput_per_s >>"$work/mdp.txt"
    for mode in always group; do
        start "$work/titanic-$mode-$r.log" "$bin/zbroker" titanic --connect "$ep" \
            --dir "$work/journal-$mode-$r" --fsync "$mode" --request-workers 64 --dispatchers 16
        t=$last
        wait_log "$work/titanic-$mode-$r.log" "titanic ready"
        sleep 0.3
        "$bin/zclient" titanic --connect "$ep" --count "$tsp_count" --concurrency 16 --poll-ms 1 \
            --progress-ms 0 --json >"$work/$mode-$r.json" 2>/dev/null
        json "$work/$mode-$r.json" throughput_per_s >>"$work/$mode.txt"
        "$bin/zclient" titanic --connect "$ep" --count "$store_count" --concurrency 64 --store-only \
            --progress-ms 0 --json >"$work/$mode-store-$r.json" 2>/dev/null
        json "$work/$mode-store-$r.json" throughput_per_s >>"$work/$mode-store.txt"
        kill "$t"
        wait "$t" 2>/dev/null || true
        sed -n 's/.*titanic stopped records=\([0-9]*\) syncs=\([0-9]*\).*/\1 \2/p' "$work/titanic-$mode-$r.log" |
            awk '{ printf "%.2f\n", $1 / ($2 > 0 ? $2 : 1) }' >>"$work/$mode-batch.txt"
    done
    echo "round $r: mdp $(last_int "$work/mdp.txt") always $(last_int "$work/always.txt") group $(last_int "$work/group.txt") req/s; stores only: always $(last_int "$work/always-store.txt") group $(last_int "$work/group-store.txt") req/s"
done

for r in $(seq "$rounds"); do
    p=tcp://127.0.0.1:$(port) b=tcp://127.0.0.1:$(port) ps=tcp://127.0.0.1:$(port) bs=tcp://127.0.0.1:$(port)
    hb=(--heartbeat-ms 100 --peer-heartbeat-ms 100)
    start "$work/p-$r.log" "$bin/zbroker" mdp --bind "$p" --role primary --state-bind "$ps" --peer "$bs" "${hb[@]}"
    primary=$last
    start "$work/b-$r.log" "$bin/zbroker" mdp --bind "$b" --role backup --state-bind "$bs" --peer "$ps" "${hb[@]}"
    backup=$last
    wait_log "$work/p-$r.log" "role=active"
    wait_log "$work/b-$r.log" "role=passive"
    w=()
    for i in 1 2; do
        start "$work/fw$i-$r.log" "$bin/zworker" mdp --connect "$p,$b" --service echo --heartbeat-ms 100
        w+=("$last")
    done
    sleep 0.5
    start "$work/fc-$r.json" "$bin/zclient" mdp --connect "$p,$b" --count 600 --concurrency 1 \
        --interval-ms 5 --timeout-ms 200 --retries 20 --progress-ms 0 --json
    client=$last
    sleep 1.5
    kill -9 "$primary"
    killed=$(now_ms)
    wait "$primary" 2>/dev/null || true
    wait "$client" || true
    recovered=$(json "$work/fc-$r.json" last_recovered_unix_ms)
    echo $((recovered - killed)) >>"$work/failover.txt"
    echo "round $r: failover $((recovered - killed)) ms (lost $(json "$work/fc-$r.json" lost), retries $(json "$work/fc-$r.json" retries))"
    kill "$backup" "${w[@]}" 2>/dev/null || true
    wait "$backup" "${w[@]}" 2>/dev/null || true
done

echo
echo "medians of $rounds rounds:"
echo "  plain MDP            $(median <"$work/mdp.txt") req/s"
echo "  titanic fsync always $(median <"$work/always.txt") req/s (full 9/TSP cycles), $(sort -n "$work/always-batch.txt" | sed -n 3p) records per fdatasync (both runs of that process)"
echo "  titanic fsync group  $(median <"$work/group.txt") req/s, $(sort -n "$work/group-batch.txt" | sed -n 3p) records per fdatasync (both runs of that process)"
echo "  stores only (titanic.request, 64 clients): always $(median <"$work/always-store.txt") req/s, group $(median <"$work/group-store.txt") req/s"
echo "  failover             $(median <"$work/failover.txt") ms (primary SIGKILL to the first answer from the backup)"
