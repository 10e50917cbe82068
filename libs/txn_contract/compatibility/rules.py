"""The Avro schema-resolution rules, plus the logical-type rules, as a checker of one pair.

:class:`Checker` walks a reader and a writer :class:`~.schema.Node` together and returns a
:class:`Finding` for every violation (never stopping at the first), with the rule codes that the
package docstring describes. Recursive record pairs are judged co-inductively, and a provisional
verdict is memoised only once the assumption it relied on is confirmed (the package docstring
says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .schema import NAMED, PRIMITIVES, PROMOTIONS, TIMES, TIMESTAMP_FAMILIES, Node, describe

__all__ = [
    "DECIMAL_PRECISION_CHANGED",
    "DECIMAL_SCALE_CHANGED",
    "FIELD_ALIAS_AMBIGUOUS",
    "FIXED_SIZE_MISMATCH",
    "LOGICAL_TYPE_CHANGED",
    "MISSING_ENUM_SYMBOLS",
    "MISSING_UNION_BRANCH",
    "NAME_MISMATCH",
    "READER_FIELD_MISSING_DEFAULT",
    "TIMESTAMP_UNIT_CHANGED",
    "TIME_UNIT_CHANGED",
    "TYPE_MISMATCH",
    "Checker",
    "Finding",
    "findings",
    "under",
]

TYPE_MISMATCH = "TYPE_MISMATCH"
NAME_MISMATCH = "NAME_MISMATCH"
FIXED_SIZE_MISMATCH = "FIXED_SIZE_MISMATCH"
MISSING_ENUM_SYMBOLS = "MISSING_ENUM_SYMBOLS"
READER_FIELD_MISSING_DEFAULT = "READER_FIELD_MISSING_DEFAULT"
FIELD_ALIAS_AMBIGUOUS = "FIELD_ALIAS_AMBIGUOUS"
MISSING_UNION_BRANCH = "MISSING_UNION_BRANCH"
DECIMAL_PRECISION_CHANGED = "DECIMAL_PRECISION_CHANGED"
DECIMAL_SCALE_CHANGED = "DECIMAL_SCALE_CHANGED"
LOGICAL_TYPE_CHANGED = "LOGICAL_TYPE_CHANGED"
TIMESTAMP_UNIT_CHANGED = "TIMESTAMP_UNIT_CHANGED"
TIME_UNIT_CHANGED = "TIME_UNIT_CHANGED"

# Placeholders in reasons, replaced by role names ("the reader", "the new schema", "v1", ...)
# once the caller knows which schema read which.
_R, _W = "{reader}", "{writer}"


@dataclass(frozen=True)
class Finding:
    """One violation before it is worded for a direction (see :mod:`.report`)."""

    path: str  # relative to the pair being checked until the caller prefixes it
    rule: str
    reader: str  # description of the reader's type
    writer: str  # description of the writer's type
    reason: str  # why it breaks, may contain _R/_W

    def reason_for(self, reader_role: str, writer_role: str) -> str:
        """The reason with the schemas named by their roles ("the new schema", "v1", ...)."""
        return self.reason.replace(_R, reader_role).replace(_W, writer_role)


def _join(segment: str, rel: str) -> str:
    if not rel:
        return segment
    if not segment:
        return rel
    return segment + rel if rel[0] in "[{<" else f"{segment}.{rel}"


def under(segment: str, findings: list[Finding]) -> list[Finding]:
    """``findings`` with their paths prefixed by ``segment`` (a field name, ``[]``, ...)."""
    return [replace(f, path=_join(segment, f.path)) for f in findings]


def _names_match(reader: Node, writer: Node) -> bool:
    # unqualified names, or the writer's full name among the reader's (qualified) aliases
    return reader.name == writer.name or writer.fullname in reader.aliases


_NO_DEPENDENCY = 1 << 62


class Checker:
    """Checks one reader/writer pair; one instance per top-level pair (it memoises)."""

    def __init__(self, logical_types: bool) -> None:
        self.logical_types = logical_types
        # record pairs (reader full name, writer full name) -> final findings
        self._done: dict[tuple[str, str], list[Finding]] = {}
        # record pairs being compared -> depth on the comparison stack
        self._active: dict[tuple[str, str], int] = {}
        # record pairs found compatible only under the assumption that an active ancestor pair
        # is compatible -> the shallowest depth they depend on; settled when that pair ends
        self._tentative: dict[tuple[str, str], int] = {}
        # shallowest active depth the current computation has relied on
        self._low = _NO_DEPENDENCY

    def check(self, r: Node, w: Node) -> list[Finding]:
        """Every finding of reader ``r`` against writer ``w``, paths relative to this pair."""
        if w.kind == "union":
            return self._from_union(r, w)
        if r.kind == "union":
            return self._into_union(r, w, mark=True)
        if r.kind != w.kind:
            if r.kind in PROMOTIONS.get(w.kind, ()):
                return self._logical(r, w)
            return [self._type_mismatch(r, w)]
        if r.kind in PRIMITIVES:
            return self._logical(r, w)
        if r.kind in ("array", "map"):
            assert r.element is not None and w.element is not None
            return under("[]" if r.kind == "array" else "{}", self.check(r.element, w.element))
        if r.kind == "record":
            return self._record(r, w)
        if r.kind == "enum":
            return self._name(r, w) + self._enum_symbols(r, w)
        return self._name(r, w) + self._fixed_size(r, w) + self._logical(r, w)

    def _from_union(self, r: Node, w: Node) -> list[Finding]:
        """A writer union: every branch the writer may have written must be readable."""
        out: list[Finding] = []
        for i, wb in enumerate(w.branches):
            if r.kind == "union":
                siblings = w.branches[:i] + w.branches[i + 1 :]
                sub = self._into_union(r, wb, mark=False, siblings=siblings)
            else:
                sub = self.check(r, wb)
            out += under(f"<union:{i}>", sub)
        return out

    def _enum_symbols(self, r: Node, w: Node) -> list[Finding]:
        missing = [s for s in w.symbols if s not in r.symbols]
        if not missing or r.enum_default is not None:
            return []
        reason = (
            f"symbol(s) {', '.join(missing)} may be written by {_W} but are missing from "
            f"{_R}'s enum, which declares no default symbol to read them as"
        )
        return [Finding("", MISSING_ENUM_SYMBOLS, describe(r), describe(w), reason)]

    def _fixed_size(self, r: Node, w: Node) -> list[Finding]:
        if r.size == w.size:
            return []
        reason = (
            "a fixed type's size must not change, because its values are exactly that many bytes"
        )
        return [Finding("", FIXED_SIZE_MISMATCH, describe(r), describe(w), reason)]

    def _name(self, r: Node, w: Node) -> list[Finding]:
        if _names_match(r, w):
            return []
        reason = (
            f"{_R}'s {r.kind} must have {_W}'s unqualified name '{w.name}' or list "
            f"'{w.fullname}' among its aliases"
        )
        return [Finding("", NAME_MISMATCH, describe(r), describe(w), reason)]

    def _type_mismatch(self, r: Node, w: Node) -> Finding:
        lr, lw = r.logical, w.logical
        if lr and lw and lr.name == lw.name == "decimal":
            reason = (
                "a decimal stored as bytes and one stored as fixed are encoded differently, so "
                "Avro cannot resolve one against the other"
            )
        else:
            reason = (
                f"{describe(w)} is neither {describe(r)} nor promotable to it (Avro promotes "
                "only int→long/float/double, long→float/double, float→double and string↔bytes)"
            )
        return Finding("", TYPE_MISMATCH, describe(r), describe(w), reason)

    def _logical(self, r: Node, w: Node) -> list[Finding]:
        """Logical-type rules, for a pair whose underlying types already resolve."""
        lr, lw = r.logical, w.logical
        if not self.logical_types or lr == lw:
            return []
        dr, dw = describe(r), describe(w)
        rule = "(Avro resolves decimals only when precision and scale match)"
        if lr and lw and lr.name == lw.name == "decimal":
            out = []
            if lr.precision != lw.precision:
                why = f"a decimal's precision must not change {rule}"
                out.append(Finding("", DECIMAL_PRECISION_CHANGED, dr, dw, why))
            if lr.scale != lw.scale:
                why = f"a decimal's scale must not change {rule}"
                out.append(Finding("", DECIMAL_SCALE_CHANGED, dr, dw, why))
            return out
        if lr and lw and any({lr.name, lw.name} <= family for family in TIMESTAMP_FAMILIES):
            why = (
                "a timestamp's unit must not change, because the same long would then denote a "
                "different point in time"
            )
            return [Finding("", TIMESTAMP_UNIT_CHANGED, dr, dw, why)]
        if lr and lw and {lr.name, lw.name} <= TIMES:
            why = (
                "a time of day's unit must not change, because the same number would then "
                "denote a different time"
            )
            return [Finding("", TIME_UNIT_CHANGED, dr, dw, why)]
        why = (
            "a logical type must not be added, removed or replaced, because readers would "
            "interpret the same encoded value differently"
        )
        return [Finding("", LOGICAL_TYPE_CHANGED, dr, dw, why)]

    def _into_union(
        self, r: Node, w: Node, *, mark: bool, siblings: Sequence[Node] = ()
    ) -> list[Finding]:
        """A non-union writer type read with a reader union: some branch must read it.

        ``siblings`` are the writer union's other branches when ``w`` is one of them."""
        trials = []
        for rb in r.branches:
            found = self.check(rb, w)
            if not found:
                return []
            trials.append(found)
        j = _closest_branch(r, w, siblings)
        if j is None:
            reason = "a reader union needs a branch that can read every type the writer may write"
            return [Finding("", MISSING_UNION_BRANCH, describe(r), describe(w), reason)]
        # a near miss (same named type, or same kind): its own violations say more than
        # "missing branch"
        return under(f"<union:{j}>", trials[j]) if mark else trials[j]

    def _record(self, r: Node, w: Node) -> list[Finding]:
        key = (r.fullname, w.fullname)
        if key in self._done:
            return self._done[key]
        if key in self._active:
            # recursion: assume compatible (co-inductively) and remember what we relied on
            self._low = min(self._low, self._active[key])
            return []
        if key in self._tentative:
            self._low = min(self._low, self._tentative[key])
            return []
        depth = len(self._active)
        self._active[key] = depth
        outer_low, self._low = self._low, depth
        found = self._name(r, w) + self._fields(r, w)
        low = self._low
        del self._active[key]
        if found or low >= depth:
            # incompatible verdicts are final even under assumptions (assumptions only ever
            # hide violations); compatible ones are final when they relied on nothing outside
            self._done[key] = found
            for other, other_low in list(self._tentative.items()):
                if other_low >= depth:
                    del self._tentative[other]
                    if not found:
                        self._done[other] = []
            self._low = outer_low
        else:
            self._tentative[key] = low
            for other, other_low in self._tentative.items():
                if other_low >= depth:
                    self._tentative[other] = low
            self._low = min(outer_low, low)
        return found

    def _fields(self, r: Node, w: Node) -> list[Finding]:
        by_name = {f.name: f for f in w.fields}
        out: list[Finding] = []
        for rf in r.fields:
            matches = [by_name[rf.name]] if rf.name in by_name else []
            for alias in rf.aliases:
                if alias in by_name and by_name[alias] not in matches:
                    matches.append(by_name[alias])
            if not matches:
                if not rf.has_default:
                    reason = "a reader field the writer lacks needs a default"
                    out.append(
                        Finding(
                            rf.name, READER_FIELD_MISSING_DEFAULT, describe(rf.type), "", reason
                        )
                    )
                continue
            if len(matches) > 1:
                names = ", ".join(f"'{m.name}'" for m in matches)
                reason = (
                    f"it matches the writer fields {names} by name and aliases, and Avro "
                    "refuses to guess which one to read"
                )
                out.append(Finding(rf.name, FIELD_ALIAS_AMBIGUOUS, describe(rf.type), "", reason))
            out += under(rf.name, self.check(rf.type, matches[0].type))
        return out


def _closest_branch(r: Node, w: Node, siblings: Sequence[Node]) -> int | None:
    """The reader branch the writer's type was evidently meant to be read as, if any."""
    same_kind = [j for j, rb in enumerate(r.branches) if rb.kind == w.kind]
    if w.kind in NAMED:
        for j in same_kind:
            if _names_match(r.branches[j], w):
                return j
        # a lone record/enum/fixed of that kind that reads no other writer branch is most
        # likely this one renamed
        unclaimed = [
            j
            for j in same_kind
            if not any(s.kind == w.kind and _names_match(r.branches[j], s) for s in siblings)
        ]
        return unclaimed[0] if len(unclaimed) == 1 else None
    if same_kind:
        return same_kind[0]
    promotable = [j for j, rb in enumerate(r.branches) if rb.kind in PROMOTIONS.get(w.kind, ())]
    return promotable[0] if promotable else None


def findings(reader: Node, writer: Node, logical_types: bool) -> list[Finding]:
    """Every distinct finding of ``reader`` against ``writer``, in the order they were found."""
    seen, out = set(), []
    for f in Checker(logical_types).check(reader, writer):
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
