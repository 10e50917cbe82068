"""The operations services of ``docker-compose.yml`` checked statically: Prometheus, its alert
rules, Grafana's dashboard, and Airflow (``tests/unit/test_compose.py`` checks the rest).

- ``promtool`` (Debian's ``prometheus`` package; ``make promtool`` installs it when missing)
  checks the scrape config and the rules, runs the rules' unit tests
  (``deploy/prometheus/alerts_test.yml``, synthetic series on which each alert fires or stays
  quiet) and parses every dashboard query.
- Every rule expression and dashboard query uses only metric names the jobs export, with the
  labels they carry. The names come from ``txn_runtime``'s metrics classes themselves (each
  collector's name, type and labels), never from a list kept here; ``table`` values are lake
  tables and ``layer`` values the layers the jobs record.
- Every scrape target is a compose service whose CLI serves metrics on that port (parsed by the
  CLI's own click options), and every service serving metrics is scraped.
- The new services: images pinned, bind mounts present in the repository, host ports on
  loopback and distinct, dependencies and healthchecks; Airflow's DAG folder, lake and CLIs.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from tests.unit.exported_metrics import exported_series
from tests.unit.test_compose import (
    ROOT,
    SERVICES,
    depends_on,
    environment,
    invocation,
    is_pinned,
    mounts,
    parse_with_click,
    service_argv,
)
from txn_runtime.options import settings_model

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULES_TEST = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "txn-pipeline.json"
DAGS = ROOT / "orchestration" / "airflow" / "dags"
OPS_SERVICES = ("prometheus", "grafana", "airflow")
# Series Prometheus makes itself for every target (the rules alert on `up`).
PROMETHEUS_SERIES = {"up"}

# --- what the jobs export ---------------------------------------------------------------------


EXPORTED = exported_series()
PROM_CONFIG = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
# Labels every scraped series carries: job, instance, and those the scrape config sets.
TARGET_LABELS = {"job", "instance"}
for _job in PROM_CONFIG["scrape_configs"]:
    TARGET_LABELS |= {
        k for group in _job.get("static_configs", []) for k in group.get("labels", {})
    }
    TARGET_LABELS |= {r["target_label"] for r in _job.get("relabel_configs", [])}

# --- PromQL, enough to name its series and labels ---------------------------------------------

_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)?\s*\{((?:" + _STRING + r"|[^}])*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*(" + _STRING + ")")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?!\s*\(|\w)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"{expr}: a Grafana variable this test does not know"
    return expr


def parse_promql(expr: str) -> tuple[list[tuple[str, dict[str, str]]], set[str]]:
    """The selectors of ``expr`` as (series name, {label: value its matcher compares with})
    and the label names of its grouping and matching clauses."""
    grouping = {lbl.strip() for m in _GROUPING.finditer(expr) for lbl in m.group(1).split(",")}
    rest = _GROUPING.sub(" ", expr)
    selectors = []
    for m in _SELECTOR.finditer(rest):
        assert m.group(1), f"{expr}: a selector without a metric name"
        selectors.append((m.group(1), {k: v[1:-1] for k, _, v in _MATCHER.findall(m.group(2))}))
    rest = re.sub(r"\[[^\]]*\]", " ", _SELECTOR.sub(" ", rest))
    bare = {n for n in _NAME.findall(rest) if n not in _KEYWORDS}
    selectors += [(n, {}) for n in sorted(bare)]
    return selectors, grouping - {""}


def problems(expr: str) -> list[str]:
    """What in ``expr`` the jobs do not export: unknown series, labels, tables or layers."""
    known = EXPORTED | {name: set() for name in PROMETHEUS_SERIES}
    selectors, grouping = parse_promql(expr)
    assert selectors, f"{expr}: no series found"
    out = [f"{name} is not exported" for name, _ in selectors if name not in known]
    labels = set().union(*(known.get(name, set()) for name, _ in selectors)) | TARGET_LABELS
    out += [f"label {lbl} is on none of its series" for lbl in sorted(grouping - labels)]
    for name, matchers in selectors:
        for label, value in matchers.items():
            if label not in known.get(name, set()) | TARGET_LABELS:
                out.append(f"{name} has no label {label}")
            allowed = {"table": LAKE_TABLES, "layer": LAYERS}.get(label)
            if allowed is not None:
                out += [f"{label}={v} is not one" for v in value.split("|") if v not in allowed]
    return out


def _layers() -> set[str]:
    """The layers the jobs record (``BatchFigures("bronze", ...)``)."""
    text = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    found = set(re.findall(r"BatchFigures\(\s*\"(\w+)\"", text))
    assert found, "no BatchFigures(layer, ...) in services/"
    return found


LAKE_TABLES = set(importlib.import_module("txn_lake.tables").TABLES)
LAYERS = _layers()
RULE_LIST = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
PANEL_TARGETS = [
    (panel["title"], target)
    for panel in json.loads(DASHBOARD.read_text())["panels"]
    for target in panel.get("targets", [])
]

# --- promtool ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, installed by `make promtool` when it is missing (never skipped)."""
    if shutil.which("promtool") is None:
        subprocess.run(["make", "-s", "promtool"], cwd=ROOT, check=True, timeout=600)
    path = shutil.which("promtool")
    assert path, "`make promtool` did not install promtool"
    return path


