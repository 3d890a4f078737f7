"""A TCP forwarder that can cut a server off the network and reconnect it."""

import socket
import threading

from testsupport.ports import free_port


class TcpProxy:
    """Listens on its own port and forwards to ``target_port``.

    ``cut()`` behaves like a network partition or a crashed host: open
    connections are closed and new ones refused, while the server behind keeps
    running with everything it stored. ``restore()`` reconnects it.
    ``hang()`` behaves like a stalled path: connections open and stay open,
    and nothing gets through either way until ``unhang()``.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._swallowing = False

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()
        return self

    restore = start

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # The port is free for restore() only once no thread waits on it.
            self._acceptor.join()
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            # shutdown, not just close: it wakes the thread blocked reading the socket.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    stop = cut

    def hang(self) -> None:
        self._swallowing = True

    def unhang(self) -> None:
        self._swallowing = False

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, destination in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, destination), daemon=True).start()

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._swallowing:
                    destination.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, destination):
                with self._lock:
                    self._open.discard(sock)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
