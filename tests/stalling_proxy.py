"""A TCP proxy on 127.0.0.1 that can stop forwarding without closing anything: the database server
as a client sees it behind a partition, a frozen host, or a NAT or load balancer that forgot the
path (no reset, no error; the proxy's kernel still acknowledges every byte, so TCP keepalives and
retransmission timers notice nothing). Works in front of any server, `TEST_DATABASE_URL`'s included."""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.parse


class _Link:
    """One client's connection and the proxy's own to the server; `flowing` while forwarded."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.sockets = (client, server)
        self.flowing = threading.Event()
        self.flowing.set()


class StallingProxy:
    """Forwards 127.0.0.1 to the server of `url` (a postgresql:// address), whose address through the
    proxy is `self.url`, until `stall()`, and again after `resume()`."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._accepting = threading.Event()  # new connections are answered
        self._accepting.set()
        self._closed = False
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = int(self._listener.getsockname()[1])
        user = parts.netloc.rpartition("@")[0]  # the user and password as given
        self.url = parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}").geturl()
        threading.Thread(target=self._accept, name="stalling-proxy", daemon=True).start()

    def stall(self, *, new_connections: bool = True) -> int:
        """Stop forwarding, both ways, on every open connection, and on new ones too unless
        `new_connections` is False (a NAT that forgot the old paths carries new ones); nothing is
        closed. Returns how many open connections were stalled."""
        if new_connections:
            self._accepting.clear()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.flowing.clear()
        return len(links)

    def resume(self) -> None:
        """Forward again, what was held first."""
        self._accepting.set()
        with self._lock:
            for link in self._links:
                link.flowing.set()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._accepting.wait()  # a stalled path answers no new connection either
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        link = _Link(client, server)
        with self._lock:
            self._links.append(link)
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(link, source, target), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                link.flowing.wait()
                data = source.recv(65536)
                if not data:
                    break
                link.flowing.wait()  # read just before a stall: held, as a dropped path holds it
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        self.resume()
        self._listener.close()
        with self._lock:
            for link in self._links:
                for sock in link.sockets:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
