"""The alert detectors in the contract: the shipped defaults (product decisions the issue fixes),
the packaged copy, the typed model, and every refusal of the validator, one test a kind.

The defaults are held here on purpose: changing a threshold is a product decision, so it changes
this file too (and the file's ``version``).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from txn_contract import packaged_contract
from txn_contract.alerts import Detector, Severity
from txn_contract.detectors import (
    DETECTORS_FILE,
    PARAMS,
    AmountOutlierParams,
    CardTestingParams,
    ImpossibleTravelParams,
    VelocityParams,
    Vocabulary,
    alert_id,
    load_detectors,
    packaged_detectors,
    validate_detectors,
    vocabulary,
)
from txn_contract.errors import SchemaFileError, TxnError

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS = "bank_txn_alerts-value"
SOURCE = REPO_ROOT / "contracts" / ALERTS / DETECTORS_FILE
VOCAB = vocabulary(packaged_contract(ALERTS), packaged_contract())


def _raw() -> dict[str, Any]:
    """The shipped file, parsed: each test breaks one thing in a copy."""
    return copy.deepcopy(yaml.safe_load(SOURCE.read_text()))


def _entry(raw: dict[str, Any], detector_id: str) -> dict[str, Any]:
    return next(d for d in raw["detectors"] if d["id"] == detector_id)


def _lines(raw: Any, vocab: Vocabulary = VOCAB) -> list[str]:
    return [p.line("d.yaml") for p in validate_detectors(raw, vocab)]


# --------------------------------------------------------------------------- the defaults


def test_velocity_is_5_transactions_in_10_minutes_with_a_cooldown_of_its_window():
    velocity = packaged_detectors().velocity
    assert velocity.params == VelocityParams(min_transactions=5, window_seconds=600)
    assert velocity.cooldown_seconds == 600


def test_card_testing_is_3_declines_in_5_minutes_with_a_cooldown_of_its_window():
    card_testing = packaged_detectors().card_testing
    assert card_testing.params == CardTestingParams(min_declined=3, window_seconds=300)
    assert card_testing.cooldown_seconds == 300


def test_impossible_travel_is_pos_atm_over_300_km_at_over_900_kmh_once_per_trigger():
    travel = packaged_detectors().impossible_travel
    assert travel.params == ImpossibleTravelParams(
        channels=("POS", "ATM"), distance_km_over=300.0, speed_kmh_over=900.0
    )
    assert travel.cooldown_seconds is None


def test_amount_outlier_is_over_4_sigma_over_at_least_10_earlier_once_per_trigger():
    outlier = packaged_detectors().amount_outlier
    assert outlier.params == AmountOutlierParams(stddevs_over=4.0, min_history=10)
    assert outlier.cooldown_seconds is None


def test_every_detector_of_the_contract_is_declared_with_a_severity_and_a_doc():
    detectors = packaged_detectors()
    declared = [d.id for d in detectors.detectors]
    assert declared == [s.value for s in Detector if s is not Detector.unknown]
    assert set(declared) == set(PARAMS)
    for d in detectors.detectors:
        assert Severity(d.severity) is not Severity.unknown
        assert d.doc.endswith(".")
    assert detectors.version >= 1
    props = detectors.properties()
    assert props["txn.detectors.version"] == str(detectors.version)
    assert props["txn.detectors.sha256"] == detectors.digest
    assert props["txn.detectors.ids"] == ",".join(declared)


def test_packaged_copy_is_the_source_file():
    """The drift gate covers the detectors: the package ships contracts/'s file verbatim."""
    packaged = REPO_ROOT / "libs" / "txn_contract" / "alerts" / "schemas" / DETECTORS_FILE
    assert packaged.read_text() == SOURCE.read_text()
    assert packaged_detectors().path == str(Path(packaged_contract(ALERTS).root) / DETECTORS_FILE)


def test_by_id_names_the_declared_detectors_when_one_is_missing():
    with pytest.raises(TxnError, match=r"No detector 'geo_fence' in .*declared: velocity, "):
        packaged_detectors().by_id("geo_fence")


def test_the_digest_follows_the_parameters_not_the_docs(tmp_path: Path):
    raw = _raw()
    _entry(raw, "velocity")["doc"] = "Reworded."
    reworded = tmp_path / "reworded.yaml"
    reworded.write_text(yaml.safe_dump(raw))
    assert load_detectors(reworded, VOCAB).digest == packaged_detectors().digest
    _entry(raw, "velocity")["params"]["min_transactions"] = 6
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(raw))
    assert load_detectors(changed, VOCAB).digest != packaged_detectors().digest


# --------------------------------------------------------------------------- alert ids


