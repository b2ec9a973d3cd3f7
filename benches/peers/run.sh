#!/usr/bin/env bash
# Peer SD-JWT benchmarks on ONE core (taskset -c 0): the Python reference
# implementation (PyPI sd-jwt) and the OpenWallet Foundation npm packages
# (@sd-jwt/sd-jwt-vc 0.19.x), same fixture as the Rust bench (passport.json).
#   bash benches/peers/run.sh            # BENCH_SECONDS=3 per op by default
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$root/tests/interop/install.sh"
pin=(taskset -c 0)
command -v taskset >/dev/null || { echo "run.sh: taskset (util-linux) not found; running unpinned" >&2; pin=(); }
"${pin[@]}" "$root/tests/interop/python/.venv/bin/python" "$here/bench_python.py"
"${pin[@]}" node "$here/bench_node.mjs"
