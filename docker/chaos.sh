#!/usr/bin/env bash
# Chaos tests across containers, against the mdp demo (docker/mdp.yml):
# a broker and three workers come up healthy, then for each test a fresh
# load generator (zclient mdp, every request sequence-numbered, Lazy
# Pirate retries on a fresh socket) runs while one fault is injected:
#
#   baseline    no fault: nothing lost, nothing retried
#   kill        docker kill a worker: no request lost; recovery time
#   restart     docker restart the broker: workers re-register, clients recover
#   disconnect  docker network disconnect a worker (black hole, no reset):
#               the broker drops it within interval x liveness (+1 interval
#               of timer granularity, +1 s of scheduling slack; measured from the
#               broker's log); after
#               reconnecting it re-registers and no stale reply is delivered
#   pause       docker pause / unpause a worker: dropped the same way, no
#               stale reply after unpause
#   titanic     a zbroker titanic container (journal on a volume) beside the
#               mdp demo; docker kill it under a zclient titanic load, then
#               docker start it: every request whose uuid the client got is
#               answered once with its echo, closed ones stay closed
#
# and against the Binary Star demo (docker/bstar.yml: a primary and a
# backup broker, two workers registered with both, clients with both
# endpoints):
#
#   bstar_partition  docker network disconnect the backup (it loses the
#               primary, and the clients reach only the primary): nothing
#               lost, and never two active brokers (both role logs)
#   bstar_kill  docker kill the primary under load: the clients go on at the
#               backup (in-flight requests retried, none lost); failover
#               time; docker start the primary: it rejoins as passive
#
# Each test prints its figures: sent, received, lost, retries, late
# (duplicate or late replies discarded by the client), mismatched
# (replies matching no request), recovery time. It fails when a request is
# lost, a reply is mismatched or malformed, or more late replies arrive
# than retries were made (each retry may produce at most one extra reply).
#
# Usage: docker/chaos.sh [TEST...]   (default: all, in the order above)
# Needs the image zgreen/brokers:dev (docker/build.sh). Bounded: each test
# gives up after 90 s; everything it created is removed on exit, also on
# failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")"

HB=${ZGREEN_CHAOS_HEARTBEAT_MS:-500}
LIVENESS=${ZGREEN_CHAOS_LIVENESS:-3}
export ZGREEN_HEARTBEAT_MS=$HB ZGREEN_LIVENESS=$LIVENESS
project=zchaos$$
compose=(docker-compose -f mdp.yml -p "$project")
net=${project}_default
image=zgreen/brokers:${ZGREEN_DOCKER_TAG:-dev}
bproject=${project}b
bcompose=(docker-compose -f bstar.yml -p "$bproject")
bnet=${bproject}_default
bstar_up=
clients=()
volumes=()
failures=()
start_all=$SECONDS

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] || [ -n "${ZGREEN_CHAOS_LOGS:-}" ]; then
        echo "--- broker log (tail)"
        "${compose[@]}" logs --no-color --tail 30 broker 2>/dev/null || true
    fi
    for c in "${clients[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    for v in "${volumes[@]}"; do docker volume rm -f "$v" >/dev/null 2>&1 || true; done
    # Unpause first: a paused container cannot be removed.
    for id in $("${compose[@]}" ps -q 2>/dev/null); do docker unpause "$id" >/dev/null 2>&1 || true; done
    "${compose[@]}" down -t 1 -v --remove-orphans >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
    if [ -n "$bstar_up" ]; then
        if [ "$rc" -ne 0 ] || [ -n "${ZGREEN_CHAOS_LOGS:-}" ]; then
            echo "--- primary and backup role logs"
            "${bcompose[@]}" logs --no-color primary backup 2>/dev/null | grep 'bstar role' || true
            echo "--- backup and worker1 logs (tail)"
            "${bcompose[@]}" logs --no-color --tail 25 backup worker1 2>/dev/null || true
        fi
        "${bcompose[@]}" down -t 1 -v --remove-orphans >/dev/null 2>&1 || true
        docker network rm "$bnet" >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
