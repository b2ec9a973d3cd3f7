#!/usr/bin/env bash
# Installs playwright-core (pinned in package-lock.json; it drives the
# Debian `chromium` package and downloads no browser). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lockhash="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
stamp="$here/node_modules/.package-lock.sha256"
if [[ ! -d "$here/node_modules/playwright-core" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$lockhash" ]]; then
  echo "browser: npm ci in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lockhash" > "$stamp"
fi
