"""One settings mechanism for every service: typed pydantic-settings models, flags > environment
> defaults, validated at start-up, secrets masked.

Each setting is declared once, with :func:`setting`: its type, default, environment variable and
flag. A service's model combines the shared mixins (:mod:`txn_runtime.connections`: Kafka with
SASL/TLS, the registry with basic auth; :mod:`txn_runtime.shared`: topic, lake, Spark, trigger)
with its own fields; :meth:`Settings.load` resolves and validates them, and a bad value is one
:class:`~txn_contract.errors.ConfigError` sentence naming the flag or the variable it came from.

Example::

    class MySettings(KafkaSettings, TopicSettings):  # txn_runtime.connections, .shared
        batch: int = setting(100, env="TXN_BATCH", flag="--batch", help="Rows per batch.", gt=0)

    s = MySettings.load({"batch": None}, os.environ)   # None = flag not given
    log(s.describe())                                   # secrets as ***
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from txn_contract.errors import ConfigError

__all__ = [
    "Invalid",
    "Settings",
    "env_of",
    "flag_of",
    "mask_url",
    "setting",
    "with_default",
]

# While Settings.load runs, the model reads only what load passes (flags over the given env).
_LOADING: ContextVar[bool] = ContextVar("txn_settings_loading", default=False)


def setting(
    default: Any = ...,
    *,
    env: str | None,
    flag: str | None,
    help: str | None = None,
    secret: bool = False,
    **constraints: Any,
) -> Any:
    """A field of a settings model: its environment variable and flag, declared once. Its help
    is the attribute's docstring (or ``help``), shown by ``--help`` and the reference docs."""
    return Field(
        default,
        validation_alias=env,
        description=help,
        json_schema_extra={"flag": flag, "secret": secret},
        **constraints,
    )


def with_default(model: type[BaseSettings], name: str, default: Any) -> Any:
    """``model``'s field ``name`` with another default (a service where the shared setting has
    a sensible local default, e.g. the producer's broker)."""
    return FieldInfo.merge_field_infos(model.model_fields[name], default=default)


def flag_of(field: FieldInfo) -> str | None:
    extra = field.json_schema_extra
    return extra.get("flag") if isinstance(extra, dict) else None  # type: ignore[return-value]


