"""silver-refine against a bronze table written by the real bronze job (real broker, registry,
Spark with Delta): every count of a dirty mix, dedup across batches, self-description, and
exactly-once under SIGKILL.

Load 1 (one bronze batch, then silver batch 0): 40 good producer events, 3 exact re-sends,
2 conflicting re-sends, one violator of each of the six rules, 3 late events.
Load 2 (silver batch 1): 10 new good events, one of them re-sent, 2 exact re-sends of load 1,
one conflicting re-send of load 1.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bronze_ingest.files import Staged
from tests.conftest import bronze_available_now, create_topic
from txn_contract import Status, packaged_contract, wire
from txn_contract.rules import packaged_rules
from txn_lake.layout import SILVER, SILVER_AUDIT, SILVER_REJECTS, Lake
from txn_lake.outputs import StreamOutput
from txn_lake.tables import TABLES
from txn_producer.generator import EventGenerator
from txn_producer.population import build_population
from txn_runtime.metrics import Metrics
from txn_silver.config import SilverSettings
from txn_silver.job import SilverJob

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()
SILVER_REFINE = Path(sys.executable).parent / "silver-refine"
NOW = datetime.now(UTC).replace(microsecond=0)


def _good(n: int, seed: int) -> list:
    gen = EventGenerator(build_population(300, seed), seed)
    start = int((NOW - timedelta(minutes=2)).timestamp() * 1000)
    return [gen.transaction(d, start + i) for i, d in enumerate(gen.draws(n))]


def _violators(base) -> dict[str, object]:
    """One event per rule, each violating that rule only (``base`` is a Canadian event)."""
    fresh = lambda **kw: dataclasses.replace(base, transaction_id=str(uuid.uuid4()), **kw)  # noqa: E731
    return {
        "amount_positive": fresh(amount=Decimal("-5.00")),
        "currency_iso4217": fresh(currency="XYZ"),
        "country_iso3166": fresh(country="ZZ", province=None),
        "mcc_format": fresh(merchant_category_code="54A1"),
        "province_iso3166_2": fresh(province="CA-XX"),
        "timestamp_not_future": fresh(timestamp=NOW + timedelta(hours=1)),
    }


def _conflict(event):
    other = Status.DECLINED if event.status is Status.APPROVED else Status.APPROVED
    return dataclasses.replace(event, amount=event.amount + Decimal("1.00"), status=other)


def _produce(bootstrap: str, topic: str, events: list, schema_id: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for e in events:
        producer.produce(
            topic,
            key=e.customer_id.encode(),
            value=wire.encode(e.to_avro(), CONTRACT.latest.parsed, schema_id),
        )
    assert producer.flush(30) == 0


def _silver(spark, lake: Path, metrics: Metrics | None = None, **extra) -> dict:
    cfg = SilverSettings(lake=lake, available_now=True, **extra)
    job = SilverJob(cfg, spark, packaged_rules())
    job.metrics = metrics
    return job.run(emit=print)


def _read(spark, lake: Path, table: str):
    return spark.read.format("delta").load(str(Lake(lake).table_path(table)))


@pytest.fixture(scope="module")
def refined(spark, platform, registered_contract, tmp_path_factory):
    """Two bronze loads, each followed by an available-now silver run; then a third silver run."""
    topic = f"silver_mix_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    schema_id = registered_contract[CONTRACT.latest.version]
    good = _good(40, 3)
    base = next(e for e in good if e.country == "CA" and e.province)
    violators = _violators(base)
    late = [dataclasses.replace(e, timestamp=NOW - timedelta(hours=3)) for e in _good(3, 4)]
    load1 = [*good, *late, *good[:3], _conflict(good[3]), _conflict(good[4]), *violators.values()]
    new = _good(10, 5)
    load2 = [*new, new[0], good[10], good[11], _conflict(good[12])]
    lake = tmp_path_factory.mktemp("silver_lake")
    metrics = Metrics()  # what --metrics-port serves, over the three runs
    _produce(platform.bootstrap_servers, topic, load1, schema_id)
    bronze_available_now(spark, platform, lake, topic)
    first = _silver(spark, lake, metrics)
    _produce(platform.bootstrap_servers, topic, load2, schema_id)
    bronze_available_now(spark, platform, lake, topic)
    second = _silver(spark, lake, metrics)
    silver_version = _read(spark, lake, SILVER).count(), StreamOutput(Lake(lake), TABLES[SILVER])
    third = _silver(spark, lake, metrics)
    return {
        "lake": lake,
        "metrics": metrics,
        "runs": (first, second, third),
        "good": good,
        "late": late,
        "new": new,
        "violators": violators,
        "silver_before_third": silver_version[0],
    }


def test_every_count_of_the_mix_is_exact(spark, refined):
    audit = {r.batch_id: r for r in _read(spark, refined["lake"], SILVER_AUDIT).collect()}
    assert sorted(audit) == [0, 1]
    a0, a1 = audit[0], audit[1]
    assert (a0.rows_read, a0.inserted, a0.duplicates_dropped, a0.conflicts, a0.rejected) == (
        54, 43, 3, 2, 8,
    )  # fmt: skip
    assert a0.rejected_by_rule == {rule: 1 for rule in refined["violators"]} | {
        "duplicate_conflict": 2
    }
    assert a0.late == 3
    assert (a1.rows_read, a1.inserted, a1.duplicates_dropped, a1.conflicts, a1.rejected) == (
        14, 10, 3, 1, 1,
    )  # fmt: skip
    assert a1.rejected_by_rule == {"duplicate_conflict": 1}
    assert a1.late == 0
    assert a0.reconciled and a1.reconciled
    assert a0.bronze_versions and a1.bronze_versions
    assert max(a0.bronze_versions) < min(a1.bronze_versions)


def test_the_metrics_equal_the_tables_and_the_audit(spark, refined):
    """The Prometheus figures the job counted (txn_runtime.metrics) against what it wrote."""
    from collections import Counter

    m, lake = refined["metrics"], refined["lake"]
    audit = _read(spark, lake, SILVER_AUDIT).collect()
    by_rule = Counter()
    for a in audit:
        by_rule.update(a.rejected_by_rule)
    assert m.value("txn_batches_total", layer="silver") == len(audit) == 2
    assert m.value("txn_rows_in_total", layer="silver") == sum(a.rows_read for a in audit)
    assert m.value("txn_rows_out_total", table=SILVER) == _read(spark, lake, SILVER).count()
    assert m.value("txn_rows_out_total", table=SILVER_REJECTS) == (
        _read(spark, lake, SILVER_REJECTS).count()
    )
    assert m.value("txn_duplicates_dropped_total", layer="silver") == sum(
        a.duplicates_dropped for a in audit
    )
    assert {rule: m.value("txn_rejected_total", rule=rule) for rule in by_rule} == by_rule
    assert m.value("txn_event_latency_seconds_count", table=SILVER) == 2
    assert m.value("txn_last_commit_timestamp_seconds", table=SILVER_AUDIT) > 0


def test_the_report_shows_silver_and_reconciles(refined):
    """`txn-report`'s silver object, computed from the logs and the audit without Spark."""
    from txn_report.report import _silver_rows
    from txn_report.silver_stats import silver_stats

    stats = silver_stats(Lake(refined["lake"]))
    from txn_lake.facts import table_facts

    bronze_rows = table_facts("bronze", refined["lake"] / "bronze", history=0).rows
    assert bronze_rows == 54 + 14
    sv = stats.as_json(bronze_rows)
    assert (sv["rows"], sv["rejected"], sv["duplicates_dropped"], sv["conflicts"]) == (53, 9, 6, 3)
    assert sv["rejects_by_rule"] == {rule: 1 for rule in refined["violators"]} | {
        "duplicate_conflict": 3
    }
    assert sv["late"] == 3 and sv["files"] >= 1 and sv["avg_file_bytes"] > 0
    assert sv["reconciled"] is True
    lines = dict(_silver_rows(sv, bronze_rows))
    assert (
        lines["Reconciliation"]
        == "bronze 68 = silver 53 + rejected 9 + duplicates 6 (68): reconciled"
    )
    # One bronze row more than silver accounted for: not reconciled, and it says why.
    behind = stats.as_json(bronze_rows + 1)
    assert behind["reconciled"] is False
    assert (
        "1 bronze rows not read by silver yet"
        in dict(_silver_rows(behind, bronze_rows + 1))["Reconciliation"]
    )


