"""Silver's quality rules in the contract: the file, its validation, the packaged copy, and the
producer's events against every rule (a pure Python evaluation of the six shipped rules; Spark
evaluates the same expressions in tests/integration/test_silver_refine.py)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pycountry
import pytest
import yaml

from txn_contract import packaged_contract
from txn_contract.rules import (
    RULES_FILE,
    iso_lists,
    load_rules,
    packaged_rules,
    validate_rules,
)
from txn_producer.generator import EventGenerator
from txn_producer.population import build_population

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "contracts" / "bank_txn_stream-value" / RULES_FILE
TXN_CONTRACT = Path(sys.executable).parent / "txn-contract"
FIELDS = packaged_contract().latest.field_names
ISSUE_RULES = {
    "amount_positive",
    "currency_iso4217",
    "country_iso3166",
    "mcc_format",
    "province_iso3166_2",
    "timestamp_not_future",
}


def _rule(**over) -> dict:
    base = {"id": "r1", "expression": "amount > 0", "action": "quarantine", "doc": "Positive."}
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def _problems(*rules: dict, version=1) -> list[str]:
    return [
        p.line("f.yaml") for p in validate_rules({"version": version, "rules": list(rules)}, FIELDS)
    ]


def test_the_shipped_rules_are_the_issues_six_all_quarantine():
    rules = packaged_rules()
    assert {r.id for r in rules.rules} >= ISSUE_RULES
    assert all(r.action == "quarantine" for r in rules.rules if r.id in ISSUE_RULES)
    assert all(r.doc for r in rules.rules)
    assert rules.properties()["txn.rules.version"] == str(rules.version)
    assert rules.iso_source.startswith("pycountry ")


def test_packaged_copy_is_the_source_file():
    """The drift gate covers the rules: the package ships contracts/'s file verbatim."""
    packaged = REPO_ROOT / "libs" / "txn_contract" / "schemas" / RULES_FILE
    assert packaged.read_text() == SOURCE.read_text()


def test_placeholders_expand_to_pycountry_lists():
    rules = {r.id: r for r in packaged_rules().rules}
    assert "${" in rules["currency_iso4217"].expression
    assert "${" not in rules["currency_iso4217"].sql
    assert "'CAD'" in rules["currency_iso4217"].sql
    assert len(iso_lists()["iso4217"]) == len(pycountry.currencies)
    assert len(iso_lists()["iso3166_1"]) == len(pycountry.countries)
    assert "'CA-ON'" in rules["province_iso3166_2"].sql


def test_a_valid_rule_has_no_problem():
    assert _problems(_rule()) == []
    assert _problems(_rule(action="fail", max_ratio=0.01)) == []
    assert (
        _problems(_rule(expression="`timestamp` <= ingest_ts AND kafka_timestamp IS NOT NULL"))
        == []
    )


def test_unknown_column_is_named():
    (line,) = _problems(_rule(expression="amout > 0"))
    assert line.startswith("f.yaml: r1: unknown column 'amout'")


def test_expression_that_does_not_parse():
    (line,) = _problems(_rule(expression="amount > "))
    assert line.startswith("f.yaml: r1: expression does not parse as Spark SQL")
    (line,) = _problems(_rule(expression="amount > 0; DROP TABLE x"))
    assert "one Spark SQL expression" in line


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("amount IN (SELECT 1)", "not a statement or a subquery"),
        ("DROP TABLE silver", "not a statement or a subquery"),
        ("sum(amount) > 0", "aggregate"),
        ("row_number() OVER (ORDER BY amount) = 1", "window function"),
        ("currency IN ${iso9999}", "unknown placeholder ${iso9999}"),
    ],
)
def test_row_level_expressions_only(expression, needle):
    (line,) = _problems(_rule(expression=expression))
    assert needle in line


def test_unknown_action():
    (line,) = _problems(_rule(action="drop"))
    assert line == "f.yaml: r1: unknown action 'drop'; choose from warn, quarantine, fail"


def test_fail_needs_max_ratio_and_only_fail_has_one():
    assert "needs max_ratio" in _problems(_rule(action="fail"))[0]
    assert "needs max_ratio" in _problems(_rule(action="fail", max_ratio=1.5))[0]
    assert "applies only to action fail" in _problems(_rule(max_ratio=0.1))[0]


def test_duplicate_id():
    (line,) = _problems(_rule(), _rule(expression="amount < 1000000"))
    assert line == "f.yaml: r1: duplicate id (also rules[0])"


def test_missing_and_unknown_keys_bad_id_and_reserved_id():
    lines = _problems({"id": "Bad Id", "expression": "amount > 0", "severity": "x"})
    text = "\n".join(lines)
    assert "unknown key 'severity'" in text
    assert "missing key 'action'" in text and "missing key 'doc'" in text
    assert "id 'Bad Id' must match" in text
    assert "reserved" in _problems(_rule(id="duplicate_conflict"))[0]
    assert _problems(_rule(id=None))[0].startswith("f.yaml: rules[0]: missing key 'id'")


