"""``txn-report``: the project report's data-volume table, from live figures.

Table figures and committed offsets come from :mod:`txn_lake.facts` (the Delta logs), each
table's freshness from :mod:`txn_lake.latency`; :mod:`.kafka_stats` gives topic offsets and
on-disk size, :mod:`.report` assembles and renders, :mod:`.cli` is the command. ``--format html``:
:mod:`.volume` adds rows per event hour per layer and every table's size to the model,
:mod:`.reconcile` checks each layer's rows in against the rows accounted for, :mod:`.charts`
makes the Vega-Lite specs (Altair) and :mod:`.html_page` the self-contained page.
"""

__all__: list[str] = []
