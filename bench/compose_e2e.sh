#!/usr/bin/env bash
# The compose stack end to end (see bench/compose_e2e.py). Needs a Docker engine with Compose v2;
# on a machine without one, run ../shared/tools/docker-here first. Not part of .ci/run (root, minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
docker compose version >/dev/null 2>&1 || { echo "no Docker engine with Compose v2 here (try ../shared/tools/docker-here)"; exit 2; }
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" bench/compose_e2e.py "$@"
