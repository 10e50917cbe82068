"""``docker-compose.yml``'s secrets checked statically (issue 21; no Docker engine here).

Every service gets only its own principal's Docker secrets (and the CA); no credential is in
the compose file or in an environment block; our CLIs get theirs from their secret through
``deploy/compose/with-credentials.sh`` and connect as their own principal, over TLS, to an
``https://`` registry; Airflow's tasks get exactly their principal's file. The secrets are made
by the real generator (``scripts/compose_secrets.py``) into a temporary directory and the
wrapper runs for real on them, so what is checked is what a container's process would see.
``tests/unit/test_compose_secure_kafka.py`` checks the broker, the ACLs and the registry.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from local_platform.security import REGISTRY_ROLES
from tests.unit.test_compose import (
    COMPOSE,
    CREDENTIALS_WRAPPER,
    ROOT,
    SERVICES,
    environment,
    invocations,
    mounts,
    parse_with_click,
)
from txn_runtime.options import settings_model

GEN: dict[str, Any] = runpy.run_path(str(ROOT / "scripts" / "compose_secrets.py"))
COMPOSE_DIR = ROOT / "deploy" / "compose"
IN_CONTAINER = "/opt/txn/compose"  # where services mount deploy/compose
CA = "/run/secrets/ca.pem"
CREDENTIAL_PREFIXES = ("KAFKA_SASL_", "SCHEMA_REGISTRY_BASIC_AUTH_")  # what the wrapper exports
# Service -> every secret it may hold: its principal's, the CA, nothing else.
EXPECTED_SECRETS = {
    "kafka-format": {"kafka-scram.args"},
    "kafka": {"ca.pem", "kafka-keystore.pem", "kafka.jaas"},
    "schema-registry": {
        "ca.pem",
        "schema-registry-keystore.pem",
        "schema-registry.jaas",
        "schema-registry-users.properties",
    },
    "kafka-ui": {"ca.pem", "kafka-ui.jaas"},
    **{
        init: {"ca.pem", "admin.jaas"}
        for init in ("init-topic", "init-alerts-topic", "init-schemas-topic", "init-acls")
    },
    "init": {"ca.pem", "admin.env"},
    "producer": {"ca.pem", "producer.env"},
    "bronze": {"ca.pem", "bronze.env"},
    "gold": {"ca.pem", "gold.env"},
    # Its tasks run gold-signals as gold and txn-report as report (txn_batch_refresh).
    "airflow": {"ca.pem", "gold.env", "report.env"},
    "spark-worker": {"ca.pem"},  # bronze's executors read Kafka with the CA
    "grafana": {"grafana-admin.password"},
    "silver": set(),
    "spark-master": set(),
    "prometheus": set(),
}
# Service -> the principals whose secrets those are (the rest: none; ca.pem is public).
PRINCIPALS = {
    "kafka-format": {"kafka"},
    "kafka": {"kafka"},
    "schema-registry": {"schema-registry"},
    "kafka-ui": {"kafka-ui"},
    **{n: {"admin"} for n in EXPECTED_SECRETS if n.startswith("init")},
    "producer": {"producer"},
    "bronze": {"bronze"},
    "gold": {"gold"},
    "airflow": {"gold", "report"},
    "grafana": {"grafana"},
}


def owner(secret: str) -> str | None:
    """The principal a secret file belongs to (``None``: the CA certificate, public)."""
    if secret == "ca.pem":
        return None
    stem = secret.split(".")[0]
    for kind in ("-keystore", "-scram", "-users", "-admin"):
        stem = stem.removesuffix(kind)
    return stem


def secrets_of(service: str) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in SERVICES[service].get("secrets", [])}


def raw_argv(service: str) -> list[str]:
    spec = SERVICES[service]
    return [str(w) for key in ("entrypoint", "command") for w in spec.get(key) or []]


@functools.cache
def sample_secrets() -> Path:
    """``deploy/secrets/`` as the real generator makes it, in a temporary directory."""
    tmp = Path(tempfile.mkdtemp(prefix="compose-secrets-"))
    atexit.register(shutil.rmtree, tmp, True)
    GEN["generate"](tmp / "secrets", lambda _line: None)
    return tmp / "secrets"


def in_container(value: str) -> str:
    """``value`` with ``/run/secrets/NAME`` standing for the sample file NAME."""
    return re.sub(r"/run/secrets\b", str(sample_secrets()), value)


def read_env(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if "=" in line]
    return {k: v for k, v in pairs if not k.startswith("#")}


def process_environment(service: str) -> dict[str, str]:
    """What the service's command starts with: compose's ``environment`` and, when its
    entrypoint is the credentials wrapper, what the wrapper exports from the service's sample
    secret (the script runs for real); ``/run/secrets`` paths point at the sample files."""
    env = {k: in_container(str(v)) for k, v in environment(SERVICES[service]).items() if v}
    argv = raw_argv(service)
    if argv[:2] == CREDENTIALS_WRAPPER:
        script = str(COMPOSE_DIR / "with-credentials.sh")
        run = ["sh", script, in_container(argv[2]), "env", "-0"]
        out = subprocess.run(run, env={"PATH": os.environ["PATH"]}, capture_output=True)
        assert out.returncode == 0, out.stderr.decode()
        exported = dict(i.split("=", 1) for i in out.stdout.decode().split("\0") if "=" in i)
        env |= {k: v for k, v in exported.items() if k.startswith(CREDENTIAL_PREFIXES)}
    return env


# --- every service gets only its own secrets --------------------------------------------------


def test_every_service_is_in_the_table_of_secrets():
    assert set(SERVICES) == set(EXPECTED_SECRETS), "say which secrets a new service may hold"


@pytest.mark.parametrize("name", sorted(EXPECTED_SECRETS))
def test_each_service_gets_only_its_own_principals_secrets(name):
    held = secrets_of(name)
    assert held == EXPECTED_SECRETS[name], f"{name} holds {sorted(held)}"
    owners = {owner(s) for s in held} - {None}
    assert owners == PRINCIPALS.get(name, set()), f"{name} holds secrets of {sorted(owners)}"


def test_declared_secrets_are_the_generated_files_and_all_used():
    declared = COMPOSE["secrets"]
    assert set(declared) == set(GEN["MOUNTED"])
    for name, spec in declared.items():
        assert spec == {"file": f"./deploy/secrets/{name}"}, name
    used = set().union(*(secrets_of(s) for s in SERVICES))
    assert used == set(declared), f"declared but unused: {sorted(set(declared) - used)}"


def test_the_secrets_stay_out_of_git_and_of_the_build_context():
    for ignore in (".gitignore", ".dockerignore"):
        lines = {line.strip().rstrip("/") for line in (ROOT / ignore).read_text().splitlines()}
        assert "deploy/secrets" in lines, f"{ignore} must exclude deploy/secrets/"


def test_the_generator_makes_private_files_and_keeps_passwords(tmp_path):
    root = tmp_path / "secrets"
    GEN["generate"](root, lambda _line: None)
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.suffix in (".env", ".pem")}
    GEN["generate"](root, lambda _line: None)
    assert root.stat().st_mode & 0o777 == 0o700
    for path in root.iterdir():
        mode = path.stat().st_mode & 0o777
        expected = 0o644 if path.name in GEN["MOUNTED"] or path.name == "host.env" else 0o600
        assert mode == expected, f"{path.name}: {oct(mode)}"
    after = {p.name: p.read_bytes() for p in root.iterdir() if p.name in before}
    assert after == before, "a second run must keep the passwords and the certificates"


# --- no secret in the compose file --------------------------------------------------------------


def _secret_settings() -> set[str]:
    """The variables our settings models mark secret, plus the user names beside them."""
    names = {"KAFKA_SASL_USERNAME"}
    for inv in invocations():
        for cmd, _args in inv.chain():
            model = settings_model(cmd)
            for field in (model.model_fields if model else {}).values():
                extra = field.json_schema_extra
                if isinstance(extra, dict) and extra.get("secret"):
                    names.add(str(field.validation_alias))
    return names


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_credential_in_any_environment_block(name):
    env = environment(SERVICES[name])
    assert not _secret_settings() & set(env), f"{name}: credentials come from its secret"
    for key, value in env.items():
        text = str(value)
        if re.search(r"PASSWORD|JAAS|USER_INFO|SECRET|CREDENTIAL", key):
            assert text.startswith("/run/secrets"), f"{name}: {key} must name a secret file"
        assert not re.search(r"password=|required\s+username|:[^/@\s]+@", text), (name, key)


def test_grafanas_password_comes_from_its_secret_not_a_literal():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD:" not in text and "GRAFANA_ADMIN_PASSWORD" not in text
    env = environment(SERVICES["grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana-admin.password"
    assert "grafana-admin.password" in [str(s) for s in SERVICES["grafana"]["secrets"]]


def test_the_wrapper_exports_credentials_verbatim_and_nothing_else(tmp_path):
    creds = tmp_path / "bob.env"
    creds.write_text(
        'KAFKA_SASL_USERNAME=bob\nKAFKA_SASL_PASSWORD=p w$HOME"`x`=\nPATH=/evil\n'
        "# KAFKA_SASL_PASSWORD=commented\nLD_PRELOAD=/evil.so\nKAFKA_SASL_BAD-NAME=1\n"
        "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=bob:s"
    )
    script = str(COMPOSE_DIR / "with-credentials.sh")
    out = subprocess.run(["sh", script, str(creds), "env", "-0"], capture_output=True)
    env = dict(i.split("=", 1) for i in out.stdout.decode().split("\0") if "=" in i)
    assert env["KAFKA_SASL_PASSWORD"] == 'p w$HOME"`x`='
    assert env["SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"] == "bob:s"
    assert env["PATH"] != "/evil" and "LD_PRELOAD" not in env
    missing = subprocess.run(["sh", script, str(tmp_path / "none"), "true"], capture_output=True)
    assert missing.returncode == 66 and b"cannot read" in missing.stderr
    empty = subprocess.run(["sh", script, os.devnull, "true"], capture_output=True)
    assert empty.returncode == 65


@pytest.mark.parametrize(
    "name", sorted(n for n in SERVICES if any(".env" in s for s in secrets_of(n)))
)
def test_services_of_ours_log_in_through_the_wrapper_with_their_own_file(name):
    if name == "airflow":  # tasks pick their principal's file: test_airflow_tasks_...
        assert environment(SERVICES[name])["TXN_CREDENTIALS_DIR"] == "/run/secrets"
        return
    (env_file,) = [s for s in secrets_of(name) if s.endswith(".env")]
    assert raw_argv(name)[:3] == [*CREDENTIALS_WRAPPER, f"/run/secrets/{env_file}"]
    binds = {(s, t) for k, s, t in mounts(SERVICES[name]) if k == "bind"}
    assert ("./deploy/compose", IN_CONTAINER) in binds, f"{name} lacks the wrapper"
    for entry in SERVICES[name]["volumes"]:
        assert not str(entry).startswith("./") or str(entry).endswith(":ro"), entry


def _logins() -> list:
    return [inv for inv in invocations() if raw_argv(inv.service)[:2] == CREDENTIALS_WRAPPER]


@pytest.mark.parametrize("inv", _logins(), ids=lambda inv: inv.service)
def test_each_cli_connects_as_its_principal_over_tls(inv, monkeypatch):
    principal = raw_argv(inv.service)[2].removeprefix("/run/secrets/").removesuffix(".env")
    ctx = parse_with_click(inv, monkeypatch)
    settings = settings_model(ctx.command).from_click(ctx.params)
    if hasattr(settings, "kafka_config"):
        conf = settings.kafka_config()
        assert conf["security.protocol"] == "SASL_SSL"
        assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
        assert conf["sasl.username"] == principal
        assert conf["ssl.ca.location"] == in_container(CA)
    registry = settings.registry_conf()
    assert registry["url"].startswith("https://")
    assert registry["ssl.ca.location"] == in_container(CA)
    if principal in REGISTRY_ROLES:
        assert registry["basic.auth.user.info"].startswith(f"{principal}:")


def test_airflow_tasks_get_exactly_their_principals_credentials(tmp_path):
    dags = str(ROOT / "orchestration" / "airflow" / "dags")
    if dags not in sys.path:
        sys.path.insert(0, dags)
    from txn_dags import cli

    for secret in secrets_of("airflow"):  # the container's /run/secrets
        shutil.copy(sample_secrets() / secret, tmp_path / secret)
    env = {**process_environment("airflow"), "TXN_CREDENTIALS_DIR": str(tmp_path)}
    assert cli.task_env("gold", env)["KAFKA_SASL_USERNAME"] == "gold"
    assert cli.task_env("report", env)["KAFKA_SASL_USERNAME"] == "report"
    assert "KAFKA_SASL_PASSWORD" not in cli.task_env(None, env)
    with pytest.raises(cli.CliFailed, match="principal producer"):
        cli.task_env("producer", env)


def test_the_docs_say_what_compose_does():
    text = (ROOT / "docs" / "security.md").read_text()
    assert "## Docker Compose" in text
    assert "compose stack's SASL_SSL listener" not in text
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert "scripts/compose_secrets.py" in deploy