def run_promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> None:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"


def test_the_scrape_config_and_its_rule_files_pass_promtool(promtool):
    run_promtool(promtool, "check", "config", PROMETHEUS_CONFIG.name)
    run_promtool(promtool, "check", "rules", RULES.name)


def test_the_rules_fire_on_synthetic_series_and_stay_quiet_on_look_alikes(promtool):
    run_promtool(promtool, "test", "rules", RULES_TEST.name)


def test_every_alert_has_a_unit_test_in_which_it_fires():
    tests = yaml.safe_load(RULES_TEST.read_text())
    assert tests["rule_files"] == [RULES.name]
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {r["alert"] for r in RULE_LIST if "alert" in r}
    assert alerts <= fired, f"no test shows these alerts firing: {sorted(alerts - fired)}"


def test_every_dashboard_query_is_valid_promql(promtool, tmp_path):
    rules = [
        {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(t["expr"])}
        for i, (_, t) in enumerate(PANEL_TARGETS)
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]})
    )
    run_promtool(promtool, "check", "rules", "dashboard.yml", cwd=tmp_path)


# --- the names the rules and the dashboard use -------------------------------------------------


@pytest.mark.parametrize("rule", RULE_LIST, ids=lambda r: r.get("alert") or r.get("record"))
def test_every_rule_uses_only_what_the_jobs_export(rule):
    assert not problems(rule["expr"]), f"{rule.get('alert')}: {problems(rule['expr'])}"


@pytest.mark.parametrize(("panel", "target"), PANEL_TARGETS, ids=lambda v: str(v)[:40])
def test_every_dashboard_query_uses_only_what_the_jobs_export(panel, target):
    expr = grafana_to_promql(target["expr"])
    assert not problems(expr), f"panel {panel!r}: {expr}: {problems(expr)}"


def test_the_dashboard_shows_every_exported_metric():
    shown = {
        name for _, t in PANEL_TARGETS for name, _ in parse_promql(grafana_to_promql(t["expr"]))[0]
    }
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in EXPORTED}
    missing = {
        f
        for f in families
        if not any(re.sub(r"_(total|bucket|sum|count)$", "", s) == f for s in shown)
    }
    assert not missing, f"the dashboard shows none of {sorted(missing)}"


@pytest.mark.parametrize(
    "expr",
    [
        'sum by (table) (rate(txn_rows_out_total{table="silver"}[5m]))',
        "histogram_quantile(0.95, sum by (le) (rate(txn_batch_duration_seconds_bucket[5m])))",
        "time() - txn_last_commit_timestamp_seconds > 15 * 60",
    ],
)
def test_the_checker_accepts_exported_names(expr):
    assert not problems(expr)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(txn_rows_total[5m])", "txn_rows_total is not exported"),
        ("txn_batches", "txn_batches is not exported"),
        ('txn_rows_out_total{tabel="silver"}', "txn_rows_out_total has no label tabel"),
        ('txn_rows_out_total{table="silvr"}', "table=silvr is not one"),
        ('txn_rows_in_total{layer=~"bronze|platinum"}', "layer=platinum is not one"),
        ("sum by (reason) (txn_rejected_total)", "label reason is on none of its series"),
    ],
)
def test_the_checker_names_what_is_not_exported(expr, problem):
    assert problem in problems(expr)


# --- scraping -----------------------------------------------------------------------------------


def scrape_targets() -> dict[str, tuple[int, str | None]]:
    """Compose host -> (port, its `service` label) of every txn scrape job's target."""
    out = {}
    for job in PROM_CONFIG["scrape_configs"]:
        if not job["job_name"].startswith("txn-"):
            continue
        for group in job.get("static_configs", []):
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                out[host] = (int(port), group.get("labels", {}).get("service"))
        relabelled = {
            r["target_label"]: r.get("replacement") for r in job.get("relabel_configs", [])
        }
        for sd in job.get("dns_sd_configs", []):
            assert sd.get("type") == "A", "compose's DNS answers A records"
            for host in sd["names"]:
                out[host] = (int(sd["port"]), relabelled.get("service"))
    return out


