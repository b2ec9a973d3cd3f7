#!/usr/bin/env bash
# Installs schemathesis (pinned in requirements.txt) into
# tests/schemathesis/.venv (idempotent; not in git). Needs python3 with the
# venv module. scripts/test calls it; tests/it/schemathesis.rs runs it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

req="$here/requirements.txt"
stamp="$here/.venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$here/.venv/bin/st" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "schemathesis: creating python venv in $here/.venv" >&2
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv -r "$req"
  echo "$want" > "$stamp"
fi
"$here/.venv/bin/st" --version >/dev/null # fails loudly if the venv is broken
