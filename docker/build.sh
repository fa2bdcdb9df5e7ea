#!/usr/bin/env bash
# Builds every zgreen image from a clean checkout, with no registry:
#
#   zgreen/brokers:dev   FROM scratch: zbroker, zworker, zclient, zdemo, zkeys
#                        (and zchat when built), the zcheck healthcheck helper in
#                        /bin, plus exactly
#                        the shared libraries `ldd` reports for them. libzmq
#                        and libsodium are linked into the binaries (CURVE).
#
# and the secure demo's key pairs in docker/.stage/keys.
#
# The build context is docker/.stage/ (gitignored, a few tens of MB), never
# target/. Usage:
#
#   docker/build.sh                     # cargo build --release, then the images
#   ZGREEN_DOCKER_PROFILE=debug docker/build.sh
#                                       # reuse the debug build CI already made
#   ZGREEN_DOCKER_TAG=dev               # the tag (default dev; compose files use dev)
#
# Exits non-zero with one line on stderr when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
here=$root/docker
stage=$here/.stage
profile=${ZGREEN_DOCKER_PROFILE:-release}
tag=${ZGREEN_DOCKER_TAG:-dev}
bins=(zbroker zworker zclient zdemo zkeys)
optional=(zchat) # staged when the build has them

die() {
    echo "docker/build.sh: $*" >&2
    exit 1
}

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (is dockerd running?)"

start=$SECONDS
# Where cargo puts its output (CARGO_TARGET_DIR or .cargo/config honoured).
target=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target=${target:-${CARGO_TARGET_DIR:-$root/target}}
case $profile in
release)
    echo "--- cargo build --release -p zgreen-brokers (and zgreen-chat)"
    cargo build --release -p zgreen-brokers --bins
    [ ! -f chat/Cargo.toml ] || cargo build --release -p zgreen-chat --bins
    out=$target/release
    ;;
debug)
    echo "--- cargo build -p zgreen-brokers (debug profile)"
    cargo build -p zgreen-brokers --bins
    [ ! -f chat/Cargo.toml ] || cargo build -p zgreen-chat --bins
    out=$target/debug
    ;;
*) die "ZGREEN_DOCKER_PROFILE must be release or debug, not $profile" ;;
esac

# make_image OUT STAGE NAME: stages the binaries of OUT and their libraries
# into STAGE/rootfs and builds the image NAME from STAGE.
make_image() {
    local out=$1 stage=$2 name=$3 b lib libs
    echo "--- staging into ${stage#"$root"/}"
    rm -rf "$stage"
    mkdir -p "$stage/rootfs/bin" "$stage/rootfs/etc" "$stage/rootfs/tmp"
    for b in "${bins[@]}"; do
        [ -x "$out/$b" ] || die "$out/$b is missing after the build"
        # Debug info is most of a binary's size; the images do not need it.
        objcopy --strip-debug "$out/$b" "$stage/rootfs/bin/$b" 2>/dev/null || cp "$out/$b" "$stage/rootfs/bin/$b"
    done
    for b in "${optional[@]}"; do
        if [ -x "$out/$b" ]; then
            objcopy --strip-debug "$out/$b" "$stage/rootfs/bin/$b" 2>/dev/null || cp "$out/$b" "$stage/rootfs/bin/$b"
        fi
    done
    rustc -O --edition 2021 -C debuginfo=0 -o "$stage/rootfs/bin/zcheck" "$here/zcheck.rs"

    # Exactly the shared libraries the binaries need, at the paths the dynamic
    # loader looks for them (the loader itself included).
    libs=$(for b in "$stage"/rootfs/bin/*; do ldd "$b"; done |
        awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u)
    for lib in $libs; do
        mkdir -p "$stage/rootfs$(dirname "$lib")"
        cp -L "$lib" "$stage/rootfs$lib"
    done
    # glibc (2.34+) has its files and dns NSS modules built in: host names
    # (compose service names, via Docker's resolver) resolve with just this.
    printf 'hosts: files dns\n' >"$stage/rootfs/etc/nsswitch.conf"
    printf 'root:x:0:0:root:/:/bin/zcheck\nnobody:x:65534:65534:nobody:/:/bin/zcheck\n' >"$stage/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/rootfs/etc/group"
    chmod 1777 "$stage/rootfs/tmp"
    cp "$here/Dockerfile" "$stage/Dockerfile"
    echo "libraries: $(echo "$libs" | tr '\n' ' ')"
    du -sh "$stage" | awk '{ print "context: " $1 }'

    echo "--- docker build $name"
    # The legacy builder and BuildKit both accept this (FROM scratch: no pull).
    docker build --quiet -t "$name" "$stage"
    # Smoke: each binary starts in the image (dynamic loader and libraries ok).
    for b in "${bins[@]}"; do
        docker run --rm --network none "$name" "/bin/$b" --version >/dev/null ||
            die "/bin/$b does not start inside $name"
    done
    if docker run --rm --network none "$name" /bin/zcheck 2>/dev/null; then
        die "zcheck without arguments should exit 2"
    fi
}

make_image "$out" "$stage" "zgreen/brokers:$tag"

# Every demo uses this one image, the secure one too: the default build has
# CURVE (libzmq with libsodium, both vendored into the binaries).
docker run --rm --network none "zgreen/brokers:$tag" /bin/zkeys check >/dev/null ||
    die "zgreen/brokers:$tag has no CURVE (zkeys check failed)"
# Demo key pairs for the secure demo in docker/.stage/keys (gitignored;
# readable by the image's user 65534, bind-mounted by secure.yml): made by
# this build's zkeys.
keys=$stage/keys
rm -rf "$keys"
mkdir -p "$keys/allow"
for k in broker worker client; do
    "$out/zkeys" generate --dir "$keys" --name "$k" >/dev/null
done
cp "$keys/worker.key" "$keys/client.key" "$keys/allow/"
chown -R 65534:65534 "$keys" 2>/dev/null || chmod -R a+rX "$keys"

echo "--- images built in $((SECONDS - start)) s:"
docker images 'zgreen/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
