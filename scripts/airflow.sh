#!/usr/bin/env bash
# make airflow: a local Airflow 3 over dags/, in the foreground until Ctrl-C.
#
# Four components, each its own process: api-server (UI + REST API v2 + the execution API the
# tasks talk to), scheduler (LocalExecutor: tasks run as its subprocesses), dag-processor and
# triggerer. Not `airflow standalone`: it runs the same four, but stops them only on
# KeyboardInterrupt (a SIGTERM leaves them orphaned), takes no port, and mixes their output;
# here each has a log file and every exit path (Ctrl-C, SIGTERM, a component dying) stops all.
#
# Metadata database: SQLite in $AIRFLOW_HOME/airflow.db unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
# says otherwise. Airflow 3 has no SequentialExecutor any more and lets LocalExecutor run on
# SQLite (development only: one writer at a time, fine for a laptop; use PostgreSQL beyond that).
#
# Login: the simple auth manager (Airflow 3's default); user `admin` (role admin), password
# generated on first start into $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated.
#
# Settings from the environment (all optional):
#   AIRFLOW_HOME (.airflow), AIRFLOW__API__PORT (8080), AIRFLOW__API__HOST (127.0.0.1),
#   AIRFLOW_COMPONENTS ("api-server scheduler dag-processor triggerer"),
#   AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False: no scheduled runs, only triggered ones and
#   backfills (the DAGs start paused; unpausing recsys_ingest otherwise creates the run for
#   yesterday at once, which fails unless the days before it are in the lake: backfill first),
#   RECSYS_* as in the demo: a small simulated shop, lake and landing zone under data/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/airflow ] && PATH="$PWD/.venv/bin:$PATH"
command -v airflow > /dev/null || { echo "airflow is not installed: run 'make install' first" >&2; exit 1; }

export AIRFLOW_HOME="${AIRFLOW_HOME:-$PWD/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$PWD/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
port="$AIRFLOW__API__PORT"
url="http://${AIRFLOW__API__HOST/0.0.0.0/127.0.0.1}:$port"
# Task processes report to the execution API of this api-server (the default assumes port 8080).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$url/execution/}"

: "${RECSYS_SIM_SCALE:=small}"
export RECSYS_SIM_SCALE
export RECSYS_LAKE_ROOT="${RECSYS_LAKE_ROOT:-$PWD/data/lake}"
export RECSYS_LANDING_ROOT="${RECSYS_LANDING_ROOT:-$PWD/data/landing}"
export RECSYS_REGISTRY_ROOT="${RECSYS_REGISTRY_ROOT:-$PWD/data/registry}"
export RECSYS_REDIS_URL="${RECSYS_REDIS_URL:-redis://127.0.0.1:6379/0}"
components="${AIRFLOW_COMPONENTS:-api-server scheduler dag-processor triggerer}"
logs="$AIRFLOW_HOME/logs"
mkdir -p "$logs" "$RECSYS_LAKE_ROOT" "$RECSYS_LANDING_ROOT"

if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
  echo "port $port is taken: stop what listens there, or choose another, e.g. AIRFLOW__API__PORT=8081 make airflow" >&2
  exit 1
fi
bash scripts/ensure_redis.sh

echo "==> Airflow metadata database ($AIRFLOW_HOME, log: $logs/db-migrate.log)"
airflow db migrate > "$logs/db-migrate.log" 2>&1 || { tail -40 "$logs/db-migrate.log"; exit 1; }

pids=()
stop_all() {
  trap - INT TERM EXIT
  [ "${#pids[@]}" -gt 0 ] || exit "${1:-0}"
  echo "==> stopping Airflow (${components// /, })"
  # Each component leads its own process group (setsid): TERM reaches its workers and tasks too.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2> /dev/null || true; done
  for _ in $(seq 150); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2> /dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2> /dev/null || true; done
  rm -f "$AIRFLOW_HOME"/airflow-*.pid
  exit "${1:-0}"
}
trap 'stop_all 130' INT
trap 'stop_all 143' TERM
trap 'stop_all $?' EXIT

for name in $components; do
  setsid airflow "$name" > "$logs/$name.log" 2>&1 < /dev/null &
  pids+=("$!")
  echo "$!" > "$AIRFLOW_HOME/airflow-$name.pid"
  echo "--> airflow $name (pid $!, log: $logs/$name.log)"
done

http_ok() { python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" "$1" > /dev/null 2>&1; }
if [[ " $components " == *" api-server "* ]]; then
  for _ in $(seq 600); do
    http_ok "$url/api/v2/monitor/health" && break
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2> /dev/null || { echo "a component exited while starting:" >&2; tail -n 30 "$logs"/*.log >&2; stop_all 1; }
    done
    sleep 0.5
  done
  http_ok "$url/api/v2/monitor/health" || { echo "the api-server did not answer in 5 minutes" >&2; tail -30 "$logs/api-server.log" >&2; stop_all 1; }
  password_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}"
  echo
  echo "==> Airflow is up: $url"
  if [ "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-False}" = "True" ]; then
    echo "    no login (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True): everyone is admin"
  else
    users="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
    first="${users%%,*}"
    echo "    log in as '${first%%:*}'; the passwords are in $password_file"
    python -c "import json, sys; print('    ' + ', '.join(f'{u}: {p}' for u, p in json.load(open(sys.argv[1])).items()))" \
      "$password_file" 2> /dev/null || true
    echo "    REST API: POST $url/auth/token {\"username\": ..., \"password\": ...} -> Bearer token for $url/api/v2/..."
  fi
  echo "    the DAGs start paused: unpause one in the UI, then trigger it (▶, with its params) or backfill it"
fi
echo "    simulated shop '$RECSYS_SIM_SCALE'; lake $RECSYS_LAKE_ROOT; Redis $RECSYS_REDIS_URL; logs $logs"
echo "    Ctrl-C stops everything"

# Foreground until Ctrl-C (the trap) or until a component exits (then the others stop too).
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "a component exited (status $status); last lines of the logs:" >&2
for name in $components; do echo "--- $name" >&2; tail -n 15 "$logs/$name.log" >&2; done
stop_all 1
