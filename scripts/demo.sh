#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded default (local Kafka + registry + Spark).
#   RATE=3000 DURATION=60 TRIGGER=5s KEEP=0 STATE_DIR=.local LAKE=.local/lake make demo
#   DUPLICATE_RATE=0.02 LATE_RATE=0.01: the dirty share of the stream, so silver has work to show
# Each step announces itself; KEEP=1 leaves the platform up and says how to reach it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
STATE_DIR=$(realpath -m "${STATE_DIR:-.local}")
LAKE=$(realpath -m "${LAKE:-$STATE_DIR/lake}")
RATE=${RATE:-3000}
DURATION=${DURATION:-60}
TRIGGER=${TRIGGER:-5s}
DUPLICATE_RATE=${DUPLICATE_RATE:-0.02}
LATE_RATE=${LATE_RATE:-0.01}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
PIPELINE_PID=""
step() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
  status=$?
  if [ -n "$PIPELINE_PID" ] && kill -0 "$PIPELINE_PID" 2>/dev/null; then
    step "Stopping txn-pipeline"
    kill -TERM "$PIPELINE_PID" 2>/dev/null || true
    wait "$PIPELINE_PID" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = "1" ]; then
    step "KEEP=1: the platform stays up. Reach it with:  set -a; . $STATE_DIR/platform.env; set +a
    Stop it with:  $BIN/txn-platform down --state-dir $STATE_DIR"
  else
    step "Stopping the local platform (KEEP=1 leaves it up)"
    "$BIN/txn-platform" down --state-dir "$STATE_DIR" || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1/7 Starting the local platform (Kafka KRaft broker + schema registry) in $STATE_DIR"
"$BIN/txn-platform" up --state-dir "$STATE_DIR" >/dev/null
set -a; . "$STATE_DIR/platform.env"; set +a
"$BIN/txn-platform" status --state-dir "$STATE_DIR"

step "2/7 Checking and registering the contract (producers never auto-register)"
"$BIN/txn-contract" check
"$BIN/txn-contract" register

step "3/7 Starting txn-pipeline run (bronze_ingest and silver_refine in one Spark application, trigger $TRIGGER) into $LAKE; log: $STATE_DIR/logs/pipeline.log"
mkdir -p "$STATE_DIR/logs"
"$BIN/txn-pipeline" run --lake "$LAKE" --trigger "$TRIGGER" --master 'local[2]' \
  >>"$STATE_DIR/logs/pipeline.log" 2>&1 &
PIPELINE_PID=$!
for _ in $(seq 1 120); do
  grep -q "silver_refine: started" "$STATE_DIR/logs/pipeline.log" 2>/dev/null && break
  kill -0 "$PIPELINE_PID" 2>/dev/null || { tail -20 "$STATE_DIR/logs/pipeline.log" >&2; exit 1; }
  sleep 1
done
grep -q "silver_refine: started" "$STATE_DIR/logs/pipeline.log" || { echo "txn-pipeline did not start" >&2; exit 1; }

step "4/7 Producing for ${DURATION}s at ${RATE} events/s (txn-producer), ${DUPLICATE_RATE} re-sent, ${LATE_RATE} late"
"$BIN/txn-producer" --rate "$RATE" --duration "$DURATION" \
  --duplicate-rate "$DUPLICATE_RATE" --late-rate "$LATE_RATE"

step "5/7 Waiting for bronze (lag 0) and silver (every bronze row read) to catch up, at most ${DRAIN_TIMEOUT}s"
deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
while :; do
  behind=$("$BIN/txn-report" --lake "$LAKE" --format json | "$BIN/python" -c 'import json,sys; r=json.load(sys.stdin); print(r["lag"]["total"], r["silver"]["bronze_rows_not_read"] if r["silver"]["exists"] else "?")')
  printf '    Kafka lag: %s offsets; bronze rows silver has not read: %s\n' ${behind} >&2
  [ "$behind" = "0 0" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { echo "the pipeline did not catch up in ${DRAIN_TIMEOUT}s" >&2; exit 1; }
  kill -0 "$PIPELINE_PID" 2>/dev/null || { tail -20 "$STATE_DIR/logs/pipeline.log" >&2; exit 1; }
  sleep 5
done
kill -TERM "$PIPELINE_PID"
wait "$PIPELINE_PID"
PIPELINE_PID=""
grep -E "^\[txn-pipeline\] (bronze_ingest: batch|silver_refine: batch|stopped)" "$STATE_DIR/logs/pipeline.log" | tail -5 >&2

step "6/7 The report (txn-report, from the Delta logs)"
"$BIN/txn-report" --lake "$LAKE"

step "7/7 The same tables through delta-rs, without Spark (txn-lake describe; rows cross-checked)"
"$BIN/txn-lake" describe --lake "$LAKE" --history 3 --no-columns
report_rows=$("$BIN/txn-report" --lake "$LAKE" --format json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["bronze_rows"])')
"$BIN/python" - "$LAKE/bronze" "$report_rows" <<'PY'
import sys
from deltalake import DeltaTable

rows = DeltaTable(sys.argv[1]).count()
print(f"    delta-rs reads {rows:,} bronze rows; txn-report says {int(sys.argv[2]):,}")
sys.exit(0 if rows == int(sys.argv[2]) else "delta-rs and txn-report disagree")
PY
