#!/usr/bin/env bash
# A/B: two zbench binaries (for example the commit before a change and the
# change itself) run the same green ZeroMQ measurements, interleaved, each
# in a fresh process, ROUNDS times; prints the median of each side and the
# ratio new/old (for round trips: old/new, so > 1 is always "new is faster").
#
#   bash benches/ab/run.sh OLD_ZBENCH NEW_ZBENCH [ROUNDS]
#
# Build the old side from a worktree, e.g.
#   git worktree add /tmp/old <commit> &&
#   (cd /tmp/old && CARGO_TARGET_DIR=/tmp/oldtarget cargo build --release -p zbench)
#   cargo build --release -p zbench
#   bash benches/ab/run.sh /tmp/oldtarget/release/zbench target/release/zbench 5
set -euo pipefail
old=$1
new=$2
rounds=${3:-5}
cases=(
    "pushpull --impl green --transport tcp --size 100 --count 1000000"
    "pushpull --impl green --transport ipc --size 100 --count 1000000"
    "pushpull --impl green --transport inproc --size 100 --count 2000000"
    "pushpull --impl green --transport inproc --size 1 --count 2000000"
    "reqrep --impl green --transport tcp --size 100 --count 20000"
    "reqrep --impl green --transport inproc --size 100 --count 200000"
    "proxy --impl green --topology push-pull --transport tcp"
    "proxy --impl green --topology router-dealer --transport tcp"
)
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
    for c in "${cases[@]}"; do
        for side in old new; do
            bin=$old
            [ "$side" = new ] && bin=$new
            # shellcheck disable=SC2086
            line=$(timeout 120 "$bin" $c | tail -n 1)
            echo "$side|$c|$line" >>"$out"
        done
    done
    echo "round $r of $rounds done" >&2
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, case, js = line.rstrip("\n").split("|", 2)
    d = json.loads(js)
    if "msgs_per_s" in d:
        v, unit, higher = d["msgs_per_s"], "msgs/s", True
    else:
        key = next(k for k in d if k.startswith("us_per") or k.endswith("_us") or k == "us")
        v, unit, higher = d[key], "us/rt", False
    rows.setdefault(case, {"old": [], "new": [], "unit": unit, "higher": higher})[side].append(v)
print("| case | old (median) | new (median) | new vs old |")
print("|---|---:|---:|---:|")
for case, r in rows.items():
    o, n = statistics.median(r["old"]), statistics.median(r["new"])
    ratio = n / o if r["higher"] else o / n
    print(f"| `{case}` | {o:,.1f} {r['unit']} | {n:,.1f} {r['unit']} | {ratio:.3f} |")
PY
rm -f "$out"
