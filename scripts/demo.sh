#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded default (local Kafka + registry + Spark).
#   RATE=3000 DURATION=60 TRIGGER=5s KEEP=0 STATE_DIR=.local LAKE=.local/lake make demo
#   DUPLICATE_RATE=0.02 LATE_RATE=0.01 CONFLICT_RATE=0.001 POISON_RATE=0.0005
#   VIOLATION_RATE=0.001: the dirty share of the live stream, so every path has work to show:
#   bronze quarantines the poison (by reason), silver drops the re-sends, rejects the conflicts
#   and the rule violators (by rule) and flags the late events
#   FRAUD_RATE=0.004 HISTORY_RATE=10: first 70 minutes of history on a simulated clock (caught up
#   at full speed) in which that share of event slots starts a labelled fraud scenario (ground
#   truth in STATE_DIR/fraud-truth.jsonl): the scenarios take minutes of event time to unfold
#   (the amount outlier's 11 earlier payments, 55), so gold has alerts to show
# Each step announces itself; KEEP=1 leaves the platform up and says how to reach it.
# The pipeline is one Spark application: bronze_ingest, silver_refine and gold_signals (the
# aggregates and the alerts, LAKE/alerts and topic bank_txn_alerts); the demo ends with a few
# alerts and their evidence.
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
CONFLICT_RATE=${CONFLICT_RATE:-0.001}
POISON_RATE=${POISON_RATE:-0.0005}
VIOLATION_RATE=${VIOLATION_RATE:-0.001}
FRAUD_RATE=${FRAUD_RATE:-0.004}
HISTORY_RATE=${HISTORY_RATE:-10}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
PIPELINE_PID=""
step() { printf '\n==> %s\n' "$*" >&2; }

# Silver batches holding rows that gold has not taken yet ("?" before gold's first batch).
gold_behind() {
  "$BIN/python" - "$LAKE" <<'PY'
import sys
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
from txn_lake import Lake
from txn_lake.gold_tables import ALERTS_TABLE
from txn_lake.outputs import StreamOutput

lake = Lake(Path(sys.argv[1]))
info = StreamOutput(lake, ALERTS_TABLE).latest_commit() if ALERTS_TABLE.path(lake).is_dir() else None
if info is None:
    sys.exit(print("?"))
taken = int((info.user_metadata or {}).get("silver_batches", [-1, -1])[1])
silver = QueryBuilder().register("s", DeltaTable(str(lake.table_path("silver"))))
top = pa.table(silver.execute("SELECT max(batch_id) AS m FROM s").read_all())["m"][0].as_py()
print(0 if top is None else max(0, int(top) - taken))
PY
}

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

step "1/8 Starting the local platform (Kafka KRaft broker + schema registry) in $STATE_DIR"
"$BIN/txn-platform" up --state-dir "$STATE_DIR" >/dev/null
set -a; . "$STATE_DIR/platform.env"; set +a
"$BIN/txn-platform" status --state-dir "$STATE_DIR"

step "2/8 Checking and registering the contracts, the stream's and the alerts' (producers never auto-register)"
"$BIN/txn-contract" check
"$BIN/txn-contract" register

step "3/8 Starting txn-pipeline run (bronze_ingest, silver_refine and gold_signals in one Spark application, trigger $TRIGGER) into $LAKE; log: $STATE_DIR/logs/pipeline.log"
mkdir -p "$STATE_DIR/logs"
"$BIN/txn-pipeline" run --lake "$LAKE" --trigger "$TRIGGER" --master 'local[2]' \
  >>"$STATE_DIR/logs/pipeline.log" 2>&1 &
PIPELINE_PID=$!
for _ in $(seq 1 120); do
  grep -q "gold_signals: started" "$STATE_DIR/logs/pipeline.log" 2>/dev/null && break
  kill -0 "$PIPELINE_PID" 2>/dev/null || { tail -20 "$STATE_DIR/logs/pipeline.log" >&2; exit 1; }
  sleep 1
