"""The connections every Kafka and registry client of ours makes, with the SASL/TLS and basic-auth
settings passed through to librdkafka, Spark's Kafka source and confluent-kafka's registry client.

Secrets are :class:`~pydantic.SecretStr`: masked in reprs, logs and error sentences.

Example::

    consumer = Consumer(settings.kafka_config(**{"group.id": "txn-report"}))
    reader = spark.readStream.format("kafka").options(**settings.spark_kafka_options())
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator

from .settings import Invalid, Settings, mask_url, setting

__all__ = ["KafkaSettings", "RegistrySettings"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
_JAAS = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


class KafkaSettings(Settings):
    """The Kafka connection: brokers and the SASL/TLS settings every client of ours passes on."""

    bootstrap_servers: str = setting(
        env="KAFKA_BOOTSTRAP_SERVERS", flag="--bootstrap-servers", min_length=1
    )
    """Kafka bootstrap servers, HOST:PORT[,HOST:PORT...]."""
    kafka_security_protocol: SecurityProtocol = setting(
        "PLAINTEXT", env="KAFKA_SECURITY_PROTOCOL", flag=None
    )
    """Kafka security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    kafka_sasl_mechanism: SaslMechanism | None = setting(
        None, env="KAFKA_SASL_MECHANISM", flag=None
    )
    """Kafka sasl.mechanism with a SASL_* protocol: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    kafka_sasl_username: str | None = setting(None, env="KAFKA_SASL_USERNAME", flag=None)
    """Kafka SASL user name."""
    kafka_sasl_password: SecretStr | None = setting(
        None, env="KAFKA_SASL_PASSWORD", flag=None, secret=True
    )
    """Kafka SASL password."""
    kafka_ssl_ca_location: Path | None = setting(None, env="KAFKA_SSL_CA_LOCATION", flag=None)
    """PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL)."""

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> Self:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        given = [self.kafka_sasl_mechanism, self.kafka_sasl_username, self.kafka_sasl_password]
        if sasl and not all(given):
            raise Invalid(
                "kafka_security_protocol",
                f"{self.kafka_security_protocol} needs {{kafka_sasl_mechanism}}, "
                "{kafka_sasl_username} and {kafka_sasl_password}",
            )
        if not sasl and any(given):
            raise Invalid(
                "kafka_sasl_mechanism",
                "SASL settings need a SASL_PLAINTEXT or SASL_SSL {kafka_security_protocol}",
            )
        ca = self.kafka_ssl_ca_location
        if ca is not None and not ca.is_file():
            raise Invalid("kafka_ssl_ca_location", f"{ca} is not a file")
        return self

    def kafka_config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka settings (confluent-kafka's Producer, Consumer, AdminClient)."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
            conf["sasl.username"] = self.kafka_sasl_username
            conf["sasl.password"] = self._password()
        if self.kafka_ssl_ca_location:
            conf["ssl.ca.location"] = str(self.kafka_ssl_ca_location)
        return {**conf, **extra}

    def spark_kafka_options(self) -> dict[str, str]:
        """The same connection as options of Spark's Kafka source (the Java client's names)."""
        opts = {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "kafka.security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            login = _JAAS[self.kafka_sasl_mechanism]

            def quoted(s: str) -> str:
                return s.replace("\\", "\\\\").replace('"', '\\"')

            opts["kafka.sasl.mechanism"] = self.kafka_sasl_mechanism
            opts["kafka.sasl.jaas.config"] = (
                f'{login} required username="{quoted(self.kafka_sasl_username or "")}" '
                f'password="{quoted(self._password())}";'
            )
        if self.kafka_ssl_ca_location:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = str(self.kafka_ssl_ca_location)
        return opts

    def _password(self) -> str:
        return self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""


class RegistrySettings(Settings):
    """The schema registry connection: its Confluent-API root, basic auth and TLS CA."""

    schema_registry_url: str = setting(env="SCHEMA_REGISTRY_URL", flag="--schema-registry-url")
    """Confluent-API schema registry root (Apicurio: .../apis/ccompat/v7)."""
    schema_registry_basic_auth_user_info: SecretStr | None = setting(
        None, env="SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", flag=None, secret=True
    )
    """Registry basic auth as USER:PASSWORD."""
    schema_registry_ssl_ca_location: Path | None = setting(
        None, env="SCHEMA_REGISTRY_SSL_CA_LOCATION", flag=None
    )
    """PEM file of the CA that signed the registry's certificate (https)."""

    @field_validator("schema_registry_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        url = url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, got {mask_url(url)!r}")
        return url

    @field_validator("schema_registry_basic_auth_user_info")
    @classmethod
    def _user_info(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("must be USER:PASSWORD")
        return value

    @field_validator("schema_registry_ssl_ca_location")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @property
    def registry_display_url(self) -> str:
        return mask_url(self.schema_registry_url)

    def registry_conf(self, *, timeout_s: float = 10.0, retries: int = 2) -> dict[str, Any]:
        """confluent-kafka ``SchemaRegistryClient`` settings, bounded timeouts and retries."""
        conf: dict[str, Any] = {
            "url": self.schema_registry_url,
            "timeout": timeout_s,
            "max.retries": retries,
            "retries.wait.ms": 200,
        }
        if self.schema_registry_basic_auth_user_info is not None:
            # The Python client takes user info alone; "basic.auth.credentials.source" (the
            # Java serializer's key) makes it refuse the whole configuration.
            conf["basic.auth.user.info"] = (
                self.schema_registry_basic_auth_user_info.get_secret_value()
            )
        if self.schema_registry_ssl_ca_location is not None:
            conf["ssl.ca.location"] = str(self.schema_registry_ssl_ca_location)
        return conf

    def registry_client(self, *, timeout_s: float = 10.0, retries: int = 2):
        """A confluent-kafka ``SchemaRegistryClient`` for these settings (built by
        ``txn_contract.registry.registry_client``, the one place one is built)."""
        from txn_contract.registry import registry_client

        conf = self.registry_conf(timeout_s=timeout_s, retries=retries)
        return registry_client(conf.pop("url"), timeout_s=timeout_s, retries=retries, settings=conf)
