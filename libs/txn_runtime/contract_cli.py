"""``txn-contract``: generate the package from ``contracts/``, gate changes, register versions.

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
from dataclasses import asdict
from pathlib import Path

import click

import txn_contract
from txn_contract.contract import Contract, find_contracts_dir, load_contract, packaged_contract
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
    """Generate libs/txn_contract (typed event class, the Avro encoders, packaged schemas)
    from contracts/.

    Example: txn-contract generate --check
    """
    from txn_contract.generate import check_generated, write_generated

    cdir = _contracts_dir(contracts_dir)
    contract = load_contract(cdir)
    package = _package_dir(cdir)
    if check:
        drift = check_generated(contract, cdir, package)
        if drift:
            for d in drift:
                click.echo(f"drift: {d}")
            click.echo(
                f"{len(drift)} generated file(s) differ from {cdir}; run `txn-contract generate`.",
                err=True,
            )
            sys.exit(1)
        _log(f"generated code matches {cdir} (v1..v{contract.latest.version})")
        return
    changed = write_generated(contract, cdir, package)
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

    With no arguments: every version in contracts/ against all earlier ones at the policy's level,
    and silver's quality rules (expectations.yaml: columns, Spark SQL syntax, actions, ids).

    Example: txn-contract check --schema new.avsc --previous v1.avsc --previous v2.avsc --level FULL_TRANSITIVE
    """
    results, policy_level, rules_check = _to_judge(
        schema_file, previous_files, level, contracts_dir
    )
    lines, violations = _offline_verdicts(results)
    immutability = []
    if git_ref:
        immutability = _released_files_changed(_contracts_dir(contracts_dir), git_ref)
        lines.extend(immutability)
    registry = None
    if schema_registry_url:
        registry = RegistrySettings.load({"schema_registry_url": schema_registry_url})
    verdicts = registry_verdicts(registry, results, _log) if registry else []
    schema_lines = len(lines)
    if rules_check is not None:
        lines.extend(rules_check["lines"])
    offline_ok = not violations and not immutability
    rules_ok = rules_check is None or not rules_check["violations"]
    registry_ok = all(v["compatible"] for v in verdicts)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "compatible": offline_ok and registry_ok,
                    "offline": {
                        "compatible": offline_ok,
                        "violations": violations,
                        "immutability": immutability,
                    },
                    "registry": verdicts if registry else None,
                    "rules": None
                    if rules_check is None
                    else {k: v for k, v in rules_check.items() if k != "lines"},
                },
                indent=2,
            )
        )
    else:
        for line in lines:
            click.echo(line)
        summary = f"{len(results)} schema(s) checked at {policy_level or results[0][3]}: " + (
            "compatible" if offline_ok else f"{schema_lines} violation(s)"
        )
        summary += _rules_summary(rules_check)
        if registry:
            summary += registry_summary(registry.registry_display_url, verdicts, violations)
        click.echo(summary, err=True)
    sys.exit(0 if offline_ok and registry_ok and rules_ok else 1)


def _to_judge(schema_file, previous_files, level, contracts_dir):
    """``([(file, new schema, [(label, earlier schema)], level)], policy level, rules check)``:
    the ad hoc files, or every version of contracts/ against the earlier ones."""
    from txn_contract.compatibility import load_schema_file
    from txn_contract.rules import check_rules_of

    if schema_file or previous_files:
        if not schema_file:
            raise ConfigError("--schema", "is required when --previous is given")
        new = load_schema_file(schema_file)
        prev = [(str(p), load_schema_file(p)) for p in previous_files]
        return [(str(schema_file), new, prev, (level or "FULL_TRANSITIVE").upper())], None, None
    contract = load_contract(_contracts_dir(contracts_dir))
    policy_level = (level or contract.compatibility).upper()
    results = [
        (cv.path, cv.schema, [(f"v{p.version}", p.schema) for p in contract.versions[:i]],
         policy_level)
        for i, cv in enumerate(contract.versions)
    ]  # fmt: skip
    return results, policy_level, check_rules_of(contract)


def _offline_verdicts(results) -> tuple[list[str], list[dict]]:
    """Buf-style lines and JSON violations of the offline checker."""
    from txn_contract.compatibility import check_level

    lines: list[str] = []
    violations = []
    for file, new, prev, lvl in results:
        found = check_level(new, [s for _, s in prev], lvl, labels=[label for label, _ in prev])
        for v in found:
            lines.append(v.line(file))
            violations.append({"file": file, **asdict(v)})
    return lines, violations


def _rules_summary(rules_check) -> str:
    if rules_check is None:
        return ""
    problems = rules_check["violations"]
    return f"; {rules_check['rules']} rule(s) in {rules_check['file']}: " + (
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
    """Register every released version, oldest first, and set the subject's compatibility
    level. Idempotent: a second run changes nothing. Producers never auto-register.

    Example: SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7 txn-contract register
    """
    from txn_contract.registry import register_contract

    registry = RegistrySettings.load({"schema_registry_url": schema_registry_url})
    contract: Contract
    if contracts_dir or find_contracts_dir():
        contract = load_contract(_contracts_dir(contracts_dir))
    else:
        contract = packaged_contract()
    steps = register_contract(
        registry.registry_client(), contract, registry.registry_display_url, _log
    )
    changed = sum(s.changed for s in steps)
    _log(
        f"{contract.subject}: {changed} change(s)"
        if changed
        else f"{contract.subject}: nothing to do"
    )


main = entry_point(cli, PROG)
