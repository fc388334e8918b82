"""Requests to URLs our users chose (webhooks), guarded against server-side request forgery.

A user could point a webhook at something only this host can reach: Redis, the cloud's metadata
service, an admin page on the LAN. So the host is resolved once, every address it resolves to
must be public (unless `webhooks.allow_private`), and the request then goes to that checked
address, never to a second DNS answer (no rebinding between the check and the connection).
Redirects are not followed: a 3xx is the receiver's answer, not a new destination.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection

DEFAULT_PORTS = {"http": 80, "https": 443}
ANSWER_READ_LIMIT = 64 * 1024  # a receiver's body is read this far, then dropped


class UrlRefused(ValueError):
    """Not a URL we send to; `code` is the API error code, `detail` the sentence for its owner."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Target:
    """Where a URL leads: the checked address to connect to, and the names the request carries."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check `url` and resolve its host; raises UrlRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid_url", f"The URL is not valid ({exc}).") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UrlRefused("invalid_url", "The URL must be absolute and start with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "invalid_url", "The URL must not carry credentials; check the signature on each delivery instead."
        )
    port = port or DEFAULT_PORTS[parts.scheme]
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused("invalid_url", f"The host {parts.hostname} does not resolve.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UrlRefused(
                    "private_address",
                    f"{parts.hostname} resolves to {address}, a loopback, private or link-local address; "
                    "this server delivers only to public addresses (webhooks.allow_private is off).",
                )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local by definition
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 ::ffff:0:a.b.c.d


def is_public(address: str) -> bool:
    """Globally routable unicast, looking through every IPv6 form that carries an IPv4 address
    (Python's `is_global` calls NAT64, 6to4, Teredo and the IPv4-compatible forms of internal
    addresses global)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not ip.is_multicast
    if ip in NAT64_LOCAL_USE or ip.is_site_local:
        return False
    carried = _carried_ipv4(ip)
    if carried:
        return all(is_public(str(inner)) for inner in carried)
    return ip.is_global and not ip.is_multicast


def _carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for, if any."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the Teredo server and the client behind it
    last_32_bits = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in NAT64_WELL_KNOWN or ip in IPV4_TRANSLATED:
        return [last_32_bits]
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, which are themselves
        return [last_32_bits]
    return []


def post(target: Target, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST `body` to the target's checked address; the status code. `timeout_s` bounds the
    whole exchange (connect, send, status line, headers), not each socket read: a receiver that
    trickles its answer a byte at a time is cut off at the deadline. Raises urllib3's errors
    (and OSError) when no answer came in time."""
    if target.scheme == "https":
        connection: HTTPConnection = HTTPSConnection(
            target.address, target.port, timeout=timeout_s, server_hostname=target.host,
            assert_hostname=target.host,
        )  # fmt: skip
    else:
        connection = HTTPConnection(target.address, target.port, timeout=timeout_s)
    cut_off = threading.Event()

    def deadline() -> None:
        cut_off.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout_s, deadline)
    watchdog.start()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            preload_content=False,
        )
        response = connection.getresponse()
        with contextlib.suppress(urllib3.exceptions.HTTPError, OSError):
            response.read(
                ANSWER_READ_LIMIT
            )  # the status line is the answer; a body cut short changes nothing
        return response.status
    except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
        if cut_off.is_set():
            raise urllib3.exceptions.TimeoutError(f"no answer within {timeout_s:g} s") from exc
        if isinstance(exc, http.client.HTTPException):  # not HTTP at all
            raise urllib3.exceptions.ProtocolError(f"not an HTTP answer ({type(exc).__name__})") from exc
        raise
    finally:
        watchdog.cancel()
        connection.close()
