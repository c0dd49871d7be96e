"""A TCP gate in front of the real PostgreSQL server, for outage drills (tests/test_outages.py, and the web
sessions' in tests/test_web_session_processes.py)."""

import socket
import threading


class Gate:
    """A TCP forwarder on 127.0.0.1 in front of the real PostgreSQL server that the test closes and reopens:
    closed, nothing listens on its port (connections are refused) and every forwarded connection is cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = list(self._pairs), set()
        if listener is not None:
            listener.close()
        for pair in pairs:
            self._cut(pair)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                # Accepted just before the gate closed: cut now, or it would outlive the closing.
                still_open = self._listener is listener
                if still_open:
                    self._pairs.add(pair)
            if not still_open:
                self._cut(pair)
                return
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, pair), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self._cut(pair)

    @staticmethod
    def _cut(pair: tuple[socket.socket, socket.socket]) -> None:
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