def test_silver_holds_one_row_per_id_first_seen_content(spark, refined):
    silver = _read(spark, refined["lake"], SILVER)
    rows = silver.collect()
    assert len(rows) == 53
    assert len({r.transaction_id for r in rows}) == 53
    by_id = {r.transaction_id: r for r in rows}
    for e in refined["good"] + refined["new"] + refined["late"]:
        assert by_id[e.transaction_id].amount == e.amount  # the first-seen content stayed
    assert not {v.transaction_id for v in refined["violators"].values()} & set(by_id)
    late_ids = {r.transaction_id for r in rows if r.is_late}
    assert late_ids == {e.transaction_id for e in refined["late"]}
    r = by_id[refined["good"][0].transaction_id]
    assert r.event_date == refined["good"][0].timestamp.date()
    assert r.event_hour == refined["good"][0].timestamp.hour
    assert r.kafka_offset is not None and r.schema_id and r.ingest_ts and r.refined_ts
    assert r.rule_warnings == []


def test_rejects_carry_their_rules_and_a_detail(spark, refined):
    rejects = _read(spark, refined["lake"], SILVER_REJECTS).collect()
    assert len(rejects) == 9
    by_id: dict[str, list] = {}
    for r in rejects:
        by_id.setdefault(r.transaction_id, []).append(r)
    for rule, event in refined["violators"].items():
        (row,) = by_id[event.transaction_id]
        assert row.rules == [rule]
        assert rule in row.detail
    good = refined["good"]
    for e, batch in ((good[3], 0), (good[4], 0), (good[12], 1)):
        (row,) = by_id[e.transaction_id]
        assert row.rules == ["duplicate_conflict"] and row.batch_id == batch
        assert row.detail.endswith("differing fields: amount, status.")
    assert "already in silver" in by_id[good[12].transaction_id][0].detail
    assert "same batch" in by_id[good[3].transaction_id][0].detail


