"""``txn-contract``: generate the package from ``contracts/``, gate changes, register versions.

Every command covers every subject folder of ``contracts/`` (the transaction stream, the
alerts): ``generate`` writes each one's code and packaged copies, ``check`` judges each one's
versions at its own policy level with its rules and detectors files, ``register`` registers each
one's versions and sets its level.

The contract's command line lives here rather than in ``txn_contract``: it needs the runtime's
settings and CLI plumbing (registry URL, basic auth and CA, the entry wrapper), and
``txn_contract`` is the bottom library, importing none of ours (see docs/architecture.md).
It generates into ``txn_contract``'s directory: the repository's ``libs/txn_contract`` next to
``contracts/``, else the installed package's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

import txn_contract
from txn_contract.contract import (
    Contract,
    find_contracts_dir,
    load_contracts,
    packaged_contracts,
)
from txn_contract.errors import ConfigError
from txn_contract.levels import LEVELS as _LEVELS

from .cli import entry_point, stderr_logger
from .connections import RegistrySettings
from .live_check import registry_summary, registry_verdicts
from .options import (
    CONTEXT_SETTINGS,
    format_option,
    schema_registry_url_option,
    uses_settings,
)

__all__ = ["cli", "main"]

PROG = "txn-contract"
_log = stderr_logger(PROG)


def _contracts_dir(explicit: Path | None) -> Path:
    found = explicit or find_contracts_dir()
    if found is None or not found.is_dir():
        raise ConfigError(
            "--contracts",
            "no contracts/ directory here or above the current directory; pass --contracts DIR",
        )
    return found


def _contracts_option(fallback: str = ""):
    return click.option(
        "--contracts",
        "contracts_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"The contracts/ directory. Default: found from the current directory upwards{fallback}.",
    )


def _package_dir(contracts_dir: Path) -> Path:
    """The repository's ``libs/txn_contract`` next to ``contracts/``, else the installed
    ``txn_contract`` package's directory."""
    in_repo = contracts_dir.resolve().parent / "libs" / "txn_contract"
    return in_repo if in_repo.is_dir() else Path(txn_contract.__file__).resolve().parent


@click.group(no_args_is_help=True, context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """The transaction data contract: generate code from contracts/, check compatibility,
    register versions in the schema registry.

    Example: txn-contract check && txn-contract register --schema-registry-url http://127.0.0.1:8081/apis/ccompat/v7
    """


@cli.command()
@_contracts_option()
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 and name every generated file that differs.",
)
def generate(contracts_dir: Path | None, check: bool) -> None:
    """Generate libs/txn_contract (typed classes, the Avro encoders, packaged schemas, rules and
    detectors) from every subject folder of contracts/.

    Example: txn-contract generate --check
    """
    from txn_contract.generate import check_all, write_all

    cdir = _contracts_dir(contracts_dir)
    contracts = load_contracts(cdir)
    package = _package_dir(cdir)
    if check:
        drift = check_all(contracts, cdir, package)
        if drift:
            for d in drift:
                click.echo(f"drift: {d}")
            click.echo(
                f"{len(drift)} generated file(s) differ from {cdir}; run `txn-contract generate`.",
                err=True,
            )
            sys.exit(1)
        versions = ", ".join(f"{c.subject} v1..v{c.latest.version}" for c in contracts)
        _log(f"generated code matches {cdir} ({versions})")
        return
    changed = write_all(contracts, cdir, package)
    for c in changed:
        _log(f"wrote {package / c}")
    _log(f"{len(changed)} file(s) changed" if changed else "everything was already up to date")


@cli.command()
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ad hoc: the new schema file to judge.",
)
@click.option(
    "--previous",
    "previous_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ad hoc: an earlier schema; repeat, oldest first.",
)
@click.option(
    "--level",
    type=click.Choice(_LEVELS, case_sensitive=False),
    help="Ad hoc: compatibility level (default: the policy's, or FULL_TRANSITIVE).",
)
@_contracts_option()
@click.option(
    "--against-git",
    "git_ref",
    metavar="REF",
    help="Also require released version files to be unchanged relative to git REF.",
)
@schema_registry_url_option(
    "--registry",
    read_env=False,
    help="Also ask this live registry for its verdict (it does not judge logical types); "
    "its basic auth and CA come from the SCHEMA_REGISTRY_* variables.",
)
@format_option(help="text: Buf-style lines; json: the verdicts as one document.")
def check(
    schema_file, previous_files, level, contracts_dir, git_ref, schema_registry_url, fmt
) -> None:
    """Judge schema compatibility offline, with the complete Avro resolution rules plus decimal
    precision/scale and logical-type/timestamp-unit rules. Exit 0 compatible, 1 incompatible,
    2 when the tool could not judge.

    With no arguments: for every subject folder of contracts/, each version against all earlier
    ones at the subject's policy level, its quality rules (expectations.yaml: columns, Spark SQL
    syntax, actions, ids) and its detectors (detectors.yaml: ids, severities, parameters).

    Example: txn-contract check --schema new.avsc --previous v1.avsc --previous v2.avsc --level FULL_TRANSITIVE
    """
    subjects = _to_judge(schema_file, previous_files, level, contracts_dir)
    immutability = []
    if git_ref:
        immutability = _released_files_changed(_contracts_dir(contracts_dir), git_ref)
    registry = None
    if schema_registry_url:
        registry = RegistrySettings.load({"schema_registry_url": schema_registry_url})
    verdicts = [
        registry_verdicts(registry, [j.as_tuple() for j in s.judged], _log) if registry else []
        for s in subjects
    ]
    ok = all(s.ok for s in subjects) and not immutability
    ok = ok and all(v["compatible"] for vs in verdicts for v in vs)
    if fmt == "json":
        click.echo(json.dumps(_report(subjects, immutability, registry, verdicts), indent=2))
    else:
        _echo_text(subjects, immutability, registry, verdicts, git_ref)
    sys.exit(0 if ok else 1)


