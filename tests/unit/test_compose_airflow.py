"""The Airflow service of ``docker-compose.yml`` checked statically (no Docker engine here).

Its tasks run the project's CLIs as a person would (``orchestration/airflow/dags/txn_dags/
cli.py``: ``TXN_BIN/<command>``), so what compose gives Airflow must agree with the jobs: the
image is the jobs' image plus Airflow in a virtualenv of its own from the repository's lock file;
``TXN_BIN`` is where that image installs the console scripts; ``TXN_LAKE`` is the jobs' lake on
the same volume; the DAG folder is the repository's; and every variable it sets is read by the
DAGs or by a CLI they run (the CLIs' own click definitions say which).
"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

import click
import pytest

from tests.unit.test_compose import (
    ROOT,
    SCRIPTS,
    SERVICES,
    TASK_RUNNERS,
    _top_command,
    build_of,
    environment,
    invocation,
    is_ours,
    mounts,
    parse_dockerfile,
    parse_with_click,
    service_argv,
    stage_chain,
)
from txn_runtime.options import settings_model
from txn_runtime.settings import env_of

DAGS = ROOT / "orchestration" / "airflow" / "dags"
LOCK = ROOT / "orchestration" / "airflow" / "requirements.lock"
COMPONENTS = {"api-server", "scheduler", "dag-processor"}
# `airflow standalone` runs these (airflow/cli/commands/standalone_command.py).
STANDALONE = COMPONENTS | {"triggerer"}


def airflow_services() -> list[str]:
    return sorted(
        n
        for n, s in SERVICES.items()
        if (a := service_argv(s)) and PurePosixPath(a[0]).name == "airflow"
    )


def dag_text() -> str:
    return "\n".join(p.read_text() for p in sorted(DAGS.rglob("*.py")))


def clis_the_dags_run() -> set[str]:
    """Console scripts the DAG files name as a string (``run_cli("txn-lake", ...)``)."""
    return {s for s in SCRIPTS if re.search(rf"[\"']{re.escape(s)}[\"']", dag_text())}


def variables_read_by(script: str) -> set[str]:
    """Every variable a console script's commands read: their options' envvars and their
    settings models' fields."""
    import importlib

    names: set[str] = set()
    todo = [_top_command(importlib.import_module(SCRIPTS[script].split(":")[0]))]
    while todo:
        cmd = todo.pop()
        names |= {p.envvar for p in cmd.params if isinstance(p.envvar, str)}
        model = settings_model(cmd)
        if model is not None:
            names |= {env_of(f) for f in model.model_fields.values() if env_of(f)}
        if isinstance(cmd, click.Group):
            todo += cmd.commands.values()
    return names


def airflow_chain() -> list:
    build = build_of("airflow")
    _, stages = parse_dockerfile(build.dockerfile, dict(build.args))
    return stage_chain(stages, build.target)


def test_the_task_runners_are_the_airflow_services():
    assert airflow_services() == sorted(TASK_RUNNERS)


def test_airflow_runs_the_api_server_the_scheduler_and_the_dag_processor():
    running: set[str] = set()
    for name in airflow_services():
        sub = service_argv(SERVICES[name])[1]
        running |= STANDALONE if sub == "standalone" else {sub}
    assert running >= COMPONENTS, f"no service runs {sorted(COMPONENTS - running)}"


def test_airflow_image_is_the_jobs_image_plus_airflow_from_the_lock():
    jobs = build_of("bronze")
    build = build_of("airflow")
    assert (build.dockerfile, build.args) == (jobs.dockerfile, jobs.args)
    _, stages = parse_dockerfile(jobs.dockerfile, dict(jobs.args))
    chain = airflow_chain()
    job_chain = stage_chain(stages, jobs.target)
    assert [s.name for s in chain[: len(job_chain)]] == [s.name for s in job_chain], (
        "the airflow image must be built on the jobs' image: its tasks run their CLIs"
    )
    steps = [(k, v) for s in chain[len(job_chain) :] for k, v in s.instructions]
    copies = {v.split()[0]: v.split()[-1] for k, v in steps if k == "COPY"}
    lock = LOCK.relative_to(ROOT).as_posix()
    assert lock in copies, f"the airflow stage does not copy {lock}"
    runs = " ".join(v for k, v in steps if k == "RUN")
    venv = re.search(r"python -m venv (\S+)", runs)
    assert venv and venv.group(1) != "/usr/local", "Airflow gets a virtualenv of its own"
    assert f"{venv.group(1)}/bin/pip install --no-deps -r {copies[lock]}" in runs
    exe = PurePosixPath(service_argv(SERVICES["airflow"])[0])
    assert exe == PurePosixPath(venv.group(1)) / "bin" / "airflow", exe
    pins = dict(line.split("==") for line in LOCK.read_text().splitlines() if "==" in line)
    assert pins.get("apache-airflow", "").startswith("3."), "the lock pins Airflow 3"


def test_airflow_reads_the_dags_of_the_repository():
    service = SERVICES["airflow"]
    folder = environment(service)["AIRFLOW__CORE__DAGS_FOLDER"]
    binds = {t: ROOT / s for k, s, t in mounts(service) if k == "bind"}
    assert binds.get(folder) == DAGS, f"{folder} is not orchestration/airflow/dags"
    assert list(DAGS.glob("*.py")), f"{DAGS} holds no DAG file"


def test_airflow_tasks_find_the_jobs_lake_and_clis(monkeypatch):
    service = SERVICES["airflow"]
    env = environment(service)
    lake = str(parse_with_click(invocation("bronze"), monkeypatch).params["lake"])
    assert env["TXN_LAKE"] == lake, "the DAGs' default lake is not the jobs' lake"
    volume = {(s, t) for k, s, t in mounts(SERVICES["bronze"]) if k == "volume" and t == lake}
    assert volume and volume <= {(s, t) for k, s, t in mounts(service) if k == "volume"}
    # The official python images install to /usr/local: `pip install .` puts the console
    # scripts in /usr/local/bin, unless told otherwise.
    assert airflow_chain()[0].base.startswith("python:"), "teach this test the image's prefix"
    runs = [v for s in airflow_chain() for k, v in s.instructions if k == "RUN"]
    installs = [r for r in runs if re.search(r"pip install\b[^&]*\s\.(\s|$)", r)]
    assert installs and not [r for r in installs if re.search(r"--(user|prefix|target)\b", r)]
    assert env["TXN_BIN"] == "/usr/local/bin"
    assert clis_the_dags_run(), "the DAGs name none of our CLIs"


@pytest.mark.parametrize("name", sorted(TASK_RUNNERS))
def test_task_runners_set_only_what_the_dags_or_their_clis_read(name):
    ours = {k for k in environment(SERVICES[name]) if is_ours(k)}
    text = dag_text()
    read = {v for v in ours if re.search(rf"\b{v}\b", text)}
    read |= set().union(*(variables_read_by(s) for s in clis_the_dags_run()))
    assert ours <= read, (
        f"{name} sets {sorted(ours - read)}, which neither the DAGs nor the CLIs they run "
        f"({', '.join(sorted(clis_the_dags_run()))}) read"
    )


def test_airflow_publishes_and_checks_the_api_servers_port():
    service = SERVICES["airflow"]
    port = str(environment(service).get("AIRFLOW__API__PORT", 8080))
    published = [str(p).rsplit(":", 1)[1] for p in service.get("ports") or []]
    assert published == [port], f"publish the api-server's port {port}"
    test = shlex.join(map(str, service["healthcheck"]["test"]))
    assert f"localhost:{port}/api/v2/monitor/health" in test
