#!/usr/bin/env bash
# A/B of two wsgi_server builds with wrk (keep-alive hello world), interleaved:
#   bash benches/ab/http.sh OLD_WSGI_SERVER NEW_WSGI_SERVER [ROUNDS]
# prints "side req/s p99" per run (build each side with
#   cargo build --release --features http --example wsgi_server).
set -euo pipefail
old=$1; new=$2; rounds=${3:-5}
for r in $(seq 1 $rounds); do
  for side in old new; do
    bin=$old; port=18200; [ $side = new ] && bin=$new && port=18201
    $bin 127.0.0.1:$port > /dev/null & pid=$!
    sleep 0.5
    wrk -t1 -c100 -d3s http://127.0.0.1:$port/ > /dev/null   # warm-up
    rps=$(wrk -t1 -c100 -d10s --latency http://127.0.0.1:$port/ | awk '/Requests\/sec/ {print $2} /99%/ {p=$2} END {print p}' | tr '\n' ' ')
    echo "$side $rps"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
