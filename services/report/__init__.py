"""``txn-report``: the project report's data-volume table, from live figures.

Modules: :mod:`.lake` (committed files of Spark's file-sink outputs and the bronze job's
checkpoint), :mod:`.kafka_stats` (topic offsets and on-disk size), :mod:`.report` (assembling
and rendering), :mod:`.cli`.
"""

__all__: list[str] = []