cid() { "${compose[@]}" ps -q "$1"; }
say() { printf '%s\n' "$*"; }

# A metric series of the broker, e.g. 'zgreen_live_workers{service="echo"}'.
# Empty while the broker does not answer.
metric() {
    docker exec "$(cid broker)" /bin/zcheck print 127.0.0.1:9100 2>/dev/null |
        awk -v s="$1" '$1 == s { print $2 }' || true
}

# wait_live N SECONDS: until the broker counts N live echo workers.
wait_live() {
    local want=$1 limit=$(($(now_ms) + $2 * 1000))
    while [ "$(now_ms)" -lt "$limit" ]; do
        [ "$(metric 'zgreen_live_workers{service="echo"}')" = "$want" ] && return 0
        sleep 0.1
    done
    say "timed out waiting for $want live workers (now: $(metric 'zgreen_live_workers{service="echo"}'))"
    return 1
}

# start_client NAME COUNT [NETWORK ENDPOINTS]: a load generator on the
# demo's network (or NETWORK, against ENDPOINTS).
start_client() {
    local name=${project}_$1
    clients+=("$name")
    docker run -d --name "$name" --network "${3:-$net}" --label "zgreen.chaos=$project" "$image" \
        /bin/zclient mdp --connect "${4:-tcp://broker:5555}" --service echo \
        --count "$2" --concurrency 4 --interval-ms 20 \
        --timeout-ms 1000 --retries 8 --progress-ms 0 --json >/dev/null
    client=$name
}

# finish_client: waits (bounded) for the client, then checks and prints.
# Sets: sent received lost retries late mismatched malformed recovered
finish_client() {
    local t0=$1 name=$2 code summary
    code=$(timeout 90 docker wait "$client" || echo timeout)
    summary=$(docker logs "$client" 2>/dev/null | grep '^{' | tail -1 || true)
    field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$summary"; }
    sent=$(field sent) received=$(field received) lost=$(field lost) retries=$(field retries)
    late=$(field late) mismatched=$(field mismatched) malformed=$(field malformed)
    recovered=$(field last_recovered_unix_ms)
    local recovery=0
    if [ -n "$recovered" ] && [ "$recovered" != 0 ] && [ "$t0" != 0 ]; then
        recovery=$((recovered - t0))
    fi
    say "  figures: sent=${sent:-?} received=${received:-?} lost=${lost:-?} retries=${retries:-?} late/duplicated=${late:-?} mismatched=${mismatched:-?} malformed=${malformed:-?} recovery_ms=$recovery exit=$code"
    if [ -z "$summary" ] || [ "$code" = timeout ]; then
        fail "$name" "no summary from the client (exit $code)"
        docker logs --tail 20 "$client" 2>&1 | sed 's/^/    client: /'
        return
    fi
    [ "$lost" = 0 ] || fail "$name" "$lost request(s) lost"
    [ "$received" = "$sent" ] || fail "$name" "received $received of $sent"
    [ "$mismatched" = 0 ] || fail "$name" "$mismatched stale/mismatched repl(ies) delivered"
    [ "$malformed" = 0 ] || fail "$name" "$malformed malformed repl(ies)"
    [ "$late" -le "$retries" ] || fail "$name" "$late late/duplicate replies for $retries retries"
    [ "$code" = 0 ] || fail "$name" "client exited $code"
}

fail() {
    say "  FAIL ($1): $2"
    failures+=("$1: $2")
}

