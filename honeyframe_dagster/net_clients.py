"""HTTP clients that enforce the connector policy (net_policy.py) at every new connection, redirect hops included.

The modules that make requests import this one in the functions that do: httpx and httpcore (~10 MB with what they
pull in) are a run worker's libraries, not a code location's, which only checks URLs (net_policy.py).
"""

from __future__ import annotations

import contextlib
import socket
import typing

import anyio
import httpcore
import httpx

from honeyframe_dagster import net_policy


class EgressRefused(net_policy.EgressRefused, httpx.ConnectError):
    """A refusal of the policy as a guarded client raises it: also an httpx.ConnectError, so that a refused host
    fails its request like any other connection error (and is named the same in its message)."""


def _refusal(exc: net_policy.EgressRefused) -> EgressRefused:
    return EgressRefused(exc.host, exc.reason)


@contextlib.contextmanager
def _lookup(host: str) -> typing.Iterator[str]:
    """The name to resolve for `host` once the policy allows it (EgressRefused otherwise); a failed lookup is the
    connection's failure (ConnectError)."""
    try:
        net_policy.check_host(host)
    except net_policy.EgressRefused as exc:
        raise _refusal(exc) from None
    try:
        yield host.strip("[]")
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc


def _allowed(host: str, infos: list[tuple[typing.Any, ...]]) -> list[str]:
    """The resolved addresses, each allowed by the policy (EgressRefused otherwise)."""
    try:
        return net_policy.allowed_addresses(host, infos)
    except net_policy.EgressRefused as exc:
        raise _refusal(exc) from None


class _Attempts:
    """Connecting to each checked address in turn: `with attempts:` keeps a ConnectError and lets the next address
    be tried; `failed()` raises the last one when none connected."""

    def __init__(self) -> None:
        self.error: httpcore.ConnectError | None = None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> bool:
        if isinstance(error, httpcore.ConnectError):
            self.error = error
            return True
        return False

    def failed(self) -> typing.NoReturn:
        assert self.error is not None
        raise self.error


# Both backends connect only to checked addresses of an allowed host; httpcore's connection options (timeout,
# local address, socket options) are passed on as they come.
class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, *options: typing.Any, **named: typing.Any) -> httpcore.NetworkStream:
        with _lookup(host) as name:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        attempts = _Attempts()
        for address in _allowed(host, infos):
            with attempts:
                return self._inner.connect_tcp(address, port, *options, **named)
        attempts.failed()

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, *options: typing.Any, **named: typing.Any
    ) -> httpcore.AsyncNetworkStream:
        with _lookup(host) as name:
            infos = await anyio.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        attempts = _Attempts()
        for address in _allowed(host, infos):
            with attempts:
                return await self._inner.connect_tcp(address, port, *options, **named)
        attempts.failed()

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _transport() -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; its pool is the documented httpcore one.
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend())
    return transport


def _async_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_AsyncGuardedBackend(),
    )
    return transport


def guarded_client(**kwargs: typing.Any) -> httpx.Client:
    """An httpx.Client under the policy: no environment proxies; redirects (followed unless told otherwise,
    at most MAX_REDIRECTS) reach only hosts the policy allows, since every new connection is checked."""
    kwargs.setdefault("follow_redirects", True)
    return httpx.Client(transport=_transport(), trust_env=False, max_redirects=net_policy.MAX_REDIRECTS, **kwargs)


def guarded_async_client(**kwargs: typing.Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient under the policy (see `guarded_client`)."""
    limits = kwargs.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    kwargs.setdefault("follow_redirects", True)
    transport = _async_transport(limits)
    return httpx.AsyncClient(transport=transport, trust_env=False, max_redirects=net_policy.MAX_REDIRECTS, **kwargs)
