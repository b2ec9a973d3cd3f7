#!/usr/bin/env bash
# Installs the interop peers' pinned dependencies (idempotent):
#   tests/interop/python/.venv  <- python3 -m venv + pip install -r requirements.txt
#   tests/interop/node/node_modules <- npm ci (package-lock.json)
# Needs python3 (with the venv module) and node >= 20 + npm on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

py="$here/python"
req="$py/requirements.txt"
stamp="$py/.venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$py/.venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "interop: creating python venv in $py/.venv" >&2
  python3 -m venv "$py/.venv"
  "$py/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv -r "$req"
  echo "$want" > "$stamp"
fi
"$py/.venv/bin/python" -c 'import sd_jwt, jwcrypto' # fails loudly if the venv is broken

nd="$here/node"
lockhash="$(sha256sum "$nd/package-lock.json" | cut -d' ' -f1)"
nstamp="$nd/node_modules/.package-lock.sha256"
if [[ ! -d "$nd/node_modules/@sd-jwt/sd-jwt-vc" ]] || [[ "$(cat "$nstamp" 2>/dev/null)" != "$lockhash" ]]; then
  echo "interop: npm ci in $nd" >&2
  (cd "$nd" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lockhash" > "$nstamp"
fi
(cd "$nd" && node --input-type=module -e 'await import("@sd-jwt/sd-jwt-vc"); await import("@sd-jwt/crypto-nodejs")')

# The OpenID4VCI / OpenID4VP wallets and the DCQL reference (@openid4vc/*, dcql).
bash "$here/openid4vc/install.sh"