def test_alert_id_is_the_sha256_of_detector_customer_and_trigger():
    expected = hashlib.sha256(b"velocity|C0000042|0b0e1f2a-3c4d").hexdigest()
    assert alert_id("velocity", "C0000042", "0b0e1f2a-3c4d") == expected
    assert len(expected) == 64 and expected == expected.lower()
    ids = {
        alert_id("velocity", "C1", "t1"),
        alert_id("card_testing", "C1", "t1"),
        alert_id("velocity", "C2", "t1"),
        alert_id("velocity", "C1", "t2"),
    }
    assert len(ids) == 4


def test_alert_id_is_what_the_contract_documents():
    doc = next(
        f for f in packaged_contract(ALERTS).latest.schema["fields"] if f["name"] == "alert_id"
    )
    assert "SHA-256" in doc["doc"]
    assert "detector + '|' + customer_id + '|' + transaction_id" in doc["doc"]
    assert "sha2(concat_ws('|', detector, customer_id, transaction_id), 256)" in doc["doc"]


# --------------------------------------------------------------------------- refusals


def test_the_shipped_file_has_no_problem():
    assert _lines(_raw()) == []


def test_unknown_detector_id():
    raw = _raw()
    raw["detectors"].append({"id": "geo_fence", "severity": "low", "params": {}, "doc": "Fence."})
    (line,) = _lines(raw)
    assert line == (
        f"d.yaml: geo_fence: unknown detector 'geo_fence': not a symbol of enum Detector of "
        f"{ALERTS} (detectors: velocity, card_testing, impossible_travel, amount_outlier)"
    )


def test_the_enum_default_is_not_a_detector():
    raw = _raw()
    raw["detectors"].append({"id": "unknown", "severity": "low", "params": {}, "doc": "No."})
    (line,) = _lines(raw)
    assert line.startswith("d.yaml: unknown: unknown detector 'unknown': not a symbol")


def test_a_contract_symbol_this_package_does_not_implement():
    vocab = Vocabulary(ALERTS, (*VOCAB.detectors, "geo_fence"), VOCAB.severities, VOCAB.channels)
    raw = _raw()
    raw["detectors"].append({"id": "geo_fence", "severity": "low", "params": {}, "doc": "Fence."})
    (line,) = _lines(raw, vocab)
    assert "geo_fence: detector 'geo_fence' is a symbol of enum Detector" in line
    assert "this txn_contract implements only velocity, card_testing" in line


def test_bad_id():
    raw = _raw()
    _entry(raw, "velocity")["id"] = "Velocity!"
    lines = _lines(raw)
    assert "d.yaml: Velocity!: id 'Velocity!' must match" in lines[0]
    assert "d.yaml: <root>: missing detector 'velocity'" in lines[-1]


def test_missing_detector():
    raw = _raw()
    raw["detectors"] = [d for d in raw["detectors"] if d["id"] != "card_testing"]
    (line,) = _lines(raw)
    assert line == (
        "d.yaml: <root>: missing detector 'card_testing': every symbol of enum Detector needs "
        "an entry"
    )


def test_duplicate_id():
    raw = _raw()
    raw["detectors"].append(copy.deepcopy(_entry(raw, "velocity")))
    (line,) = _lines(raw)
    assert line == "d.yaml: velocity: duplicate id (also detectors[0])"


def test_unknown_severity_names_the_contracts_symbols():
    raw = _raw()
    _entry(raw, "card_testing")["severity"] = "urgent"
    (line,) = _lines(raw)
    assert line == (
        "d.yaml: card_testing: unknown severity 'urgent'; choose from low, medium, high, "
        f"critical (symbols of enum Severity of {ALERTS})"
    )
    _entry(raw, "card_testing")["severity"] = "unknown"  # the enum's default, not a severity
    assert "unknown severity 'unknown'" in _lines(raw)[0]


def test_missing_param():
    raw = _raw()
    del _entry(raw, "amount_outlier")["params"]["min_history"]
    assert _lines(raw) == ["d.yaml: amount_outlier: missing param 'min_history'"]


def test_unknown_param():
    raw = _raw()
    _entry(raw, "velocity")["params"]["cooldown_seconds"] = 60
    assert _lines(raw) == [
        "d.yaml: velocity: unknown param 'cooldown_seconds'; velocity takes min_transactions, "
        "window_seconds"
    ]


