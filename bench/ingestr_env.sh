#!/usr/bin/env bash
# Create bench/.venv-ingestr with ingestr 0.14.155 (the reference: its last
# Python release). Idempotent. Prints the venv's bin directory.
#
# To point its Asana source at a simulator (what bench.py does):
#   PYTHONPATH=bench/ingestr_shim BENCH_ASANA_BASE_URL=<api_url> \
#   OAUTHLIB_INSECURE_TRANSPORT=1 INGESTR_DISABLE_TELEMETRY=1 \
#   bench/.venv-ingestr/bin/ingestr ingest --yes --source-uri "asana://<ws>?access_token=<tok>" ...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-ingestr"
PY="${PYTHON:-python3}"
if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("ingestr") != "0.14.155")' 2>/dev/null; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check ingestr==0.14.155 >&2
fi
echo "$VENV/bin"
