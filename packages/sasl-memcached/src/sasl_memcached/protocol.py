"""The binary-protocol commands python-binary-memcached lacks, a leaner ``get``, and its connection handling.

Everything here reaches into python-binary-memcached's private methods
(``_send``, ``_get_response``, ``_read_socket``, ``_get_server``,
``_open_connection``, ``_connection_error``) and its ``connection`` and
``reconnects_deferred_until`` attributes; keeping them in this one module
means an upgrade of that library is checked here and nowhere else
(pyproject.toml pins its minor version).
"""

import logging
import os
import socket
import struct
import sys
import weakref
from datetime import datetime, timedelta

from bmemcached.client.distributed import DistributedClient
from bmemcached.exceptions import MemcachedException
from bmemcached.protocol import Protocol

from sasl_memcached.values import ValueCodec

logger = logging.getLogger("sasl_memcached")

_OPCODE = {"get": 0x00, "delete": 0x04, "incr": 0x05, "decr": 0x06, "noop": 0x0A, "touch": 0x1C}
_HEADER = struct.Struct(Protocol.HEADER_STRUCT)
_INCR_EXTRAS = struct.Struct("!QQL")
# An incr/decr expiry of 0xFFFFFFFF means "fail if the key is missing".
_NO_AUTO_CREATE = 0xFFFFFFFF
# The binary protocol's "incr/decr on a non-numeric value".
_STATUS_NOT_A_NUMBER = 0x06
# What one recv asks for: a page-sized value, or a get_many's replies, arrive in one call.
_RECEIVE_SIZE = 256 * 1024


class CacheServerError(Exception):
    """A server did not answer, or answered with an error."""


class ServerBackingOff(CacheServerError):
    """The server failed recently and is skipped until its retry delay has passed."""


# Linux's SO_RCVTIMEO takes a struct timeval; elsewhere Python's own timeout stays.
_KERNEL_TIMEOUTS = sys.platform == "linux"