@pytest.mark.parametrize(
    ("detector", "param", "value", "needle"),
    [
        ("velocity", "window_seconds", "10m", "must be an integer of at least 1, got '10m'"),
        ("velocity", "window_seconds", 600.0, "must be an integer of at least 1"),
        ("velocity", "min_transactions", True, "must be an integer of at least 2, got True"),
        ("velocity", "min_transactions", 1, "must be an integer of at least 2, got 1"),
        ("card_testing", "min_declined", None, "must be an integer of at least 2"),
        ("amount_outlier", "min_history", 1, "must be an integer of at least 2"),
        ("amount_outlier", "stddevs_over", "4", "must be a positive number, got '4'"),
        ("amount_outlier", "stddevs_over", 0, "must be a positive number, got 0"),
        ("impossible_travel", "speed_kmh_over", float("inf"), "must be a positive number"),
        ("impossible_travel", "distance_km_over", -1, "must be a positive number, got -1"),
        ("impossible_travel", "channels", "POS", "must be a non-empty list of channel symbols"),
        ("impossible_travel", "channels", [], "must be a non-empty list of channel symbols"),
        ("impossible_travel", "channels", ["POS", "POS"], "lists a channel twice"),
    ],
)
def test_ill_typed_or_out_of_range_param(detector, param, value, needle):
    raw = _raw()
    _entry(raw, detector)["params"][param] = value
    (line,) = _lines(raw)
    assert line.startswith(f"d.yaml: {detector}: param '{param}' ")
    assert needle in line


def test_unknown_channel_names_the_streams_symbols():
    raw = _raw()
    _entry(raw, "impossible_travel")["params"]["channels"] = ["POS", "TELEPATHY"]
    (line,) = _lines(raw)
    assert line == (
        "d.yaml: impossible_travel: param 'channels': unknown channel 'TELEPATHY'; choose from "
        "POS, ATM, ECOM (symbols of the transaction stream's Channel enum)"
    )
    unchecked = Vocabulary(ALERTS, VOCAB.detectors, VOCAB.severities, None)
    assert _lines(raw, unchecked) == []


def test_params_must_be_a_mapping():
    raw = _raw()
    _entry(raw, "velocity")["params"] = [5, 600]
    assert _lines(raw) == [
        "d.yaml: velocity: params must be a mapping with min_transactions, window_seconds"
    ]


def test_missing_and_unknown_keys_and_empty_doc():
    raw = _raw()
    entry = _entry(raw, "velocity")
    del entry["severity"]
    entry["enabled"] = True
    entry["doc"] = "  "
    assert _lines(raw) == [
        "d.yaml: velocity: unknown key 'enabled'",
        "d.yaml: velocity: missing key 'severity'",
        "d.yaml: velocity: doc must be a non-empty sentence",
    ]
    raw["detectors"][0] = "velocity"
    assert "d.yaml: detectors[0]: a detector must be a mapping" in _lines(raw)[0]


@pytest.mark.parametrize("version", [0, -1, "1", True, None, 1.5])
def test_bad_version(version):
    raw = _raw()
    raw["version"] = version
    assert _lines(raw) == [f"d.yaml: <root>: version must be a positive integer, got {version!r}"]


def test_file_level_problems():
    assert _lines(["velocity"]) == [
        "d.yaml: <root>: the file must be a mapping with version and detectors"
    ]
    assert _lines({"version": 1, "detectors": [], "rules": []}) == [
        "d.yaml: <root>: unknown key 'rules'",
        "d.yaml: <root>: detectors must be a non-empty list",
    ]


def test_a_contract_without_detector_and_severity_enums():
    """A detectors file beside the transaction stream's schemas has no vocabulary."""
    vocab = vocabulary(packaged_contract())
    lines = _lines(_raw(), vocab)
    assert lines[0] == (
        "d.yaml: <root>: bank_txn_stream-value has no enum fields detector and severity to "
        "name detectors"
    )


def test_load_detectors_refuses_an_invalid_file_in_one_sentence(tmp_path: Path):
    raw = _raw()
    _entry(raw, "velocity")["severity"] = "urgent"
    _entry(raw, "card_testing")["severity"] = "urgent"
    path = tmp_path / DETECTORS_FILE
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TxnError) as info:
        load_detectors(path, VOCAB)
    assert str(info.value) == (
        f"Detectors are invalid: {path}: velocity: unknown severity 'urgent'; choose from low, "
        f"medium, high, critical (symbols of enum Severity of {ALERTS}) (and 1 more; run "
        "`txn-contract check`)."
    )


def test_load_detectors_refuses_a_file_that_is_not_yaml(tmp_path: Path):
    path = tmp_path / DETECTORS_FILE
    path.write_text("detectors: [\n  - id: x\n")
    with pytest.raises(SchemaFileError, match="is not valid YAML"):
        load_detectors(path, VOCAB)
