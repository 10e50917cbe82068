"""Silver's quality rules, declared beside the schemas in ``contracts/<subject>/expectations.yaml``.

A rule is an ``id``, a Spark SQL boolean ``expression`` over the contract's fields plus
``kafka_timestamp`` and ``ingest_ts``, an ``action`` (``warn``, ``quarantine`` or ``fail``, the
last with a ``max_ratio``) and a ``doc``. A row passes a rule only when its expression is TRUE
(NULL is a violation).

ISO code lists are never typed into the file: ``${iso4217}``, ``${iso3166_1}`` and
``${iso3166_2}`` expand to SQL lists generated from the pinned ``pycountry`` when the file is
loaded. The package ships a copy of the file (``txn_contract/schemas/expectations.yaml``) under
the same drift gate as the schemas (``txn-contract generate --check``).

Validation needs no JVM: expressions are parsed with sqlglot's Spark dialect, which also names
the columns they reference. Spark itself compiles every rule when ``silver-refine`` starts.

Example::

    from txn_contract.rules import packaged_rules
    rules = packaged_rules()
    [r.id for r in rules.by_action("quarantine")]   # ['amount_positive', ...]
    rules.rules[0].sql                              # 'amount > 0'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SchemaFileError, TxnError
from .files import read_text

__all__ = [
    "ACTIONS",
    "CONFLICT_RULE",
    "EXTRA_COLUMNS",
    "RULES_FILE",
    "ContractFile",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "check_report",
    "check_rules_of",
    "entry_problems",
    "iso_lists",
    "load_rules",
    "packaged_rules",
    "read_rules_file",
    "refuse_problems",
    "validate_rules",
]

RULES_FILE = "expectations.yaml"
ACTIONS = ("warn", "quarantine", "fail")
# Columns a rule may use besides the contract's fields (bronze's Kafka and ingest times).
EXTRA_COLUMNS = ("kafka_timestamp", "ingest_ts")
# Silver's own reject reason for a transaction_id seen before with other content.
CONFLICT_RULE = "duplicate_conflict"

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_RULE_KEYS = {"id", "expression", "action", "doc", "max_ratio"}
_TOP_KEYS = {"version", "rules"}


@dataclass(frozen=True)
class Rule:
    """One validated rule; ``sql`` is the expression with its placeholders expanded."""

    id: str
    expression: str
    action: str
    doc: str
    sql: str
    max_ratio: float | None = None


@dataclass(frozen=True)
class RuleProblem:
    """A problem of the rules file: where (a rule id, ``rules[i]`` or ``<root>``) and what."""

    where: str
    message: str

    def line(self, file: str) -> str:
        """``file: where: message``, the violation-line style of ``txn-contract check``."""
        return f"{file}: {self.where}: {self.message}"


def refuse_problems(what: str, problems: list[RuleProblem], path: Path) -> None:
    """Raise :class:`TxnError` naming the first of ``problems`` of the file at ``path`` (and how
    many more there are); nothing when there is none."""
    if problems:
        more = (
            f" (and {len(problems) - 1} more; run `txn-contract check`)"
            if len(problems) > 1
            else ""
        )
        raise TxnError(f"{what} are invalid: {problems[0].line(str(path))}{more}.")


def entry_problems(
    entries: list[Any], kind: str, problems_of: Callable[[Any, str], list[RuleProblem]]
) -> tuple[list[RuleProblem], dict[str, int]]:
    """The problems of a file's list of entries (rules, detectors): each entry's own, named by
    its id (else ``kind[i]``), then duplicate ids; and the index of each id seen first."""
    out: list[RuleProblem] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        eid = entry.get("id") if isinstance(entry, dict) else None
        where = eid if isinstance(eid, str) and eid else f"{kind}[{i}]"
        out += problems_of(entry, where)
        if isinstance(eid, str):
            if eid in seen:
                out.append(RuleProblem(where, f"duplicate id (also {kind}[{seen[eid]}])"))
            else:
                seen[eid] = i
    return out, seen


@dataclass(frozen=True)
class ContractFile:
    """What a versioned file beside the schemas (quality rules, detectors) is known by: its
    ``version``, where it was read and the ``digest`` of what it declares."""

    version: int
    path: str
    digest: str


@dataclass(frozen=True)
class RuleSet(ContractFile):
    """The rules of a file, in file order, with the facts tables record about them."""

    rules: tuple[Rule, ...] = ()
    iso_source: str = ""

    def by_action(self, action: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.action == action)

    def properties(self) -> dict[str, str]:
        """Table properties naming the rules' version (``txn.rules.*``)."""
        return {
            "txn.rules.version": str(self.version),
            "txn.rules.sha256": self.digest,
            "txn.rules.ids": ",".join(r.id for r in self.rules),
            "txn.rules.iso_source": self.iso_source,
        }