# measure_drop FAULT T0 NAME: when did the broker drop the worker? The
# fault began between FAULT (before the docker command) and T0 (after it
# returned). The drop time comes from the broker's own log line ("worker
# expired" or "worker vanished", same clock as the host), not from
# polling, so a slow docker exec on a loaded machine does not count.
measure_drop() {
    local fault=$1 t0=$2 name=$3 bound=$((HB * LIVENESS + HB + DROP_SLACK_MS)) line ts
    if ! wait_live 2 $(((bound + 10000) / 1000)); then
        fail "$name" "the broker never dropped the worker"
        return
    fi
    line=$(docker logs --since "$((fault / 1000))" "$(cid broker)" 2>&1 |
        grep -E 'worker (expired|vanished)' | head -1 || true)
    ts=$(date -u -d "${line%%Z *}Z" +%s%3N 2>/dev/null || echo "")
    if [ -z "$ts" ]; then
        fail "$name" "no 'worker expired/vanished' line in the broker log"
        return
    fi
    say "  broker dropped the worker $((ts - t0)) ms after the fault was in place ($((ts - fault)) ms after it began): ${line#*mdp_broker: }"
    say "    bound: interval ${HB} ms x liveness ${LIVENESS} + 1 interval + ${DROP_SLACK_MS} ms slack = ${bound} ms"
    [ $((ts - t0)) -le "$bound" ] || fail "$name" "worker dropped $((ts - t0)) ms after the fault > $bound ms"
}

# rejoin T0 NAME: the worker is back and registered.
rejoin() {
    local t0=$1 name=$2
    if wait_live 3 30; then
        say "  3 workers registered again $(($(now_ms) - t0)) ms after the recovery step"
    else
        fail "$name" "the worker did not re-register"
    fi
}

COUNT=${ZGREEN_CHAOS_COUNT:-2000} # about 11 s at 4 x 50 req/s
# The drop bound: interval x liveness (the protocol), + 1 interval (the
# broker checks expiry on its heartbeat tick), + this slack for
# timer and scheduling jitter on a loaded machine.
DROP_SLACK_MS=${ZGREEN_CHAOS_DROP_SLACK_MS:-1000}

t_baseline() {
    start_client baseline "$((COUNT / 2))"
    finish_client 0 baseline
    [ "${retries:-1}" = 0 ] || fail baseline "$retries retries without any fault"
}

t_kill() {
    start_client kill "$COUNT"
    sleep 3
    local t0
    local fault
    fault=$(now_ms)
    docker kill "$(cid worker1)" >/dev/null
    t0=$(now_ms)
    say "  killed worker1 (SIGKILL; the command took $((t0 - fault)) ms)"
    measure_drop "$fault" "$t0" kill
    finish_client "$fault" kill
    t0=$(now_ms)
    docker start "$(cid worker1)" >/dev/null
    rejoin "$t0" kill
}

t_restart() {
    start_client restart "$COUNT"
    sleep 3
    local t0
    t0=$(now_ms)
    docker restart -t 2 "$(cid broker)" >/dev/null
    say "  restarted the broker in $(($(now_ms) - t0)) ms"
    rejoin "$t0" restart
    finish_client "$t0" restart
}

# reversible_fault NAME WORKER INJECT LIFT INJECTED LIFTED: a fault the
# worker recovers from. `INJECT ID` and `LIFT ID` act on the worker's
# container; INJECTED (a printf format: %s is how long the command took,
# in ms) and LIFTED are said after each.
reversible_fault() {
    local name=$1 worker=$2 inject=$3 lift=$4 injected=$5 lifted=$6
    start_client "$name" "$COUNT"
    sleep 3
    local t0 w fault
    w=$(cid "$worker")
    fault=$(now_ms)
    "$inject" "$w"
    # The fault is certainly in place once the command returns.
    t0=$(now_ms)
    # The format is ours (see above).
    # shellcheck disable=SC2059
    say "  $(printf "$injected" "$((t0 - fault))")"
    measure_drop "$fault" "$t0" "$name"
    sleep 1
    t0=$(now_ms)
    "$lift" "$w"
    say "  $lifted"
    rejoin "$t0" "$name"
    finish_client "$fault" "$name"
}

