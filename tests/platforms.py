"""Session fixtures for the production-shaped platforms (issue 21): three brokers, and SASL_SSL
with one principal per service. Each starts only when a test asks for it, on free ports in a
temporary state dir, and is always stopped. ``tests/conftest.py`` re-exports them.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["RunningPlatform", "free_port_run", "secure_platform", "three_brokers"]


def free_port_run(length: int) -> int:
    """The first of ``length`` consecutive ports that were free a moment ago (a cluster's node
    N listens on KAFKA_PORT + 2(N-1) and CONTROLLER_PORT + 2(N-1))."""
    for _ in range(200):
        # Below the ephemeral range (32768+), where free_ports() and clients take theirs.
        base = random.randrange(20_000, 32_000 - length)
        socks = []
        try:
            for port in range(base, base + length):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {length} consecutive free ports found")


@dataclass(frozen=True)
class RunningPlatform:
    """A platform a fixture started: its settings and what its env files say."""

    settings: object  # local_platform.settings.PlatformSettings

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    def env(self, principal: str | None = None) -> dict[str, str]:
        """``platform.env`` (and ``credentials/<principal>.env``) as a CLI sees them sourced."""
        from local_platform.services import read_env_file

        out = read_env_file(self.state_dir / "platform.env")
        if principal is not None:
            out |= read_env_file(self.state_dir / "credentials" / f"{principal}.env")
        return out

    def cli_env(self, principal: str | None = None) -> dict[str, str]:
        """``os.environ`` without any Kafka/registry variable of the caller, plus :meth:`env`."""
        keep = {
            k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SCHEMA_REGISTRY_"))
        }
        return keep | self.env(principal)

    def settings_flags(self) -> list[str]:
        """The ``txn-platform`` flags that name this platform (state dir and ports)."""
        s = self.settings
        return [
            *("--state-dir", str(s.state_dir), "--kafka-port", str(s.kafka_port)),
            *("--controller-port", str(s.controller_port)),
            *("--registry-port", str(s.registry_port)),
            *("--registry-management-port", str(s.registry_management_port)),
        ]


def _started(tmp_path_factory, name: str, **extra) -> Iterator[RunningPlatform]:
    from local_platform import platform as lp
    from local_platform.settings import PlatformSettings
    from tests.conftest import free_ports

    base = free_port_run(6)
    registry, management = free_ports(2)
    settings = PlatformSettings(
        state_dir=tmp_path_factory.mktemp(name),
        kafka_port=base,
        controller_port=base + 1,
        registry_port=registry,
        registry_management_port=management,
        **extra,
    )
    try:
        lp.up(settings, log=lambda m: print(f"[{name}] {m}"))
        yield RunningPlatform(settings)
    finally:
        lp.down(settings, log=lambda m: print(f"[{name}] {m}"))


@pytest.fixture(scope="session")
def three_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """``txn-platform up --brokers 3``: three KRaft nodes, topics replicated 3 times with
    min.insync.replicas=2, and the registry."""
    yield from _started(tmp_path_factory, "three-brokers", brokers=3)


@pytest.fixture(scope="session")
def secure_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """``txn-platform up --secure``: SASL_SSL (SCRAM-SHA-512), the platform's CA, the
    authorizer and one principal per service (``credentials/<principal>.env``)."""
    yield from _started(tmp_path_factory, "secure", secure=True)
