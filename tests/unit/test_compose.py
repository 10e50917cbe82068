"""``docker-compose.yml`` and ``deploy/`` checked statically: no Docker engine runs here.

What ``docker compose up`` would only reveal at run time is checked instead: every service is
there; ``depends_on`` conditions agree with healthchecks and one-shots; images are pinned; the
Dockerfiles exist and install the package; named volumes are declared and the lake is one volume
shared by the Spark driver and executors; Spark's image and connector versions equal pyspark's;
and every environment variable and ``--flag`` given to one of our CLIs exists. Those names come
from the CLIs themselves (``[project.scripts]`` -> module -> click command -> options and their
``envvar``), never from a list kept here, and are parsed by click with the values compose would
pass (``${VAR:-default}`` resolved to its default).
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from click.core import ParameterSource

from txn_runtime.options import settings_model
from txn_runtime.settings import env_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Console script -> "module:function", as installed by `pip install .` in our images.
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]
# Package -> its directory in the repository (what `/app/<dir>/__main__.py` in an image names).
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]

REQUIRED_SERVICES = {
    "kafka",
    "schema-registry",
    "kafka-ui",
    "init",
    "producer",
    "spark-master",
    "spark-worker",
    "bronze",
    "silver",
    "gold",
}
# Our Spark jobs: each must run on the cluster under spark-submit, on the lake volume.
SPARK_JOBS = ("bronze-ingest", "silver-refine", "gold-signals")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SHARED_ENV = {"KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL"}
# Services that run our CLIs as tasks, not as their command (Airflow's DAGs): the variables
# they set are held to the CLIs their tasks run by tests/unit/test_compose_airflow.py.
TASK_RUNNERS = {"airflow"}
# spark-submit is not ours: its options, as Spark's launcher parses them
# (org.apache.spark.launcher.SparkSubmitOptionParser: `opts` take a value, `switches` do not).
SPARK_SUBMIT_OPTIONS = {
    *("--archives", "--class", "--conf", "-c", "--deploy-mode", "--driver-class-path"),
    *("--driver-cores", "--driver-java-options", "--driver-library-path", "--driver-memory"),
    *("--executor-cores", "--executor-memory", "--files", "--jars", "--keytab", "--kill"),
    *("--master", "--name", "--num-executors", "--packages", "--exclude-packages"),
    *("--principal", "--properties-file", "--proxy-user", "--py-files", "--queue"),
    *("--repositories", "--status", "--total-executor-cores"),
}
SPARK_SUBMIT_SWITCHES = {
    "--help",
    "-h",
    "--supervise",
    "--usage-error",
    "--verbose",
    "-v",
    "--version",
}
SPARK_CONNECTORS = {"spark-sql-kafka-0-10", "spark-avro"}


def is_ours(name: str) -> bool:
    """An environment variable that only our CLIs read."""
    return name.startswith("TXN_") or name in SHARED_ENV


# --- compose file -------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: ``$$``, ``$V``, ``${V}``, ``${V:-d}``, ``${V-d}``,
    ``${V:+r}``, ``${V+r}``; ``${V:?msg}`` / ``${V?msg}`` fail when ``V`` is missing."""

    def sub(m: re.Match[str]) -> str:
        if m.group("dollar"):
            return "$"
        if m.group("plain"):
            return env.get(m.group("plain"), "")
        expr = _BRACED.fullmatch(m.group("braced"))
        assert expr, f"invalid substitution ${{{m.group('braced')}}}"
        name, op, arg = expr.group("name", "op", "arg")
        value = env.get(name)
        is_set = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return value if is_set else arg
        if op in (":+", "+"):
            return arg if is_set else ""
        if op in (":?", "?"):
            assert is_set, f"${{{name}}} is required: {arg}"
        return value or ""

    return _VAR.sub(sub, text)


def _interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolated(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _interpolated(v, env) for k, v in node.items()}
    return node


def load_compose() -> dict[str, Any]:
    """The file as compose reads it with no variables set: every default applies."""
    return _interpolated(yaml.safe_load(COMPOSE_FILE.read_text()), {})


RAW = yaml.safe_load(COMPOSE_FILE.read_text())
COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}
SERVICE_NAMES = sorted(SERVICES)


