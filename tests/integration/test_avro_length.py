"""The SQL-computed canonical Avro length equals the length of Spark's own ``to_avro`` encoding
for every record, over the contract's versions and a schema using every covered type."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bronze_ingest.avro_length import encoded_length
from txn_contract import packaged_contract
from txn_contract.strategies import avro_records

pytestmark = pytest.mark.integration

CONTRACT = packaged_contract()

EVERY_TYPE = {
    "type": "record",
    "name": "EveryType",
    "fields": [
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "b", "type": "boolean"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "s", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {
            "name": "e",
            "type": {"type": "enum", "name": "E", "symbols": [f"S{i}" for i in range(70)]},
        },
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {
            "name": "dec",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4},
        },
        {"name": "opt", "type": ["null", "long"]},
        {"name": "opt2", "type": ["string", "null"]},
        {
            "name": "inner",
            "type": {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "long"}]},
        },
    ],
}

_every = st.fixed_dictionaries(
    {
        "i": st.integers(-(2**31), 2**31 - 1),
        "l": st.integers(-(2**63), 2**63 - 1),
        "b": st.booleans(),
        "f": st.floats(width=32, allow_nan=False),
        "d": st.floats(allow_nan=False),
        "s": st.text(max_size=200),
        "raw": st.binary(max_size=200),
        "fx": st.binary(min_size=4, max_size=4),
        "e": st.sampled_from([f"S{i}" for i in range(70)]),
        "day": st.dates(date(1900, 1, 1), date(2200, 1, 1)),
        "us": st.integers(-(2**40), 2**52).map(
            lambda us: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
        ),
        "dec": st.integers(-(10**18) + 1, 10**18 - 1).map(lambda u: Decimal(u).scaleb(-4)),
        "opt": st.none() | st.integers(-(2**63), 2**63 - 1),
        "opt2": st.none() | st.text(max_size=5),
        "inner": st.fixed_dictionaries({"x": st.integers(-(2**63), 2**63 - 1)}),
    }
)


def _bodies(strategy, schema: dict, n: int) -> list[bytes]:
    parsed = fastavro.parse_schema(schema)
    out: list[bytes] = []

    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(record):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, record)
        out.append(buf.getvalue())

    collect()
    return out


@pytest.mark.parametrize(
    "schema,strategy",
    [
        (CONTRACT.version(1).schema, avro_records(1)),
        (CONTRACT.latest.schema, avro_records(2)),
        (EVERY_TYPE, _every),
    ],
    ids=["v1", "v2", "every-covered-type"],
)
def test_computed_length_equals_javas_canonical_encoding(spark, schema, strategy):
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro, to_avro

    text = json.dumps(schema)
    bodies = _bodies(strategy, schema, 400)
    df = spark.createDataFrame([(b,) for b in bodies], "body binary").select(
        from_avro("body", text).alias("r")
    )
    length = encoded_length(F.col("r"), schema)
    assert length is not None
    rows = df.select(length.alias("n"), F.octet_length(to_avro("r", text)).alias("java")).collect()
    assert len(rows) == len(bodies)
    mismatches = [(r.n, r.java) for r in rows if r.n != r.java]
    assert not mismatches, mismatches[:5]


def test_uncovered_types_fall_back():
    array = {
        "type": "record",
        "name": "A",
        "fields": [{"name": "xs", "type": {"type": "array", "items": "long"}}],
    }
    wide = {
        "type": "record",
        "name": "U",
        "fields": [{"name": "u", "type": ["null", "long", "string"]}],
    }
    from pyspark.sql import functions as F

    assert encoded_length(F.col("r"), array) is None
    assert encoded_length(F.col("r"), wide) is None