def test_a_run_with_nothing_new_adds_nothing(spark, refined):
    assert refined["runs"][2]["batches"] == 0
    assert _read(spark, refined["lake"], SILVER).count() == refined["silver_before_third"]


def test_tables_describe_themselves(refined):
    from deltalake import DeltaTable

    rules = packaged_rules()
    lake = Lake(refined["lake"])
    silver = DeltaTable(str(lake.table_path(SILVER)))
    assert silver.metadata().partition_columns == ["event_date"]
    props = silver.metadata().configuration
    assert props["txn.rules.version"] == str(rules.version)
    assert props["txn.rules.sha256"] == rules.digest
    assert props["txn.contract.subject"] == CONTRACT.subject
    assert props["delta.autoOptimize.optimizeWrite"] == "true"  # measured: fewer, larger files
    comments = {f.name: (f.metadata or {}).get("comment") for f in silver.schema().fields}
    amount_doc = next(f["doc"] for f in CONTRACT.latest.schema["fields"] if f["name"] == "amount")
    assert comments["amount"] == amount_doc
    assert all(comments.values()), comments
    rejects = DeltaTable(str(lake.table_path(SILVER_REJECTS)))
    rules_comment = next(
        (f.metadata or {})["comment"] for f in rejects.schema().fields if f.name == "rules"
    )
    assert all(r.doc in rules_comment for r in rules.rules)
    from txn_lake.facts import table_facts

    for table in (SILVER, SILVER_REJECTS, SILVER_AUDIT):  # no write leaves a file out of its log
        assert table_facts(table, lake.table_path(table), history=0).unreferenced_files == 0, table
    meta = silver.history(1)[0]["userMetadata"]
    assert '"batch_id":1' in meta and '"bronze_versions"' in meta


def test_every_output_frame_the_jobs_append_is_its_tables_spec(
    spark, platform, registered_contract, tmp_path, monkeypatch
):
    """The frames bronze-ingest and silver-refine hand to Delta (every append, caught at
    ``StreamOutput.append``) have their table spec's columns (txn_lake.tables), in order, of
    the spec's types: good rows, a poison message and a rule violator reach all five tables."""
    from tests.records import produce_records, record
    from txn_lake.columns import contract_columns

    appended: dict[str, list] = {}
    append = StreamOutput.append

    def capture(self, df, batch_id, metadata, **kwargs):
        appended.setdefault(self.table, []).append(df.schema)
        return append(self, df, batch_id, metadata, **kwargs)

    lake = tmp_path / "lake"
    monkeypatch.setattr(StreamOutput, "append", capture)
    # Bronze's outputs are files its decoding pass writes (committed by delta-rs afterwards).
    write = Staged.write

    def capture_staged(self, df, *args, **kwargs):
        table = self.directory.relative_to(lake).parts[0]
        appended.setdefault(table, []).append(df.schema)
        return write(self, df, *args, **kwargs)

    monkeypatch.setattr(Staged, "write", capture_staged)
    topic = f"silver_spec_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    schema_id = registered_contract[CONTRACT.latest.version]
    events = [record(i, timestamp=int(NOW.timestamp() * 1000)) for i in range(5)]  # 0: rejected
    produce_records(platform.bootstrap_servers, topic, schema_id, events)
    poison = Producer({"bootstrap.servers": platform.bootstrap_servers})
    poison.produce(topic, b"poison")
    assert poison.flush(10) == 0
    bronze_available_now(spark, platform, lake, topic)
    _silver(spark, lake)

    def columns(schema) -> list[tuple[str, str]]:
        return [(f.name, f.dataType.simpleString()) for f in schema.fields]

    contract = contract_columns(spark, CONTRACT.latest.schema_str)
    bronze = TABLES["bronze"].schema(contract)
    expected = {
        "bronze": bronze,
        "quarantine": TABLES["quarantine"].schema(),
        SILVER: TABLES[SILVER].schema(contract),
        SILVER_REJECTS: TABLES[SILVER_REJECTS].schema(bronze),
        SILVER_AUDIT: TABLES[SILVER_AUDIT].schema(),
    }
    assert sorted(appended) == sorted(expected)
    for table, schemas in appended.items():
        for schema in schemas:
            assert columns(schema) == columns(expected[table]), table