@cache
def iso_lists() -> dict[str, tuple[str, ...]]:
    """The placeholders' code lists, from pycountry: name -> sorted codes."""
    import pycountry

    return {
        "iso4217": tuple(sorted(c.alpha_3 for c in pycountry.currencies)),
        "iso3166_1": tuple(sorted(c.alpha_2 for c in pycountry.countries)),
        "iso3166_2": tuple(sorted(s.code for s in pycountry.subdivisions)),
    }


def _iso_source() -> str:
    from importlib.metadata import version

    return f"pycountry {version('pycountry')}"


def _sql_list(codes: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + c.replace("'", "''") + "'" for c in codes) + ")"


def _expand(expression: str, placeholder_sql) -> tuple[str, list[str]]:
    """``expression`` with ``${name}`` replaced; also the unknown placeholder names."""
    unknown: list[str] = []
    lists = iso_lists()

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in lists:
            unknown.append(name)
            return "('')"
        return placeholder_sql(lists[name])

    return _PLACEHOLDER.sub(sub, expression), unknown


def read_rules_file(path: Path) -> Any:
    """The parsed YAML of ``path``; :class:`SchemaFileError` (exit 2) if it cannot be read."""
    import yaml

    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaFileError(str(path), f"is not valid YAML{where}: {problem}") from exc