done
grep -q "gold_signals: started" "$STATE_DIR/logs/pipeline.log" || { echo "txn-pipeline did not start" >&2; exit 1; }

step "4/8 Producing: 70 minutes of history at ${HISTORY_RATE} events/s with ${FRAUD_RATE} fraud scenarios (simulated clock, caught up at once), then ${DURATION}s live at ${RATE} events/s, ${DUPLICATE_RATE} re-sent, ${LATE_RATE} late, ${CONFLICT_RATE} conflicting, ${POISON_RATE} poison, ${VIOLATION_RATE} breaking a quality rule (txn-producer)"
rm -f "$STATE_DIR/fraud-truth.jsonl"
"$BIN/txn-producer" --rate "$HISTORY_RATE" --count $(( HISTORY_RATE * 4200 )) --seed 7 \
  --start-time "$(date -u -d '-70 minutes' +%Y-%m-%dT%H:%M:%SZ)" \
  --fraud-rate "$FRAUD_RATE" --fraud-truth "$STATE_DIR/fraud-truth.jsonl"
# Its summary line (what it sent of each kind) is kept for step 6's comparison.
"$BIN/txn-producer" --rate "$RATE" --duration "$DURATION" \
  --duplicate-rate "$DUPLICATE_RATE" --late-rate "$LATE_RATE" --conflict-rate "$CONFLICT_RATE" \
  --poison-rate "$POISON_RATE" --violation-rate "$VIOLATION_RATE" | tee "$STATE_DIR/producer-live.json"

step "5/8 Waiting for bronze (lag 0), silver (every bronze row read) and gold (every silver batch taken) to catch up, at most ${DRAIN_TIMEOUT}s"
deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
while :; do
  behind=$("$BIN/txn-report" --lake "$LAKE" --format json | "$BIN/python" -c 'import json,sys; r=json.load(sys.stdin); print(r["lag"]["total"], r["silver"]["bronze_rows_not_read"] if r["silver"]["exists"] else "?")')
  gold=$(gold_behind)
  printf '    Kafka lag: %s offsets; bronze rows silver has not read: %s; silver batches gold has not taken: %s\n' ${behind} "$gold" >&2
  [ "$behind $gold" = "0 0 0" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { echo "the pipeline did not catch up in ${DRAIN_TIMEOUT}s" >&2; exit 1; }
  kill -0 "$PIPELINE_PID" 2>/dev/null || { tail -20 "$STATE_DIR/logs/pipeline.log" >&2; exit 1; }
  sleep 5
done
kill -TERM "$PIPELINE_PID"
wait "$PIPELINE_PID"
PIPELINE_PID=""
grep -E "^\[txn-pipeline\] (bronze_ingest: batch|silver_refine: batch|gold_signals: batch|stopped)" "$STATE_DIR/logs/pipeline.log" | tail -7 >&2

step "6/8 The report (txn-report, from the Delta logs), and every path against what the producer sent"
"$BIN/txn-report" --lake "$LAKE"
"$BIN/txn-report" --lake "$LAKE" --format json >"$STATE_DIR/report.json"
"$BIN/python" - "$STATE_DIR/report.json" "$STATE_DIR/producer-live.json" <<'PY'
import json
import sys
from pathlib import Path

report = json.loads(Path(sys.argv[1]).read_text())
sent = json.loads(Path(sys.argv[2]).read_text().strip().splitlines()[-1])
silver, gold = report["silver"], report["gold"]
rejects = dict(silver["rejects_by_rule"])
conflicts = rejects.pop("duplicate_conflict", 0)
paths = [  # (path, what the lake shows, what the live producer sent or None)
    ("quarantined, by reason", report["quarantine_by_reason"], sent["poison_by_reason"]),
    ("rejected, by rule (a row breaking two rules counts under both)", rejects, sent["violations_by_rule"]),
    ("conflicts rejected", silver["conflicts"], sent["conflicts"]),
    ("duplicates dropped", silver["duplicates_dropped"], sent["resent"]),
    ("late events kept (live and history older than the allowed lateness)", silver["late"], None),
    ("alerts, by detector", gold["alerts_by_detector"], None),
]
for name, shown, made in paths:
    total = sum(shown.values()) if isinstance(shown, dict) else shown
    detail = f" ({', '.join(f'{k} {v:,}' for k, v in shown.items())})" if isinstance(shown, dict) else ""
    check = "" if made is None else ("; the producer sent as many" if made == shown else f"; the producer sent {made}")
    print(f"    {name}: {total:,}{detail}{check}{'' if total else '  <- none: raise the rate or DURATION'}")
print(f"    reconciled (bronze = silver + rejects + duplicates): {silver['reconciled']}")
PY
# The same figures as one self-contained page (charts inlined; opens with no network).
"$BIN/txn-report" --lake "$LAKE" --format html --output "$STATE_DIR/report.html" >/dev/null
echo "    the report as a page: $(cd "$STATE_DIR" && pwd)/report.html (open it in a browser)"

step "7/8 The same tables through delta-rs, without Spark (txn-lake describe; rows cross-checked)"
"$BIN/txn-lake" describe --lake "$LAKE" --history 3 --no-columns
report_rows=$("$BIN/txn-report" --lake "$LAKE" --format json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)["bronze_rows"])')
"$BIN/python" - "$LAKE/bronze" "$report_rows" <<'PY'
import sys
from deltalake import DeltaTable

