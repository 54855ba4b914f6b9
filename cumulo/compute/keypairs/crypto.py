"""Keypair fingerprints and generated keys, computed as Nova computes them.

- ssh: the MD5 of the key blob, as colon-separated hex; a generated key is a
  2048-bit RSA key, its private half in PEM ("BEGIN RSA PRIVATE KEY").
- x509: the SHA-1 of the DER certificate; a generated one is a self-signed
  client certificate for ``CN=<user id>``, its private half a base64 PKCS#12.

Key generation is CPU work: callers run it in a thread.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from cumulo.compute.errors import InvalidKeypair

SSH = "ssh"
X509 = "x509"
_UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft user principal name
_CERT_DAYS = 3650


@dataclass(frozen=True)
class GeneratedKey:
    private_key: str
    public_key: str
    fingerprint: str


def _colon_hex(digest: bytes) -> str:
    text = digest.hex()
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def fingerprint(public_key: str, key_type: str) -> str:
    """The fingerprint Nova stores for an imported key; ``InvalidKeypair`` if unreadable."""
    if key_type == X509:
        return _x509_fingerprint(public_key)
    try:
        serialization.load_ssh_public_key(public_key.encode("utf-8"))
        blob = base64.b64decode(public_key.split(" ")[1])
    except Exception:
        raise InvalidKeypair(reason="failed to generate fingerprint") from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def _x509_fingerprint(pem: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        raise InvalidKeypair(
            reason=f"failed to generate X509 fingerprint. Error message: {exc}"
        ) from None
    return _colon_hex(cert.fingerprint(hashes.SHA1()))


def generate(key_type: str, user_id: str) -> GeneratedKey:
    """A new key pair of ``key_type`` for ``user_id``."""
    return _generate_x509(user_id) if key_type == X509 else _generate_ssh()


def _generate_ssh() -> GeneratedKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    blob = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public = f"{blob.decode('ascii')} Generated-by-Nova"
    return GeneratedKey(private, public, fingerprint(public, SSH))


def _generate_x509(user_id: str) -> GeneratedKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    upn = f"{user_id}@localhost".encode()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            # DER UTF8String: tag 0x0c, length, bytes.
            x509.SubjectAlternativeName([x509.OtherName(_UPN, bytes([0x0C, len(upn)]) + upn)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    return GeneratedKey(base64.b64encode(bundle).decode("ascii"), pem, fingerprint(pem, X509))