def env_of(field: FieldInfo) -> str | None:
    return field.validation_alias if isinstance(field.validation_alias, str) else None


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class Invalid(ValueError):
    """Raised by a model validator: ``field`` is the setting to blame; ``{other}`` placeholders
    in ``message`` become the flag or variable of field ``other``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


_MESSAGES = {
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_too_short": "must not be empty",
    "path_type": "must be a path",
}


class Settings(BaseSettings):
    """Base of every service's settings; construct with :meth:`load`."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        case_sensitive=True,
        env_ignore_empty=True,
        str_strip_whitespace=True,
        # A field's help is the docstring under it.
        use_attribute_docstrings=True,
    )
    # Fields a caller may not set (derived during validation).
    derived_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_others):
        # ``Model()`` alone reads os.environ; :meth:`load` passes flags and env itself.
        return (init_settings,) if _LOADING.get() else (init_settings, env_settings)

    @classmethod
    def origins(cls, flags: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
        """Field -> the flag or variable its value comes from (only for fields that are set)."""
        out = {}
        for name, field in cls.model_fields.items():
            variable = env_of(field)
            if flags.get(name) is not None:
                out[name] = flag_of(field) or variable or name
            elif variable and (env.get(variable) or "").strip():
                out[name] = variable
        return out

    @classmethod
    def source_name(cls, name: str, origins: Mapping[str, str]) -> str:
        """How the user set (or would set) field ``name``."""
        field = cls.model_fields.get(name)
        if field is None:
            return name
        return origins.get(name) or flag_of(field) or env_of(field) or name

    @classmethod
    def load(cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None):
        """Resolve each field from ``flags`` (None = not given), then ``env``, then its default.

        Unknown keys in ``flags`` are refused; a bad value raises one :class:`ConfigError`
        naming the flag or the variable it came from.
        """
        flags = dict(flags or {})
        env = os.environ if env is None else env
        unknown = sorted(set(flags) - set(cls.model_fields) | (set(flags) & cls.derived_fields))
        if unknown:
            raise ConfigError("config", f"unrecognized settings: {', '.join(unknown)}")
        origins = cls.origins(flags, env)
        data = cls.combine(flags, env, origins)
        token = _LOADING.set(True)
        try:
            return cls(**data)
        except ValidationError as exc:
            raise cls._sentence(exc, origins) from None
        finally:
            _LOADING.reset(token)

    @classmethod
    def from_click(cls, params: Mapping[str, Any], env: Mapping[str, str] | None = None):
        """:meth:`load` from a click command's parameters (those that are settings)."""
        return cls.load({k: v for k, v in params.items() if k in cls.model_fields}, env)

    @classmethod
    def combine(
        cls, flags: Mapping[str, Any], env: Mapping[str, str], origins: dict[str, str]
    ) -> dict[str, Any]:
        """The raw values to validate; a model overrides it when settings depend on each other
        (it may then drop entries from ``origins``)."""
        data = {}
        for name in origins:
            if flags.get(name) is not None:
                data[name] = flags[name]
            else:
                data[name] = env[env_of(cls.model_fields[name]) or ""].strip()
        return data

    @classmethod
    def _sentence(cls, exc: ValidationError, origins: Mapping[str, str]) -> ConfigError:
        by_alias = {env_of(f): n for n, f in cls.model_fields.items() if env_of(f)}

        def rank(error) -> int:
            # The first error of the most specific class first: the service's own settings,
            # then the mixins in the order the service lists them (Kafka before the registry).
            name = str(error["loc"][0]) if error["loc"] else ""
            name = by_alias.get(name, name)
            owners = [
                i for i, k in enumerate(cls.__mro__) if name in vars(k).get("__annotations__", {})
            ]
            return owners[0] if owners else len(cls.__mro__)

        err = min(exc.errors(), key=rank)
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):
            return cause
        if isinstance(cause, Invalid):
            names = {n: cls.source_name(n, origins) for n in cls.model_fields}
            return ConfigError(names.get(cause.field, cause.field), cause.message.format(**names))
        field = str(err["loc"][0]) if err["loc"] else "config"
        field = by_alias.get(field, field)
        name = cls.source_name(field, origins)
        info = cls.model_fields.get(field)
        if err["type"] == "missing" and info is not None:
            ways = [f"pass {flag_of(info)}" if flag_of(info) else "", f"set {env_of(info)}"]
            return ConfigError(name, f"no value; {' or '.join(w for w in ways if w)}")
        if cause is not None:
            return ConfigError(name, str(cause))
        integer = info is not None and "int" in str(info.annotation)
        return ConfigError(name, _message(err, secret=_is_secret(info), integer=integer))

    def validated(self) -> Self:
        """Return self: a model is validated when it is built (kept for callers written
        against the dataclass configs that had this method)."""
        return self

    def __repr_args__(self):
        for key, value in super().__repr_args__():
            yield key, mask_url(value) if isinstance(value, str) and "://" in value else value

    def masked(self) -> dict[str, Any]:
        """Every setting, safe to log: secrets as ``***``, passwords in URLs masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "***"
            elif isinstance(value, str) and "://" in value:
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out


def _is_secret(info: FieldInfo | None) -> bool:
    extra = info.json_schema_extra if info is not None else None
    return bool(isinstance(extra, dict) and extra.get("secret"))


def _message(err: Mapping[str, Any], *, secret: bool, integer: bool = False) -> str:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "greater_than" and ctx.get("gt") == 0:
        text = f"must be a positive {'integer' if integer else 'number'}"
    elif kind in _MESSAGES:
        text = _MESSAGES[kind]
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind)
        bound = next(iter(ctx.values()))
        text = f"must be {sign} {bound:g}" if sign else f"must be at most {bound:,}"
    elif kind == "literal_error":
        text = f"must be one of {ctx.get('expected')}"
    else:
        text = str(err["msg"])[:1].lower() + str(err["msg"])[1:]
    return text if secret else f"{text}, got {err.get('input')!r}"