# ---- Titanic beside the mdp demo
t_titanic() {
    local tname=${project}_titanic vol=${project}_titanic cname=${project}_titanic_client
    clients+=("$tname" "$cname")
    volumes+=("$vol")
    docker run -d --name "$tname" --network "$net" -v "$vol:/tmp" "$image" \
        /bin/zbroker titanic --connect tcp://broker:5555 --dir /tmp/titanic \
        --heartbeat-ms "$HB" --reconnect-ms 200 --reconnect-max-ms 1000 >/dev/null
    local ready=$(($(now_ms) + 20000))
    until docker logs "$tname" 2>&1 | grep -q 'titanic ready'; do
        [ "$(now_ms)" -lt "$ready" ] || {
            fail titanic "titanic did not start"
            return
        }
        sleep 0.1
    done
    docker run -d --name "$cname" --network "$net" "$image" \
        /bin/zclient titanic --connect tcp://broker:5555 --service echo \
        --count "$((COUNT / 2))" --concurrency 4 --timeout-ms 1000 --retries 30 \
        --poll-ms 20 --check-closed --progress-ms 0 --json >/dev/null
    sleep 3
    local fault code summary
    fault=$(now_ms)
    docker kill "$tname" >/dev/null
    say "  killed the titanic container (SIGKILL; the command took $(($(now_ms) - fault)) ms)"
    sleep 1
    docker start "$tname" >/dev/null
    say "  started it again on the same journal volume"
    code=$(timeout 120 docker wait "$cname" || echo timeout)
    summary=$(docker logs "$cname" 2>/dev/null | grep '^{' | tail -1 || true)
    tfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$summary"; }
    local sent acked received lost mismatched reappeared retries recovered recovery=0
    sent=$(tfield sent) acked=$(tfield acknowledged) received=$(tfield received) lost=$(tfield lost)
    mismatched=$(tfield mismatched) reappeared=$(tfield reappeared) retries=$(tfield retries)
    recovered=$(tfield last_recovered_unix_ms)
    if [ -n "$recovered" ] && [ "$recovered" != 0 ]; then recovery=$((recovered - fault)); fi
    say "  figures: sent=${sent:-?} acknowledged=${acked:-?} received=${received:-?} lost=${lost:-?} mismatched=${mismatched:-?} duplicated(closed ones answering again)=${reappeared:-?} retries=${retries:-?} recovery_ms=$recovery exit=$code"
    docker logs "$tname" 2>&1 | grep -E 'titanic ready|torn' | sed 's/^/    titanic: /'
    if [ -z "$summary" ] || [ "$code" = timeout ]; then
        fail titanic "no summary from the titanic client (exit $code)"
        docker logs --tail 20 "$cname" 2>&1 | sed 's/^/    client: /'
        return
    fi
    [ "$acked" = "$sent" ] || fail titanic "$acked of $sent requests acknowledged"
    [ "$received" = "$acked" ] || fail titanic "$received answers for $acked acknowledged requests"
    [ "$lost" = 0 ] || fail titanic "$lost acknowledged request(s) lost"
    [ "$mismatched" = 0 ] || fail titanic "$mismatched mismatched replies"
    [ "$reappeared" = 0 ] || fail titanic "$reappeared closed requests answered again"
    [ "$code" = 0 ] || fail titanic "client exited $code"
}

# ---- Binary Star (docker/bstar.yml)
BSTAR_HB=${ZGREEN_CHAOS_BSTAR_HEARTBEAT_MS:-500}
BSTAR_ENDPOINTS=tcp://primary:5555,tcp://backup:5555
bcid() { "${bcompose[@]}" ps -q "$1"; }

# bmetric SERVICE SERIES: a metric of the primary or the backup.
bmetric() {
    docker exec "$(bcid "$1")" /bin/zcheck print 127.0.0.1:9100 2>/dev/null |
        awk -v s="$2" '$1 == s { print $2 }' || true
}

