#!/usr/bin/env bash
# Issue 7's HTTP benchmark, side by side in one run: hello-world keep-alive
# requests per second and p99 latency, measured with wrk on loopback, for
#   zgreen  examples/wsgi_server.rs        (one hub, one thread)
#   hyper   benches/http-bench (hyper 1)    (current-thread tokio runtime)
#   gevent  benches/peers/gevent_hello.py   (gevent pywsgi, log=None)
# The servers take turns (interleaved rounds), each gets a warm-up, and the
# medians of the rounds are printed as a markdown table for BENCHMARKS.md.
#
# Usage: bash benches/http-bench/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#        (defaults 5 rounds, 10 s per wrk run, 100 connections)
#
# HTTP_BENCH_SET=multicore (issue 17) compares instead zgreen on 1 and 2
# hubs (wsgi_server --threads N) with hyper on tokio's multi-thread
# runtime with 1 and 2 workers. SERVER_CPUS and WRK_CPUS (taskset lists,
# e.g. 0-1 and 1) pin the servers and wrk; wrk's own CPU time is
# reported, since on a small machine it competes with the servers.
# Needs: wrk (apt-get install wrk; installed here if missing and root),
#        the Python peers (bash benches/peers/setup.sh; run here if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
seconds=${2:-10}
conns=${3:-100}
threads=${WRK_THREADS:-1}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is missing: apt-get install wrk" >&2
        exit 1
    fi
fi
set_name=${HTTP_BENCH_SET:-peers}
cargo build --release --features http --example wsgi_server -q
cargo build --release -p http-bench -q

wsgi=./target/release/examples/wsgi_server
hyper=./target/release/hyper_hello
if [ "$set_name" = multicore ]; then
    declare -A cmd=(
        [zgreen-1]="$wsgi 127.0.0.1:18100"
        [zgreen-2]="$wsgi 127.0.0.1:18101 --threads 2"
        [hyper-1]="$hyper 127.0.0.1:18102 --threads 1"
        [hyper-2]="$hyper 127.0.0.1:18103 --threads 2"
    )
    declare -A port=([zgreen-1]=18100 [zgreen-2]=18101 [hyper-1]=18102 [hyper-2]=18103)
    order=(zgreen-1 zgreen-2 hyper-1 hyper-2)
else
    [ -x benches/peers/.venv/bin/python ] || bash benches/peers/setup.sh
    declare -A cmd=(
        [zgreen]="$wsgi 127.0.0.1:18100"
        [hyper]="$hyper 127.0.0.1:18101"
        [gevent]="benches/peers/.venv/bin/python benches/peers/gevent_hello.py 127.0.0.1:18102"
    )
    declare -A port=([zgreen]=18100 [hyper]=18101 [gevent]=18102)
    order=(zgreen hyper gevent)
fi
pin_server=() pin_wrk=()
[ -n "${SERVER_CPUS:-}" ] && pin_server=(taskset -c "$SERVER_CPUS")
[ -n "${WRK_CPUS:-}" ] && pin_wrk=(taskset -c "$WRK_CPUS")

# wrk's CPU seconds (user + system) are written by bash's `time` to this file.
TIMEFORMAT='%U %S'

# User + system CPU ticks of process $1 so far.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# Starts server $1, waits for its banner, and echoes its pid.
start() {
    local name=$1 log="$out/$1.log"
    "${pin_server[@]}" ${cmd[$name]} >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        grep -q "Serving on" "$log" && { echo "$pid"; return; }
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$log" >&2
    exit 1
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') -t$threads -c$conns -d${seconds}s --latency; $rounds rounds; set $set_name"
echo "pinning: servers ${SERVER_CPUS:-not pinned}, wrk ${WRK_CPUS:-not pinned}"
echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    for name in "${order[@]}"; do
        pid=$(start "$name")
        url="http://127.0.0.1:${port[$name]}/"
        # The body must be the hello world, or the figures mean nothing.
        curl_body=$(python3 -c "import urllib.request,sys;print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$url")
        [ "$curl_body" = "<p>Hello World</p>" ] || { echo "$name answered $curl_body" >&2; exit 1; }
        "${pin_wrk[@]}" wrk -t"$threads" -c"$conns" -d2s "$url" >/dev/null
        cpu0=$(cpu_ticks "$pid")
        { time "${pin_wrk[@]}" wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "$url" >"$out/$name.$round.wrk"; } 2>"$out/wrk.time"
        wrk_cpu=$(awk '{print $1 + $2}' "$out/wrk.time")
        cpu1=$(cpu_ticks "$pid")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        rps=$(awk '/^Requests\/sec/ {print $2}' "$out/$name.$round.wrk")
        p99=$(awk '$1 == "99%" {print $2}' "$out/$name.$round.wrk")
        total=$(awk '/requests in/ {print $1}' "$out/$name.$round.wrk")
        # Server CPU (user + system) per request, in microseconds.
        us=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="$total" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
        # wrk's own CPU per request, in microseconds (the load generator's cost).
        wus=$(awk -v c="$wrk_cpu" -v n="$total" 'BEGIN {printf "%.2f", c * 1e6 / n}')
        errs=$(grep -E "Non-2xx|Socket errors" "$out/$name.$round.wrk" | tr '\n' ' ' || true)
        echo "round $round $name $rps $p99 $us $wus $errs" | tee -a "$out/results"
    done
done
echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out/results" "${order[@]}" <<'PY'
import statistics, sys

def ms(text):
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)

order = sys.argv[2:]
runs = {}
for line in open(sys.argv[1]):
    _, rnd, name, rps, p99, us, wus, *errors = line.split()
    runs.setdefault(name, []).append((float(rps), ms(p99), float(us), float(wus), " ".join(errors)))
med = {n: [statistics.median(r[i] for r in v) for i in range(4)] for n, v in runs.items()}
first = order[0]
print()
print(f"| server | req/s (median) | p99 ms (median) | server CPU µs/request (median) | wrk CPU µs/request (median) | {first} ÷ server, req/s | every round, req/s |")
print("|---|---:|---:|---:|---:|---:|---|")
for name in order:
    rps, p99, us, wus = med[name]
    ratio = med[first][0] / rps
    every = ", ".join(f"{r[0]:,.0f}" for r in runs[name])
    print(f"| {name} | {rps:,.0f} | {p99:.2f} | {us:.2f} | {wus:.2f} | {ratio:.2f}× | {every} |")
if "zgreen-2" in med:
    z1, z2, h1, h2 = (med[n][0] for n in ("zgreen-1", "zgreen-2", "hyper-1", "hyper-2"))
    print()
    print(f"scaling 1 → 2: zgreen {z2 / z1:.2f}×, hyper {h2 / h1:.2f}×; at 1: zgreen ÷ hyper {z1 / h1:.2f}×; at 2: {z2 / h2:.2f}×")
errors = [f"{n} round {i + 1}: {r[4]}" for n, v in runs.items() for i, r in enumerate(v) if r[4]]
print()
print("errors reported by wrk:", "; ".join(errors) if errors else "none")
PY
