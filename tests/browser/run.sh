#!/usr/bin/env bash
# Real-browser test of zchat: two headless Chromium sessions, driven by
# Selenium through chromedriver, join one room on two different zchat
# servers (sharing rooms through a forwarder) and see each other's
# messages, once over WebSocket and once over long polling; then the
# seed's WebSocket page (examples/websocket) lists the points it gets.
# Screenshots go to target/browser-artifacts/.
#
# Installs what it needs: Debian's chromium and chromium-driver (apt-get,
# as root or through sudo) and Selenium from PyPI in a venv under
# tests/browser/.venv. Prints "browser test: PASS" or "browser test: FAIL".
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
apt_install() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "--- installing chromium and chromium-driver"
    apt_install chromium chromium-driver
fi

VENV=tests/browser/.venv
if ! "$VENV/bin/python" -c "import sys" 2>/dev/null; then
    echo "--- creating $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
if ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
    echo "--- installing selenium"
    "$VENV/bin/pip" install -q "selenium>=4.20,<5"
fi

echo "--- building zchat and the websocket example"
cargo build -q -p zgreen-chat --bin zchat
cargo build -q -p zgreen --features http --example websocket

mkdir -p target/browser-artifacts
echo "--- running tests/browser/test_chat.py"
if "$VENV/bin/python" tests/browser/test_chat.py \
    --zchat target/debug/zchat \
    --websocket-example target/debug/examples/websocket \
    --chromium "$(command -v chromium)" \
    --chromedriver "$(command -v chromedriver)" \
    --artifacts target/browser-artifacts; then
    echo "browser test: PASS"
else
    echo "browser test: FAIL"
    exit 1
fi
