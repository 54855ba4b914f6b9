"""The metadata service a guest reads at http://169.254.169.254, from its network's namespace.

In OpenStack a guest's request reaches Neutron's metadata proxy in the network's
namespace, which tells Nova which instance is asking and Nova answers. Here the
cumulo process itself listens in the namespace and answers with the documents
`InstanceMetadata` builds for the config drive, in Nova's URL layout
(``nova/api/metadata/base.py`` ``lookup`` and ``handler.py``)::

    /                                   EC2 versions, one per line, then ``latest``
    /<ec2 version>/                     ``meta-data/`` and ``user-data`` (with user data)
    /<ec2 version>/meta-data/<key>...   a key: directories list their keys (``name/``),
                                        lists are joined by newlines, ``public-keys/``
                                        shows ``0=<key name>``
    /<ec2 version>/user-data            the user data, as given
    /openstack                          OpenStack versions, then ``latest``
    /openstack/<version>/               the file names of that version
    /openstack/<version>/<file>         the file (``*.json`` as ``application/json``)

``/ec2/...`` is the same as ``/...``. Unknown paths are 404, methods other than GET
and HEAD 405.

Who asks is told only by the source address of the TCP connection: the caller's
``lookup`` maps it to an instance (None is 404 for every path). Headers a guest
sends (``X-Forwarded-For``, ``X-Instance-ID``) are never read, so a guest cannot
read another's metadata.

HTTP is h11 over asyncio streams rather than uvicorn: one small server per
network namespace, where uvicorn's ``serve()`` would take over the process's
SIGINT/SIGTERM handlers, trust ``X-Forwarded-For`` from 127.0.0.1 unless told not
to, and wake every 0.1 s per server; h11 parses and frames, and the peer address
comes straight from the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import h11
from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP

from cumulo.exception import CumuloError
from cumulo.network.agent.linux_net import NAMESPACE_DIR, namespace_exists
from cumulo.network.agent.metadata_tree import (
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    Reply,
    error_reply,
    resolve,
)
from cumulo.virt.instance_metadata import InstanceMetadata

LOG = logging.getLogger(__name__)

METADATA_ADDRESS = "169.254.169.254"
IDLE_TIMEOUT = 10.0
"""Seconds a connection may wait for the next bytes of a request, or for a reply to drain."""
MAX_CONNECTIONS = 256
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
_READ_SIZE = 64 * 1024
_BACKLOG = 128
_CLONE_NEWNET = 0x40000000
_RTN_LOCAL = 2
_LIBC = ctypes.CDLL(None, use_errno=True)

Lookup = Callable[[str], Awaitable[InstanceMetadata | None]]


# -- the server ---------------------------------------------------------------------------


class MetadataProxyError(CumuloError):
    message = "Metadata service in namespace %(namespace)s: %(reason)s"


class MetadataProxy:
    """Serves the metadata of the guests ``lookup`` knows, on ``address:port`` in ``namespace``.

    ``namespace`` None is the namespace this process runs in. ``port`` 0 takes a free
    port, which ``port`` tells once started.
    """

    def __init__(
        self,
        namespace: str | None,
        lookup: Lookup,
        address: str = METADATA_ADDRESS,
        port: int = 80,
    ) -> None:
        self.namespace = namespace
        self.lookup = lookup
        self.address = address
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """Put ``address`` on the namespace's ``lo`` if it is not local there yet, and listen.

        Both happen on a thread of their own that enters the namespace and ends, so the
        event loop's thread never leaves its namespace; the socket stays in the one it
        was made in.
        """
        if self._server is not None:
            return
        sock = await _on_own_thread(self._listen_in_namespace)
        try:
            self._server = await asyncio.start_server(self._accept, sock=sock)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        LOG.info("metadata service on %s:%s in %s", self.address, self.port, self._where)

    async def stop(self) -> None:
        """Close the listener and every open connection; the address stays on ``lo``."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections.items())
        for task, writer in connections:
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*(task for task, _ in connections), return_exceptions=True)
        await server.wait_closed()

    @property
    def _where(self) -> str:
        return self.namespace or "this process's namespace"

    def _listen_in_namespace(self) -> socket.socket:
        try:
            if self.namespace is not None:
                _enter_namespace(self.namespace)
            with IPRoute() as ipr:
                _ensure_local_address(ipr, self.address)
            return _listening_socket(self.address, self.port)
        except (OSError, NetlinkError, CumuloError) as exc:
            raise MetadataProxyError(namespace=self._where, reason=str(exc)) from exc

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not peer or len(self._connections) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        serving = self._serve_connection(reader, writer, str(peer[0]))
        task = asyncio.get_running_loop().create_task(serving)
        self._connections[task] = writer
        task.add_done_callback(self._connections.pop)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote_ip: str
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        try:
            while await self._answer_one(conn, reader, writer, remote_ip):
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            await _refuse(conn, writer, exc.error_status_hint)
        except OSError:  # the client went away or stalled (TimeoutError is an OSError)
            pass
        except Exception:
            LOG.exception("metadata request from %s in %s failed", remote_ip, self._where)
        finally:
            await _close(writer)

    async def _answer_one(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        remote_ip: str,
    ) -> bool:
        """Read a request, answer it; whether the connection can carry another."""
        request = await _read_request(conn, reader)
        if request is None:
            return False
        reply = await self._reply(request, remote_ip)
        await _send(conn, writer, reply, head=request.method == b"HEAD")
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _reply(self, request: h11.Request, remote_ip: str) -> Reply:
        if request.method not in (b"GET", b"HEAD"):
            return METHOD_NOT_ALLOWED
        path = urlsplit(request.target.decode("latin-1")).path
        try:
            metadata = await self.lookup(remote_ip)
        except Exception:
            LOG.exception("looking up the instance at %s in %s failed", remote_ip, self._where)
            return error_reply(500)
        if metadata is None:
            LOG.debug("metadata: no instance at %s in %s", remote_ip, self._where)
            return NOT_FOUND
        return resolve(metadata, path, remote_ip)


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The next whole request (its body read and dropped); None once the client is gone."""
    request, body = None, 0
    while True:
        event = await _next_event(conn, reader)
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += len(event.data)
            if body > MAX_BODY_BYTES:
                raise h11.RemoteProtocolError("request body too large", error_status_hint=413)
        elif isinstance(event, h11.EndOfMessage):
            return request
        else:
            return None


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        async with asyncio.timeout(IDLE_TIMEOUT):
            data = await reader.read(_READ_SIZE)
        conn.receive_data(data)


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply, *, head: bool = False
) -> None:
    headers = [("content-type", reply.content_type), ("content-length", str(len(reply.body)))]
    if reply.status == 405:
        headers.append(("allow", "GET, HEAD"))
    reason = HTTPStatus(reply.status).phrase
    events: list[h11.Event] = [
        h11.Response(status_code=reply.status, headers=headers, reason=reason)
    ]
    if not head:
        events.append(h11.Data(data=reply.body))
    events.append(h11.EndOfMessage())
    writer.write(b"".join(conn.send(event) or b"" for event in events))
    async with asyncio.timeout(IDLE_TIMEOUT):
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close after what is still buffered is sent, or drop it if the client stopped reading."""
    writer.close()
    try:
        async with asyncio.timeout(IDLE_TIMEOUT):
            await writer.wait_closed()
    except OSError:
        writer.transport.abort()


