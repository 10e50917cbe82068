"""The contract's Spark StructType is exactly what Spark's own ``from_avro`` produces."""

from __future__ import annotations

import pytest

from txn_contract import packaged_contract, spark_struct_type

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("version", [v.version for v in packaged_contract().versions])
def test_struct_type_equals_from_avro_output(spark, version):
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    cv = packaged_contract().version(version)
    df = spark.range(1).select(F.lit(b"").alias("value"))
    decoded = df.select(from_avro("value", cv.schema_str).alias("e")).schema["e"].dataType
    ours = spark_struct_type(cv.schema)
    # from_avro marks fields nullable as the Avro schema says; compare names, types, nullability.
    assert [(f.name, f.dataType, f.nullable) for f in ours.fields] == [
        (f.name, f.dataType, f.nullable) for f in decoded.fields
    ]
