"""A TCP proxy on 127.0.0.1 that can stop forwarding without closing anything, as a NAT or a load
balancer that forgot a connection does: no reset, no error, and the kernel on each side still
acknowledges what is sent to it, so neither TCP keepalives nor a user timeout notice. New
connections are forwarded as before (the path is new to the NAT).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class _Link:
    """One client's connection and the proxy's own to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self.sent = b""  # the client's first bytes, to tell its connections apart
        self.stalled = threading.Event()


class StallingProxy:
    """Forwards 127.0.0.1:`port` to `target`; `stall` freezes the connections open at that moment."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self, sent: bytes = b"") -> int:
        """Stop forwarding, both ways, on the open connections whose client has sent `sent` (every
        one, by default); how many."""
        with self._lock:
            links = [link for link in self._links if sent in link.sent]
        for link in links:
            link.stalled.set()
        return len(links)

    def close(self) -> None:
        """Close the proxy and every connection through it."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            for link in self._links:
                link.stalled.set()
                for sock in (link.client, link.server):
                    with contextlib.suppress(OSError):
                        sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self.target)
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link, client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, server, client, False), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            for data in _received(source):
                if from_client and len(link.sent) < 4096:
                    link.sent += data
                if link.stalled.is_set():
                    break  # held, never sent on; nothing read from here on
                sink.sendall(data)
        if not link.stalled.is_set():  # a side closed: so does the other
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        else:
            self._closed.wait()


def _received(sock: socket.socket) -> Iterator[bytes]:
    while data := sock.recv(65536):
        yield data
