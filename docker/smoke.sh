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
#   chat    every container healthy; a message put on chat1 (HTTP) shows
#           up in chat2's backlog, through the pub/sub backbone
#
#   secure  the mdp check with CURVE everywhere, and a client without keys
#           gets no reply at all
#
# Usage: docker/smoke.sh [mdp] [pubsub] [chat] [secure]
#        (default: all; chat when the image has zchat)
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
        states=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' $ids | sort | uniq -c | tr -s ' \n' ' ')
        if ! docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' $ids | grep -qv '^healthy$'; then
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
    local demo=${1:-mdp}
    up "$demo" || return 0
    sleep 4
    "${compose[@]}" stop -t 3 client >/dev/null 2>&1
    local summary code
    summary=$("${compose[@]}" logs --no-color client | grep -E ' sent [0-9]+ received ' | tail -1 || true)
    code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -q client)")
    echo "  client:${summary#*|} (exit $code)"
    local received lost
    received=$(sed -n 's/.* received \([0-9]*\) .*/\1/p' <<<"$summary")
    lost=$(sed -n 's/.* lost \([0-9]*\) .*/\1/p' <<<"$summary")
    [ "${received:-0}" -gt 0 ] || fail "$demo" "no request answered"
    [ "${lost:-1}" = 0 ] || fail "$demo" "${lost:-?} request(s) lost"
    [ "$code" = 0 ] || fail "$demo" "client exited $code"
    echo "  broker: $(docker exec "$("${compose[@]}" ps -q broker)" /bin/zcheck print 127.0.0.1:9100 | grep '^zgreen_live_workers')"
}

smoke_secure() {
    [ -f .stage/keys/broker.key_secret ] || {
        fail secure "no demo key pairs in docker/.stage/keys (docker/build.sh makes them)"
        return 0
    }
    smoke_mdp secure
    local summary code
    code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -q intruder)")
    summary=$("${compose[@]}" logs --no-color intruder | grep -o '{"sent".*' | tail -1 || true)
    echo "  intruder (no keys): exit $code ${summary:0:60}"
    grep -q '"received":0,' <<<"$summary" || fail secure "the client without keys got replies"
    [ "$code" = 1 ] || fail secure "the client without keys exited $code, not 1"
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

smoke_chat() {
    # Random host ports: the fixed 5001/5002 may be taken on a CI machine.
    ZGREEN_CHAT1_PORT='' ZGREEN_CHAT2_PORT='' up chat || return 0
    local a b text=smoke-$$-$RANDOM backlog
    a=$("${compose[@]}" port chat1 5000) b=$("${compose[@]}" port chat2 5000)
    echo "  chat1 on http://$a/, chat2 on http://$b/"
    curl -fsS -o /dev/null "http://$a/" || fail chat "chat1 does not serve its page"
    # alice joins topic1 on chat1 and says something; chat2 must have it.
    # The join issues alice's session token (a cookie, and the
    # X-Zchat-Token header for API clients); the put must carry it.
    local token
    token=$(curl -fsS -D - -o /dev/null "http://$a/topic1/alice" | tr -d '\r' |
        sed -n 's/^[Xx]-[Zz]chat-[Tt]oken: *//p') || fail chat "cannot join topic1 on chat1"
    [ -n "$token" ] || fail chat "the join on chat1 issued no session token"
    curl -fsS -o /dev/null -X POST -H "X-Zchat-Token: $token" --data "message=$text" \
        "http://$a/put/topic1/alice" || fail chat "cannot put a message on chat1"
    # Without the token, the same put is refused.
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "message=x" "http://$a/put/topic1/alice")" = 403 ] ||
        fail chat "a put without the session token was not refused with 403"
    local i
    for i in $(seq 50); do
        backlog=$(curl -fsS "http://$b/api/backlog/topic1" || true)
        grep -q "$text" <<<"$backlog" && break
        sleep 0.1
    done
    if grep -q "$text" <<<"$backlog"; then
        echo "  a message put on chat1 reached chat2 over the backbone"
    else
        fail chat "the message put on chat1 never reached chat2 (backlog: ${backlog:0:200})"
    fi
}

demos=("$@")
[ ${#demos[@]} -gt 0 ] || demos=(mdp pubsub secure)
# The chat demo needs zchat in the image (built when chat/ exists).
if [ $# -eq 0 ] && docker run --rm --network none zgreen/brokers:dev /bin/zchat --version >/dev/null 2>&1; then
    demos+=(chat)
fi
for d in "${demos[@]}"; do
    echo "--- smoke: $d"
    "smoke_$d"
done
if [ ${#failures[@]} -gt 0 ]; then
    printf 'smoke FAILED: %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "smoke: all passed"
