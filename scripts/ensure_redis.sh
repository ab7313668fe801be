#!/usr/bin/env bash
# Start a local redis-server on RECSYS_REDIS_URL's port (default 6379) unless one answers.
set -euo pipefail
cd "$(dirname "$0")/.."
url="${RECSYS_REDIS_URL:-redis://127.0.0.1:6379/0}"
hostport="${url#*://}"; hostport="${hostport%%/*}"; hostport="${hostport##*@}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379

if ! command -v redis-server > /dev/null; then
  echo "==> installing redis-server (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server > /dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq redis-server > /dev/null; fi
fi
[ "${1:-}" = "--install-only" ] && exit 0
if redis-cli -h "$host" -p "$port" ping > /dev/null 2>&1; then
  echo "==> Redis answers at $host:$port"
else
  echo "==> starting a local redis-server on $host:$port (data in .redis/)"
  mkdir -p .redis
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no \
    --dir "$PWD/.redis" --logfile "$PWD/.redis/redis.log"
  for _ in $(seq 50); do redis-cli -h "$host" -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h "$host" -p "$port" ping > /dev/null
fi
