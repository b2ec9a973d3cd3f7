#!/usr/bin/env bash
# Installs the OpenID4VC interop wallets' pinned dependencies (idempotent):
#   tests/interop/openid4vc/node_modules <- npm ci (package-lock.json), re-run only when the
#   lockfile changed (its sha256 is stamped into node_modules/.package-lock.sha256).
# Needs node >= 20 + npm on PATH (registry: the npm registry, through npm's own config).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

lockhash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.package-lock.sha256"
if [[ ! -d "$here/node_modules/@openid4vc/openid4vci" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$lockhash" ]]; then
  echo "interop: npm ci in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lockhash" > "$stamp"
fi
# Fails loudly if the install is broken.
(cd "$here" && node --input-type=module -e '
  await import("@openid4vc/openid4vci"); await import("@openid4vc/openid4vp"); await import("@openid4vc/oauth2");
  await import("dcql"); await import("jose"); await import("@sd-jwt/sd-jwt-vc"); await import("@sd-jwt/crypto-nodejs");')
