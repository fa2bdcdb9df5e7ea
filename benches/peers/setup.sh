#!/usr/bin/env bash
# Creates benches/peers/.venv (gitignored) with the pinned Python peers (gevent, pyzmq, gipc).
# Usage: bash benches/peers/setup.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" -c 'import gevent, zmq, gipc, sys; print("gevent", gevent.__version__, "pyzmq", zmq.__version__, "gipc", gipc.__version__, "on Python", sys.version.split()[0])'
