"""`txn-platform up --spark && status && down` as the README shows it, on its own ports: and
nothing of it, Spark's master, worker and executors included, survives `down`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_ports

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "txn-platform"), *args], capture_output=True, text=True, env=env, timeout=240
    )


def _our_processes(state_dir: Path) -> list[str]:
    """Processes of this platform: marked services, and anything running under its state dir
    (the Spark worker's executors run in STATE/spark/work)."""
    marker = f"@{state_dir.resolve()}".encode()
    under = str(state_dir.resolve()).encode()
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                if marker in cmdline or (b"org.apache.spark" in cmdline and under in cmdline):
                    out.append(entry.name)
            except OSError:
                pass
    return out


def test_up_status_down_leaves_nothing_running(tmp_path):
    kafka, controller, registry, management, master, master_ui, worker_ui = free_ports(7)
    env = {
        **os.environ,
        "TXN_SPARK": "1",
        "TXN_SPARK_MASTER_PORT": str(master),
        "TXN_SPARK_MASTER_WEBUI_PORT": str(master_ui),
        "TXN_SPARK_WORKER_WEBUI_PORT": str(worker_ui),
        "TXN_REGISTRY_MANAGEMENT_PORT": str(management),
        "TXN_STATE_DIR": str(tmp_path / "state"),
        "TXN_KAFKA_PORT": str(kafka),
        "TXN_CONTROLLER_PORT": str(controller),
        "TXN_REGISTRY_PORT": str(registry),
    }
    try:
        up = _run("up", env=env)
        assert up.returncode == 0, up.stderr
        env_file = (tmp_path / "state" / "platform.env").read_text()
        assert f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kafka}" in env_file
        assert f"SCHEMA_REGISTRY_URL=http://127.0.0.1:{registry}/apis/ccompat/v7" in env_file
        assert f"SPARK_MASTER_URL=spark://127.0.0.1:{master}" in env_file
        assert f"SPARK_MASTER_WEBUI_URL=http://127.0.0.1:{master_ui}" in env_file

        again = _run("up", env=env)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr

        status = _run("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "topic bank_txn_stream: 3 partitions" in status.stdout
        assert "FULL_TRANSITIVE" in status.stdout
        assert f"spark     spark://127.0.0.1:{master}" in status.stdout and "alive" in status.stdout
        assert "ALIVE, 0/2 cores" in status.stdout  # the worker, registered with the master
        assert len(_our_processes(tmp_path / "state")) == 4
    finally:
        down = _run("down", env=env)
    assert down.returncode == 0, down.stderr
    assert _our_processes(tmp_path / "state") == []
    after = _run("status", env=env)
    assert after.returncode == 1
    assert "down" in after.stdout


def test_port_in_use_is_one_sentence(tmp_path):
    import socket

    kafka, controller, registry, management = free_ports(4)
    del management  # reserved so the registry's neighbours stay distinct
    busy = socket.socket()
    busy.bind(("127.0.0.1", kafka))
    busy.listen()
    try:
        env = {
            **os.environ,
            "TXN_STATE_DIR": str(tmp_path),
            "TXN_KAFKA_PORT": str(kafka),
            "TXN_CONTROLLER_PORT": str(controller),
            "TXN_REGISTRY_PORT": str(registry),
        }
        res = _run("up", env=env)
    finally:
        busy.close()
    assert res.returncode != 0
    assert f"Port {kafka} on 127.0.0.1 is already in use" in res.stderr
    assert "Traceback" not in res.stderr
    assert _our_processes(tmp_path) == []


def test_bad_flag_names_itself(tmp_path):
    res = _run("up", "--kafka-port", "70000", env={**os.environ, "TXN_STATE_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert "--kafka-port" in res.stderr
    assert "Traceback" not in res.stderr