async def _refuse(conn: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
    """Answer a request h11 could not parse, if nothing was answered to it yet."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    with contextlib.suppress(h11.LocalProtocolError, OSError):
        await _send(conn, writer, error_reply(status))


# -- the namespace ------------------------------------------------------------------------


async def _on_own_thread(work: Callable[[], socket.socket]) -> socket.socket:
    """``work()`` on a new thread that ends after it, so a namespace it enters dies with it.

    A thread pool (``asyncio.to_thread``) would keep the thread, in the namespace, for
    whatever it runs next. A socket made for a caller that stopped waiting is closed.
    """
    loop = asyncio.get_running_loop()
    result: asyncio.Future[socket.socket] = loop.create_future()

    def deliver(sock: socket.socket) -> None:
        if result.cancelled():
            sock.close()
        else:
            result.set_result(sock)

    def fail(error: Exception) -> None:
        if not result.cancelled():
            result.set_exception(error)

    def run() -> None:
        try:
            sock = work()
        except Exception as exc:
            loop.call_soon_threadsafe(fail, exc)
            return
        try:
            loop.call_soon_threadsafe(deliver, sock)
        except RuntimeError:  # the loop closed meanwhile
            sock.close()

    threading.Thread(target=run, name="metadata-netns", daemon=True).start()
    return await result


def _enter_namespace(name: str) -> None:
    """Move the calling thread (only it) into the named network namespace."""
    if not namespace_exists(name):
        raise FileNotFoundError(errno.ENOENT, "no such network namespace", name)
    fd = os.open(NAMESPACE_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns into {name}: {os.strerror(code)}")
    finally:
        os.close(fd)


def _ensure_local_address(ipr: IPRoute, address: str) -> None:
    """``lo`` up, and ``address/32`` on it unless the namespace already owns ``address``."""
    lo = ipr.link("get", ifname="lo")[0]
    if not lo["flags"] & IFF_UP:
        ipr.link("set", index=lo["index"], state="up")
    if _is_local(ipr, address):
        return
    try:
        ipr.addr("add", index=lo["index"], address=address, prefixlen=32)
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            raise


def _is_local(ipr: IPRoute, address: str) -> bool:
    try:
        routes = ipr.route("get", dst=address)
    except NetlinkError:
        return False  # no route at all
    return any(route.get("type") == _RTN_LOCAL for route in routes)


def _listening_socket(address: str, port: int) -> socket.socket:
    # proto spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and a 0 here would leave every reply waiting on Nagle and delayed ACKs (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
