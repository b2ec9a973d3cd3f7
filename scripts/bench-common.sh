# Shared by scripts/bench-stores and scripts/bench-scale (sourced, not run):
# the release server and the bench binaries, a work directory, a server
# configuration with the per-client limits lifted (the load generator is
# one client address), PostgreSQL schemas of their own, and a clean-up
# that stops the servers started and drops those schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/digital-id/target}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

cargo build --release --locked --bin digital-id >&2
bin="$CARGO_TARGET_DIR/release/digital-id"

# The executable of bench target $1 (built in the release profile).
bench_bin() {
  cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}

work=$(mktemp -d)
pids=()
schemas=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for s in "${schemas[@]}"; do
    psql -q "$DATABASE_URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.toml" <<TOML
api_key = "bench-key"
[limits]
per_client_rate = 1000000.0
per_client_burst = 1000000.0
global_rate = 1000000.0
global_burst = 1000000.0
TOML

# Creates schema $1 (dropped at exit) and sets pg_url to a store URL
# working in it (not in a subshell: the clean-up must learn the schema).
pg_schema() {
  schemas+=("$1")
  psql -q "$DATABASE_URL" -c "CREATE SCHEMA $1" >/dev/null
  local sep='?'
  [[ "$DATABASE_URL" == *\?* ]] && sep='&'
  pg_url="${DATABASE_URL}${sep}sslmode=disable&options=-c%20search_path%3D$1"
}
