"""Where a run's ``webhook`` may point, by the ``webhooks`` section of
langgraph.json (the reference's keys), checked when the run is created and
again, against the addresses the host resolves to then, before each POST: a
user's webhook must not reach the internal network.

Defaults, as the reference's but for private addresses: http and https,
loopback refused (``url.disable_loopback``), link-local, multicast and
reserved addresses always refused, and **private addresses refused too**
(``url.disable_private_ips``, which the reference leaves off). A ``url``
object given without ``require_https`` requires https, as in the reference.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relaygraph.errors import InvalidInput

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

PAYLOAD_FIELDS = frozenset(
    {
        "run_id",
        "thread_id",
        "assistant_id",
        "created_at",
        "updated_at",
        "metadata",
        "kwargs",
        "multitask_strategy",
        "status",
        "run_started_at",
        "run_ended_at",
        "webhook_sent_at",
        "values",
        "error",
    }
)
DNS_TIMEOUT = 5.0
"""Seconds a webhook host may take to resolve (longer: refused)."""
_TEMPLATE = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass(frozen=True)
class WebhookConfig:
    require_https: bool = False
    allowed_domains: tuple[str, ...] = ()
    """Exact hosts, or ``*.example.com`` (its subdomains); listed hosts skip the
    address checks (as in the reference)."""
    allowed_ports: tuple[int, ...] = ()
    max_url_length: int = 4096
    disable_loopback: bool = True
    disable_private_ips: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every POST; ``${{ env.LG_WEBHOOK_X }}`` filled in when read."""
    allowed_fields: frozenset[str] | None = None
    """Top-level keys of the body kept (``None``: all)."""
    disabled: bool = False
    """``http.disable_webhooks``: URLs are still checked, nothing is sent."""


def read_webhooks(where: Path, raw: Any, http: Any) -> WebhookConfig:
    disabled = isinstance(http, dict) and http.get("disable_webhooks") is True
    if not raw:
        return WebhookConfig(disabled=disabled)
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: `webhooks` must be an object")
    url = raw.get("url")
    policy: dict[str, Any] = {}
    if url is not None:
        if not isinstance(url, dict):
            raise InvalidInput(f"{where}: `webhooks.url` must be an object")
        policy = {"require_https": True, "max_url_length": 2048, **url}
    domains = policy.get("allowed_domains") or []
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise InvalidInput(f"{where}: webhooks.url.allowed_domains must be a list of host names")
    if any("*" in d and not (d.startswith("*.") and "*" not in d[2:]) for d in domains):
        raise InvalidInput(f"{where}: a webhooks.url.allowed_domains wildcard must be '*.domain'")
    fields = raw.get("allowed_fields")
    if fields is not None and (not isinstance(fields, list) or not set(fields) <= PAYLOAD_FIELDS):
        raise InvalidInput(
            f"{where}: webhooks.allowed_fields must name fields of {sorted(PAYLOAD_FIELDS)}"
        )
    try:
        return WebhookConfig(
            require_https=bool(policy.get("require_https", False)),
            allowed_domains=tuple(d.lower() for d in domains),
            allowed_ports=tuple(int(p) for p in policy.get("allowed_ports") or ()),
            max_url_length=int(policy.get("max_url_length", 4096)),
            disable_loopback=bool(policy.get("disable_loopback", True)),
            disable_private_ips=bool(policy.get("disable_private_ips", True)),
            headers=_headers(where, raw.get("headers") or {}, raw.get("env_prefix", "LG_WEBHOOK_")),
            allowed_fields=frozenset(fields) if fields else None,
            disabled=disabled,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: `webhooks`: {exc}") from exc


def _headers(where: Path, raw: Any, prefix: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(prefix, str):
        raise InvalidInput(f"{where}: webhooks.headers must be an object, env_prefix a string")

    def fill(match: re.Match[str]) -> str:
        ref = match.group(1)
        name = ref.removeprefix("env.")
        if not ref.startswith("env.") or not name or "." in name:
            raise InvalidInput(f"{where}: webhook headers may only use ${{{{ env.VAR }}}}")
        if not name.startswith(prefix):
            raise InvalidInput(
                f"{where}: webhook header variable {name!r} must start with {prefix!r}"
            )
        if name not in os.environ:
            raise InvalidInput(f"{where}: webhook header variable {name!r} is not set")
        return os.environ[name]

    out = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: webhook header values must be strings")
        out[str(key)] = _TEMPLATE.sub(fill, value)
    return out


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL: the host, the port, and the addresses to use
    (empty for an allowed domain: resolved when sent)."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _blocked(ip: IP, cfg: WebhookConfig) -> str | None:
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    if mapped is not None:
        return _blocked(mapped, cfg)
    if ip.is_loopback:
        return "loopback IP range" if cfg.disable_loopback else None
    if ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "blocked IP range"
    if not ip.is_global:
        return "private IP range" if cfg.disable_private_ips else None
    return None


def _allowed_domain(host: str, cfg: WebhookConfig) -> bool:
    return any(
        host == d or (d.startswith("*.") and host.endswith(d[1:])) for d in cfg.allowed_domains
    )


async def check_url(url: str, cfg: WebhookConfig) -> Target:
    """The URL, if a webhook may go there (else a 422 saying why)."""
    if len(url) > cfg.max_url_length:
        raise InvalidInput("Webhook URL too long")
    if url.startswith("/"):
        raise InvalidInput("Relative webhook URLs are not supported: give an absolute http(s) URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"Invalid webhook URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput(f"Webhook host blocked: scheme {scheme!r} not allowed")
    if cfg.require_https and scheme != "https":
        raise InvalidInput("Webhook must use https")
    port = port or (443 if scheme == "https" else 80)
    if cfg.allowed_ports and port not in cfg.allowed_ports:
        raise InvalidInput(f"Webhook port {port} not allowed")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput(f"Invalid webhook hostname {host!r}")
    if cfg.allowed_domains and not _allowed_domain(host, cfg):
        raise InvalidInput("Webhook domain not allowed")
    if _allowed_domain(host, cfg):
        return Target(url, host, port, ())
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
            DNS_TIMEOUT,
        )
    except (OSError, UnicodeError, TimeoutError):
        raise InvalidInput("Webhook host blocked: DNS resolution failed") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        reason = _blocked(ip, cfg)
        if reason is not None:
            raise InvalidInput(f"Webhook host blocked: {reason}")
        addresses.append(str(ip))
    return Target(url, host, port, tuple(dict.fromkeys(addresses)))