# --------------------------------------------------------------------------- exactly once


def _copy_bronze(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "bronze", dst / "bronze")
    return dst


def _commits(path: Path) -> int:
    return len(list((path / "_delta_log").glob("*.json"))) if path.is_dir() else 0


def _snapshot(spark, lake: Path) -> dict:
    """What the job wrote, independent of batch boundaries: silver's and the rejects' rows
    without batch id and write time, and the audit's totals (each batch reconciled, once)."""
    from pyspark.sql import functions as F

    out = {}
    for table in (SILVER, SILVER_REJECTS):
        df = _read(spark, lake, table).drop("refined_ts", "batch_id")
        if table == SILVER_REJECTS:
            # A conflict's detail says whether the first row came in the same batch or from
            # silver (and silver's batch): the facts compared are the first row's coordinates
            # and the differing fields.
            first_seen = (
                r"^transaction_id (\S+) (?:was first seen with other content at|is already in "
                r"silver \(from) Kafka partition (\d+) offset (\d+).*differing fields: (.*)$"
            )
            df = df.withColumn(
                "detail",
                F.regexp_replace(
                    "detail", first_seen, "$1 first seen at partition $2 offset $3; fields: $4"
                ),
            )
        out[table] = sorted(map(str, df.collect()))
    audit = _read(spark, lake, SILVER_AUDIT)
    ids = [r.batch_id for r in audit.select("batch_id").collect()]
    assert sorted(ids) == list(range(len(ids)))  # one row per batch, no gap, no repeat
    assert audit.where("NOT reconciled").count() == 0
    cols = ["rows_read", "inserted", "duplicates_dropped", "conflicts", "rejected", "late"]
    out[SILVER_AUDIT] = audit.agg(*[F.sum(c).alias(c) for c in cols]).first().asDict()
    return out


