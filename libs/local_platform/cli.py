"""``txn-platform``: start, inspect and stop the local Kafka broker and schema registry."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from functools import partial

import click

from txn_runtime.cli import entry_point, stderr_logger
from txn_runtime.options import CONTEXT_SETTINGS, format_option, option, uses_settings

from . import platform
from .settings import COMPATIBILITY_LEVELS, PlatformSettings

__all__ = ["cli", "main"]

PROG = "txn-platform"
_log = stderr_logger(PROG)


_setting = partial(option, PlatformSettings)


def _state_option(f):
    return _setting("state_dir", type=click.Path(file_okay=False))(f)


def _port_options(f):
    for name in (
        "spark_worker_webui_port",
        "spark_master_webui_port",
        "spark_master_port",
        "registry_management_port",
        "registry_port",
        "controller_port",
        "kafka_port",
    ):
        f = _setting(name, type=int, metavar="PORT")(f)
    return f


def _settings(**options) -> PlatformSettings:
    """Settings from the commands' options (ports, and ``up``'s extras)."""
    return PlatformSettings.from_click(options)


@click.group(no_args_is_help=True, context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """Run a real Apache Kafka broker (KRaft) and a Confluent-API schema registry (Apicurio)
    on this machine, without Docker.

    Example: txn-platform up && txn-platform status && txn-platform down
    """


@uses_settings(PlatformSettings)
@cli.command()
@_state_option
@_port_options
@_setting("compatibility", type=click.Choice(COMPATIBILITY_LEVELS))
@_setting("brokers", type=click.Choice(["1", "3"]), metavar="1|3")
@_setting("secure", is_flag=True)
@_setting("spark", is_flag=True)
@_setting("spark_worker_cores", type=int, metavar="N")
@_setting("spark_worker_memory", metavar="SIZE")
def up(**options) -> None:
    """Fetch (first use), start and wait for the broker(s) and registry; create topic
    bank_txn_stream and bank_txn_alerts (3 partitions each); write STATE_DIR/platform.env. With
    --brokers 3, a three-node cluster (replication 3, min.insync.replicas 2); with --secure, SASL_SSL and one
    principal per service (STATE_DIR/credentials); with --spark, also a Spark standalone master
    and worker on loopback. Safe to run twice: starts only what is down.

    Example: txn-platform up --brokers 3 --secure --state-dir /tmp/txn && . /tmp/txn/platform.env
    """
    s = _settings(**options)
    timings = platform.up(s, _log)
    _log(f"up in {timings['total_s']:.1f} s; environment written to {s.env_file}")
    click.echo(s.env_file.read_text(), nl=False)


@uses_settings(PlatformSettings)
@cli.command()
@_state_option
@_port_options
@click.option(
    "--wipe", is_flag=True, help="Also delete the state directory (topics, schemas, logs)."
)
def down(wipe, **ports) -> None:
    """Stop the broker and registry: SIGTERM, then SIGKILL after 30 s.

    Example: txn-platform down --wipe
    """
    platform.down(_settings(**ports), _log, wipe=wipe)


@uses_settings(PlatformSettings)
@cli.command()
@_state_option
@_port_options
@format_option()
def status(fmt, **ports) -> None:
    """Health of each service, topics with partition end offsets, subjects with versions.
    Exits 1 when a service is down.

    Example: txn-platform status --format json
    """
    s = _settings(**ports)
    st = platform.status(s)
    if fmt == "json":
        click.echo(json.dumps({**asdict(st), "healthy": st.healthy}, indent=2))
    else:
        _text_status(s, st)
    sys.exit(0 if st.healthy else 1)


def _health(pid, serving, rss) -> str:
    if serving:
        return f"serving (pid {pid}, {rss:.0f} MiB RSS)" if pid and rss else "serving"
    return f"process {pid} up but not serving" if pid else "down"


def _text_status(s, st) -> None:
    """``status`` for people: one line per broker and the registry, then what they hold."""
    for b in st.brokers:
        click.echo(f"{b.name:<9} {b.address:<45} {_health(b.pid, b.serving, b.rss_mb)}")
    if st.secure:
        click.echo(
            f"kafka security: SASL_SSL (SCRAM-SHA-512), CA {s.state_dir / 'tls' / 'ca.pem'}, "
            f"credentials in {s.state_dir / 'credentials'}"
        )
    registry = _health(st.registry_pid, st.registry_serving, st.registry_rss_mb)
    click.echo(f"registry  {s.registry_url:<45} {registry}")
    if st.compatibility:
        click.echo(f"registry compatibility level: {st.compatibility}")
    if st.topics_error:
        click.echo(f"topics: offsets not readable now ({st.topics_error})")
    for topic, ends in st.topics.items():
        click.echo(f"topic {topic}: {len(ends)} partitions, end offsets {ends} (total {sum(ends)})")
    for subject, versions in st.subjects.items():
        click.echo(f"subject {subject}: versions {versions}")
    if st.registry_serving and not st.subjects:
        click.echo("no subjects registered yet")
    _spark_status(s, st)


def _spark_status(s, st) -> None:
    """The master and its workers, when `up --spark` started them."""
    if st.spark_master_pid is None:
        return
    m = st.spark_master
    if not m:
        click.echo(
            f"spark     {s.spark_master_url:<45} process {st.spark_master_pid} up but not serving"
        )
        return
    click.echo(
        f"spark     {s.spark_master_url:<45} {m.get('status', '?').lower()} (pid "
        f"{st.spark_master_pid}), UI {s.spark_master_webui_url}"
    )
    for w in m.get("workers", []):
        click.echo(
            f"  worker {w.get('id')}: {w.get('state')}, {w.get('coresused', 0)}/{w.get('cores')} "
            f"cores, {w.get('memoryused', 0)}/{w.get('memory')} MiB used"
        )
    for app in m.get("activeapps", []):
        click.echo(f"  running application {app.get('name')} ({app.get('id')})")
    done = m.get("completedapps", [])
    if done:
        click.echo(
            f"  {len(done)} completed application(s): {', '.join(a.get('name', '?') for a in done[-5:])}"
        )


@cli.command()
@click.option(
    "--spark/--no-spark",
    default=True,
    show_default=True,
    help="Also fetch Spark's Kafka and Avro connector jars.",
)
def fetch(spark) -> None:
    """Download and cache the Kafka broker, the registry and (with --spark) the Spark jobs'
    jars (Kafka and Avro connectors, Delta Lake), without starting anything. `make setup` runs this.

    Example: txn-platform fetch --no-spark
    """
    from . import artifacts

    _log(f"kafka jars: {artifacts.ensure_kafka(_log)}")
    _log(f"registry: {artifacts.ensure_registry(_log)}")
    if spark:
        from txn_runtime.jars import delta_jars, spark_connector_jars

        jars = spark_connector_jars(_log)
        _log(f"spark connectors: {len(jars)} jars under {jars[0].parent if jars else '-'}")
        jars = delta_jars(_log)
        _log(f"delta lake: {len(jars)} jars under {jars[0].parent if jars else '-'}")


main = entry_point(cli, PROG)
