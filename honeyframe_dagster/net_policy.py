"""Which hosts connectors, agents and webhooks may reach (net_clients.py: HTTP clients that enforce it).

The rule (docs/security.md, "Connectors and secrets"):

- `HONEYFRAME_CONNECTOR_ALLOWED_HOSTS` set (comma-separated host names or addresses, `*.example.com` globs):
  only matching hosts, whatever they resolve to, except cloud metadata and link-local addresses, which are
  reachable only when listed literally.
- Unset: any host whose every resolved address is public; never loopback, private, link-local, CGNAT,
  multicast, reserved, unspecified or cloud metadata addresses, nor names such as `localhost`.

`check_url` decides what can be decided without DNS (at `apply`, naming the field). The clients from
`net_clients.guarded_client` / `guarded_async_client` check the host again at every new connection (redirect hops
included), resolve it once, check every address and connect only to a checked address, so a name cannot pass the
check and then be rebound elsewhere. URLs in messages go through `redact_url`: no userinfo, no query values.

This module imports no HTTP library: a code location checks URLs with it (documents, step resources), only a run
worker makes requests (with httpx and httpcore, ~10 MB with what they pull in).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
import typing
from urllib.parse import parse_qsl, urlencode, urlsplit

from honeyframe_dagster.settings import get_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
# Names that point at the host itself or at a cloud metadata service (refused unless listed literally).
_FORBIDDEN_NAMES: tuple[str, ...] = ("localhost", "*.localhost", "metadata", "metadata.google.internal")
_FORBIDDEN_NAMES += ("metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.internal")
_METADATA = tuple(
    ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_V4 = re.compile(r"^[0-9a-fx.]+$")


class EgressRefused(Exception):
    """A host or address the policy forbids; `reason` says why without the URL (which may be a secret).

    A guarded client raises it as an httpx.ConnectError too (net_clients.EgressRefused, a subclass), so that a
    refused connection fails its request like any other connection error."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"host '{host}' {reason}")
        self.host = host
        self.reason = reason


def allowed_hosts() -> tuple[str, ...] | None:
    """The allowlist entries (lowercase), or None when HONEYFRAME_CONNECTOR_ALLOWED_HOSTS is unset or blank."""
    raw = get_settings().connector_allowed_hosts or ""
    entries = tuple(e.strip().strip("[]").lower().rstrip(".") for e in raw.split(",") if e.strip())
    return entries or None


def literal_address(host: str) -> Address | None:
    """The address a host literal denotes, including numeric forms such as `2130706433` or `0x7f.1`."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded(address: Address) -> Address:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address (else the address itself)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: Address) -> bool:
    address = _embedded(address)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def is_metadata(address: Address) -> bool:
    address = _embedded(address)
    return any(address.version == network.version and address in network for network in _METADATA)


def _matches(host: str, patterns: typing.Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns)


def _canonical(host: str) -> str:
    """The host as an HTTP client will connect to it: IDNA-mapped (full-width letters and digits, ideographic
    dots: `ｌｏｃａｌｈｏｓｔ` is `localhost`, `127。0。0。1` is `127.0.0.1`), lower case, without brackets or a
    trailing dot. A host with blanks or control characters, or that IDNA cannot map, is refused."""
    host = host.strip("[]")
    if any(char.isspace() or ord(char) < 32 for char in host):
        raise EgressRefused(host.strip(), "is not a valid host name (blank or control character)")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise EgressRefused(host, "is not a valid host name") from None
    return host.lower().rstrip(".")


def check_host(host: str) -> None:
    """Refuse a host (name or literal address) the policy forbids before any DNS; raises EgressRefused."""
    host = _canonical(host)
    if not host:
        raise EgressRefused(host, "is empty")
    literal = literal_address(host)
    allowed = allowed_hosts()
    if allowed is not None:
        if not _matches(host, allowed) and not (literal is not None and str(literal) in allowed):
            raise EgressRefused(host, "is not in HONEYFRAME_CONNECTOR_ALLOWED_HOSTS")
        listed = host in allowed or (literal is not None and str(literal) in allowed)
        if not listed and ((literal is not None and is_metadata(literal)) or _matches(host, _FORBIDDEN_NAMES)):
            raise EgressRefused(host, "is a metadata or link-local address; list it literally to allow it")
        return
    if literal is not None and not is_public(literal):
        raise EgressRefused(host, "is not a public address (set HONEYFRAME_CONNECTOR_ALLOWED_HOSTS to allow it)")
    if _matches(host, _FORBIDDEN_NAMES):
        raise EgressRefused(host, "is a local or metadata host name (set HONEYFRAME_CONNECTOR_ALLOWED_HOSTS)")


def check_address(host: str, address: Address) -> None:
    """Refuse an address `host` resolved to, when the policy forbids it."""
    allowed = allowed_hosts()
    if allowed is not None:
        listed = host.lower() in allowed or str(address) in allowed
        if is_metadata(address) and not listed:
            raise EgressRefused(host, f"resolves to the metadata or link-local address {address}")
    elif not is_public(address):
        raise EgressRefused(host, f"resolves to the non-public address {address}")


def is_local(address: Address) -> bool:
    """A loopback or unspecified address (IPv4 inside IPv6 included): this machine itself."""
    address = _embedded(address)
    return address.is_loopback or address.is_unspecified


def checked_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each allowed by the policy (EgressRefused otherwise): for a client that
    opens its own connection (a database driver), which must then connect to one of these, not to the name.
    OSError when the name does not resolve."""
    check_host(host)
    infos = socket.getaddrinfo(_canonical(host), port, type=socket.SOCK_STREAM)
    return allowed_addresses(host, infos)


def check_url(url: str) -> None:
    """An http(s) URL whose host passes `check_host`; raises ValueError (EgressRefused) saying why."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"expected an http:// or https:// URL, got scheme {parts.scheme!r}")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        raise ValueError(f"malformed URL {redact_url(url)!r}") from None
    check_host(host or "")


def redact_url(url: str) -> str:
    """The URL without userinfo, fragment or query values: safe to log and to show in errors."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        query = urlencode([(key, "***") for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    except ValueError:
        return "<unparsable URL>"
    return parts._replace(netloc=netloc, query=query, fragment="").geturl()


def scrub(text: str, url: str) -> str:
    """`text` with the URL, its userinfo and its query values replaced by their redacted forms."""
    text = text.replace(url, redact_url(url))
    parts = urlsplit(url)
    secrets = [parts.netloc.rpartition("@")[0], parts.password or ""]
    secrets += [value for _, value in parse_qsl(parts.query) if len(value) >= 4]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def allowed_addresses(host: str, infos: list[tuple[typing.Any, ...]]) -> list[str]:
    """The addresses of `getaddrinfo` results for `host`, each allowed by the policy (EgressRefused otherwise)."""
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise EgressRefused(host, "does not resolve to any address")
    for address in addresses:
        check_address(host, ipaddress.ip_address(address))
    return addresses
