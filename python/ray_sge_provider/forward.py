"""A local TCP forward to a port in the cluster (``ray dashboard``, ``ray exec --port-forward``).

It listens on 127.0.0.1 only and adds nothing to what passes: Ray's dashboard still asks for the
cluster's token, so another user of this host who finds the port gets the login page, no further.
"""

from __future__ import annotations

import contextlib
import socket
import threading


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class Forward:
    """127.0.0.1:local_port -> host:port, one thread per direction of each connection, until close()."""

    def __init__(self, local_port: int, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", local_port))
        self._server.listen(16)
        self.local_port: int = self._server.getsockname()[1]
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> Forward:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                conn.close()
                continue
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()


def open_forward(local_port: int, host: str, port: int) -> Forward:
    """Forward local_port (0: any free one) to host:port; when local_port is taken, a free one instead."""
    try:
        return Forward(local_port, host, port).start()
    except OSError:
        if local_port == 0:
            raise
        return Forward(0, host, port).start()
