"""The platform's own certificate authority and the TLS certificate of its services
(``--secure``), made with ``cryptography`` on first use and kept in ``STATE/tls``.

- ``ca.pem`` (0644): the CA certificate every client trusts (``KAFKA_SSL_CA_LOCATION``,
  ``SCHEMA_REGISTRY_SSL_CA_LOCATION``);
- ``ca.key`` (0600): its private key, which signs the server certificate;
- ``server.pem`` (0644): the certificate the brokers and the registry present, SAN
  ``127.0.0.1`` and ``localhost`` (they all serve on loopback), followed by the CA;
- ``server-keystore.pem`` (0600): its key, certificate and CA in one file, the form Kafka's
  PEM keystore reads (and Quarkus' TLS registry takes as the key file).

Certificates are renewed by ``up`` when fewer than :data:`RENEW_BEFORE` days remain (and the
CA with them when the CA itself is that close); ``docs/security.md`` tells how.

Example::

    files = ensure_tls(settings.state_dir / "tls", settings.host, log)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CA_DAYS",
    "CERT_DAYS",
    "RENEW_BEFORE",
    "TlsFiles",
    "days_left",
    "ensure_ca",
    "ensure_tls",
    "issue_server",
    "write_private",
]

CA_DAYS = 3650
CERT_DAYS = 397  # what public CAs may issue at most; the renewal path gets exercised
RENEW_BEFORE = 30


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the CA and server material under ``STATE/tls``."""

    root: Path

    ca_cert = property(lambda self: self.root / "ca.pem")
    """The CA certificate clients trust."""
    ca_key = property(lambda self: self.root / "ca.key")
    """The CA's private key (0600)."""
    server_cert = property(lambda self: self.root / "server.pem")
    """The services' certificate followed by the CA's."""
    keystore = property(lambda self: self.root / "server-keystore.pem")
    """Key, certificate and CA in one PEM file (0600): Kafka's ``ssl.keystore.location``."""


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``path`` readable by its owner only (mode 0600 from creation, never wider)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    tmp.replace(path)


def _key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    # Unencrypted PKCS#8: what Kafka's PEM keystore reads without ssl.key.password; the file
    # mode is the protection, as for the SCRAM passwords beside it.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(**on: bool):
    from cryptography import x509

    names = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )  # fmt: skip
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def _san(name: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _build(subject: str, public_key, issuer, signing_key, days: int, names: list[str] | None):
    """A certificate for ``subject``: a self-signed CA when ``names`` is None, else a server
    certificate for ``names`` (host names or IP addresses) signed by ``signing_key`` of
    ``issuer``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    ca = names is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            _key_usage(key_cert_sign=True, crl_sign=True), critical=True
        )
        return builder.sign(signing_key, hashes.SHA256())
    sans = [_san(n) for n in dict.fromkeys(names)]
    server_and_client = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage(server_and_client), critical=False)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256())


def days_left(pem: Path) -> float:
    """Days until the certificate in ``pem`` expires (negative when expired, -1 if unreadable)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
    except (OSError, ValueError):
        return -1.0
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86400


def ensure_ca(files: TlsFiles, log: Callable[[str], None]) -> bool:
    """Create the CA under ``files.root`` (or renew it when fewer than :data:`RENEW_BEFORE` days
    remain); True when it is new."""
    from cryptography.hazmat.primitives import serialization

    if files.ca_key.exists() and days_left(files.ca_cert) > RENEW_BEFORE:
        return False
    key = _key()
    # Unique per state dir (a CN is at most 64 characters): two platforms' CAs differ by name.
    tag = hashlib.sha256(str(files.root.resolve()).encode()).hexdigest()[:12]
    subject = f"txn-platform local CA {tag}"
    cert = _build(subject, key.public_key(), None, key, CA_DAYS, None)
    write_private(files.ca_key, _pem_key(key))
    files.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca_cert.chmod(0o644)
    log(f"tls: created the platform's CA ({files.ca_cert}, valid {CA_DAYS} days)")
    return True


def issue_server(files: TlsFiles, keystore: Path, subject: str, names: list[str]) -> bytes:
    """A new key and a certificate for ``names`` (host names or IP addresses) signed by the CA
    of ``files``, written to ``keystore`` (0600) as key + certificate + CA, the PEM keystore
    Kafka, Quarkus and Confluent's rest-utils read; returns the certificate chain."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    key = _key()
    cert = _build(subject, key.public_key(), ca_cert.subject, ca_key, CERT_DAYS, names)
    chain = cert.public_bytes(serialization.Encoding.PEM) + files.ca_cert.read_bytes()
    write_private(keystore, _pem_key(key) + chain)
    return chain


def ensure_tls(root: Path, host: str, log: Callable[[str], None]) -> TlsFiles:
    """The CA and a server certificate for ``host`` (and localhost, 127.0.0.1) under ``root``:
    made on first use, renewed when fewer than :data:`RENEW_BEFORE` days remain. Keys are mode
    0600, ``root`` 0700."""
    files = TlsFiles(root)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    new_ca = ensure_ca(files, log)
    if not new_ca and files.keystore.exists() and days_left(files.server_cert) > RENEW_BEFORE:
        return files
    names = [host, "localhost", "127.0.0.1"]
    chain = issue_server(files, files.keystore, "txn-platform services", names)
    files.server_cert.write_bytes(chain)
    log(
        f"tls: issued the services' certificate (brokers, registry) for {host} and localhost "
        f"(valid {CERT_DAYS} days)"
    )
    return files