rows = DeltaTable(sys.argv[1]).count()
print(f"    delta-rs reads {rows:,} bronze rows; txn-report says {int(sys.argv[2]):,}")
sys.exit(0 if rows == int(sys.argv[2]) else "delta-rs and txn-report disagree")
PY

step "8/8 A few alerts of the gold layer, with their evidence (LAKE/alerts through delta-rs; also on topic bank_txn_alerts)"
"$BIN/python" - "$LAKE/alerts" "$STATE_DIR/fraud-truth.jsonl" <<'PY'
import json
import sys
from collections import Counter
from pathlib import Path

from deltalake import DeltaTable

rows = DeltaTable(sys.argv[1]).to_pyarrow_table().to_pylist()
truth = Path(sys.argv[2])
scenarios = [json.loads(line) for line in truth.read_text().splitlines()] if truth.exists() else []
raised = {(r["detector"], r["customer_id"]) for r in rows}
for detector, n in sorted(Counter(s["detector"] for s in scenarios).items()):
    found = sum((detector, s["customer_id"]) in raised for s in scenarios if s["detector"] == detector)
    print(f"    {detector}: {n} complete injected scenario(s), {found} with an alert of that detector")
print(f"    {len(rows):,} alerts: " + (", ".join(f"{d} {n}" for d, n in sorted(Counter(r["detector"] for r in rows).items())) or "none"))
evidence = {
    "velocity": lambda r: f"{r['transaction_count']} transactions within {r['window_seconds']} s",
    "card_testing": lambda r: f"{r['transaction_count']} declines within {r['window_seconds']} s",
    "impossible_travel": lambda r: f"{r['from_city']} ({r['from_country']}) -> {r['to_city']} ({r['to_country']}): {r['distance_km']:,.0f} km in {r['elapsed_seconds']:,.0f} s, {r['speed_kmh']:,.0f} km/h",
    "amount_outlier": lambda r: f"{r['amount']} {r['currency']} against a mean of {r['mean_amount']} (sd {r['stddev_amount']}, z {r['z_score']:.1f}) over {r['transaction_count']} earlier",
}
shown = {}
for r in sorted(rows, key=lambda r: r["event_time"]):
    shown.setdefault(r["detector"], r)  # the first of each detector
for r in shown.values():
    print(f"    {r['detector']} ({r['severity']}) customer {r['customer_id']} at {r['event_time']:%Y-%m-%d %H:%M:%S}: {evidence[r['detector']](r)}; evidence {len(r['transaction_ids'])} transaction(s), trigger {r['transaction_id']}")
PY
