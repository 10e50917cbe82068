"""Start, probe and stop the schema registry (Apicurio Registry); Kafka is :mod:`.kafka`'s."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from txn_runtime.connections import RegistrySettings
from txn_runtime.errors import PlatformError

from .artifacts import ensure_registry
from .java import find_java
from .security import Credentials
from .service import Log, Service
from .settings import PlatformSettings
from .tls import ensure_tls, write_private

__all__ = ["RegistryService", "read_env_file", "registry_settings"]


def registry_settings(settings: PlatformSettings) -> RegistrySettings:
    """How the platform's own clients reach the registry: its URL, and with ``--secure``
    ``admin``'s credentials and the platform's CA (the services' own pass-through)."""
    flags: dict[str, Any] = {"schema_registry_url": settings.registry_url}
    if settings.secure:
        creds = Credentials(settings.state_dir / "credentials")
        flags["schema_registry_basic_auth_user_info"] = creds.registry_user_info("admin")
        flags["schema_registry_ssl_ca_location"] = settings.state_dir / "tls" / "ca.pem"
    return RegistrySettings.load(flags, env={})


class RegistryService(Service):
    """Apicurio Registry serving the Confluent API at ``/apis/ccompat/v7``, stored in H2 files
    under ``<state>/registry`` so subjects and ids survive ``down``/``up``; with ``--secure``
    over HTTPS only, to authenticated users, role-based."""

    name = "registry"
    ports = ("registry_port", "registry_management_port")

    def __init__(self, settings: PlatformSettings) -> None:
        super().__init__(settings)
        self._probe = None  # the client serving() polls with

    def _launch(self, log: Log) -> float:
        java = find_java(21, purpose="Apicurio Registry")
        home = ensure_registry(log)
        db = self.s.state_dir / "registry" / "db"
        db.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            java.path,
            f"-Xmx{self.s.registry_heap_mb}m",
            "-XX:+UseSerialGC",
            self.proc.marker,
            "-jar",
            str(home / "quarkus-run.jar"),
        ]
        env = {
            "QUARKUS_HTTP_PORT": str(self.s.registry_port),
            "QUARKUS_HTTP_HOST": self.s.host,
            "QUARKUS_MANAGEMENT_PORT": str(self.s.registry_management_port),
            "QUARKUS_MANAGEMENT_HOST": self.s.host,
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "h2",
            "APICURIO_DATASOURCE_URL": f"jdbc:h2:file:{db};DB_CLOSE_ON_EXIT=FALSE",
            "APICURIO_DATASOURCE_USERNAME": "sa",
            "APICURIO_DATASOURCE_PASSWORD": "sa",
            # Quiet the per-request access log; errors still go to the log file.
            "QUARKUS_HTTP_ACCESS_LOG_ENABLED": "false",
        }
        if self.s.secure:
            env["QUARKUS_CONFIG_LOCATIONS"] = str(self._secure_config(log))
        self.proc.start(argv, env)
        return self._wait_ready("The schema registry", self.serving, 120, "did not serve requests")

    def _secure_config(self, log: Log) -> Path:
        """``STATE/registry/application.properties`` (0600) for ``--secure``: HTTPS only with
        the platform's certificate, HTTP basic authentication of the users of
        :data:`~.security.REGISTRY_ROLES` (digests, not passwords) and Apicurio's role-based
        authorization (only ``sr-admin`` registers or changes the configuration)."""
        tls = ensure_tls(self.s.state_dir / "tls", self.s.host, log)
        creds = Credentials(self.s.state_dir / "credentials")
        creds.ensure(may_create=False)  # gives registry users made before it their password
        users = creds.registry_users()
        lines = [
            "# Written by txn-platform up --secure; regenerated on every start.",
            f"quarkus.http.ssl-port={self.s.registry_port}",
            f"quarkus.tls.key-store.pem.0.cert={tls.server_cert}",
            f"quarkus.tls.key-store.pem.0.key={tls.keystore}",
            "quarkus.http.insecure-requests=disabled",
            # Apicurio's own authentication mechanism reads this at run time (Quarkus warns
            # that it is a build-time property; the tests pin that it takes effect).
            "quarkus.http.auth.basic=true",
            "apicurio.authn.enabled=true",
            "apicurio.auth.role-based-authorization=true",
            *users,
            "",
        ]
        path = self.s.state_dir / "registry" / "application.properties"
        write_private(path, "\n".join(lines))
        return path

    def client(self, *, timeout_s: float = 10.0, retries: int = 2):
        """confluent-kafka's ``SchemaRegistryClient`` for this registry (as ``admin`` over
        https with ``--secure``)."""
        return registry_settings(self.s).registry_client(timeout_s=timeout_s, retries=retries)

    def serving(self) -> bool:
        """True when the registry answers a subjects listing (probed while it starts, so a
        short timeout and no retries: the caller polls)."""
        if self._probe is None:
            self._probe = self.client(timeout_s=2, retries=0)
        try:
            self._probe.get_subjects()
            return True
        except Exception:  # noqa: BLE001 - refused, 503 while Quarkus starts...: not serving yet
            return False

    def set_global_compatibility(self, level: str) -> None:
        self._ask(
            f"setting the global compatibility to {level}",
            lambda c: c.set_compatibility(level=level),
        )

    def contents(self) -> tuple[dict[str, list[int]], str | None]:
        """Every subject with its version numbers, and the global compatibility level."""

        def read(c) -> tuple[dict[str, list[int]], str | None]:
            subjects = {subject: c.get_versions(subject) for subject in c.get_subjects()}
            level = c.get_config().compatibility_level
            return subjects, None if level is None else level.value

        return self._ask("listing subjects", read)

    def _ask(self, what: str, fn: Callable[[Any], Any]) -> Any:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        from txn_contract.registry import transport_errors

        try:
            return fn(self.client())
        except (SchemaRegistryError, *transport_errors()) as exc:
            raise PlatformError(
                f"The schema registry at {self.s.registry_url} failed while {what}: {exc}"
            ) from exc


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file such as ``platform.env``."""
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out