def test_file_level_problems():
    assert "version must be a positive integer" in _problems(_rule(), version=0)[0]
    problems = validate_rules({"version": 1, "rules": []}, FIELDS)
    assert [p.message for p in problems] == ["rules must be a non-empty list"]
    assert validate_rules(["x"], FIELDS)[0].where == "<root>"


def test_load_rules_refuses_an_invalid_file_in_one_sentence(tmp_path):
    from txn_contract.errors import TxnError

    path = tmp_path / RULES_FILE
    path.write_text(yaml.safe_dump({"version": 1, "rules": [_rule(expression="amout > 0")]}))
    with pytest.raises(TxnError, match=r"Quality rules are invalid: .*unknown column 'amout'"):
        load_rules(path, FIELDS)


# --------------------------------------------------------------------------- the CLI


def _check(contracts: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHEMA_REGISTRY_URL"}
    return subprocess.run(
        [str(TXN_CONTRACT), "check", "--contracts", str(contracts)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_check_reports_each_problem_as_a_violation_line_and_exits_1(tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO_ROOT / "contracts", contracts)
    rules_file = contracts / "bank_txn_stream-value" / RULES_FILE
    raw = yaml.safe_load(rules_file.read_text())
    raw["rules"] += [
        _rule(id="bad_column", expression="amout > 0"),
        _rule(id="bad_sql", expression="amount >"),
        _rule(id="bad_action", action="explode"),
        _rule(id="amount_positive"),
    ]
    rules_file.write_text(yaml.safe_dump(raw))
    result = _check(contracts)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith(f"{rules_file}: ") for line in lines)
    assert any(": bad_column: unknown column 'amout'" in line for line in lines)
    assert any(": bad_sql: expression does not parse" in line for line in lines)
    assert any(": bad_action: unknown action 'explode'" in line for line in lines)
    assert any(": amount_positive: duplicate id" in line for line in lines)
    assert "4 problem(s)" in result.stderr


def test_check_exits_2_when_the_rules_file_is_not_yaml(tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO_ROOT / "contracts", contracts)
    (contracts / "bank_txn_stream-value" / RULES_FILE).write_text("rules: [\n  - id: x\n")
    result = _check(contracts)
    assert result.returncode == 2
    assert "is not valid YAML" in result.stderr


def test_generate_check_fails_when_the_packaged_rules_drift(tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO_ROOT / "contracts", contracts)
    shutil.copytree(REPO_ROOT / "libs" / "txn_contract", tmp_path / "libs" / "txn_contract")
    (contracts / "bank_txn_stream-value" / RULES_FILE).write_text(SOURCE.read_text() + "# x\n")
    env = {k: v for k, v in os.environ.items() if k != "SCHEMA_REGISTRY_URL"}
    result = subprocess.run(
        [str(TXN_CONTRACT), "generate", "--check", "--contracts", str(contracts)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert f"schemas/{RULES_FILE} (differs)" in result.stdout


# --------------------------------------------------------------------------- producer events


@functools.cache
def _sets() -> dict[str, set[str]]:
    return {k: set(v) for k, v in iso_lists().items()}


def _evaluate(rule_id: str, row: dict) -> bool:
    """The shipped rules, evaluated in Python exactly as written (pins their meaning)."""
    lists = _sets()
    mcc, province = row["merchant_category_code"], row["province"]
    return {
        "amount_positive": lambda: row["amount"] > 0,
        "currency_iso4217": lambda: row["currency"] in lists["iso4217"],
        "country_iso3166": lambda: row["country"] in lists["iso3166_1"],
        "mcc_format": lambda: mcc is None or re.fullmatch(r"[0-9]{4}", mcc) is not None,
        "province_iso3166_2": lambda: (
            province is None
            or (province in lists["iso3166_2"] and province.split("-", 1)[0] == row["country"])
        ),
        "timestamp_not_future": lambda: (
            row["timestamp"] <= row["kafka_timestamp"] + timedelta(minutes=5)
        ),
    }[rule_id]()


def test_every_producer_event_passes_every_rule():
    gen = EventGenerator(build_population(3_000, 7), 7)
    ts = 1_767_225_600_000
    events = [gen.transaction(d, ts + i) for i, d in enumerate(gen.draws(20_000))]
    assert {e.country for e in events} >= {"CA", "US"}
    assert any(e.province is None for e in events) and any(e.merchant_category_code for e in events)
    for event in events:
        row = {f: getattr(event, f) for f in FIELDS}
        row["kafka_timestamp"] = row["timestamp"]
        for rule_id in ISSUE_RULES:
            assert _evaluate(rule_id, row), (rule_id, event)
