"""The alerts' contract (``contracts/bank_txn_alerts-value``) and what is generated from it.

The schema is valid Avro with every field documented; its banking types are the stream's (money
as the stream's decimal, time as UTC ``timestamp-millis``); a future detector is a
FULL_TRANSITIVE change; the generated ``txn_contract.alerts`` (typed ``Alert``, its encoders)
writes fastavro's bytes; ``generate`` covers both subjects and ``--check`` names a drifted
alerts file. Copies only: the repository's files are never modified.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from txn_contract import packaged_contract
from txn_contract.alerts import ENCODERS, LATEST_VERSION, SUBJECT, TOPIC, Alert, Detector, Severity
from txn_contract.compatibility import check_level, load_schema_file
from txn_contract.contract import load_contract, load_contracts
from txn_contract.detectors import PARAMS, alert_id
from txn_contract.generate import check_all, render, write_all
from txn_runtime.contract_cli import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
PACKAGE_DIR = REPO_ROOT / "libs" / "txn_contract"
ALERTS_DIR = CONTRACTS_DIR / "bank_txn_alerts-value"
CONTRACT = packaged_contract("bank_txn_alerts-value")
LATEST = CONTRACT.latest.schema
FIELDS = {f["name"]: f for f in LATEST["fields"]}
STREAM_AMOUNT = next(
    f for f in packaged_contract().latest.schema["fields"] if f["name"] == "amount"
)
EVIDENCE = [
    "transaction_count",
    "window_seconds",
    "distance_km",
    "elapsed_seconds",
    "speed_kmh",
    "from_city",
    "from_country",
    "to_city",
    "to_country",
    "amount",
    "currency",
    "mean_amount",
    "stddev_amount",
    "z_score",
]


# ---------------------------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------------------------


def test_the_alert_schema_is_valid_avro_and_every_field_and_type_is_documented() -> None:
    for cv in CONTRACT.versions:
        assert load_schema_file(Path(cv.path)) == cv.schema
        fastavro.parse_schema(cv.schema)
    assert LATEST["doc"].strip()
    for f in LATEST["fields"]:
        assert f.get("doc", "").strip(), f"field {f['name']} has no doc"
        if isinstance(f["type"], dict) and f["type"].get("type") == "enum":
            assert f["type"].get("doc", "").strip(), f"enum of {f['name']} has no doc"


def test_the_policy_is_full_transitive_like_the_stream_and_names_its_module() -> None:
    policy = json.loads((ALERTS_DIR / "policy.json").read_text())
    assert policy["subject"] == CONTRACT.subject == SUBJECT == "bank_txn_alerts-value"
    assert policy["topic"] == TOPIC == "bank_txn_alerts"
    assert policy["compatibility"] == "FULL_TRANSITIVE" == packaged_contract().compatibility
    assert policy["module"] == CONTRACT.module == "alerts"


def test_the_required_fields_are_the_issues() -> None:
    required = [n for n, f in FIELDS.items() if "default" not in f]
    assert required == [
        "alert_id",
        "detector",
        "severity",
        "customer_id",
        "transaction_id",
        "transaction_ids",
        "event_time",
        "detected_at",
        "detectors_version",
    ]
    assert FIELDS["transaction_ids"]["type"] == {"type": "array", "items": "string"}


def test_times_are_utc_timestamp_millis_and_money_is_the_streams_decimal() -> None:
    for name in ("event_time", "detected_at"):
        assert FIELDS[name]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
        assert "UTC" in FIELDS[name]["doc"]
    for name in ("amount", "mean_amount", "stddev_amount"):
        assert FIELDS[name]["type"] == ["null", STREAM_AMOUNT["type"]], name


def test_every_evidence_field_is_nullable_with_default_null() -> None:
    assert list(FIELDS)[-len(EVIDENCE) :] == EVIDENCE
    for name in EVIDENCE:
        assert FIELDS[name]["type"][0] == "null", name
        assert FIELDS[name]["default"] is None, name


def test_the_enums_have_a_default_and_the_detectors_are_the_implemented_ones() -> None:
    detector, severity = FIELDS["detector"]["type"], FIELDS["severity"]["type"]
    assert detector["default"] == severity["default"] == "unknown"
    assert detector["symbols"] == ["unknown", *PARAMS]
    assert [s.value for s in Detector] == detector["symbols"]
    assert [s.value for s in Severity] == severity["symbols"]


def test_a_future_detector_or_severity_is_a_full_transitive_change() -> None:
    """The enum defaults: an old reader reads a new symbol as ``unknown``."""
    nxt = copy.deepcopy(LATEST)
    nxt_fields = {f["name"]: f for f in nxt["fields"]}
    nxt_fields["detector"]["type"]["symbols"].append("geo_fence")
    nxt_fields["severity"]["type"]["symbols"].append("info")
    nxt["fields"].append({"name": "radius_km", "type": ["null", "double"], "default": None})
    previous = [cv.schema for cv in CONTRACT.versions]
    assert check_level(nxt, previous, "FULL_TRANSITIVE") == []
    # without the default in v1, a v1 reader could not read the new symbol
    v1_without_default = copy.deepcopy(CONTRACT.version(1).schema)
    del {f["name"]: f for f in v1_without_default["fields"]}["detector"]["type"]["default"]
    (violation,) = check_level(nxt, [v1_without_default], "FULL_TRANSITIVE")
    assert (violation.path, violation.rule) == ("detector", "MISSING_ENUM_SYMBOLS")


# ---------------------------------------------------------------------------------------------
# The generated package: txn_contract.alerts
# ---------------------------------------------------------------------------------------------


def _alert(**over: Any) -> Alert:
    base: dict[str, Any] = {
        "alert_id": alert_id("amount_outlier", "C0000042", "t-9"),
        "detector": Detector.amount_outlier,
        "severity": Severity.medium,
        "customer_id": "C0000042",
        "transaction_id": "t-9",
        "transaction_ids": ["t-9"],
        "event_time": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "detected_at": datetime(2026, 1, 1, 12, 0, 4, 250_000, tzinfo=UTC),
        "detectors_version": 1,
        "transaction_count": 12,
        "amount": Decimal("950.00"),
        "currency": "CAD",
        "mean_amount": Decimal("40.12"),
        "stddev_amount": Decimal("10.50"),
        "z_score": 86.65,
    }
    return Alert(**{**base, **over})


def _fastavro(record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, CONTRACT.latest.parsed, record)
    return buf.getvalue()


def test_the_generated_alert_round_trips_and_its_encoder_writes_fastavros_bytes() -> None:
    for alert in (
        _alert(),
        _alert(
            detector=Detector.impossible_travel,
            severity=Severity.high,
            transaction_ids=["t-8", "t-9"],
            **dict.fromkeys(("transaction_count", "amount", "currency", "z_score"), None),
            **dict.fromkeys(("mean_amount", "stddev_amount"), None),
            distance_km=504.3,
            elapsed_seconds=1800.0,
            speed_kmh=1008.6,
            from_city="Toronto",
            from_country="CA",
            to_city="Montréal",
            to_country="CA",
        ),
    ):
        record = alert.to_avro(LATEST_VERSION)
        body = _fastavro(record)
        assert ENCODERS[LATEST_VERSION].encode(record) == body
        decoded = fastavro.schemaless_reader(io.BytesIO(body), CONTRACT.latest.parsed)
        assert Alert.from_avro(decoded) == alert
        assert ENCODERS[LATEST_VERSION].describes(CONTRACT.latest.schema)


@settings(max_examples=60, deadline=None)
@given(
    count=st.none() | st.integers(0, 2**31 - 1),
    km=st.none() | st.floats(allow_nan=False),
    cents=st.none() | st.integers(-(10**17), 10**17),
    ids=st.lists(st.text(max_size=8), max_size=5),
    detector=st.sampled_from(list(Detector)),
)
def test_the_generated_encoder_matches_fastavro_on_any_alert(count, km, cents, ids, detector):
    amount = None if cents is None else Decimal(cents).scaleb(-2)
    alert = _alert(detector=detector, transaction_ids=ids, transaction_count=count, distance_km=km)
    record = {**alert.to_avro(), "mean_amount": amount}
    assert ENCODERS[LATEST_VERSION].encode(record) == _fastavro(record)


# ---------------------------------------------------------------------------------------------
# generate covers every subject
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> tuple[Path, Path]:
    """``(contracts_dir, package_dir)`` laid out as in the repository."""
    contracts, package = tmp_path / "contracts", tmp_path / "libs" / "txn_contract"
    shutil.copytree(CONTRACTS_DIR, contracts)
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    return contracts, package


def test_generate_renders_both_subjects_the_alerts_into_their_sub_package() -> None:
    contracts = load_contracts(CONTRACTS_DIR)
    assert [c.subject for c in contracts] == ["bank_txn_alerts-value", "bank_txn_stream-value"]
    alerts = load_contract(CONTRACTS_DIR, "bank_txn_alerts-value")
    assert [f.relpath for f in render(alerts, CONTRACTS_DIR)] == [
        *[f"alerts/schemas/v{cv.version}.avsc" for cv in alerts.versions],
        "alerts/schemas/policy.json",
        "alerts/schemas/detectors.yaml",
        "alerts/model.py",
        "alerts/encoders.py",
        "alerts/__init__.py",
    ]
    # read-only: the repository's generated files of both subjects are in sync
    assert check_all(contracts, CONTRACTS_DIR, PACKAGE_DIR) == []


def test_the_generated_alerts_files_are_marked_and_name_their_source() -> None:
    for name in ("__init__.py", "model.py", "encoders.py"):
        head = (PACKAGE_DIR / "alerts" / name).read_text().splitlines()
        assert head[0].startswith(
            "# GENERATED by `txn-contract generate` from contracts/bank_txn_alerts-value/"
        ), name
        assert "DO NOT EDIT" in head[1]


@pytest.mark.parametrize(
    "drifted",
    [
        "alerts/schemas/detectors.yaml",
        "alerts/model.py",
        "alerts/encoders.py",
        "alerts/__init__.py",
    ],
)
def test_generate_check_fails_on_drift_of_an_alerts_file(
    repo_copy: tuple[Path, Path], drifted: str
) -> None:
    contracts, package = repo_copy
    (package / drifted).write_text((package / drifted).read_text() + "# edited\n")
    runner = CliRunner()
    drift = runner.invoke(cli, ["generate", "--check", "--contracts", str(contracts)])
    assert drift.exit_code == 1, drift.output
    assert drift.stdout == f"drift: {package / drifted} (differs)\n"

    fixed = runner.invoke(cli, ["generate", "--contracts", str(contracts)])
    assert fixed.exit_code == 0, fixed.output
    assert f"wrote {package / drifted}" in fixed.stderr
    assert "1 file(s) changed" in fixed.stderr
    assert runner.invoke(cli, ["generate", "--check", "--contracts", str(contracts)]).exit_code == 0


def test_a_detectors_edit_is_drift_until_regenerated(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    source = contracts / "bank_txn_alerts-value" / "detectors.yaml"
    source.write_text(source.read_text().replace("min_transactions: 5", "min_transactions: 6"))
    loaded = load_contracts(contracts)
    assert check_all(loaded, contracts, package) == [
        f"{package / 'alerts' / 'schemas' / 'detectors.yaml'} (differs)"
    ]
    assert write_all(loaded, contracts, package) == ["alerts/schemas/detectors.yaml"]
    assert check_all(loaded, contracts, package) == []


def test_a_missing_alerts_package_is_generated_whole(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    shutil.rmtree(package / "alerts")
    loaded = load_contracts(contracts)
    drift = check_all(loaded, contracts, package)
    assert drift and all(d.endswith(" (missing)") for d in drift)
    written = write_all(loaded, contracts, package)
    assert sorted(written) == sorted(f.relpath for f in render(loaded[0], contracts))
    assert check_all(loaded, contracts, package) == []


def test_a_generated_sub_package_without_its_subject_is_drift(repo_copy: tuple[Path, Path]):
    contracts, package = repo_copy
    shutil.copytree(package / "alerts", package / "old_alerts")
    assert check_all(load_contracts(contracts), contracts, package) == [
        f"{package / 'old_alerts'} (no such subject in contracts/; delete it)"
    ]


def test_stream_files_are_unchanged_by_generating_both(repo_copy: tuple[Path, Path]) -> None:
    contracts, package = repo_copy
    before = {p: p.read_bytes() for p in [package / "model.py", package / "encoders.py"]} | {
        p: p.read_bytes() for p in (package / "schemas").iterdir()
    }
    assert write_all(load_contracts(contracts), contracts, package) == []
    assert {p: p.read_bytes() for p in before} == before
