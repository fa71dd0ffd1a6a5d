"""A TCP proxy that a test can arm to stop a conversation at an exact point, so a fault lands
inside the step it is meant for rather than somewhere near it.

`arm(trigger, hold)`: the first client bytes that contain `trigger` are either held back from
the server (`hold="request"`: the server never sees them) or forwarded while everything the
server answers is held back (`hold="answer"`: the server acted, the client never hears so;
for a statement PostgreSQL prepares first, from its execution on).
`triggered` is set then; the test kills the server, and `cut()` closes every connection, as a
dead server's would be.
"""

from __future__ import annotations

import socket
import threading

from harness import free_port


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.triggered = threading.Event()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.trigger: bytes | None = None
        self.hold = "request"
        self.holding = False
        self.executing = False
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, trigger: bytes, hold: str) -> None:
        assert hold in ("request", "answer")
        with self.lock:
            self.trigger, self.hold, self.holding, self.executing = trigger, hold, False, False
            self.triggered.clear()

    def cut(self) -> None:
        """Closes every open connection (both sides) and forwards again from now on."""
        with self.lock:
            self.trigger, self.holding, self.executing = None, False, False
            doomed, self.sockets = self.sockets, set()
        for sock in doomed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                with self.lock:
                    if from_client and self.executing:
                        # The prepared statement's Bind/Execute: it runs now.
                        self.executing, self.holding = False, True
                        self.triggered.set()
                    elif from_client and self.trigger is not None and self.trigger in chunk:
                        trigger, self.trigger = self.trigger, None
                        if self.hold == "answer" and _message_type(chunk, chunk.index(trigger)) == b"P":
                            # PostgreSQL's extended protocol: a Parse only prepares the
                            # statement, and its answer must get through.
                            self.executing = True
                        else:
                            self.holding = True
                            self.triggered.set()
                            if self.hold == "request":
                                continue
                    if not from_client and self.holding and self.hold == "answer":
                        continue
                    if from_client and self.holding and self.hold == "request":
                        continue
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _message_type(chunk: bytes, offset: int) -> bytes:
    """The type of the PostgreSQL frontend message holding `offset` in `chunk` (a type byte
    and a four-byte length each), or b"" if the chunk is not such messages."""
    start = 0
    while start + 5 <= len(chunk):
        end = start + 1 + int.from_bytes(chunk[start + 1:start + 5], "big")
        if start <= offset < end:
            return chunk[start:start + 1]
        start = end
    return b""
