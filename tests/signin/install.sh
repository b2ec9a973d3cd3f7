#!/usr/bin/env bash
# Installs the sign-in tests' OpenID Provider (oidc-provider, pinned by
# package-lock.json) into tests/signin/node_modules (idempotent). Needs node >= 20 + npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lockhash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.package-lock.sha256"
if [[ ! -d "$here/node_modules/oidc-provider" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$lockhash" ]]; then
  echo "signin: npm ci in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lockhash" > "$stamp"
fi
(cd "$here" && node --input-type=module -e 'await import("oidc-provider")')
