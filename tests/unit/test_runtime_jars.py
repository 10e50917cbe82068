"""Jar resolution for the Spark jobs: baked jars (the image) or the Maven cache."""

from __future__ import annotations

import pytest

from txn_runtime import jars
from txn_runtime.errors import PlatformError


def test_a_baked_jar_directory_is_used_without_maven(tmp_path, monkeypatch):
    (tmp_path / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    (tmp_path / "spark-avro_2.13-4.2.0.jar").write_bytes(b"")
    (tmp_path / "README").write_text("not a jar")
    monkeypatch.setenv("TXN_JARS_DIR", str(tmp_path))
    monkeypatch.setattr(jars, "copy_dependencies", lambda *a, **k: pytest.fail("Maven was used"))
    assert [p.name for p in jars.spark_jars()] == [
        "delta-spark_4.2_2.13-4.4.0.jar",
        "spark-avro_2.13-4.2.0.jar",
    ]


def test_an_empty_baked_directory_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TXN_JARS_DIR", str(tmp_path))
    with pytest.raises(PlatformError, match="TXN_JARS_DIR"):
        jars.spark_jars()


def test_jars_spark_already_ships_are_pruned(tmp_path):
    ours, spark = tmp_path / "ours", tmp_path / "spark"
    ours.mkdir()
    spark.mkdir()
    for name in (
        "kafka-clients-3.9.1.jar",
        "spark-avro_2.13-4.2.0.jar",
        "commons-pool2-2.12.1.jar",
    ):
        (ours / name).write_bytes(b"")
    (spark / "commons-pool2-2.11.0.jar").write_bytes(b"")
    gone = jars.prune_shipped(ours, spark)
    assert [p.name for p in gone] == ["commons-pool2-2.12.1.jar"]
    assert sorted(p.name for p in ours.iterdir()) == [
        "kafka-clients-3.9.1.jar",
        "spark-avro_2.13-4.2.0.jar",
    ]
