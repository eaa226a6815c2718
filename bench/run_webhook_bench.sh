#!/usr/bin/env bash
# Webhook load benchmark on PostgreSQL with 2 server workers (the issue's setup): a fresh
# database, migrations, the demo gym with generated members; then bench/webhook_load.py
# against the real app and against bench/bare_app.py in its three modes (the least a webhook
# can do here: one insert via SQLAlchemy, one via raw asyncpg, no database).
# The app runs as deployed on PostgreSQL: with Redis (BENCH_REDIS_URL) the crons and the
# outbox run in one `gogym worker` beside the API; without it, inside each API worker.
# Prints one JSON line per target. Usage: bash bench/run_webhook_bench.sh [MESSAGES] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-5000}
CONCURRENCY=${2:-32}
PORT=${BENCH_PORT:-8099}
DB=gogym_bench
ADMIN=${BENCH_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}
LOG=${TMPDIR:-/tmp}/gogym-bench-server.log

psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB"
# PostgreSQL on this machine: through its Unix socket when there is one (as a same-host
# deployment would connect), else TCP. BENCH_PG_SOCKET=tcp forces TCP on 127.0.0.1:5432.
SOCKET_DIR=${BENCH_PG_SOCKET:-/var/run/postgresql}
if [ "$SOCKET_DIR" != tcp ] && [ -S "$SOCKET_DIR/.s.PGSQL.5432" ]; then
  export DATABASE_URL="postgresql+asyncpg://postgres@/$DB?host=$SOCKET_DIR"
  echo "database: unix socket in $SOCKET_DIR" >&2
else
  export DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$DB"
  echo "database: tcp 127.0.0.1:5432" >&2
fi
export PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
export REDIS_URL=${BENCH_REDIS_URL-redis://127.0.0.1:6379/14} SIMULATE_PROVIDERS=true
if [ -n "$REDIS_URL" ] && ! .venv/bin/python -c "import redis,sys; redis.Redis.from_url(sys.argv[1]).ping()" "$REDIS_URL" 2>/dev/null; then
  REDIS_URL=""  # no Redis here: the embedded mode
fi
.venv/bin/gogym migrate >/dev/null
.venv/bin/gogym seed --demo --members 300 >/dev/null
.venv/bin/gogym nlu train >/dev/null
# A live database has its planner statistics; a fresh seed gets them from autovacuum only
# later, in the middle of the run.
psql "${ADMIN%/*}/$DB" -qc "VACUUM ANALYZE"

run() {  # run LABEL COMMAND...: serve, wait for both workers, load, stop
  local label=$1; shift
  "$@" >"$LOG" 2>&1 &
  local server=$!
  # Both workers must be serving before the load generator opens its keep-alive
  # connections, or they all land on the first worker up.
  for _ in $(seq 1 120); do
    [ "$(grep -c 'Application startup complete' "$LOG")" -ge 2 ] && break
    sleep 0.5
  done
  printf '%s ' "$label"
  .venv/bin/python bench/webhook_load.py --url "http://127.0.0.1:$PORT" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --members 200 --warmup 300 \
    2>/dev/null || true
  kill "$server"; wait "$server" 2>/dev/null || true
}

worker=""
if [ -n "$REDIS_URL" ]; then
  .venv/bin/gogym worker >"${LOG%.log}-worker.log" 2>&1 &
  worker=$!
fi
run "gogym:" .venv/bin/gogym serve --port "$PORT" --workers 2
if [ -n "$worker" ]; then kill "$worker"; wait "$worker" 2>/dev/null || true; fi
for db in sqlalchemy asyncpg none; do
  run "bare-$db:" env PYTHONPATH=. BENCH_BARE_DB=$db .venv/bin/python -m bench.bare_app "$PORT" 2
done
