"""``txn-report``: the project report's data-volume table, from live figures.

Table figures and committed offsets come from :mod:`txn_lake.facts` (the Delta logs), each
table's freshness from :mod:`txn_lake.latency`; :mod:`.kafka_stats` gives topic offsets and
on-disk size, :mod:`.report` assembles and renders, :mod:`.cli` is the command.
"""

__all__: list[str] = []
