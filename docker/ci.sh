#!/usr/bin/env bash
# The docker stage of .ci/run: builds the images, then runs the compose
# smoke test and the chaos tests.
#
# Whether Docker is expected is set by ZGREEN_DOCKER:
#   1     expected: fail loudly if the docker CLI, docker-compose or the
#         engine is missing
#   0     skip the stage
#   auto  (default) expected when /var/run/docker.sock exists or
#         DOCKER_HOST is set; skipped, with a line saying so, otherwise
# ZGREEN_DOCKER_PROFILE (default here: debug, which the test stage has
# already built; build.sh's own default is release) picks the binaries.
set -euo pipefail
cd "$(dirname "$0")"

mode=${ZGREEN_DOCKER:-auto}
case $mode in
0 | no | off | false)
    echo "docker stage skipped (ZGREEN_DOCKER=$mode)"
    exit 0
    ;;
1 | yes | on | true) ;;
auto)
    if [ ! -S /var/run/docker.sock ] && [ -z "${DOCKER_HOST:-}" ]; then
        echo "docker stage skipped: no /var/run/docker.sock and no DOCKER_HOST (set ZGREEN_DOCKER=1 to require it)"
        exit 0
    fi
    ;;
*)
    echo "ZGREEN_DOCKER must be 1, 0 or auto, not '$mode'" >&2
    exit 2
    ;;
esac

loud() {
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!!! docker stage: $* (ZGREEN_DOCKER=$mode; set ZGREEN_DOCKER=0 to skip)" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    exit 1
}
command -v docker >/dev/null || loud "Docker is expected but the docker CLI is not installed"
command -v docker-compose >/dev/null || loud "Docker is expected but docker-compose is not installed"
docker info >/dev/null 2>&1 || loud "Docker is expected but the engine does not answer: $(docker info 2>&1 | grep -iE "cannot|error" | head -1)"

t=$SECONDS
ZGREEN_DOCKER_PROFILE=${ZGREEN_DOCKER_PROFILE:-debug} ./build.sh
echo "=== docker build: $((SECONDS - t)) s"
t=$SECONDS
./smoke.sh
echo "=== docker smoke: $((SECONDS - t)) s"
t=$SECONDS
./chaos.sh
echo "=== docker chaos: $((SECONDS - t)) s"
