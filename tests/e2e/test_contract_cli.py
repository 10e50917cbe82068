"""`txn-contract check|register|generate` as a user and CI run them (the console script).

Offline: the gate on the repository, an incompatible next version (v3 today) in a copy of
``contracts/``, the ad hoc
``--schema/--previous/--level`` form with its exit codes (0 compatible, 1 incompatible, 2 could
not judge), ``--format json`` and ``--against-git`` in a throwaway git repository. Against the
session's live platform: ``register`` is idempotent, refuses an incompatible next version with
one sentence, and ``check --registry`` shows the registry's verdict next to the offline one.
Copies and scratch subjects only: the repository's files and ``bank_txn_stream-value`` are never
changed (beyond the registration the ``registered_contract`` fixture does anyway); ``register``
on the repository also registers ``bank_txn_alerts-value``, as the platform's users do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from txn_contract import packaged_contract

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
TXN_CONTRACT = Path(sys.executable).parent / "txn-contract"
SUBJECT = "bank_txn_stream-value"
ALERTS = "bank_txn_alerts-value"
ALERTS_LATEST = packaged_contract(ALERTS).latest.version
# Released versions; the tests add version NEXT to copies, so they hold when v3 is released.
LATEST = packaged_contract().latest.version
NEXT = LATEST + 1


def run(*args: str, cwd: Path = REPO_ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``txn-contract`` with ``args``; the registry URL only when given (flag or ``env``)."""
    environ = {k: v for k, v in os.environ.items() if k != "SCHEMA_REGISTRY_URL"}
    return subprocess.run(
        [str(TXN_CONTRACT), *args],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_schema(path: Path, schema: Any) -> Path:
    path.write_text(json.dumps(schema, indent=2) + "\n")
    return path


def record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Event", "namespace": "io.example", "fields": list(fields)}


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    """A copy of the repository's ``contracts/`` (to add a version to, or to edit)."""
    shutil.copytree(REPO_ROOT / "contracts", tmp_path / "contracts")
    return tmp_path / "contracts"


def add_next_version(contracts: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Write ``v{NEXT}.avsc``: the copy's latest version with ``change`` applied; its path."""
    subject_dir = contracts / SUBJECT
    schema = json.loads((subject_dir / f"v{LATEST}.avsc").read_text())
    change(schema)
    return write_schema(subject_dir / f"v{NEXT}.avsc", schema)


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _add_required_risk_score(s: dict[str, Any]) -> None:
    s["fields"].append({"name": "risk_score", "type": "int", "doc": "Fraud score, 0-999."})


# ---------------------------------------------------------------------------------------------
# Offline: the repository, and an incompatible next version in a copy
# ---------------------------------------------------------------------------------------------


def test_check_with_no_arguments_passes_on_the_repository() -> None:
    result = run("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"{LATEST} schema(s) checked at FULL_TRANSITIVE: compatible" in result.stderr
    # every subject folder, each named in its summary line with its rules or detectors file
    lines = result.stderr.splitlines()
    (stream,) = [line for line in lines if line.startswith(f"{SUBJECT}: ")]
    assert "rule(s) in " in stream and stream.endswith(": valid")
    (alerts,) = [line for line in lines if line.startswith(f"{ALERTS}: ")]
    assert alerts.startswith(f"{ALERTS}: {ALERTS_LATEST} schema(s) checked at FULL_TRANSITIVE: ")
    assert "detector(s) in " in alerts and alerts.endswith(": valid")


def test_generate_check_passes_on_the_repository() -> None:
    result = run("generate", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "generated code matches" in result.stderr


@pytest.mark.parametrize(
    ("change", "field", "rule", "phrase"),
    [
        pytest.param(
            _add_required_risk_score,
            "risk_score",
            "READER_FIELD_MISSING_DEFAULT",
            "was added (or renamed without an alias) without a default",
            id="field-added-without-default",
        ),
        pytest.param(
            lambda s: s["fields"].remove(_field(s, "city")),
            "city",
            "READER_FIELD_MISSING_DEFAULT",
            "was removed (or renamed without an alias)",
            id="required-field-removed",
        ),
        pytest.param(
            lambda s: _field(s, "channel").update(type="string"),
            "channel",
            "TYPE_MISMATCH",
            "changed from enum io.txnpipeline.bank.Channel in v1 to string",
            id="enum-to-string",
        ),
        pytest.param(
            lambda s: _field(s, "amount")["type"].update(precision=20),
            "amount",
            "DECIMAL_PRECISION_CHANGED",
            "changed from decimal(18,2) in v1 to decimal(20,2)",
            id="decimal-precision",
        ),
    ],
)
def test_an_incompatible_next_version_makes_check_fail_naming_the_field_and_rule(
    contracts_copy: Path, change, field: str, rule: str, phrase: str
) -> None:
    new = add_next_version(contracts_copy, change)
    result = run("check", "--contracts", str(contracts_copy), cwd=contracts_copy.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    # one line per violation: `file: field.path: what changed and which rule it breaks`
    for line in lines:
        assert line.startswith(f"{new}: {field}: field '{field}' "), line
    assert any(phrase in line for line in lines), lines
    assert f"{NEXT} schema(s) checked at FULL_TRANSITIVE: {len(lines)} violation(s)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr

    as_json = run("check", "--contracts", str(contracts_copy), "--format", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["compatible"] is False
    assert {(v["file"], v["path"], v["rule"]) for v in report["offline"]["violations"]} == {
        (str(new), field, rule)
    }


def test_a_compatible_next_version_passes(contracts_copy: Path) -> None:
    add_next_version(
        contracts_copy,
        lambda s: s["fields"].append(
            {"name": "risk_score", "type": ["null", "int"], "default": None, "doc": "Score."}
        ),
    )
    result = run("check", "--contracts", str(contracts_copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{NEXT} schema(s) checked at FULL_TRANSITIVE: compatible" in result.stderr


def test_a_broken_contracts_directory_exits_2(contracts_copy: Path) -> None:
    (contracts_copy / SUBJECT / f"v{NEXT}.avsc").write_text("{not json")
    result = run("check", "--contracts", str(contracts_copy))
    assert result.returncode == 2
    assert result.stderr.startswith("txn-contract: error: ")
    assert f"v{NEXT}.avsc: is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Offline: ad hoc --schema/--previous/--level
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def schemas(tmp_path: Path) -> dict[str, Path]:
    """Small schema files: ``int`` then ``long`` then a ``long`` with an optional field."""
    n_int = record({"name": "n", "type": "int"})
    n_long = record({"name": "n", "type": "long"})
    n_long_opt = record(
        {"name": "n", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": None}
    )
    return {
        "int": write_schema(tmp_path / "int.avsc", n_int),
        "long": write_schema(tmp_path / "long.avsc", n_long),
        "long_opt": write_schema(tmp_path / "long_opt.avsc", n_long_opt),
    }


@pytest.mark.parametrize(
    ("new", "previous", "level", "code"),
    [
        ("long", ["int"], "BACKWARD", 0),  # int data is read as long
        ("long", ["int"], "FORWARD", 1),  # an int reader cannot read long data
        ("long", ["int"], "full", 1),  # levels are case-insensitive
        ("long", ["int"], "NONE", 0),
        ("long_opt", ["long"], "FULL", 0),
        # the plain level compares with the newest previous only, the transitive one with all
        ("long_opt", ["int", "long"], "FORWARD", 0),
        ("long_opt", ["int", "long"], "FORWARD_TRANSITIVE", 1),
        ("long_opt", ["int", "long"], "BACKWARD_TRANSITIVE", 0),
    ],
)
def test_ad_hoc_check_exit_codes(
    schemas: dict[str, Path], new: str, previous: list[str], level: str, code: int
) -> None:
    args = ["check", "--schema", str(schemas[new]), "--level", level]
    for p in previous:
        args += ["--previous", str(schemas[p])]
    result = run(*args)
    assert result.returncode == code, result.stdout + result.stderr
    if code == 1:
        assert result.stdout.startswith(f"{schemas[new]}: n: field 'n' changed from ")
        assert "Avro promotes only int→long/float/double" in result.stdout
    else:
        assert result.stdout == ""


def test_ad_hoc_level_defaults_to_full_transitive(schemas: dict[str, Path]) -> None:
    result = run("check", "--schema", str(schemas["long"]), "--previous", str(schemas["int"]))
    assert result.returncode == 1
    assert "checked at FULL_TRANSITIVE" in result.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda d: d / "missing.avsc", "missing.avsc: no such file", id="unreadable"),
        pytest.param(
            lambda d: write_schema(
                d / "undefined.avsc", record({"name": "amount", "type": "Money"})
            ),
            "undefined.avsc: is not a valid Avro schema",
            id="undefined-type",
        ),
        pytest.param(
            lambda d: write_schema(
                d / "bad_default.avsc", record({"name": "n", "type": "int", "default": "zero"})
            ),
            "bad_default.avsc: field 'n' of record io.example.Event has default \"zero\"",
            id="bad-default",
        ),
        pytest.param(
            lambda d: (d / "text.avsc").write_text("not json") and d / "text.avsc",
            "text.avsc: is not valid JSON",
            id="not-json",
        ),
    ],
)
def test_ad_hoc_check_exits_2_when_a_file_cannot_be_judged(
    tmp_path: Path, schemas: dict[str, Path], make, message: str
) -> None:
    bad = make(tmp_path)
    for args in (
        ["--schema", str(bad), "--previous", str(schemas["int"])],
        ["--schema", str(schemas["int"]), "--previous", str(bad)],
    ):
        result = run("check", *args, "--level", "BACKWARD")
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("txn-contract: error: "), result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "SIDEWAYS"], "Invalid value for '--level'"),
        (["--format", "xml"], "Invalid value for '--format'"),
        (["--no-such-flag"], "No such option '--no-such-flag'"),
    ],
)
def test_ad_hoc_check_exits_2_on_bad_flags(
    schemas: dict[str, Path], args: list[str], message: str
) -> None:
    base = ["check", "--schema", str(schemas["long"]), "--previous", str(schemas["int"])]
    result = run(*base, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_previous_without_schema_exits_2(schemas: dict[str, Path]) -> None:
    result = run("check", "--previous", str(schemas["int"]))
    assert result.returncode == 2
    assert result.stderr == "txn-contract: error: --schema: is required when --previous is given\n"


def test_json_format_parses(schemas: dict[str, Path]) -> None:
    bad = run(
        "check",
        *("--schema", str(schemas["long"]), "--previous", str(schemas["int"])),
        *("--level", "FULL", "--format", "json"),
    )
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["compatible"] is False
    assert report["registry"] is None
    assert report["offline"]["immutability"] == []
    (violation,) = report["offline"]["violations"]
    assert violation == {
        "file": str(schemas["long"]),
        "path": "n",
        "rule": "TYPE_MISMATCH",
        "message": violation["message"],
        "direction": "forward",
        "against": str(schemas["int"]),
    }
    assert violation["message"].startswith("field 'n' changed from int in ")

    good = run(
        "check",
        *("--schema", str(schemas["long"]), "--previous", str(schemas["int"])),
        *("--level", "BACKWARD", "--format", "json"),
    )
    assert good.returncode == 0
    assert json.loads(good.stdout)["compatible"] is True


# ---------------------------------------------------------------------------------------------
# Offline: --against-git REF (released versions are immutable)
# ---------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A throwaway git repository holding a copy of ``contracts/``, committed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copytree(REPO_ROOT / "contracts", repo / "contracts")
    git(repo, "add", "contracts")
    git(repo, "commit", "-qm", "release the contract")
    return repo


def check_against_head(repo: Path) -> subprocess.CompletedProcess[str]:
    return run("check", "--contracts", "contracts", "--against-git", "HEAD", cwd=repo)


def test_against_git_passes_when_released_files_are_unchanged(git_repo: Path) -> None:
    result = check_against_head(git_repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_against_git_accepts_a_new_version_file(git_repo: Path) -> None:
    add_next_version(
        git_repo / "contracts",
        lambda s: s["fields"].append(
            {"name": "risk_score", "type": ["null", "int"], "default": None, "doc": "Score."}
        ),
    )
    result = check_against_head(git_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "immutable" not in result.stdout


def test_against_git_refuses_a_modified_released_version(git_repo: Path) -> None:
    v1 = git_repo / "contracts" / SUBJECT / "v1.avsc"
    schema = json.loads(v1.read_text())
    schema["doc"] += " Edited after release."  # compatible, but a released file must not change
    write_schema(v1, schema)
    result = check_against_head(git_repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == (
        f"contracts/{SUBJECT}/v1.avsc: <file>: released version was modified since HEAD; "
        "released versions are immutable, add a new v<N>.avsc instead\n"
    )
    args = ["check", "--contracts", "contracts", "--against-git", "HEAD", "--format", "json"]
    report = json.loads(run(*args, cwd=git_repo).stdout)
    assert report["offline"]["violations"] == []
    assert len(report["offline"]["immutability"]) == 1


def test_against_git_refuses_a_deleted_released_version(git_repo: Path) -> None:
    (git_repo / "contracts" / SUBJECT / f"v{LATEST}.avsc").unlink()
    result = check_against_head(git_repo)
    assert result.returncode == 1
    assert (
        f"contracts/{SUBJECT}/v{LATEST}.avsc: <file>: released version was deleted since HEAD"
        in result.stdout
    )


def test_against_git_with_an_unknown_ref_exits_2(git_repo: Path) -> None:
    result = run("check", "--contracts", "contracts", "--against-git", "no-such-ref", cwd=git_repo)
    assert result.returncode == 2
    assert result.stderr.startswith("txn-contract: error: --against-git: cannot read git ref")
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Against the live platform
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def scratch_contracts(contracts_copy: Path, platform) -> Iterator[tuple[Path, str]]:
    """A copy of ``contracts/`` whose policies name new subjects ``tmp-<uuid>-value`` (the
    stream's is returned; the alerts' gets its own); the subjects are deleted from the registry
    afterwards."""
    subjects = {}
    for policy in sorted(contracts_copy.glob("*/policy.json")):
        subjects[policy.parent.name] = f"tmp-{uuid.uuid4().hex[:12]}-value"
        write_schema(
            policy, {**json.loads(policy.read_text()), "subject": subjects[policy.parent.name]}
        )
    yield contracts_copy, subjects[SUBJECT]
    from txn_contract.registry import registry_client

    client = registry_client(platform.registry_url)
    for subject in subjects.values():
        try:
            client.delete_subject(subject)
            client.delete_subject(subject, permanent=True)
        except Exception as exc:  # noqa: BLE001 - a failed registration leaves nothing to delete
            print(f"scratch subject {subject} not deleted: {exc}")


def test_register_twice_changes_nothing_the_second_time(platform, registered_contract) -> None:
    first = run("register", "--registry", platform.registry_url)
    assert first.returncode == 0, first.stderr
    # the registry URL from the environment, as CI and operators set it
    second = run("register", SCHEMA_REGISTRY_URL=platform.registry_url)
    assert second.returncode == 0, second.stderr
    assert f"{SUBJECT}: nothing to do" in second.stderr
    for version, schema_id in registered_contract.items():
        assert f"v{version} already registered (id {schema_id}," in second.stderr
    assert "compatibility level already FULL_TRANSITIVE" in second.stderr
    # every subject folder of contracts/: the alerts' too
    assert f"{ALERTS}: v1 already registered (id " in second.stderr
    assert f"{ALERTS}: compatibility level already FULL_TRANSITIVE" in second.stderr
    assert f"{ALERTS}: nothing to do" in second.stderr


def test_register_without_a_registry_url_exits_2() -> None:
    result = run("register")
    assert result.returncode == 2
    assert result.stderr == (
        "txn-contract: error: --schema-registry-url: no value; pass --schema-registry-url or "
        "set SCHEMA_REGISTRY_URL\n"
    )


def test_register_refuses_an_incompatible_next_version_with_one_sentence(
    platform, scratch_contracts: tuple[Path, str]
) -> None:
    contracts, subject = scratch_contracts
    url = platform.registry_url
    fresh = run("register", "--registry", url, "--contracts", str(contracts))
    assert fresh.returncode == 0, fresh.stderr
    assert f"{subject}: v1 registered" in fresh.stderr
    assert f"{subject}: compatibility level set to FULL_TRANSITIVE" in fresh.stderr
    for version in range(2, NEXT):
        assert f"{subject}: v{version} registered" in fresh.stderr
    assert f"{subject}: {LATEST + 1} change(s)" in fresh.stderr  # the versions and the level

    again = run("register", "--registry", url, "--contracts", str(contracts))
    assert again.returncode == 0, again.stderr
    assert f"{subject}: nothing to do" in again.stderr

    add_next_version(contracts, _add_required_risk_score)
    refused = run("register", "--registry", url, "--contracts", str(contracts))

    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if not line.startswith("[txn-contract]")]
    assert len(errors) == 1, refused.stderr
    (error,) = errors
    assert error.startswith(
        f"txn-contract: error: The schema registry refused {subject} v{NEXT} "
        f"({contracts / SUBJECT / f'v{NEXT}.avsc'}) as incompatible under FULL_TRANSITIVE "
        "(HTTP 409): "
    )
    assert ": risk_score: field 'risk_score' (int) was added" in error
    # one violation per earlier version; the sentence shows the first and counts the others
    assert error.endswith(f"(and {LATEST - 1} more; run `txn-contract check`).")

    from txn_contract.registry import registry_client

    # the refused version was not registered
    assert registry_client(url).get_versions(subject) == list(range(1, NEXT))


def test_check_with_registry_shows_both_verdicts(platform, registered_contract) -> None:
    url = platform.registry_url
    result = run("check", "--registry", url)
    assert result.returncode == 0, result.stdout + result.stderr
    # one verdict per version that has earlier ones
    assert result.stdout == "".join(
        f"{REPO_ROOT / 'contracts' / SUBJECT / f'v{v}.avsc'}: registry {url} says compatible "
        "at FULL_TRANSITIVE\n"
        for v in range(2, NEXT)
    )
    # one summary line a subject, naming it; the alerts' v1 has no earlier version to judge
    summaries = {
        line.split(": ", 1)[0]: line
        for line in result.stderr.splitlines()
        if line.startswith((f"{SUBJECT}: ", f"{ALERTS}: "))
    }
    assert summaries[SUBJECT].startswith(
        f"{SUBJECT}: {LATEST} schema(s) checked at FULL_TRANSITIVE: compatible;"
    )
    assert summaries[ALERTS].startswith(f"{ALERTS}: 1 schema(s) checked at FULL_TRANSITIVE:")
    for summary in summaries.values():
        assert summary.endswith("; registry: compatible"), summary


def test_check_with_registry_on_an_incompatible_next_version(
    platform, contracts_copy: Path
) -> None:
    url = platform.registry_url
    new = add_next_version(contracts_copy, _add_required_risk_score)
    result = run("check", "--contracts", str(contracts_copy), "--registry", url)
    assert result.returncode == 1
    assert f"{new}: risk_score: field 'risk_score' (int) was added" in result.stdout
    assert f"{new}: registry {url} says INCOMPATIBLE at FULL_TRANSITIVE" in result.stdout
    assert "registry: incompatible" in result.stderr

    report = json.loads(
        run(
            "check", "--contracts", str(contracts_copy), "--registry", url, "--format", "json"
        ).stdout
    )
    assert [(r["file"], r["compatible"]) for r in report["registry"]] == [
        *[(str(contracts_copy / SUBJECT / f"v{v}.avsc"), True) for v in range(2, NEXT)],
        (str(new), False),
    ]


def test_check_with_registry_shows_where_the_verdicts_differ(
    platform, contracts_copy: Path
) -> None:
    """A decimal's scale change: the registry judges only the underlying bytes and accepts it;
    the offline checker refuses it, and the summary says why the two differ."""
    url = platform.registry_url
    new = add_next_version(contracts_copy, lambda s: _field(s, "amount")["type"].update(scale=4))
    result = run("check", "--contracts", str(contracts_copy), "--registry", url)
    assert result.returncode == 1
    assert f"{new}: amount: field 'amount' changed from decimal(18,2) in v1 to decimal(18,4)" in (
        result.stdout
    )
    assert f"{new}: registry {url} says compatible at FULL_TRANSITIVE" in result.stdout
    assert (
        "registry: compatible (the offline checker also judges decimal and logical-type changes)"
        in result.stderr
    )


def _ambiguous_alias_pair(directory: Path) -> tuple[Path, Path]:
    """A field whose aliases match two earlier fields: Avro refuses to pick one."""
    old = write_schema(
        directory / "two_fields.avsc",
        record({"name": "a", "type": "int"}, {"name": "b", "type": "int"}),
    )
    new = write_schema(
        directory / "ambiguous.avsc",
        record(
            {"name": "a", "type": "int", "aliases": ["b"]},
            {"name": "c", "type": "int", "default": 0},
        ),
    )
    return old, new


def test_check_with_registry_reports_a_schema_the_registry_refuses_to_judge(
    platform, tmp_path: Path
) -> None:
    """Regression: the registry's HTTP 422 ("invalid Avro schema") escaped as a traceback."""
    url = platform.registry_url
    old, new = _ambiguous_alias_pair(tmp_path)
    args = ["--schema", str(new), "--previous", str(old), "--level", "BACKWARD"]
    result = run("check", *args, "--registry", url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{new}: a: field 'a' (int) of the new schema is ambiguous" in result.stdout
    assert f"{new}: registry {url} says INCOMPATIBLE at BACKWARD (HTTP 422: " in result.stdout
    report = json.loads(run("check", *args, "--registry", url, "--format", "json").stdout)
    (verdict,) = report["registry"]
    assert verdict["compatible"] is False
    assert verdict["detail"].startswith("HTTP 422: ")


def test_check_with_an_unusable_registry_exits_2_with_one_sentence(
    platform, tmp_path: Path
) -> None:
    """Regression: no verdict from the registry is "could not judge" (2), not a traceback."""
    from tests.conftest import free_ports

    old, new = _ambiguous_alias_pair(tmp_path)
    args = ["--schema", str(new), "--previous", str(old), "--level", "BACKWARD"]
    (port,) = free_ports(1)
    base = platform.registry_url.split("/apis/")[0]
    for url, expected in (
        (f"http://127.0.0.1:{port}/apis/ccompat/v7", "could not be reached"),
        (f"{base}/no/such/api", "gave no verdict: it answered HTTP 404"),
    ):
        result = run("check", *args, "--registry", url)
        assert result.returncode == 2, result.stdout + result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("txn-contract:")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith("txn-contract: error: --schema-registry-url: ")
        assert expected in errors[0]
        assert "Traceback" not in result.stderr