def test_sigkill_mid_batch_then_restart_is_as_if_nothing_happened(spark, refined, tmp_path):
    """Kill right after a batch's audit commit (its rejects and audit committed, silver not),
    restart: the tables equal those of the fixture's uninterrupted runs (batch boundaries
    differ: the Delta source's file order within a version is not fixed)."""
    killed = _copy_bronze(refined["lake"], tmp_path / "killed")
    audit_path = Lake(killed).table_path(SILVER_AUDIT)
    args = [str(SILVER_REFINE), "--lake", str(killed), "--available-now", "--master", "local[2]"]
    # The killed run's batch 0: one of bronze's files; the restart redoes that batch as the
    # checkpoint planned it, then takes the rest in one batch (no per-trigger cap).
    proc = subprocess.Popen(
        [*args, "--max-files-per-trigger", "1"], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    # The audit's commits: its creation, then batch 0 (one of bronze's files).
    while _commits(audit_path) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    outputs = {
        t: StreamOutput(Lake(killed), TABLES[t]) for t in (SILVER, SILVER_REJECTS, SILVER_AUDIT)
    }
    assert outputs[SILVER_AUDIT].committed_batch() == 0, proc.stderr.read()
    from txn_lake.facts import query

    # Rejects commit only when the batch has some: which bronze file batch 0 took decides.
    (audit0,) = query(audit_path, "SELECT rejected, rows_read FROM t WHERE batch_id = 0")
    assert outputs[SILVER_REJECTS].committed_batch() == (0 if audit0["rejected"] else None)
    assert outputs[SILVER].committed_batch() is None  # killed between the audit and silver
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"batch 0: {audit0['rows_read']} rows" in rerun.stderr  # the killed batch was redone
    expected = _snapshot(spark, refined["lake"])
    assert _snapshot(spark, killed) == expected
    silver_version = _commits(Lake(killed).table_path(SILVER))
    assert _silver(spark, killed)["batches"] == 0  # a second available-now run adds nothing
    assert _commits(Lake(killed).table_path(SILVER)) == silver_version
    assert _snapshot(spark, killed) == expected


# --------------------------------------------------------------------------- warn and fail


def _rules_with(tmp_path: Path, extra: str):
    """The shipped rules plus ``extra`` (YAML list items), as the job would load a file."""
    from importlib import resources

    from txn_contract.rules import RULES_FILE, load_rules

    shipped = (resources.files("txn_contract") / "schemas" / RULES_FILE).read_text()
    path = tmp_path / "expectations.yaml"
    path.write_text(shipped.rstrip() + "\n" + extra)
    names = tuple(dict.fromkeys(n for v in CONTRACT.versions for n in v.field_names))
    return load_rules(path, names)


def test_a_warn_rule_keeps_its_violators_in_silver_and_counts_them(spark, refined, tmp_path):
    lake = _copy_bronze(refined["lake"], tmp_path / "warned")
    # The third-largest amount of the mix: at least three silver rows violate the rule.
    amounts = sorted(e.amount for e in refined["good"] + refined["new"] + refined["late"])
    limit = amounts[-3]
    rules = _rules_with(
        tmp_path,
        f"  - id: amount_below_limit\n    expression: amount < {limit}\n    action: warn\n"
        "    doc: Large tickets are worth a look.\n",
    )
    SilverJob(SilverSettings(lake=lake, available_now=True), spark, rules).run(emit=print)
    silver = _read(spark, lake, SILVER).collect()
    warned = {r.transaction_id for r in silver if r.rule_warnings == ["amount_below_limit"]}
    big = {r.transaction_id for r in silver if r.amount >= limit}
    assert len(big) >= 3 and warned == big  # kept, flagged, and only those
    assert len(silver) == 53  # the same rows as without the rule
    audit = _read(spark, lake, SILVER_AUDIT).collect()
    assert sum(a.warned_by_rule.get("amount_below_limit", 0) for a in audit) >= len(big)


def test_a_fail_rule_over_its_ratio_stops_the_job_in_one_sentence_and_writes_nothing(
    spark, refined, tmp_path
):
    from txn_contract.errors import TxnError

    lake = _copy_bronze(refined["lake"], tmp_path / "failed")
    rules = _rules_with(
        tmp_path,
        "  - id: no_atm\n    expression: channel <> 'ATM'\n    action: fail\n"
        "    max_ratio: 0.0\n    doc: This stream carries no ATM withdrawals.\n",
    )
    events = refined["good"] + refined["new"] + refined["late"]
    assert any(e.channel.value == "ATM" for e in events), "the mix must hold an ATM event"
    with pytest.raises(TxnError) as err:
        SilverJob(SilverSettings(lake=lake, available_now=True), spark, rules).run(emit=print)
    message = str(err.value)
    assert "no_atm (action fail)" in message and "nothing of the batch was written" in message
    assert "\n" not in message
    for table in (SILVER, SILVER_REJECTS, SILVER_AUDIT):
        assert StreamOutput(Lake(lake), TABLES[table]).committed_batch() is None, table


def test_bronze_gaining_a_column_restarts_the_query_and_silver_gains_it(spark, refined, tmp_path):
    """Bronze evolves as bronze-ingest evolves it (a column with its comment, through Delta's
    mergeSchema) between two silver runs: silver restarts its query in the same process and
    the new column lands in silver with its value; earlier rows read it as null."""
    from pyspark.sql import functions as F

    lake = _copy_bronze(refined["lake"], tmp_path / "evolved")
    assert _silver(spark, lake)["inserted"] == 53
    bronze_path = str(Lake(lake).table_path("bronze"))
    one = spark.read.format("delta").load(bronze_path).limit(1)
    comment = {"comment": "Loyalty tier of the customer (added in a later contract version)."}
    evolved = one.withColumns(
        {
            "transaction_id": F.lit(str(uuid.uuid4())),
            "kafka_offset": F.lit(10_000).cast("bigint"),
            "loyalty_tier": F.lit("gold"),
        }
    ).withMetadata("loyalty_tier", comment)
    evolved.write.format("delta").mode("append").option("mergeSchema", "true").save(bronze_path)
    second = _silver(spark, lake)
    assert second["inserted"] == 1, second
    silver = _read(spark, lake, SILVER)
    assert "loyalty_tier" in silver.columns
    tiers = {r.loyalty_tier for r in silver.select("loyalty_tier").collect()}
    assert tiers == {None, "gold"}
    assert silver.count() == 54
    fields = {f.name: f.metadata.get("comment") for f in silver.schema.fields}
    assert fields["loyalty_tier"] == comment["comment"]  # the comment came along from bronze
