"""Click options made from settings fields, and the options every CLI shares, each defined once.

An option made by :func:`option` takes its flag, help, environment variable and default from
the settings field (:func:`txn_runtime.settings.setting`). Click does not read the variable
itself: the option's value is None unless the flag is given, and the settings model resolves
flag > environment > default, so that an invalid value is reported naming where it came from.
The variable is still the option's ``envvar``, for ``--help`` and the configuration reference.

Example::

    @click.command()
    @bootstrap_servers_option
    @option(ProducerSettings, "rate", type=float, metavar="N")
    def cli(**flags):
        settings = ProducerSettings.load(flags)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic_core import PydanticUndefined

from .connections import KafkaSettings, RegistrySettings
from .settings import Settings, env_of, flag_of
from .shared import LakeSettings, MetricsSettings, SparkSettings, StreamSettings, TopicSettings

__all__ = [
    "CONTEXT_SETTINGS",
    "SettingOption",
    "available_now_option",
    "bootstrap_servers_option",
    "checkpoint_option",
    "driver_memory_option",
    "format_option",
    "lake_option",
    "master_option",
    "metrics_port_option",
    "option",
    "schema_registry_url_option",
    "settings_command",
    "settings_model",
    "topic_option",
    "trigger_option",
    "uses_settings",
]

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def uses_settings(model: type[Settings]) -> Callable[[click.Command], click.Command]:
    """Mark a click command (decorator above ``@click.command``) as resolving its options with
    ``model``; docs, tests and ``--help`` checks find the model as ``command.settings_model``."""

    def mark(command: click.Command) -> click.Command:
        command.settings_model = model  # type: ignore[attr-defined]
        return command

    return mark


def settings_command(model: type[Settings], **kwargs: Any) -> Callable[..., click.Command]:
    """``@click.command`` with the project's context settings, resolving with ``model``."""
    make = click.command(context_settings=CONTEXT_SETTINGS, **kwargs)
    return lambda f: uses_settings(model)(make(f))


def settings_model(command: click.Command) -> type[Settings] | None:
    """The settings model of ``command`` (see :func:`uses_settings`), if any."""
    return getattr(command, "settings_model", None)


class SettingOption(click.Option):
    """An option whose environment variable the settings model reads, not click;
    ``setting_default`` is the model's default (the option's own is None: "not given")."""

    def __init__(self, *args: Any, setting_default: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting_default = setting_default

    def value_from_envvar(self, ctx: click.Context) -> Any:
        return None


def option(
    model: type[Settings],
    name: str,
    *aliases: str,
    help: str | None = None,
    read_env: bool = True,
    **kwargs: Any,
) -> Decorator:
    """The click option of ``model``'s field ``name``: its flag (plus ``aliases``), help,
    variable and default. ``read_env=False`` for a command that takes only the flag."""
    field = model.model_fields[name]
    flag = flag_of(field)
    assert flag, f"{model.__name__}.{name} has no flag"
    env = env_of(field) if read_env else None
    text = help or field.description or ""
    if env:
        text += f" Env: {env}."
    default = field.default
    if default not in (None, PydanticUndefined, False):
        text += f"  [default: {default}]"
    return click.option(
        flag,
        *aliases,
        name,
        cls=SettingOption,
        default=None,
        setting_default=None if default is PydanticUndefined else default,
        envvar=env,
        help=text,
        **kwargs,
    )


# The shared options: ``model`` is the service's settings model when it changes the default.


def bootstrap_servers_option(
    model: type[Settings] = KafkaSettings, help: str | None = None
) -> Decorator:
    return option(model, "bootstrap_servers", help=help, metavar="HOST:PORT")


def schema_registry_url_option(
    *aliases: str,
    model: type[Settings] = RegistrySettings,
    read_env: bool = True,
    help: str | None = None,
) -> Decorator:
    """``--schema-registry-url`` (``txn-contract`` keeps ``--registry`` as an alias)."""
    return option(
        model, "schema_registry_url", *aliases, read_env=read_env, help=help, metavar="URL"
    )


def topic_option(model: type[Settings] = TopicSettings, help: str | None = None) -> Decorator:
    return option(model, "topic", help=help, metavar="NAME")


def lake_option(model: type[Settings] = LakeSettings, help: str | None = None) -> Decorator:
    return option(model, "lake", help=help, type=click.Path(file_okay=False, path_type=Path))


def master_option(model: type[Settings] = SparkSettings, help: str | None = None) -> Decorator:
    return option(model, "master", help=help, metavar="URL")


def driver_memory_option(
    model: type[Settings] = SparkSettings, help: str | None = None
) -> Decorator:
    return option(model, "driver_memory", help=help, metavar="SIZE")


def checkpoint_option(model: type[Settings], help: str | None = None) -> Decorator:
    """``--checkpoint``: every streaming job has one, under its own variable and default (the
    field of ``model``)."""
    return option(model, "checkpoint", help=help, type=click.Path(file_okay=False))


def trigger_option(model: type[Settings] = StreamSettings, help: str | None = None) -> Decorator:
    """``--trigger DURATION``: a streaming job's processing-time trigger."""
    return option(model, "trigger", help=help, metavar="DURATION")


def available_now_option(
    model: type[Settings] = StreamSettings, help: str | None = None
) -> Decorator:
    """``--available-now``; ``help`` says what "now" means for the job's source."""
    return option(model, "available_now", help=help, is_flag=True)


def metrics_port_option(
    model: type[Settings] = MetricsSettings, help: str | None = None
) -> Decorator:
    """``--metrics-port PORT``: a long-running job's Prometheus endpoint (off by default)."""
    return option(model, "metrics_port", help=help, metavar="PORT", type=int)


def format_option(help: str = "text for people, json for machines.") -> Decorator:
    """``--format text|json``: every command with a machine-readable output has it."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help,
    )
