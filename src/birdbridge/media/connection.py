"""The sockets of one media download: checked addresses, and one deadline for everything.

httpcore lets a client bring its own network backend; ours is the one place where a download
touches the network, so both rules of issue 10 live here:

- **Addresses (server-side request forgery).** ``connect_tcp`` resolves the host, checks every
  address (:mod:`birdbridge.media.addresses`) and connects to the checked address itself,
  never to the name again, so DNS cannot answer differently between check and connect. The
  URL is left as it was: the Host header and TLS (SNI and the certificate check, done by the
  ssl module against ``server_hostname``) still use the name, as httpcore passes it.
- **Deadline (slow downloads).** httpx and httpcore time each operation, so a server sending
  one byte a second never trips a read timeout. Every connect, TLS handshake, read and write
  here gets ``min(its timeout, time left)``, and none starts once the time is up. A blocking
  socket call cannot outlive its timeout, so the whole transfer (connect, headers, body)
  ends by the deadline: no watchdog thread, and nothing to race with a socket being closed.
"""

from __future__ import annotations

import functools
import ssl
import time
import typing
from collections.abc import Callable

import httpcore

from birdbridge.media.addresses import check, resolve

T = typing.TypeVar("T")


class DeadlinePassed(Exception):
    """The whole transfer took longer than allowed ("took longer than 60 s")."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def run(self, operation: Callable[[float | None], T], timeout: float | None) -> T:
        """``operation(timeout)`` with the timeout cut to the time left; when that cut
        timeout is what expired, the deadline has passed."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self._passed()
        try:
            return operation(left if timeout is None else min(timeout, left))
        except httpcore.TimeoutException:
            if timeout is None or left <= timeout:
                raise self._passed() from None
            raise

    def _passed(self) -> DeadlinePassed:
        return DeadlinePassed(f"took longer than {self.seconds:g} s")


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to checked addresses, and only until the deadline."""

    def __init__(self, allowed_hosts: frozenset[str], deadline: Deadline) -> None:
        self.allowed_hosts = allowed_hosts
        self.deadline = deadline
        self.plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)  # DNS itself is bounded by the resolver's timeouts
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        check(host, addresses, self.allowed_hosts)
        failure: httpcore.ConnectError | None = None
        for address in addresses:  # as the resolver ordered them, like create_connection
            connect = functools.partial(self._connect, address, port, local_address, socket_options)
            try:
                stream = self.deadline.run(connect, timeout)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return DeadlineStream(stream, self.deadline)
        raise failure or httpcore.ConnectError(f"{host} has no address")

    def _connect(
        self,
        address: str,
        port: int,
        local_address: str | None,
        socket_options: typing.Iterable[typing.Any] | None,
        timeout: float | None,
    ) -> httpcore.NetworkStream:
        # An IP literal: create_connection() looks nothing up, so this is the checked address.
        return self.plain.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("media downloads use TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class DeadlineStream(httpcore.NetworkStream):
    """A connected stream whose every operation ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.deadline.run(lambda cut: self.stream.read(max_bytes, cut), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.deadline.run(lambda cut: self.stream.write(buffer, cut), timeout)

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secure = self.deadline.run(
            lambda cut: self.stream.start_tls(ssl_context, server_hostname, cut), timeout
        )
        return DeadlineStream(secure, self.deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self.stream.get_extra_info(info)
