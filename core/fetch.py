"""Fetch a web page for ingestion without letting a URL reach into the network Otvet runs in (SSRF).

Whoever may run ``otvet ingest URL`` must not be able to make Otvet read the cloud metadata service
(169.254.169.254), an admin page on localhost or a service on the private network. So the first request and
every redirect (followed by hand, at most :data:`MAX_REDIRECTS` of them) go through the same checks:

1. Only ``http`` and ``https`` URLs, without a user name or password in them.
2. The host is resolved once (``getaddrinfo`` in the loop's thread pool) and refused if *any* of its
   addresses is not a public unicast address: loopback, private, link-local (where metadata services live),
   carrier-grade NAT, multicast, reserved, unspecified. IPv6 forms that carry an IPv4 address (IPv4-mapped
   ``::ffff:127.0.0.1``, 6to4 ``2002::/16``, Teredo, NAT64 ``64:ff9b::/96``) are judged by that address
   too. "Any", not "all": a name resolving to a public and a private address is refused whichever the client
   would have picked. Only the operator's allow-list (``[fetch]`` settings) lifts this, for a host as it is
   written in the URL (``wiki.intranet``, or ``127.0.0.1:8080`` for that one port) or for a network
   (``10.20.0.0/16``) holding the address.
3. The connection goes to the *checked address*, never to the name: the request's URL carries the IP, the
   ``Host`` header carries the original name, and for HTTPS httpcore's ``sni_hostname`` request extension
   makes TLS send that name and verify the certificate against it. There is no second DNS lookup, so an
   answer that changes between the check and the connection (DNS rebinding) cannot redirect the request.
   (The alternatives are worse: a custom transport needs httpcore's private network-backend plumbing, and
   an event hook reading the socket's peer only looks once the connection is made and the request sent.)
   Proxies from the environment are ignored (``trust_env=False``): a proxy would resolve the name itself.
   Each hop gets a fresh client, so no connection verified for one name is reused for another.
4. A body larger than ``max_bytes`` is refused: at once when ``Content-Length`` says so, otherwise as soon
   as that many bytes have streamed in (counted after decompression, so a small compressed bomb stops too).
5. The whole fetch, redirects included, has one deadline: ``timeout_seconds``.

The page's ``Content-Type`` tells which source type parses it (:data:`CONTENT_TYPES`). Text in a charset
other than UTF-8 is converted to UTF-8 with a byte-order mark, which every text parser honours first.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from otvet.config.settings import FetchSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: Media type → the source type that parses it. ``text/plain`` and unlabelled bodies may be refined by
#: the URL's file extension (raw Markdown or CSV files are often served as ``text/plain``).
CONTENT_TYPES: dict[str, str] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/csv": "qa_csv",
    "text/tab-separated-values": "qa_csv",
    "application/json": "qa_json",
    "application/yaml": "qa_yaml",
    "application/x-yaml": "qa_yaml",
    "text/yaml": "qa_yaml",
    "text/x-yaml": "qa_yaml",
}
#: Media types that say nothing about the content: the URL's extension decides.
GENERIC_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})
_TEXT_TYPES = frozenset(
    {"application/xhtml+xml", "application/json", "application/yaml", "application/x-yaml"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """A URL was refused or could not be fetched; ``reason`` says why, for the admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched page: the URL asked for, where it ended up, its media type and its body."""

    url: str
    final_url: str
    content_type: str
    data: bytes


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched from, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # The kernel connects to the IPv4 address itself: judge that alone.
            return refusal(address.ipv4_mapped)
        embedded = [address.sixtofour, *(address.teredo or ())]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and (reason := refusal(inner)):
                return f"{reason} (carried in {address})"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


def _normal_host(host: str) -> str:
    """Hosts compare lower-case, without a trailing dot, and IP addresses in their compressed form."""
    host = host.strip().strip("[]").lower().rstrip(".")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host


class Policy:
    """Which hosts and addresses may be fetched, from :class:`FetchSettings`."""

    def __init__(self, settings: FetchSettings) -> None:
        self.hosts: set[tuple[str, int | None]] = set()
        for entry in settings.allow_hosts:
            try:
                # A bare IPv6 address has colons that are not a port.
                self.hosts.add((ipaddress.ip_address(entry.strip()).compressed, None))
                continue
            except ValueError:
                pass
            try:
                parsed = httpx.URL(f"http://{entry.strip()}")
            except httpx.InvalidURL:
                raise FetchError(f"fetch.allow_hosts entry {entry!r} is not a host or host:port") from None
            self.hosts.add((_normal_host(parsed.host), parsed.port))
        self.networks: list[IPNetwork] = [
            ipaddress.ip_network(n, strict=False) for n in settings.allow_networks
        ]

    def host_allowed(self, url: httpx.URL) -> bool:
        host, port = _normal_host(url.host), url.port or _default_port(url.scheme)
        return (host, None) in self.hosts or (host, port) in self.hosts

    def address_allowed(self, address: IPAddress) -> bool:
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return any((plain or address) in network for network in self.networks)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order of preference."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no addresses")
    return list(dict.fromkeys(addresses))


async def checked_addresses(url: httpx.URL, policy: Policy) -> list[IPAddress]:
    """The addresses ``url`` may be fetched from, or :class:`FetchError` saying why not."""
    if url.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {url.scheme or 'this kind'}")
    if url.userinfo:
        raise FetchError("URLs with a user name or password in them are not fetched")
    if not url.host:
        raise FetchError("the URL has no host")
    host = url.raw_host.decode("ascii").strip("[]")
    addresses = await resolve(host, url.port or _default_port(url.scheme))
    if policy.host_allowed(url):
        return addresses
    for address in addresses:
        reason = refusal(address)
        if reason and not policy.address_allowed(address):
            what = "is" if _normal_host(host) == address.compressed else f"resolves to {address},"
            raise FetchError(
                f"refused: {url.host} {what} {reason}; "
                "list it in fetch.allow_hosts or fetch.allow_networks if it is meant to be reached"
            )
    return addresses


def _with_address(url: httpx.URL, address: IPAddress) -> httpx.URL:
    return url.copy_with(host=str(address))


def _to_utf8(data: bytes, media_type: str, charset: str | None) -> bytes:
    """Text in another charset, converted to UTF-8 behind a BOM (which parsers honour before any <meta>)."""
    textual = media_type.startswith("text/") or media_type in _TEXT_TYPES
    if not textual or not charset or data.startswith(codecs.BOM_UTF8):
        return data
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        return data
    if codec == "utf-8":
        return data
    try:
        return codecs.BOM_UTF8 + data.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise FetchError(f"the server says the page is {charset}, but byte {exc.start} is not") from None


async def _get(
    url: httpx.URL, addresses: Iterable[IPAddress], settings: FetchSettings
) -> tuple[httpx.URL | None, Fetched | None]:
    """One hop: the redirect's target, or the page."""
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": settings.user_agent,
        "Accept": "text/html, application/pdf, text/*;q=0.8, */*;q=0.5",
    }
    extensions = {"sni_hostname": url.raw_host.decode("ascii").strip("[]")}
    last_error: httpx.ConnectError | None = None
    for address in addresses:
        # A fresh client per address and hop: nothing connected under one name is reused for another.
        async with (
            httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=settings.timeout_seconds
            ) as client,
        ):
            request = client.build_request(
                "GET", _with_address(url, address), headers=headers, extensions=extensions
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last_error = exc  # try the host's next (equally checked) address
                continue
            try:
                return await _read(url, response, settings)
            finally:
                await response.aclose()
    raise FetchError(f"cannot connect to {url.host}: {last_error or 'no address'}")


async def _read(
    url: httpx.URL, response: httpx.Response, settings: FetchSettings
) -> tuple[httpx.URL | None, Fetched | None]:
    if response.status_code in REDIRECT_STATUSES:
        location = response.headers.get("location")
        if not location:
            raise FetchError(f"the server answered {response.status_code} without saying where to go")
        try:
            return url.join(location), None
        except httpx.InvalidURL:
            raise FetchError(f"the server redirects to an invalid URL: {location}") from None
    if not response.is_success:
        raise FetchError(f"the server answered {response.status_code} {response.reason_phrase}".rstrip())
    limit = settings.max_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"the page is {declared} bytes; the limit is {limit} (fetch.max_bytes)")
    body = bytearray()
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > limit:
            raise FetchError(f"the page is larger than {limit} bytes (fetch.max_bytes)")
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    data = _to_utf8(bytes(body), media_type, response.charset_encoding)
    return None, Fetched(url="", final_url=str(url), content_type=media_type, data=data)


async def fetch(url: str, settings: FetchSettings) -> Fetched:
    """Fetch ``url`` under the rules in this module's docstring, or raise :class:`FetchError`."""
    policy = Policy(settings)
    try:
        current = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a valid URL: {exc}") from None
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            for hop in range(MAX_REDIRECTS + 1):
                try:
                    addresses = await checked_addresses(current, policy)
                except FetchError as exc:
                    # Name the hop: the admin asked for the first URL, not for where it redirected.
                    raise FetchError(
                        f"redirected to {current}: {exc.reason}" if hop else exc.reason
                    ) from None
                target, page = await _get(current, addresses, settings)
                if page is not None:
                    return Fetched(url, page.final_url, page.content_type, page.data)
                assert target is not None
                current = target
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(
            f"took longer than {settings.timeout_seconds:g} seconds (fetch.timeout_seconds)"
        ) from None
    except httpx.HTTPError as exc:
        raise FetchError(f"the download failed: {exc or type(exc).__name__}") from None
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
