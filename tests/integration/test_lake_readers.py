"""The reading recipes of docs/lake.md, run as written against a table bronze wrote: Spark,
delta-rs, polars, pandas and DuckDB (over Arrow from delta-rs) all read the committed rows."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, bronze_available_now, create_topic
from tests.records import produce_records, record

pytestmark = pytest.mark.integration

EVENTS = 120


def _snippets() -> list[str]:
    """The Python blocks of the doc's "Reading the tables" section, in order."""
    text = (REPO_ROOT / "docs" / "lake.md").read_text()
    section = text.split("## Reading the tables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def lake(spark, platform, registered_contract, tmp_path_factory) -> Path:
    topic = f"readers_{uuid.uuid4().hex[:8]}"
    create_topic(platform.bootstrap_servers, topic)
    records = (record(i, channel=("POS", "ATM")[i % 2]) for i in range(EVENTS))
    produce_records(platform.bootstrap_servers, topic, registered_contract[2], records)
    root = tmp_path_factory.mktemp("lake")
    bronze_available_now(spark, platform, root, topic)
    # A second commit, so the time-travel example has a version 3 to read... and a stray file
    # that no version lists, which a glob would count and no Delta reader does.
    for _ in range(2):
        spark.read.format("delta").load(str(root / "bronze")).limit(1).write.format("delta").mode(
            "append"
        ).save(str(root / "bronze"))
    stray = next((root / "bronze").rglob("*.parquet"))
    stray.with_name("part-99999-killed-attempt.snappy.parquet").write_bytes(stray.read_bytes())
    return root


def test_the_docs_have_a_recipe_per_reader():
    blocks = _snippets()
    assert len(blocks) == 3
    assert "spark.read.format" in blocks[0] and "DeltaTable" in blocks[1] and "duckdb" in blocks[2]


def test_every_documented_reader_reads_the_committed_rows(lake, spark, capsys):
    import pyarrow.dataset as ds

    expected = EVENTS + 2
    namespace: dict = {}
    for block in _snippets():
        exec(block.replace("lake/", f"{lake}/"), namespace)
    assert (
        namespace["bronze"].count() == expected if hasattr(namespace["bronze"], "count") else True
    )
    assert namespace["table"].count() == expected
    assert namespace["arrow"].num_rows == expected
    assert len(namespace["df"]) == expected
    import polars as pl

    assert pl.read_delta(str(lake / "bronze")).height == expected
    import duckdb

    con = duckdb.connect()
    con.register("b", namespace["bronze"])  # the DuckDB block rebinds `bronze` to Arrow
    assert con.sql("SELECT count(*) FROM b").fetchall() == [(expected,)]
    assert spark.read.format("delta").load(str(lake / "bronze")).count() == expected
    printed = capsys.readouterr().out
    assert "POS" in printed and "ATM" in printed  # the DuckDB query's output
    # The glob the docs warn against counts the stray file too.
    assert ds.dataset(str(lake / "bronze"), format="parquet").count_rows() > expected
