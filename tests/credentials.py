"""Credentials and certificates made in the test, for real servers: NATS
decentralized auth (an operator, an account and a user, as ``nsc`` would
make them, with JetStream enabled for the account) and a certificate
authority with server and client certificates for TLS."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import nkeys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# -- NATS JWTs --------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    seed: bytes
    public: str


def new_key(prefix: int) -> Key:
    raw = os.urandom(32)
    seed = nkeys.encode_seed(raw, prefix)
    public = nkeys.from_seed(seed).public_key.decode()
    return Key(seed, public)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(issuer: Key, subject: str, name: str, nats: dict[str, object]) -> str:
    claims: dict[str, object] = {
        "iat": int(time.time()),
        "iss": issuer.public,
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    claims["jti"] = (
        base64.b32encode(hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest())
        .decode()
        .rstrip("=")
    )
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing = f"{header}.{payload}".encode()
    raw_seed = nkeys.decode_seed(issuer.seed)[1]
    signature = nacl.signing.SigningKey(raw_seed).sign(signing).signature
    return f"{header}.{payload}.{_b64(signature)}"


UNLIMITED = {
    "subs": -1,
    "conn": -1,
    "leaf": -1,
    "imports": -1,
    "exports": -1,
    "data": -1,
    "payload": -1,
    "wildcards": True,
}


@dataclass(frozen=True)
class Decentralized:
    server_config: list[str]
    """Lines of nats-server's config: operator mode, accounts preloaded."""
    creds: Path
    """A user's ``.creds`` file (JWT and seed), as ``NATS_CREDS`` takes it."""


def decentralized_auth(directory: Path) -> Decentralized:
    directory.mkdir(parents=True, exist_ok=True)
    operator = new_key(nkeys.PREFIX_BYTE_OPERATOR)
    system = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    account = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    user = new_key(nkeys.PREFIX_BYTE_USER)
    operator_jwt = _jwt(
        operator, operator.public, "op", {"type": "operator", "system_account": system.public}
    )
    system_jwt = _jwt(operator, system.public, "SYS", {"type": "account", "limits": UNLIMITED})
    account_jwt = _jwt(
        operator,
        account.public,
        "relaygraph",
        {
            "type": "account",
            "limits": {
                **UNLIMITED,
                "mem_storage": -1,
                "disk_storage": -1,
                "streams": -1,
                "consumer": -1,
            },
        },
    )
    user_jwt = _jwt(
        account,
        user.public,
        "svc",
        {"type": "user", "subs": -1, "data": -1, "payload": -1, "pub": {}, "sub": {}},
    )
    (directory / "operator.jwt").write_text(operator_jwt)
    creds = directory / "svc.creds"
    creds.write_text(
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user.seed.decode()}\n"
        "------END USER NKEY SEED------\n"
    )
    config = [
        f'operator: "{directory / "operator.jwt"}"',
        f"system_account: {system.public}",
        "resolver: MEMORY",
        "resolver_preload: {",
        f"  {system.public}: {system_jwt}",
        f"  {account.public}: {account_jwt}",
        "}",
    ]
    return Decentralized(config, creds)


# -- TLS ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def certificates(directory: Path, name: str = "test") -> Certificates:
    """A CA, and a server (127.0.0.1, localhost) and a client certificate it signed."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(f"{name} CA", ca_key, None, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(
        _cert("server", server_key, ca, ca_key, server=True).public_bytes(pem)
    )
    (directory / "client.pem").write_bytes(
        _cert("client", client_key, ca, ca_key).public_bytes(pem)
    )
    return Certificates(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=_write_key(directory / "server-key.pem", server_key),
        client_cert=directory / "client.pem",
        client_key=_write_key(directory / "client-key.pem", client_key),
    )