def served_metrics_ports(monkeypatch) -> dict[str, int | None]:
    """Service -> the --metrics-port its CLI serves (None: off), for every service whose CLI
    has the option, as the CLI resolves it from the service's command line and environment."""
    out = {}
    for name in sorted(SERVICES):
        inv = invocation(name)
        if inv is None:
            continue
        ctx = parse_with_click(inv, monkeypatch)
        if "metrics_port" in ctx.params:
            out[name] = settings_model(ctx.command).from_click(ctx.params).metrics_port
    assert out, "no service runs a CLI with --metrics-port"
    return out


def test_every_service_that_can_serve_metrics_serves_them_and_is_scraped(monkeypatch):
    served = served_metrics_ports(monkeypatch)
    targets = scrape_targets()
    off = sorted(n for n, port in served.items() if port is None)
    assert not off, f"{off} serve no metrics: set TXN_METRICS_PORT"
    for name, port in served.items():
        assert name in targets, f"prometheus.yml does not scrape {name}"
        assert targets[name] == (port, name), f"{name} serves on {port}: {targets[name]}"
    unknown = set(targets) - set(served)
    assert not unknown, f"prometheus.yml scrapes {sorted(unknown)}, which serve no metrics"


def test_prometheus_runs_the_config_and_rules_of_the_repository():
    service = SERVICES["prometheus"]
    argv = service_argv(service)
    flags = dict(a.removeprefix("--").split("=", 1) for a in argv if a.startswith("--"))
    config = PurePosixPath(flags["config.file"])
    binds = {PurePosixPath(t): ROOT / s for k, s, t in mounts(service) if k == "bind"}
    assert binds.get(config) == PROMETHEUS_CONFIG, (
        f"{config} is not deploy/prometheus/prometheus.yml"
    )
    for rule_file in PROM_CONFIG["rule_files"]:
        # Prometheus reads rule_files relative to the config file.
        assert binds.get(config.parent / rule_file) == PROMETHEUS_DIR / rule_file, rule_file
    data = [t for k, s, t in mounts(service) if k == "volume" and s]
    assert data == [flags["storage.tsdb.path"]], "the TSDB is on a named volume"


# --- the new services ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPS_SERVICES)
def test_the_operations_services_are_pinned_healthy_and_on_loopback(name):
    service = SERVICES.get(name)
    assert service is not None, f"docker-compose.yml has no service {name}"
    image = service.get("image")
    assert (image and is_pinned(image)) or "build" in service, f"{name}: pin its image"
    check = service.get("healthcheck") or {}
    assert check.get("test"), f"{name} has no healthcheck"
    assert service.get("restart") == "unless-stopped", f"{name} is long-running"
    for kind, source, _ in mounts(service):
        if kind == "bind":
            assert (ROOT / source).exists(), f"{name} mounts {source}, not in the repository"
            assert ":ro" in next(v for v in service["volumes"] if str(v).startswith(source)), (
                f"{name}: mount {source} read-only, the repository is the source of truth"
            )
    for port in service.get("ports") or []:
        assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not bound to loopback"


def test_no_two_services_publish_one_host_port():
    seen: dict[str, str] = {}
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            host = str(port).rsplit(":", 1)[0]
            assert host not in seen, f"{name} and {seen.get(host)} both publish {host}"
            seen[host] = name


def test_grafana_provisions_the_prometheus_service_and_the_dashboard():
    service = SERVICES["grafana"]
    binds = {PurePosixPath(t): ROOT / s for k, s, t in mounts(service) if k == "bind"}
    assert binds.get(PurePosixPath("/etc/grafana/provisioning")) == GRAFANA_DIR / "provisioning"
    sources = [
        s
        for f in sorted((GRAFANA_DIR / "provisioning" / "datasources").glob("*.yml"))
        for s in yaml.safe_load(f.read_text())["datasources"]
    ]
    assert [urlsplit(s["url"])[1] for s in sources] == ["prometheus:9090"]
    assert "--web.listen-address" not in " ".join(service_argv(SERVICES["prometheus"]))
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = {p["datasource"]["uid"] for p in panels if "datasource" in p}
    used |= {t["datasource"]["uid"] for _, t in PANEL_TARGETS}
    assert used == {sources[0]["uid"]}, f"the dashboard uses data sources {used}"
    (provider,) = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "txn-pipeline.yml").read_text()
    )["providers"]
    path = PurePosixPath(provider["options"]["path"])
    assert binds.get(path) == DASHBOARD.parent, f"{path} is not deploy/grafana/dashboards"
    home = PurePosixPath(environment(service)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (DASHBOARD.parent / home.relative_to(path)).is_file(), home
    assert depends_on(service) == {"prometheus": {"condition": "service_healthy"}}