def _expression_problems(expression: str, columns: set[str]) -> list[str]:
    """Why ``expression`` is not a row-level Spark SQL expression over ``columns`` (lowercase)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = [e for e in sqlglot.parse(expression, read="spark") if e is not None]
    except SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"expression does not parse as Spark SQL: {first}"]
    if len(parsed) != 1:
        return [f"expression must be one Spark SQL expression, found {len(parsed)} statements"]
    root = parsed[0]
    if not isinstance(root, exp.Condition) or root.find(exp.Query) is not None:
        return ["expression must be a row-level expression, not a statement or a subquery"]
    problems = []
    if (agg := root.find(exp.AggFunc)) is not None:
        problems.append(f"expression uses the aggregate {agg.sql('spark')}; a rule sees one row")
    if root.find(exp.Window) is not None:
        problems.append("expression uses a window function; a rule sees one row")
    unknown = sorted({c.parts[0].name for c in root.find_all(exp.Column)} - columns, key=str)
    unknown = [u for u in unknown if u.lower() not in columns]
    problems.extend(
        f"unknown column {u!r}: a rule may use the contract's fields, "
        + " and ".join(EXTRA_COLUMNS)
        for u in unknown
    )
    return problems


def _rule_problems(raw: Any, where: str, columns: set[str]) -> list[RuleProblem]:
    """Problems of one rule entry (``where`` names it in each line)."""
    if not isinstance(raw, dict):
        return [RuleProblem(where, "a rule must be a mapping with id, expression, action, doc")]
    out = [RuleProblem(where, f"unknown key {k!r}") for k in sorted(set(raw) - _RULE_KEYS)]
    out += [
        RuleProblem(where, f"missing key {k!r}")
        for k in ("id", "expression", "action", "doc")
        if k not in raw
    ]
    rule_id = raw.get("id")
    if "id" in raw and (not isinstance(rule_id, str) or not _ID.match(rule_id)):
        out.append(RuleProblem(where, f"id {rule_id!r} must match {_ID.pattern}"))
    elif rule_id == CONFLICT_RULE:
        out.append(RuleProblem(where, f"id {CONFLICT_RULE} is reserved for silver's dedup"))
    out += [RuleProblem(where, m) for m in _action_problems(raw)]
    if "doc" in raw and (not isinstance(raw["doc"], str) or not raw["doc"].strip()):
        out.append(RuleProblem(where, "doc must be a non-empty sentence"))
    if "expression" in raw:
        out += [
            RuleProblem(where, m) for m in _rule_expression_problems(raw["expression"], columns)
        ]
    return out


def _action_problems(raw: dict[str, Any]) -> list[str]:
    """Problems of a rule's ``action`` and of the ``max_ratio`` that goes with action fail."""
    out = []
    action = raw.get("action")
    if "action" in raw and action not in ACTIONS:
        out.append(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
    ratio = raw.get("max_ratio")
    if action == "fail":
        ok = isinstance(ratio, int | float) and not isinstance(ratio, bool) and 0 <= ratio < 1
        if not ok:
            out.append("action fail needs max_ratio, a number in [0, 1)")
    elif "max_ratio" in raw:
        out.append("max_ratio applies only to action fail")
    return out


def _rule_expression_problems(expression: Any, columns: set[str]) -> list[str]:
    """Problems of a rule's ``expression``: its type, its placeholders, then its SQL."""
    if not isinstance(expression, str) or not expression.strip():
        return ["expression must be a non-empty string"]
    # Placeholders parse as a one-code list: the codes do not change whether it parses.
    probe, unknown = _expand(expression, lambda _codes: "('')")
    known = ", ".join("${" + n + "}" for n in iso_lists())
    out = [f"unknown placeholder ${{{u}}}; known: {known}" for u in unknown]
    return out + _expression_problems(probe, columns)


def validate_rules(raw: Any, columns: tuple[str, ...] | list[str]) -> list[RuleProblem]:
    """Every problem of a parsed rules file whose rules may use ``columns`` (contract fields)."""
    allowed = {c.lower() for c in (*columns, *EXTRA_COLUMNS)}
    if not isinstance(raw, dict):
        return [RuleProblem("<root>", "the file must be a mapping with version and rules")]
    out = [RuleProblem("<root>", f"unknown key {k!r}") for k in sorted(set(raw) - _TOP_KEYS)]
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        out.append(RuleProblem("<root>", f"version must be a positive integer, got {version!r}"))
    rules = raw.get("rules")
    if not isinstance(rules, list) or not rules:
        return [*out, RuleProblem("<root>", "rules must be a non-empty list")]
    problems, _ids = entry_problems(
        rules, "rules", lambda entry, where: _rule_problems(entry, where, allowed)
    )
    return out + problems


def _digest(version: int, rules: tuple[Rule, ...]) -> str:
    canon = json.dumps(
        [version, [[r.id, r.sql, r.action, r.max_ratio] for r in rules]], separators=(",", ":")
    )
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def load_rules(path: Path, columns: tuple[str, ...] | list[str]) -> RuleSet:
    """The validated rules of ``path``; :class:`TxnError` naming the first problem otherwise."""
    raw = read_rules_file(path)
    refuse_problems("Quality rules", validate_rules(raw, columns), path)
    rules = tuple(
        Rule(
            id=r["id"],
            expression=r["expression"].strip(),
            action=r["action"],
            doc=r["doc"].strip(),
            sql=_expand(r["expression"].strip(), _sql_list)[0],
            max_ratio=float(r["max_ratio"]) if r["action"] == "fail" else None,
        )
        for r in raw["rules"]
    )
    digest = _digest(raw["version"], rules)
    return RuleSet(raw["version"], str(path), digest, rules=rules, iso_source=_iso_source())


def packaged_rules() -> RuleSet:
    """The rules compiled into this installed package, checked against its contract's fields."""
    from .contract import packaged_contract

    contract = packaged_contract()
    names = tuple(dict.fromkeys(n for v in contract.versions for n in v.field_names))
    return load_rules(Path(str(resources.files("txn_contract") / "schemas" / RULES_FILE)), names)


def check_rules_of(contract) -> dict[str, Any] | None:
    """``txn-contract check``'s verdict on the rules beside ``contract``'s schemas, or None when
    the subject has no rules file: the file, the number of rules, the problems (as dicts and as
    violation lines). The rules may use the fields of every released version."""
    path = Path(contract.root) / RULES_FILE
    if not path.exists():
        return None
    raw = read_rules_file(path)
    columns = tuple(dict.fromkeys(n for v in contract.versions for n in v.field_names))
    return check_report(path, raw, "rules", "rule", validate_rules(raw, columns))


def check_report(
    path: Path, raw: Any, kind: str, one: str, problems: list[RuleProblem]
) -> dict[str, Any]:
    """What ``txn-contract check`` reports of a file of ``kind`` (``rules``, ``detectors``):
    how many entries it declares, and each problem as a violation and as a line."""
    entries = raw.get(kind) if isinstance(raw, dict) else None
    return {
        "file": str(path),
        kind: len(entries) if isinstance(entries, list) else 0,
        "violations": [{"file": str(path), one: p.where, "message": p.message} for p in problems],
        "lines": [p.line(str(path)) for p in problems],
    }
