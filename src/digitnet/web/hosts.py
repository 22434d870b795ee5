"""Which Host headers a server answers: DNS-rebinding protection for ``digitnet serve``.

A page of another site whose name was made to resolve to this machine sends that name as its Host; a server that
answers only its own names turns such a request away (400, ``{"detail": ...}``, as every other 4xx of the API).
An address written as a number (``http://10.0.0.5:8000/``) is no such risk: a rebinding needs a name. So a server
bound to every interface (0.0.0.0, ::) answers, besides its names, a Host that is the very address the request
came in on, whichever interface that was, and the unspecified address itself.

    app.add_middleware(HostCheck, hosts=trusted_hosts("0.0.0.0", ["digits.example"]), local_addresses=True)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from starlette.responses import JSONResponse

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # what browsers on this machine send as Host
ANY = "*"


def trusted_hosts(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The Host header values a server bound to ``host`` answers by name, lower case.

    Loopback (127.0.0.1, ::1, localhost): the three loopback names. Every interface (0.0.0.0, ::): those, and
    this machine's host name, fully qualified name and their addresses (:class:`HostCheck` answers its other
    addresses too). Any other address or name: itself. ``extra``: more names (a DNS name of this machine, a
    proxy's; "*.example.org" any name under a domain); "*" answers any. Ports are not compared.
    Raises ValueError for an empty name or a "*" anywhere but alone or before ".domain".
    """
    for name in extra:
        check_host_name(name)
    bare = host.strip("[]").lower()
    names = [_bracketed(bare)]
    if _is_loopback(bare):
        names += LOOPBACK_HOSTS
    elif is_unspecified(bare):
        names = list(LOOPBACK_HOSTS) + own_names()
    names += [name.strip().lower() for name in extra]
    return list(dict.fromkeys(n for n in names if n not in ("0.0.0.0", "[::]")))


def check_host_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a name HostCheck can compare: not empty, "*" only alone or as "*.domain"."""
    name = name.strip()
    if not name:
        raise ValueError("an empty host name answers nothing; give a name such as digits.example (or '*' for any)")
    if ANY in name[1:] or (name.startswith(ANY) and name != ANY and not name.startswith("*.")):
        raise ValueError("'*' stands alone (any name) or before a domain ('*.example.org')")


def is_public(host: str) -> bool:
    """Whether a server bound to ``host`` can be reached from other machines (anything but loopback)."""
    return not _is_loopback(host.strip("[]").lower())


def is_unspecified(host: str) -> bool:
    """Whether ``host`` binds every interface: 0.0.0.0, :: (or nothing)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return host == ""


def is_address(name: str) -> bool:
    """Whether ``name`` is an IP address (an IPv6 one may be in brackets) rather than a name."""
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def own_names() -> list[str]:
    """This machine's host name, fully qualified name, and the addresses they resolve to."""
    names = [socket.gethostname().lower(), socket.getfqdn().lower()]
    try:
        names += [_bracketed(info[4][0].split("%")[0].lower()) for info in socket.getaddrinfo(names[0], None)]
    except OSError:
        pass
    return list(dict.fromkeys(names))


def own_address() -> str | None:
    """The address other machines most likely reach this one by: the source of a route out (no packet is sent);
    None without one (no network but loopback)."""
    for family, target in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):  # documentation ranges
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                address = ipaddress.ip_address(probe.getsockname()[0].split("%")[0])
        except (OSError, ValueError):
            continue
        if not (address.is_loopback or address.is_unspecified or address.is_link_local):
            return _bracketed(str(address))
    return None


class HostCheck:
    """ASGI middleware: a request whose Host header is not one of ``hosts`` (see :func:`trusted_hosts`) gets a 400
    with a JSON detail saying what to do. ``local_addresses`` (a server on every interface): a Host that is the
    address the request came in on, or the unspecified address, is answered too."""

    def __init__(self, app, hosts: Sequence[str] = LOOPBACK_HOSTS, local_addresses: bool = False) -> None:
        self.app, self.local_addresses = app, local_addresses
        self.hosts = [h.lower() for h in hosts]
        self.any = ANY in self.hosts

    async def __call__(self, scope, receive, send):
        if self.any or scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        host = _host_part(header.strip().lower())
        if host and self._answers(host, scope.get("server")):
            return await self.app(scope, receive, send)
        example = (scope.get("server") or ("127.0.0.1", None))
        where = _bracketed(str(example[0])) + (f":{example[1]}" if example[1] else "")
        shown = repr(host) if host else "(none)"
        response = JSONResponse({"detail": f"this server does not answer requests for the host {shown} (DNS rebinding "
                                           f"protection): open it as http://{where}/, or start it with --allow-host "
                                           f"{host or 'NAME'} to answer that name"}, status_code=400)
        await response(scope, receive, send)

    def _answers(self, host: str, server: tuple | None) -> bool:
        for pattern in self.hosts:
            if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return True
        if not self.local_addresses:
            return False
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False  # a name: only the names above
        if address.is_unspecified:
            return True
        try:
            arrived = ipaddress.ip_address(str(server[0]).split("%")[0]) if server else None
        except ValueError:
            return False
        mapped = getattr(arrived, "ipv4_mapped", None)  # an IPv4 client of a dual-stack socket: ::ffff:10.0.0.5
        return address in (arrived, mapped)


def _host_part(header: str) -> str:
    """The host of a Host header, without its port: "[::1]:8000" -> "[::1]", "localhost:8000" -> "localhost"."""
    if header.startswith("["):
        end = header.find("]")
        return header[: end + 1] if end > 0 else ""
    return header.split(":", 1)[0]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    """An IPv6 address as a Host header carries it: [::1]."""
    return f"[{host}]" if ":" in host else host