# bwait SECONDS CHECK...: until the command CHECK succeeds.
bwait() {
    local limit=$(($(now_ms) + $1 * 1000))
    shift
    while [ "$(now_ms)" -lt "$limit" ]; do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# is_state SERVICE STATE: the broker's zgreen_bstar_state says STATE.
is_state() { [ "$(bmetric "$1" "zgreen_bstar_state{state=\"$2\"}")" = 1 ]; }
has_workers() { [ "$(bmetric "$1" 'zgreen_live_workers{service="echo"}')" = 2 ]; }

# roles SERVICE [SINCE]: the roles in the broker's "bstar role" log lines.
roles() {
    docker logs ${2:+--since "$2"} "$(bcid "$1")" 2>&1 | grep 'bstar role' |
        sed -n 's/.*role=\([a-z]*\).*/\1/p' | tr '\n' ' ' | sed 's/ $//'
}

# role_lines SERVICE: the broker's role changes, as logged.
role_lines() {
    docker logs "$(bcid "$1")" 2>&1 | grep 'bstar role' | sed "s/^/    $1: /"
}

bstar_setup() {
    [ -z "$bstar_up" ] || return 0
    bstar_up=1
    export ZGREEN_BSTAR_HEARTBEAT_MS=$BSTAR_HB
    "${bcompose[@]}" up -d primary backup worker1 worker2 >/dev/null 2>&1 || {
        "${bcompose[@]}" up -d primary backup worker1 worker2
        return 1
    }
    bwait 60 is_state primary active || { fail bstar "the primary did not become active"; return 1; }
    bwait 30 is_state backup passive || { fail bstar "the backup did not become passive"; return 1; }
    bwait 30 has_workers primary || { fail bstar "workers not registered at the primary"; return 1; }
    bwait 30 has_workers backup || { fail bstar "workers not registered at the backup"; return 1; }
    say "  pair up: primary active, backup passive, 2 workers at each (state heartbeat ${BSTAR_HB} ms)"
}

# never_dual NAME: at no point were both brokers active, from both role
# logs (timestamps of each change, merged in time order).
never_dual() {
    local name=$1 line state_p=none state_b=none dual=0
    while read -r line; do
        case $line in
        primary*) state_p=${line##* } ;;
        backup*) state_b=${line##* } ;;
        esac
        [ "$state_p" = active ] && [ "$state_b" = active ] && dual=1
    done < <(for s in primary backup; do
        docker logs "$(bcid "$s")" 2>&1 | grep 'bstar role' |
            sed -n "s/^\([^ ]*\) .*role=\([a-z]*\).*/\1 $s \2/p"
    done | sort | awk '{ print $2, $3 }')
    [ "$dual" = 0 ] || fail "$name" "two brokers were active at once (role logs)"
}

t_bstar_partition() {
    bstar_setup || return 0
    start_client bstar_partition "$COUNT" "$bnet" "$BSTAR_ENDPOINTS"
    sleep 3
    local t0
    t0=$(now_ms)
    docker network disconnect "$bnet" "$(bcid backup)"
    say "  disconnected the backup from $bnet: it cannot hear the primary, the clients reach only the primary"
    # Many times the 2-heartbeat window: the backup must not take over.
    sleep $((BSTAR_HB * 8 / 1000 + 1))
    # The service name is a network alias: give it back, or "backup"
    # no longer resolves.
    docker network connect --alias backup "$bnet" "$(bcid backup)"
    say "  reconnected the backup after $(($(now_ms) - t0)) ms"
    bwait 20 has_workers backup || fail bstar_partition "workers did not re-register at the backup"
    finish_client "$t0" bstar_partition
    role_lines primary
    role_lines backup
    [ "$(roles primary)" = "primary active" ] || fail bstar_partition "primary roles: $(roles primary)"
    [ "$(roles backup)" = "backup passive" ] || fail bstar_partition "backup roles: $(roles backup)"
    is_state backup passive || fail bstar_partition "the backup is not passive after the partition"
    never_dual bstar_partition
}

t_bstar_kill() {
    bstar_setup || return 0
    start_client bstar_kill "$COUNT" "$bnet" "$BSTAR_ENDPOINTS"
    sleep 3
    local fault t0 line ts restarted
    fault=$(now_ms)
    docker kill "$(bcid primary)" >/dev/null
    t0=$(now_ms)
    say "  killed the primary (SIGKILL; the command took $((t0 - fault)) ms)"
    bwait 20 is_state backup active || fail bstar_kill "the backup did not take over"
    line=$(docker logs "$(bcid backup)" 2>&1 | grep 'bstar role' | grep 'role=active' | head -1 || true)
    ts=$(date -u -d "${line%%Z *}Z" +%s%3N 2>/dev/null || echo "")
    [ -z "$ts" ] || say "  failover: the backup went active $((ts - fault)) ms after the kill began"
    finish_client "$fault" bstar_kill
    restarted=$(date -u +%Y-%m-%dT%H:%M:%S)
    docker start "$(bcid primary)" >/dev/null
    bwait 30 is_state primary passive || fail bstar_kill "the restarted primary is not passive"
    bwait 20 has_workers primary || fail bstar_kill "workers did not re-register at the primary"
    role_lines primary
    role_lines backup
    [ "$(roles primary "$restarted")" = "primary passive" ] ||
        fail bstar_kill "restarted primary roles: $(roles primary "$restarted")"
    is_state backup active || fail bstar_kill "the backup is no longer active"
    [ "$(roles backup)" = "backup passive active" ] || fail bstar_kill "backup roles: $(roles backup)"
}

net_disconnect() { docker network disconnect "$net" "$1"; }
net_connect() { docker network connect "$net" "$1"; }
pause_container() { docker pause "$1" >/dev/null; }
unpause_container() { docker unpause "$1" >/dev/null; }

t_disconnect() {
    reversible_fault disconnect worker2 net_disconnect net_connect \
        "disconnected worker2 from $net (black hole; the command took %s ms)" "reconnected worker2"
}

t_pause() {
    reversible_fault pause worker3 pause_container unpause_container \
        "paused worker3 (the command took %s ms)" "unpaused worker3"
}

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(baseline kill restart disconnect pause titanic bstar_partition bstar_kill)
mdp_tests=0
for t in "${tests[@]}"; do
    case $t in bstar_*) ;; *) mdp_tests=1 ;; esac
done

docker image inspect "$image" >/dev/null 2>&1 || {
    say "docker/chaos.sh: image $image is missing: run docker/build.sh" >&2
    exit 1
}
say "--- chaos: project $project, heartbeat ${HB} ms, liveness ${LIVENESS}"
if [ "$mdp_tests" = 1 ]; then
    "${compose[@]}" up -d broker worker1 worker2 worker3 >/dev/null 2>&1 || {
        "${compose[@]}" up -d broker worker1 worker2 worker3
        exit 1
    }
    wait_live 3 60 || {
        failures+=("setup: the demo did not come up")
        exit 1
    }
fi
for t in "${tests[@]}"; do
    say "--- chaos test: $t"
    started=$SECONDS
    "t_$t"
    say "  ($((SECONDS - started)) s)"
    case $t in
    bstar_*) ;;
    # Every mdp test starts from three registered workers.
    *) wait_live 3 20 || failures+=("$t: workers not back after the test") ;;
    esac
done
say "--- chaos: ${#tests[@]} test(s) in $((SECONDS - start_all)) s"
if [ ${#failures[@]} -gt 0 ]; then
    printf 'chaos FAILED: %s\n' "${failures[@]}" >&2
    exit 1
fi
say "chaos: all passed"