_all_connections: "weakref.WeakSet[ServerConnection]" = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child, drop the parent's sockets (the parent keeps using them).

    gunicorn's master checks the cache before forking its workers. A worker
    that went on using the inherited socket would share one TCP connection
    with its siblings, and each would read replies meant for another.
    """
    for server in list(_all_connections):
        server.connection = None
        server._received.clear()


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _let_the_kernel_time_out(connection: socket.socket, seconds: float) -> None:
    """Bound each send and receive in the kernel (SO_SNDTIMEO, SO_RCVTIMEO) on a blocking socket.

    A Python socket with a timeout polls before every send and every receive: four system calls
    a command where two do. A receive that times out raises BlockingIOError (an OSError), as a
    Python timeout raises TimeoutError: the connection is dropped and the server backed off alike.
    Not for TLS: Python's ssl module retries a read that times out on a blocking socket, forever.
    """
    timeval = struct.pack("@ll", int(seconds), int(seconds % 1 * 1_000_000))
    connection.settimeout(None)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


class ServerConnection(Protocol):
    """One memcached server: a circuit breaker, signed values and the commands bmemcached lacks."""

    def __init__(self, *args, retry_delay, codec: ValueCodec, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_retry_delay(retry_delay)
        self.codec = codec
        # What the server sent that no reply has consumed yet (per thread, as the connection is).
        self._received = bytearray()
        _all_connections.add(self)

    # Every value bmemcached stores or reads passes through these two.
    def serialize(self, value, compress_level=-1):
        return self.codec.encode(value)

    def deserialize(self, value, flags):
        # Never raises: bmemcached reads multi-get replies in a loop, and an
        # exception half-way would leave the rest of them in the socket.
        return self.codec.decode(value, flags)

    def get(self, key: str) -> tuple[object, int | None]:
        """``(value, cas)``, ``(None, None)`` for a miss: bmemcached's ``get`` without its logging and
        look-ups, the command a cached page costs."""
        self._send(self._message("get", key))
        response = self._get_response()
        status, cas, body = response[5], response[8], response[9]
        if status == self.STATUS["success"]:
            return self.deserialize(memoryview(body)[4:], int.from_bytes(body[:4], "big")), cas
        if status in (self.STATUS["key_not_found"], self.STATUS["server_disconnected"]):
            return None, None
        raise MemcachedException(f"Code: {status:d} Message: {body}", status)

    def _read_socket(self, size: int) -> bytes:
        """The next ``size`` bytes from the server.

        bmemcached asks the socket for the header, then for the body: two
        ``recv`` calls a reply, twenty for a ``get_many`` of ten. Here one
        ``recv`` takes whatever the server has sent, and the replies are cut
        from it: a reply that arrived whole costs one call.
        """
        received = self._received
        while len(received) < size:
            data = self.connection.recv(_RECEIVE_SIZE)
            if not data:
                raise OSError(f"{self.server} closed the connection")
            received += data
        if len(received) == size:
            reply = bytes(received)
            received.clear()
        else:
            with memoryview(received) as view:
                reply = bytes(view[:size])
            del received[:size]
        return reply

    def disconnect(self):
        super().disconnect()
        # Half a reply from the dropped connection must never be read as the start of the next one.
        self._received.clear()

    def _open_connection(self):
        if self.connection is not None:
            return
        try:
            super()._open_connection()
            if self.connection is not None and self.socket_timeout and _KERNEL_TIMEOUTS and not self.tls_context:
                _let_the_kernel_time_out(self.connection, self.socket_timeout)
        except MemcachedException:
            # Bad credentials: drop the half-open connection and back off like
            # for any other failure, instead of retrying on every call.
            self._connection_error(None)
            raise

    def _connection_error(self, exception):
        super()._connection_error(exception)
        now = datetime.now()
        if self.reconnects_deferred_until and self.reconnects_deferred_until > now:
            # The "error" is bmemcached refusing to reconnect while we back off;
            # extending the back-off here would keep a busy app off the server forever.
            return
        logger.warning("memcached %s unavailable (%r); skipping it for %ss", self.server, exception, self.retry_delay)
        self.reconnects_deferred_until = now + timedelta(seconds=self.retry_delay)

    def backing_off(self) -> bool:
        return bool(self.reconnects_deferred_until and self.reconnects_deferred_until > datetime.now())

    def _request(self, command: str, key: str, extras: bytes = b"") -> tuple[int, bytes | None]:
        if self.backing_off():
            raise ServerBackingOff(self.server)
        self._send(self._message(command, key, extras))
        response = self._get_response()
        status, body = response[5], response[9]
        if status == self.STATUS["server_disconnected"]:
            raise CacheServerError(f"{self.server}: {body}")
        return status, body

    def _message(self, command: str, key: str = "", extras: bytes = b"") -> bytes:
        keybytes = key.encode()
        header = _HEADER.pack(
            self.MAGIC["request"], _OPCODE[command], len(keybytes), len(extras), 0, 0, len(extras) + len(keybytes), 0, 0
        )
        return header + extras + keybytes

    def delete_keys(self, keys: list[str]) -> None:
        """Delete keys in one round trip. Raises unless the server answered for every one.

        bmemcached's delete_multi reports a missing key and an unreachable
        server alike, as False.
        """
        if self.backing_off():
            raise ServerBackingOff(self.server)
        self._send(b"".join(self._message("delete", key) for key in keys) + self._message("noop"))
        while True:
            response = self._get_response()
            if response[5] == self.STATUS["server_disconnected"]:
                raise CacheServerError(f"{self.server}: {response[9]}")
            if response[1] == _OPCODE["noop"]:
                return

    def _found(self, command: str, key: str, extras: bytes = b"") -> bytes | None:
        """Run a command whose only expected failure is a missing key."""
        status, body = self._request(command, key, extras)
        if status == self.STATUS["key_not_found"]:
            return None
        if status == _STATUS_NOT_A_NUMBER:
            # The caller's mistake, not the server's: raised, as Django's other backends do.
            raise TypeError(f"{command} of {key!r}: the value is not a number")
        if status != self.STATUS["success"]:
            raise CacheServerError(f"{self.server}: {command} failed with status {status}: {body}")
        return body or b""

    def touch_key(self, key: str, expiry: int) -> bool:
        return self._found("touch", key, struct.pack("!L", expiry)) is not None

    def delete_key(self, key: str) -> bool:
        return self._found("delete", key) is not None

    def incr_key(self, key: str, delta: int) -> int | None:
        command = "incr" if delta >= 0 else "decr"
        body = self._found(command, key, _INCR_EXTRAS.pack(abs(delta), 0, _NO_AUTO_CREATE))
        return None if body is None else struct.unpack("!Q", body)[0]


class Client(DistributedClient):
    """Spreads keys over the servers by consistent hashing (uhashring's ketama ring)."""

    def __init__(self, servers, *, retry_delay, codec: ValueCodec, **options):
        self.retry_delay = retry_delay
        self.codec = codec
        super().__init__(servers, **options)

    def set_servers(self, servers):
        self._servers = [
            ServerConnection(
                server=server,
                username=self.username,
                password=self.password,
                compression=self.compression,
                socket_timeout=self.socket_timeout,
                pickle_protocol=self.pickle_protocol,
                pickler=self.pickler,
                unpickler=self.unpickler,
                tls_context=self.tls_context,
                raw_data=self.raw_data,
                retry_delay=self.retry_delay,
                codec=self.codec,
            )
            for server in servers
        ]

    def _get_server(self, key):
        # Most deployments name one server (a MemCachier cache is one address): no ring to ask.
        if len(self._servers) == 1:
            return self._servers[0]
        return super()._get_server(key)

    def server_for(self, key: str) -> ServerConnection:
        return self._get_server(key)

    def lookup(self, key: str) -> tuple[bool, object]:
        """``(found, value)``. bmemcached's ``get`` answers None for a miss and for a stored None alike;
        the CAS value tells them apart (memcached gives every stored item one)."""
        value, cas = self._get_server(key).get(key)
        return cas is not None, value