def _to_judge(schema_file, previous_files, level, contracts_dir):
    """The ad hoc files as one unnamed subject, or every subject of contracts/."""
    from txn_contract.checks import check_contracts, check_files

    if schema_file or previous_files:
        if not schema_file:
            raise ConfigError("--schema", "is required when --previous is given")
        return [check_files(schema_file, previous_files, level)]
    return check_contracts(load_contracts(_contracts_dir(contracts_dir)), level)


def _report(subjects, immutability, registry, verdicts) -> dict:
    """The ``--format json`` document: the verdicts of all subjects, and each subject's."""
    offline_ok = all(s.compatible for s in subjects) and not immutability
    flat = [v for vs in verdicts for v in vs]
    rules = next((s.rules for s in subjects if s.rules is not None), None)

    def without_lines(found):
        """A rules or detectors verdict without its text lines (JSON has the violations)."""
        return None if found is None else {k: v for k, v in found.items() if k != "lines"}

    return {
        "compatible": offline_ok and all(v["compatible"] for v in flat),
        "offline": {
            "compatible": offline_ok,
            "violations": [v for s in subjects for v in s.violations],
            "immutability": immutability,
        },
        "registry": flat if registry else None,
        "rules": without_lines(rules),
        "subjects": None
        if subjects[0].subject is None
        else [
            {
                "subject": s.subject,
                "directory": s.directory,
                "level": s.level,
                "schemas": len(s.judged),
                "compatible": s.compatible,
                "rules": without_lines(s.rules),
                "detectors": without_lines(s.detectors),
                "registry": vs if registry else None,
            }
            for s, vs in zip(subjects, verdicts, strict=True)
        ],
    }


def _echo_text(subjects, immutability, registry, verdicts, git_ref) -> None:
    """Buf-style lines on stdout (violations, changed released files, the rules' and detectors'
    problems, the registry's verdicts), then one summary line a subject on stderr."""
    for s in subjects:
        for line in s.lines:
            click.echo(line)
    for line in immutability:
        click.echo(line)
    for s in subjects:
        for line in s.file_lines():
            click.echo(line)
    for s, vs in zip(subjects, verdicts, strict=True):
        summary = f"{len(s.judged)} schema(s) checked at {s.level}: " + (
            "compatible" if s.compatible else f"{len(s.lines)} violation(s)"
        )
        summary += _file_summary(s.rules, "rule") + _file_summary(s.detectors, "detector")
        if registry:
            summary += registry_summary(registry.registry_display_url, vs, s.violations)
        click.echo(summary if s.subject is None else f"{s.subject}: {summary}", err=True)
    if immutability:
        click.echo(
            f"{len(immutability)} released version file(s) changed since {git_ref}", err=True
        )


def _file_summary(found, what: str) -> str:
    """The summary's part for a subject's rules or detectors file."""
    if found is None:
        return ""
    problems = found["violations"]
    count = found["rules" if what == "rule" else "detectors"]
    return f"; {count} {what}(s) in {found['file']}: " + (
        f"{len(problems)} problem(s)" if problems else "valid"
    )


def _released_files_changed(contracts_dir: Path, ref: str) -> list[str]:
    """Lines for every version file at ``ref`` that was changed or removed since."""
    try:
        top = subprocess.run(
            ["git", "-C", str(contracts_dir), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        listed = subprocess.run(
            [
                "git",
                "-C",
                top,
                "ls-tree",
                "-r",
                "--name-only",
                ref,
                "--",
                str(contracts_dir.resolve().relative_to(top)),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (subprocess.CalledProcessError, OSError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ConfigError(
            "--against-git", f"cannot read git ref {ref!r}: {detail.strip()}"
        ) from exc
    out = []
    for rel in listed:
        if not rel.endswith(".avsc"):
            continue
        old = subprocess.run(
            ["git", "-C", top, "show", f"{ref}:{rel}"], capture_output=True, check=True
        ).stdout
        now = Path(top) / rel
        if not now.exists():
            out.append(
                f"{rel}: <file>: released version was deleted since {ref}; "
                "released versions are immutable"
            )
        elif now.read_bytes() != old:
            out.append(
                f"{rel}: <file>: released version was modified since {ref}; released "
                "versions are immutable, add a new v<N>.avsc instead"
            )
    return out


@uses_settings(RegistrySettings)
@cli.command()
@schema_registry_url_option("--registry")
@_contracts_option(", else the versions compiled into this package")
def register(schema_registry_url: str | None, contracts_dir: Path | None) -> None:
    """Register every released version of every subject, oldest first, and set each subject's
    compatibility level. Idempotent: a second run changes nothing. Producers never
    auto-register.

    Example: SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 txn-contract register
    """
    from txn_contract.registry import register_contract

    registry = RegistrySettings.load({"schema_registry_url": schema_registry_url})
    contracts: tuple[Contract, ...]
    if contracts_dir or find_contracts_dir():
        contracts = load_contracts(_contracts_dir(contracts_dir))
    else:
        contracts = packaged_contracts()
    client = registry.registry_client()
    for contract in contracts:
        steps = register_contract(client, contract, registry.registry_display_url, _log)
        changed = sum(s.changed for s in steps)
        _log(
            f"{contract.subject}: {changed} change(s)"
            if changed
            else f"{contract.subject}: nothing to do"
        )


main = entry_point(cli, PROG)
