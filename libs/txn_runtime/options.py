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

from .settings import (
    KafkaSettings,
    LakeSettings,
    RegistrySettings,
    Settings,
    SparkSettings,
    TopicSettings,
    env_of,
    flag_of,
)

__all__ = [
    "CONTEXT_SETTINGS",
    "SettingOption",
    "bootstrap_servers_option",
    "driver_memory_option",
    "lake_option",
    "master_option",
    "option",
    "schema_registry_url_option",
    "topic_option",
]

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class SettingOption(click.Option):
    """An option whose environment variable the settings model reads, not click."""

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
    if "is_flag" not in kwargs and default not in (None, PydanticUndefined, False):
        kwargs.setdefault("show_default", str(default))
    return click.option(
        flag,
        *aliases,
        name,
        cls=SettingOption,
        default=None,
        envvar=env,
        help=text,
        **kwargs,
    )


bootstrap_servers_option = option(KafkaSettings, "bootstrap_servers", metavar="HOST:PORT")
topic_option = option(TopicSettings, "topic", metavar="NAME")


def schema_registry_url_option(*aliases: str, read_env: bool = True, help: str | None = None):
    """``--schema-registry-url`` (``txn-contract`` keeps ``--registry`` as an alias)."""
    return option(
        RegistrySettings,
        "schema_registry_url",
        *aliases,
        read_env=read_env,
        help=help,
        metavar="URL",
    )


def lake_option(help: str | None = None) -> Decorator:
    return option(LakeSettings, "lake", help=help, type=click.Path(file_okay=False, path_type=Path))


master_option = option(SparkSettings, "master", metavar="URL")
driver_memory_option = option(SparkSettings, "driver_memory", metavar="SIZE")