# deploy/compose/with-credentials.sh FILE as an entrypoint exports a principal's credentials
# and execs the rest (tests/unit/test_compose_secure.py checks it and emulates its exports).
CREDENTIALS_WRAPPER = ["sh", "/opt/txn/compose/with-credentials.sh"]


def service_argv(service: Mapping[str, Any]) -> list[str]:
    """``entrypoint`` + ``command`` as the container runs them (our images set no ENTRYPOINT),
    after the credentials wrapper."""
    argv: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            argv += shlex.split(value)
        elif value:
            argv += [str(v) for v in value]
    return argv[3:] if argv[:2] == CREDENTIALS_WRAPPER else argv


def environment(service: Mapping[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def depends_on(service: Mapping[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on") or {}
    return {d: None for d in deps} if isinstance(deps, list) else dict(deps)


def waits_for(condition: str) -> set[str]:
    """Services some other service waits on with ``condition``."""
    return {
        target
        for svc in SERVICES.values()
        for target, spec in depends_on(svc).items()
        if isinstance(spec, dict) and spec.get("condition") == condition
    }


def transitive_dependencies(name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(depends_on(SERVICES[name]))
    while todo:
        dep = todo.pop()
        if dep not in seen and dep in SERVICES:
            seen.add(dep)
            todo += depends_on(SERVICES[dep])
    return seen


def mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(type, source, target) of every volume entry, short or long syntax."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            parts = entry.split(":")
            if len(parts) == 1:
                yield "volume", "", parts[0]  # anonymous volume
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
            yield kind, source, target
        else:
            yield entry.get("type", "volume"), entry.get("source", ""), entry["target"]


def image_tag(ref: str) -> str | None:
    """The tag of ``repo[:tag][@digest]``, or None."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def is_pinned(ref: str) -> bool:
    if "$" in ref:
        return False
    if "@sha256:" in ref:
        return True
    tag = image_tag(ref)
    return bool(tag) and tag != "latest"


# --- our CLIs -------------------------------------------------------------------------------


def _top_command(module: ModuleType) -> click.Command:
    """The module's click command that no group of the module contains."""
    commands = [v for v in vars(module).values() if isinstance(v, click.Command)]
    nested = {
        id(sub) for cmd in commands if isinstance(cmd, click.Group) for sub in cmd.commands.values()
    }
    top = [c for c in commands if id(c) not in nested]
    assert len(top) == 1, f"{module.__name__}: expected one top-level click command, got {top}"
    return top[0]


@dataclass
class Invocation:
    """One of our console scripts as a service runs it."""

    service: str
    script: str
    args: list[str]
    # Set when the CLI runs as spark-submit's application.
    spark_submit_args: list[str] = field(default_factory=list)
    app: PurePosixPath | None = None

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(SCRIPTS[self.script].split(":")[0])

    @property
    def package(self) -> str:
        return SCRIPTS[self.script].split(":")[0].split(".")[0]

    def chain(self) -> list[tuple[click.Command, list[str]]]:
        """(command, its own args) from the top command down to the subcommand that runs."""
        cmd, args, out = _top_command(self.module), list(self.args), []
        while isinstance(cmd, click.Group):
            positional = [i for i, a in enumerate(args) if not a.startswith("-")]
            assert positional, f"{self.service}: `{self.script}` needs a subcommand"
            i = positional[0]
            out.append((cmd, args[:i]))
            assert args[i] in cmd.commands, (
                f"{self.service}: `{self.script} {args[i]}` is not a command; "
                f"it has {sorted(cmd.commands)}"
            )
            cmd, args = cmd.commands[args[i]], args[i + 1 :]
        out.append((cmd, args))
        return out

    def known_env(self) -> set[str]:
        """Variables the command reads: its options' ``envvar``s, plus the variables its
        settings model reads without a flag (Kafka's SASL/TLS settings, for example)."""
        names: set[str] = set()
        for cmd, _ in self.chain():
            for param in cmd.params:
                if isinstance(param.envvar, str):
                    names.add(param.envvar)
                elif param.envvar:
                    names.update(param.envvar)
            model = settings_model(cmd)
            if model is not None:
                names.update(env_of(f) for f in model.model_fields.values() if env_of(f))
        return names


def invocation(name: str) -> Invocation | None:
    """How service ``name`` runs one of our CLIs, or None when it runs none."""
    argv = service_argv(SERVICES[name])
    if not argv:
        return None
    exe = PurePosixPath(argv[0]).name
    if exe in SCRIPTS:
        return Invocation(name, exe, argv[1:])
    if exe != "spark-submit":
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        option, eq, _ = argv[i].partition("=")
        if option in SPARK_SUBMIT_SWITCHES:
            i += 1
        else:
            assert option in SPARK_SUBMIT_OPTIONS, f"{name}: spark-submit has no option {option}"
            i += 1 if eq else 2
    assert i < len(argv), f"{name}: spark-submit without an application"
    app = PurePosixPath(argv[i])
    # .../<dir>/__main__.py -> the package installed from that dir -> its console script.
    scripts = [
        s
        for s, t in SCRIPTS.items()
        if PurePosixPath(PACKAGE_DIRS.get(t.split(".")[0], "")).name == app.parent.name
    ]
    assert app.name == "__main__.py" and len(scripts) == 1, (
        f"{name}: spark-submit runs {app}, which is not the __main__.py of one of our CLIs"
    )
    return Invocation(name, scripts[0], argv[i + 1 :], argv[1:i], app)


def invocations() -> list[Invocation]:
    return [inv for name in SERVICE_NAMES if (inv := invocation(name)) is not None]


def _collectable_invocations() -> list[Invocation]:
    """For parametrize: a broken command fails its own test, not the whole collection."""
    found = []
    for name in SERVICE_NAMES:
        try:
            inv = invocation(name)
        except AssertionError:
            continue
        if inv is not None:
            found.append(inv)
    return found


def cli_invocation(script: str) -> Invocation:
    found = [inv for inv in invocations() if inv.script == script]
    assert found, f"no service runs {script}"
    return found[0]


def parse_with_click(inv: Invocation, monkeypatch: pytest.MonkeyPatch) -> click.Context:
    """Parse the service's args and environment exactly as the CLI would at start-up."""
    from tests.unit.test_compose_secure import process_environment

    for name in list(os.environ):
        if is_ours(name):
            monkeypatch.delenv(name)
    # Compose's environment plus the credentials its entrypoint exports, secrets as files.
    for name, value in process_environment(inv.service).items():
        monkeypatch.setenv(name, value)
    *groups, (leaf, leaf_args) = inv.chain()
    for group, args in groups:
        names = {o for p in group.params for o in (*p.opts, *p.secondary_opts)}
        unknown = [a.split("=")[0] for a in args if a.startswith("-")]
        assert set(unknown) <= names, f"{inv.service}: {inv.script} has no option {unknown}"
    try:
        return leaf.make_context(inv.script, list(leaf_args))
    except click.ClickException as exc:
        pytest.fail(
            f"{inv.service}: `{inv.script} {shlex.join(leaf_args)}`: {exc.format_message()}"
        )


# --- Dockerfiles ----------------------------------------------------------------------------


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _substitute(text: str, args: Mapping[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text
    )


def parse_dockerfile(path: Path, build_args: Mapping[str, str]) -> tuple[dict[str, str], list]:
    """Global ARG defaults (overridden by ``build_args``) and the stages, FROM resolved."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instr in logical:
        keyword, _, rest = instr.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(name, _substitute(words[0], global_args)))
        elif keyword == "ARG" and not stages:
            arg, _, default = rest.partition("=")
            global_args[arg.strip()] = build_args.get(arg.strip(), default.strip())
        else:
            assert stages, f"{path}: {keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


def stage_chain(stages: list[Stage], target: str | None) -> list[Stage]:
    """The stages ``target`` is built from, base first (the last stage without a target)."""
    by_name = {s.name: s for s in stages if s.name}
    stage = by_name[target] if target else stages[-1]
    chain = [stage]
    while stage.base in by_name:
        stage = by_name[stage.base]
        chain.insert(0, stage)
    return chain


@dataclass(frozen=True)
class Build:
    services: tuple[str, ...]
    dockerfile: Path
    target: str | None
    args: tuple[tuple[str, str], ...]


def builds() -> list[Build]:
    """Distinct builds of the compose file, with the services using each."""
    found: dict[tuple, list[str]] = {}
    for name in SERVICE_NAMES:
        build = SERVICES[name].get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = ROOT / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(a.split("=", 1) for a in args)
        key = (dockerfile, build.get("target"), tuple(sorted((k, str(v)) for k, v in args.items())))
        found.setdefault(key, []).append(name)
    return [Build(tuple(s), *key) for key, s in found.items()]


def build_of(service: str) -> Build:
    return next(b for b in builds() if service in b.services)


# --- the tests ------------------------------------------------------------------------------


def test_every_required_service_is_present():
    missing = REQUIRED_SERVICES - set(SERVICES)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


def test_it_is_a_compose_spec_file_without_the_obsolete_version_key():
    assert "version" not in RAW, "the Compose spec has no `version:`; compose warns about it"
    unknown = {k for k in RAW if not k.startswith("x-")} - {
        "name",
        "services",
        "volumes",
        "networks",
        "configs",
        "secrets",
        "include",
    }
    assert not unknown, f"unknown top-level keys {unknown}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_depends_on_targets_exist_and_name_a_condition(name):
    for target, spec in depends_on(SERVICES[name]).items():
        assert target in SERVICES, f"{name} depends on {target}, which is no service"
        assert isinstance(spec, dict) and spec.get("condition") in CONDITIONS, (
            f"{name} -> {target}: use the long form with a condition ({sorted(CONDITIONS)}), "
            "or compose only waits for the container to be created"
        )


def test_no_dependency_cycle():
    for name in SERVICE_NAMES:
        assert name not in transitive_dependencies(name), f"{name} depends on itself"


@pytest.mark.parametrize("name", sorted(waits_for("service_healthy")))
def test_services_waited_on_as_healthy_have_a_healthcheck(name):
    check = SERVICES[name].get("healthcheck") or {}
    test = check.get("test")
    assert test and not check.get("disable"), (
        f"others wait for {name} to be healthy, but it has no healthcheck: they would never start"
    )
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: bad test {test}"


@pytest.mark.parametrize("name", sorted(waits_for("service_completed_successfully")))
def test_services_waited_on_to_complete_are_one_shots(name):
    service = SERVICES[name]
    # Quoted: to YAML 1.1 readers (PyYAML, older tools) a bare `no` is the boolean false.
    assert service.get("restart") == "no", (
        f'others wait for {name} to complete, so it must be a one-shot with restart: "no"'
    )
    assert service_argv(service), f"{name}: a one-shot states its command"


def test_the_pipeline_starts_after_the_topic_and_the_contract_exist():
    """Producers refuse to start without the registered contract and the topic; bronze reads
    the topic: both wait (transitively) for the one-shots that create them."""
    register = [inv.service for inv in invocations() if inv.args[:1] == ["register"]]
    create = [
        n
        for n in SERVICE_NAMES
        if (argv := service_argv(SERVICES[n]))
        and PurePosixPath(argv[0]).name == "kafka-topics.sh"
        and "--create" in argv
    ]
    assert register and create, "no service registers the contract or creates the topic"
    for inv in invocations():
        if inv.script in ("txn-producer", "bronze-ingest", "gold-signals"):
            before = transitive_dependencies(inv.service)
            assert set(register) <= before and set(create) <= before, (
                f"{inv.service} may start before {register + create} completed"
            )


def test_the_topics_are_the_contracts_topics_with_three_partitions():
    """One one-shot per topic: the stream's and the alerts' (gold-signals publishes to it)."""
    from txn_contract import TOPIC
    from txn_contract.alerts import TOPIC as ALERTS_TOPIC

    creators = [
        argv
        for n in SERVICE_NAMES
        if (argv := service_argv(SERVICES[n]))
        and PurePosixPath(argv[0]).name == "kafka-topics.sh"
        and "--create" in argv
        # The registry's own storage (test_compose_secure.py), not a topic of the pipeline.
        and argv[argv.index("--topic") + 1] != "_schemas"
    ]
    assert sorted(argv[argv.index("--topic") + 1] for argv in creators) == sorted(
        [TOPIC, ALERTS_TOPIC]
    )
    for argv in creators:

        def flag(name: str, argv: list[str] = argv) -> str:
            return argv[argv.index(name) + 1]

        assert flag("--partitions") == "3" and flag("--replication-factor") == "1"
        assert "--if-not-exists" in argv, "re-running the one-shot must not fail"
    for inv in invocations():
        env = environment(SERVICES[inv.service])
        topic = env.get("TXN_TOPIC")
        assert topic in (None, TOPIC), f"{inv.service} uses topic {topic}, init creates {TOPIC}"
        alerts = env.get("TXN_ALERTS_TOPIC")
        assert alerts in (None, ALERTS_TOPIC), f"{inv.service} publishes to {alerts}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_image_is_pinned_or_built(name):
    service = SERVICES[name]
    image = service.get("image")
    if image is None:
        assert "build" in service, f"{name} has neither image nor build"
        return
    assert is_pinned(image), f"{name}: image {image!r} must carry a tag other than latest"


@pytest.mark.parametrize("build", builds(), ids=lambda b: "+".join(b.services))
def test_dockerfiles_exist_pin_their_bases_and_install_the_package(build: Build):
    assert build.dockerfile.is_file(), f"{build.services}: {build.dockerfile} does not exist"
    _, stages = parse_dockerfile(build.dockerfile, dict(build.args))
    names = {s.name for s in stages}
    assert build.target is None or build.target in names, f"no stage {build.target}"
    chain = stage_chain(stages, build.target)
    for stage in stages:
        if stage.base not in names:
            assert is_pinned(stage.base), f"{build.dockerfile}: FROM {stage.base} is not pinned"
    steps = [(k, v) for s in chain for k, v in s.instructions]
    runs = " ".join(v for k, v in steps if k == "RUN")
    copies = [v.split() for k, v in steps if k == "COPY" and "--from" not in v]
    copied = {PurePosixPath(src).as_posix().rstrip("/") for words in copies for src in words[:-1]}
    installs = [
        m.group(1).split() for m in re.finditer(r"pip install\b([^&;|]*?)\s\.(?=\s|$)", runs)
    ]
    assert any("-e" not in flags and "--editable" not in flags for flags in installs), (
        "the image must `pip install .` (not editable: the console scripts must not need /app)"
    )
    assert {"contracts", "pyproject.toml", "libs", "services"} <= copied, (
        f"{build.target}: the image must copy contracts/, libs/, services/ and pyproject.toml; "
        f"it copies {sorted(copied)}"
    )
    assert not [k for k, _ in steps if k == "ENTRYPOINT"], (
        "no ENTRYPOINT: the compose `command:` is then the whole argv, as these tests read it"
    )
    # The Python the package is built for.
    python = next(s.base for s in chain if s.base not in names)
    minor = re.search(r"python:(3\.\d+)", python)
    assert minor and f">={minor.group(1)}" in PYPROJECT["project"]["requires-python"], (
        f"{python} does not satisfy requires-python {PYPROJECT['project']['requires-python']}"
    )


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for path in (".git", ".venv", ".local", "lake"):
        assert path in ignored, f".dockerignore does not exclude {path}"


def test_dockerignore_does_not_hide_what_the_dockerfiles_copy():
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "negations: extend this check"
    patterns += [p[3:] for p in patterns if p.startswith("**/")]
    for build in builds():
        _, stages = parse_dockerfile(build.dockerfile, dict(build.args))
        for stage in stages:
            for keyword, value in stage.instructions:
                if keyword not in ("COPY", "ADD") or "--from" in value:
                    continue
                for source in [w for w in value.split() if not w.startswith("--")][:-1]:
                    parts = PurePosixPath(source).parts
                    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
                    hidden = [p for p in patterns for x in prefixes if fnmatch(x, p)]
                    assert not hidden, f"{source} is excluded by .dockerignore {hidden}"


def test_named_volumes_are_declared_and_used():
    declared = set(COMPOSE.get("volumes") or {})
    used = set()
    for name in SERVICE_NAMES:
        for kind, source, target in mounts(SERVICES[name]):
            if kind == "volume" and source:
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
            assert target.startswith("/"), f"{name}: mount target {target} is not absolute"
    assert declared <= used, f"declared but unused volumes: {sorted(declared - used)}"


@pytest.mark.parametrize("script", SPARK_JOBS)
def test_lake_is_one_named_volume_at_the_same_path_for_driver_and_workers(script, monkeypatch):
    """Executors write the Parquet files and the driver the checkpoint and the Delta log:
    both must see one filesystem at one path, or batches commit files nobody can read."""
    bronze = cli_invocation(script)
    assert bronze.app is not None, f"{script} must run under spark-submit on the cluster"
    params = parse_with_click(bronze, monkeypatch).params
    paths = [PurePosixPath(str(params["lake"]))]
    if params.get("checkpoint"):
        paths.append(PurePosixPath(str(params["checkpoint"])))
    workers = [
        n
        for n in SERVICE_NAMES
        if (argv := service_argv(SERVICES[n])) and "org.apache.spark.deploy.worker.Worker" in argv
    ]
    assert workers, "no Spark worker service"
    for path in paths:
        assert path.is_absolute(), f"{script} writes to a relative path {path}"
        mount = [
            (source, target)
            for kind, source, target in mounts(SERVICES[bronze.service])
            if kind == "volume" and source and path.is_relative_to(target)
        ]
        assert mount, f"{path} is on no named volume in {bronze.service}"
        for worker in workers:
            assert mount[0] in {(s, t) for k, s, t in mounts(SERVICES[worker]) if k == "volume"}, (
                f"{worker} must mount volume {mount[0][0]} at {mount[0][1]} like {bronze.service}"
            )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_environment_values_are_strings(name):
    for key, value in environment(SERVICES[name]).items():
        assert value is None or isinstance(value, str | int | float), f"{name}: {key}"
        assert not isinstance(value, bool), f'{name}: {key}: quote it ("true"/"false")'


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_environment_names_are_known_to_the_cli_they_are_passed_to(name):
    ours = {k for k in environment(SERVICES[name]) if is_ours(k)}
    inv = invocation(name)
    if inv is None:
        assert not ours or name in TASK_RUNNERS, (
            f"{name} sets {sorted(ours)} but runs none of our CLIs: nothing reads them"
        )
        return
    unknown = ours - inv.known_env()
    assert not unknown, (
        f"{name} passes {sorted(unknown)} to `{inv.script}`, which reads only "
        f"{sorted(n for n in inv.known_env() if is_ours(n))}"
    )


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_spark_submit_runs_one_of_our_clis_or_none(name):
    argv = service_argv(SERVICES[name])
    inv = invocation(name)  # asserts that spark-submit's options and application are valid
    if argv and PurePosixPath(argv[0]).name == "spark-submit":
        assert inv is not None and inv.app is not None, f"{name}: spark-submit runs none of ours"
    else:
        assert inv is None or inv.app is None


@pytest.mark.parametrize("inv", _collectable_invocations(), ids=lambda inv: inv.service)
def test_every_flag_and_value_parses_and_validates_as_at_start_up(inv: Invocation, monkeypatch):
    """Click parses the service's argv with the CLI's own options, and the CLI's settings model
    validates those flags with the service's environment, as the command does before it
    connects anywhere; each of our variables the service sets is what sets its setting."""
    ctx = parse_with_click(inv, monkeypatch)
    given = {k for k in ctx.params if ctx.get_parameter_source(k) is ParameterSource.COMMANDLINE}
    flags = {a.split("=")[0] for a in inv.chain()[-1][1] if a.startswith("--")}
    assert len(given) == len(flags), f"{inv.service}: {sorted(flags)} set {sorted(given)}"
    model = settings_model(ctx.command)
    assert model is not None, f"`{inv.script}` resolves its options with no settings model"
    settings = model.from_click(ctx.params)
    origins = model.origins({k: ctx.params[k] for k in given}, os.environ)
    ours = {k for k, v in environment(SERVICES[inv.service]).items() if is_ours(k) and v}
    for name, info in model.model_fields.items():
        if env_of(info) in ours and name not in given:
            assert origins[name] == env_of(info), f"{inv.service}: {env_of(info)} is not read"
            assert getattr(settings, name) is not None


def test_bronze_settings_pass_the_jobs_own_validation(monkeypatch):
    from bronze_ingest.config import BronzeSettings

    cfg = BronzeSettings.from_click(
        parse_with_click(cli_invocation("bronze-ingest"), monkeypatch).params
    )
    assert cfg.subject == f"{cfg.topic}-value"
    assert cfg.lake.is_absolute() and cfg.checkpoint_path.is_absolute()


@pytest.mark.parametrize("script", SPARK_JOBS)
def test_spark_submit_runs_a_file_the_image_contains(script):
    inv = cli_invocation(script)
    assert inv.app is not None
    build = build_of(inv.service)
    _, stages = parse_dockerfile(build.dockerfile, dict(build.args))
    workdirs = [
        v.strip()
        for s in stage_chain(stages, build.target)
        for k, v in s.instructions
        if k == "WORKDIR"
    ]
    assert workdirs, "the image sets no WORKDIR"
    relative = inv.app.relative_to(workdirs[-1])
    assert (ROOT / relative).is_file(), f"{inv.app}: {relative} is not in the repository"


def _spark_refs() -> list[tuple[str, str]]:
    """(where, image) of every apache/spark image the deployment uses."""
    refs = [(f"service {n}", s["image"]) for n, s in SERVICES.items() if "image" in s]
    for build in builds():
        global_args, stages = parse_dockerfile(build.dockerfile, dict(build.args))
        refs += [(f"{build.dockerfile.name} ARG {k}", v) for k, v in global_args.items()]
        # A base that names an earlier stage (FROM spark AS airflow) is no image.
        names = {s.name for s in stages}
        refs += [(f"{build.dockerfile.name} FROM", s.base) for s in stages if s.base not in names]
        # The Dockerfile's own default too, so a build without compose gets the same Spark.
        defaults, _ = parse_dockerfile(build.dockerfile, {})
        refs += [(f"{build.dockerfile.name} default ARG {k}", v) for k, v in defaults.items()]
    return [(w, r) for w, r in refs if r.split(":")[0] in ("apache/spark", "spark")]


def test_spark_image_and_connectors_are_the_pyspark_version():
    import pyspark

    version = pyspark.__version__
    refs = _spark_refs()
    assert refs, "no apache/spark image in the deployment"
    for where, ref in refs:
        tag = image_tag(ref) or ""
        assert tag == version or tag.startswith(f"{version}-"), (
            f"{where}: {ref} is not Spark {version} (the pinned pyspark)"
        )
        scala = re.search(r"scala(\d+\.\d+)", tag)
        assert scala is None or scala.group(1) == "2.13", f"{where}: {ref}"


def _pom_versions(pom: Path) -> dict[str, str]:
    """``{groupId:artifactId: version}`` of a pom's dependencies, properties resolved."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(pom).getroot()
    props = {p.tag.split("}")[1]: p.text for p in root.find("m:properties", ns)}
    out = {}
    for dep in root.iterfind("m:dependencies/m:dependency", ns):
        version = dep.findtext("m:version", namespaces=ns)
        for key, value in props.items():
            version = version.replace("${" + key + "}", value)
        out[
            f"{dep.findtext('m:groupId', namespaces=ns)}:{dep.findtext('m:artifactId', namespaces=ns)}"
        ] = version
    return out


def test_the_image_bakes_the_jars_the_jobs_resolve_locally():
    """The spark image resolves the same poms as `txn-platform fetch` (txn_runtime.jars), at
    pyspark's version and the pinned Delta version, so image and laptop run the same jars."""
    import pyspark

    from txn_runtime import jars

    poms = ROOT / "libs" / "txn_runtime" / "maven"
    connectors = _pom_versions(poms / "spark-connectors-pom.xml")
    assert {k.split(":")[1].rpartition("_")[0] for k in connectors} == SPARK_CONNECTORS
    assert set(connectors.values()) == {pyspark.__version__}
    assert sorted(f"{k}:{v}" for k, v in connectors.items()) == sorted(
        jars.SPARK_CONNECTOR_COORDINATES
    )
    delta = _pom_versions(poms / "delta-pom.xml")
    assert sorted(f"{k}:{v}" for k, v in delta.items()) == sorted(jars.DELTA_COORDINATES)
    pins = [d.replace(" ", "") for d in PYPROJECT["project"]["dependencies"]]
    assert f"delta-spark=={jars.DELTA_VERSION}" in pins
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    for pom in ("spark-connectors-pom.xml", "delta-pom.xml"):
        assert f"-f /poms/{pom}" in text, f"the image does not resolve {pom}"
    assert "COPY libs/txn_runtime/maven/ /poms/" in text
    assert "COPY --from=jars /jars /opt/txn/jars" in text
    # Local-mode commands in the image (txn-lake compact) take the baked jars, not Maven.
    assert "TXN_JARS_DIR=/opt/txn/jars" in text


@pytest.mark.parametrize("script", SPARK_JOBS)
def test_driver_and_executors_load_the_baked_jars_without_network(script):
    inv = cli_invocation(script)
    args = inv.spark_submit_args
    assert "--packages" not in args, "no resolution at start: the jars are in the image"
    confs = {
        args[i + 1].split("=", 1)[0]: args[i + 1].split("=", 1)[1]
        for i, a in enumerate(args)
        if a in ("--conf", "-c")
    }
    for role in ("driver", "executor"):
        assert confs.get(f"spark.{role}.extraClassPath") == "/opt/txn/jars/*", role
    # Workers run the same image as the driver, so the executors find the same path.
    assert build_of("spark-worker") == build_of(inv.service)


def test_clients_reach_kafka_and_the_registry_on_addresses_they_advertise():
    for inv in invocations():
        env = environment(SERVICES[inv.service])
        for server in filter(None, str(env.get("KAFKA_BOOTSTRAP_SERVERS", "")).split(",")):
            host, _, port = server.rpartition(":")
            assert host in SERVICES, f"{inv.service}: {server} is no compose service"
            advertised = environment(SERVICES[host]).get("KAFKA_ADVERTISED_LISTENERS", "")
            assert f"//{host}:{port}" in advertised, (
                f"{inv.service} bootstraps from {server}, which {host} does not advertise"
            )
        url = env.get("SCHEMA_REGISTRY_URL")
        if url:
            parts = urlsplit(url)
            assert parts.hostname in SERVICES, f"{inv.service}: {url} is no compose service"
            listeners = environment(SERVICES[parts.hostname]).get("SCHEMA_REGISTRY_LISTENERS", "")
            assert f":{parts.port}" in listeners, f"{parts.hostname} does not listen on {url}"


@pytest.mark.parametrize("name", ["producer", "spark-worker"])
def test_scalable_services_have_no_fixed_host_port_or_name(name):
    service = SERVICES[name]
    assert not service.get("ports"), f"`--scale {name}=N` would collide on a fixed host port"
    assert "container_name" not in service, f"`--scale {name}=N` needs generated names"


def test_the_spark_jobs_fit_on_the_default_workers_together():
    """A standalone application takes every core unless capped, so a second job would wait for
    ever for an executor: each job caps its cores, and together they fit on the workers."""
    cores, memory = {}, {}
    for script in SPARK_JOBS:
        inv = cli_invocation(script)
        args = inv.spark_submit_args
        assert "--total-executor-cores" in args, f"{inv.service} takes every core of the cluster"
        cores[inv.service] = int(args[args.index("--total-executor-cores") + 1])
        executor_memory = args[args.index("--executor-memory") + 1]
        assert executor_memory.endswith("g"), executor_memory
        memory[inv.service] = int(executor_memory[:-1])
    (worker,) = [
        n
        for n in SERVICE_NAMES
        if "org.apache.spark.deploy.worker.Worker" in service_argv(SERVICES[n])
    ]
    env = environment(SERVICES[worker])
    assert sum(cores.values()) <= int(env["SPARK_WORKER_CORES"]), (cores, env)
    # One executor per job on one worker: their memory must fit in what the worker offers.
    assert sum(memory.values()) <= int(str(env["SPARK_WORKER_MEMORY"]).removesuffix("g")), (
        memory,
        env,
    )
