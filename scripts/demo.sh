#!/usr/bin/env bash
# make demo: run the real recsys_ingest DAG over a few days of the simulated shop, then
# recsys_retrain on the last of them (both DeepFM variants, the signed registry, the gate), then
# recsys_publish (candidates through every stage, the recommendations gate, Redis) and a few reads.
# Called by the Makefile with the venv on PATH and AIRFLOW_HOME set to .airflow/.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DEMO_START:=2026-11-01}"
: "${DEMO_DAYS:=5}"
: "${DEMO_RETRAIN:=1}"
: "${RECSYS_SIM_SCALE:=small}"
export RECSYS_SIM_SCALE
export RECSYS_LAKE_ROOT="${RECSYS_LAKE_ROOT:-$PWD/data/lake}"
export RECSYS_LANDING_ROOT="${RECSYS_LANDING_ROOT:-$PWD/data/landing}"
export RECSYS_REGISTRY_ROOT="${RECSYS_REGISTRY_ROOT:-$PWD/data/registry}"
mkdir -p "$AIRFLOW_HOME" data

bash scripts/ensure_redis.sh

echo "==> Airflow metadata database in $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -40 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

echo "==> recsys_ingest over $DEMO_DAYS day(s) from $DEMO_START, simulated shop at '$RECSYS_SIM_SCALE' scale"
for i in $(seq 0 $((DEMO_DAYS - 1))); do
  day=$(date -u -d "$DEMO_START + $i day" +%F)
  # A manual run covers the day before its logical date, so pass the day explicitly too.
  logical=$(date -u -d "$day + 1 day" +%F)
  log="$AIRFLOW_HOME/demo-recsys_ingest-$day.log"
  echo "--> airflow dags test recsys_ingest $logical -c '{\"partition_date\": \"$day\"}'   (log: $log)"
  started=$(date +%s)
  if ! airflow dags test recsys_ingest "$logical" -c "{\"partition_date\": \"$day\"}" > "$log" 2>&1; then
    tail -60 "$log"; echo "recsys_ingest failed for $day (full log: $log)"; exit 1
  fi
  grep -E "\[DAG TEST\] end task|simulated shop $day|events $day:|catalog $day:" "$log" \
    | grep -vE "events: hour ([1-9]|1[0-9]|2[0-3])/24" \
    | sed -E 's/^.*\[(info|warning) *\] //; s/ \[[a-z_.]+\] loc=.*$//; s/^/    /' || true
  grep -q "state=success" "$log" || { tail -60 "$log"; echo "recsys_ingest did not succeed for $day"; exit 1; }
  echo "    done in $(( $(date +%s) - started )) s"
done

