#!/usr/bin/env bash
# Smoke test of the compose demos: each one comes up healthy and does its
# job, then is removed (also on failure or Ctrl-C).
#
#   mdp     every container healthy; after a few seconds of load the client
#           is stopped (SIGTERM) and its summary shows requests answered
#           and none lost
#   pubsub  every container healthy; after a few seconds the subscribers
#           are stopped and each reports messages, the slow one fewer than
#           the fast one on the same topic
#
# Usage: docker/smoke.sh [mdp] [pubsub]   (default: both)
# Needs the image zgreen/brokers:dev (docker/build.sh).
set -euo pipefail
cd "$(dirname "$0")"

projects=()
failures=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${projects[@]}"; do
        docker-compose -f "${p%%:*}.yml" -p "${p#*:}" down -t 1 -v --remove-orphans >/dev/null 2>&1 || true
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "  FAIL ($1): $2"
    failures+=("$1: $2")
}

# up DEMO: starts it and waits (90 s at most; healthchecks are slow on a loaded machine) until every container is healthy.
up() {
    local demo=$1 project=zsmoke${1}$$ start=$SECONDS
    projects+=("$demo:$project")
    compose=(docker-compose -f "$demo.yml" -p "$project")
    "${compose[@]}" up -d >/dev/null 2>&1 || {
        "${compose[@]}" up -d
        fail "$demo" "docker-compose up failed"
        return 1
    }
    local ids states
    ids=$("${compose[@]}" ps -q)
    while [ $((SECONDS - start)) -lt 90 ]; do
        # shellcheck disable=SC2086
        states=$(docker inspect -f '{{.State.Health.Status}}' $ids | sort | uniq -c | tr -s ' \n' ' ')
        if ! docker inspect -f '{{.State.Health.Status}}' $ids | grep -qv '^healthy$'; then
            echo "  $(wc -w <<<"$ids") containers healthy after $((SECONDS - start)) s"
            return 0
        fi
        sleep 1
    done
    fail "$demo" "not healthy after 90 s:$states"
    "${compose[@]}" ps
    return 1
}

smoke_mdp() {
    up mdp || return 0
    sleep 4
    "${compose[@]}" stop -t 3 client >/dev/null 2>&1
    local summary code
    summary=$("${compose[@]}" logs --no-color client | grep -E ' sent [0-9]+ received ' | tail -1 || true)
    code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -q client)")
    echo "  client:${summary#*|} (exit $code)"
    local received lost
    received=$(sed -n 's/.* received \([0-9]*\) .*/\1/p' <<<"$summary")
    lost=$(sed -n 's/.* lost \([0-9]*\) .*/\1/p' <<<"$summary")
    [ "${received:-0}" -gt 0 ] || fail mdp "no request answered"
    [ "${lost:-1}" = 0 ] || fail mdp "${lost:-?} request(s) lost"
    [ "$code" = 0 ] || fail mdp "client exited $code"
    echo "  broker: $(docker exec "$("${compose[@]}" ps -q broker)" /bin/zcheck print 127.0.0.1:9100 | grep '^zgreen_live_workers')"
}

smoke_pubsub() {
    up pubsub || return 0
    sleep 4
    "${compose[@]}" stop -t 3 sub-a sub-b sub-slow >/dev/null 2>&1
    local s n
    declare -A got
    for s in sub-a sub-b sub-slow; do
        n=$("${compose[@]}" logs --no-color "$s" | sed -n 's/.*| messages \([0-9]*\) gaps.*/\1/p' | tail -1)
        echo "  $s: $("${compose[@]}" logs --no-color "$s" | grep -E '\| messages ' | tail -1 | sed 's/.*| //')"
        got[$s]=${n:-0}
        [ "${got[$s]}" -gt 0 ] || fail pubsub "$s received nothing"
    done
    [ "${got[sub-slow]}" -lt "${got[sub-a]}" ] || fail pubsub "the slow subscriber is not slower"
}

demos=("$@")
[ ${#demos[@]} -gt 0 ] || demos=(mdp pubsub)
for d in "${demos[@]}"; do
    echo "--- smoke: $d"
    "smoke_$d"
done
if [ ${#failures[@]} -gt 0 ]; then
    printf 'smoke FAILED: %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "smoke: all passed"
