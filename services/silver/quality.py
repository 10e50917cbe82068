"""The contract's quality rules as Spark columns: which rules each bronze row violates.

A row passes a rule only when the rule's expression is TRUE; NULL counts as a violation (a bank
does not keep a row whose check could not be answered). Rules are compiled once, checked to be
boolean against the bronze schema when the job starts, and reused for every batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from txn_contract.errors import TxnError
from txn_contract.rules import Rule, RuleSet

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["VIOLATED", "WARNED", "CompiledRules"]

VIOLATED = "_violated"  # ids of the quarantine rules the row violates
WARNED = "_warned"  # ids of the warn and fail rules it violates


class CompiledRules:
    """A :class:`RuleSet` as Spark columns."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._ok: dict[str, Column] | None = None

    def _passes(self) -> dict[str, Column]:
        from pyspark.sql import functions as F

        if self._ok is None:
            self._ok = {r.id: F.coalesce(F.expr(r.sql), F.lit(False)) for r in self.rules.rules}
        return self._ok

    def check_against(self, df: DataFrame) -> None:
        """Every rule resolves against ``df``'s columns and is boolean; else one sentence."""
        from pyspark.errors import AnalysisException, ParseException
        from pyspark.sql import functions as F
        from pyspark.sql.types import BooleanType

        for rule in self.rules.rules:
            try:
                dtype = df.select(F.expr(rule.sql).alias("x")).schema["x"].dataType
            except (AnalysisException, ParseException) as exc:
                first = str(exc).strip().splitlines()[0]
                raise TxnError(
                    f"Quality rule {rule.id} in {self.rules.path} does not compile in Spark "
                    f"against the bronze table: {first[:300]}"
                ) from exc
            if not isinstance(dtype, BooleanType):
                raise TxnError(
                    f"Quality rule {rule.id} in {self.rules.path} is not a boolean expression: "
                    f"Spark types it {dtype.simpleString()}."
                )

    def _ids(self, rules: tuple[Rule, ...]) -> Column:
        from pyspark.sql import functions as F

        if not rules:
            return F.array().cast("array<string>")
        ok = self._passes()
        flagged = F.array(*[F.when(~ok[r.id], F.lit(r.id)) for r in rules])
        return F.filter(flagged, lambda x: x.isNotNull())

    def evaluate(self, df: DataFrame) -> DataFrame:
        """``df`` plus :data:`VIOLATED` (quarantine rules) and :data:`WARNED` (warn, fail)."""
        quarantine = self.rules.by_action("quarantine")
        tolerated = self.rules.by_action("warn") + self.rules.by_action("fail")
        return df.withColumns({VIOLATED: self._ids(quarantine), WARNED: self._ids(tolerated)})

    def check_fail_ratios(self, warned: dict[str, int], rows: int, batch_id: int) -> None:
        """Stop the job when a ``fail`` rule is violated by more than its ``max_ratio``."""
        for rule in self.rules.by_action("fail"):
            n = warned.get(rule.id, 0)
            if rows and n / rows > (rule.max_ratio or 0.0):
                raise TxnError(
                    f"Quality rule {rule.id} (action fail) is violated by {n} of {rows} rows of "
                    f"batch {batch_id} ({n / rows:.2%}), above its max_ratio of "
                    f"{rule.max_ratio:.2%}; nothing of the batch was written. Fix the data or the "
                    "rule, then start the job again."
                )