echo
echo "==> What the lake holds now"
recsys summary --from "$DEMO_START" --days "$DEMO_DAYS"
if [ "$DEMO_RETRAIN" = "1" ] && [ "$DEMO_DAYS" -ge 4 ]; then
  last=$(date -u -d "$DEMO_START + $((DEMO_DAYS - 1)) day" +%F)
  history=$((DEMO_DAYS - 1))  # label days after the first: each needs the features of the day before
  conf="{\"partition_date\": \"$last\", \"history_days\": $history, \"epochs\": 2, \"negative_share\": 0.5,"
  conf="$conf \"recall_epochs\": 6, \"sequence_days\": $DEMO_DAYS, \"fine_epochs\": 15, \"fine_max_minutes\": 3}"
  log="$AIRFLOW_HOME/demo-recsys_retrain-$last.log"
  echo
  echo "==> recsys_retrain for $last: DeepFM (both variants), two-tower recall + FAISS index, BERT4Rec   (log: $log)"
  echo "--> airflow dags test recsys_retrain $(date -u -d "$last + 1 day" +%F) -c '$conf'"
  started=$(date +%s)
  if ! airflow dags test recsys_retrain "$(date -u -d "$last + 1 day" +%F)" -c "$conf" > "$log" 2>&1; then
    tail -60 "$log"; echo "recsys_retrain failed for $last (full log: $log)"; exit 1
  fi
  grep -E "\[DAG TEST\] end task|epoch +[0-9]+ |promotion of|recall v[0-9]+:|fine ranker v[0-9]+ on" "$log" \
    | sed -E 's/^.*\[(info|warning) *\] //; s/ \[[a-z_.]+\] loc=.*$//; s/^/    /' || true
  grep -q "end task task_id=promote" "$log" || { tail -60 "$log"; echo "recsys_retrain did not promote for $last"; exit 1; }
  echo "    done in $(( $(date +%s) - started )) s"
  echo
  echo "==> The model registry"
  for model in coarse_ranker recall fine_ranker; do recsys registry list --model "$model"; done

  log="$AIRFLOW_HOME/demo-recsys_publish-$last.log"
  echo
  echo "==> recsys_publish for $last: recall channels -> DeepFM -> BERT4Rec -> rules -> gate -> Redis   (log: $log)"
  echo "--> airflow dags test recsys_publish $(date -u -d "$last + 1 day" +%F) -c '{\"partition_date\": \"$last\"}'"
  started=$(date +%s)
  if ! airflow dags test recsys_publish "$(date -u -d "$last + 1 day" +%F)" -c "{\"partition_date\": \"$last\"}" > "$log" 2>&1; then
    tail -60 "$log"; echo "recsys_publish failed for $last (full log: $log)"; exit 1
  fi
  grep -E "\[DAG TEST\] end task|prepared the publish|shard [0-9]+ of|validation recommendations|published .* as rec:v|smoke check" "$log" \
    | sed -E 's/^.*\[(info|warning) *\] //; s/ \[[a-z_.]+\] loc=.*$//; s/^/    /' | cut -c1-220 || true
  grep -q "end task task_id=smoke_check" "$log" || { tail -60 "$log"; echo "recsys_publish did not finish for $last"; exit 1; }
  echo "    done in $(( $(date +%s) - started )) s"
  echo
  echo "==> What Redis serves now"
  recsys recommendations status
  user=$(python -c "from datetime import date; from recsys.settings import load_settings; from tasks.publish import read_recommendations; print(read_recommendations(load_settings(), date.fromisoformat('$last'))['user_id'].iloc[0])")
  item=$(python -c "from datetime import date; from recsys.settings import load_settings; from tasks.publish import read_recommendations; print(read_recommendations(load_settings(), date.fromisoformat('$last'))['item_id'].iloc[0])")
  echo "--> recsys recommendations show --user $user"
  recsys recommendations show --user "$user"
  echo "--> recsys recommendations show --similar $item --k 5"
  recsys recommendations show --similar "$item" --k 5
  echo "--> recsys recommendations show --segment trending --k 5"
  recsys recommendations show --segment trending --k 5

  # The lookup service, left running in the background: what a shop's front end asks.
  # (HTTP through Python's urllib: a fresh machine may have no curl.)
  http_get() { python -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())" "$1"; }
  port="${RECSYS_SERVICE_PORT:-8000}"
  if http_get "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then
    echo; echo "==> something already answers on port $port: not starting another lookup service"
  else
    echo
    echo "==> starting the lookup service on http://127.0.0.1:$port (log: $AIRFLOW_HOME/service.log)"
    RECSYS_SERVICE_PORT="$port" nohup python -m feature_store.service > "$AIRFLOW_HOME/service.log" 2>&1 &
    echo $! > "$AIRFLOW_HOME/service.pid"
    for _ in $(seq 100); do http_get "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && break; sleep 0.2; done
    http_get "http://127.0.0.1:$port/readyz" > /dev/null || { tail -30 "$AIRFLOW_HOME/service.log"; echo "the service did not get ready"; exit 1; }
  fi
  for path in "/v1/users/$user/recommendations?k=5" "/v1/users/a-visitor-never-seen/recommendations?k=5" "/v1/items/$item/similar?k=5"; do
    echo "--> GET http://127.0.0.1:$port$path"
    http_get "http://127.0.0.1:$port$path" | python -m json.tool --compact | cut -c1-600
  done
  echo "The service keeps running (pid $(cat "$AIRFLOW_HOME/service.pid" 2>/dev/null || echo '?')); stop it with: kill \$(cat $AIRFLOW_HOME/service.pid)"
fi

echo
echo "Lake: $RECSYS_LAKE_ROOT   Landing zone: $RECSYS_LANDING_ROOT   Airflow logs: $AIRFLOW_HOME"
