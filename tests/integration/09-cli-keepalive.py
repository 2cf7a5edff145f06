"""The CLI reuses one connection for all the requests of a command: `consume --ack` leases and
acks over a single keep-alive connection (counted by a TCP relay in front of the server)."""

import socket
import threading

from cli_harness import run_cli, show


class CountingRelay:
    """Accepts connections on a free port and relays each to the server, counting them."""

    def __init__(self, port):
        self.target = port
        self.accepted = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
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
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.lsock.close()


def test_consume_ack_uses_one_connection_for_lease_and_ack(sluice, sluice_cli_bin):
    sluice.publish_many("k", [b"a", b"b"])
    relay = CountingRelay(sluice.port)
    try:
        p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{relay.port}", "consume", "k", "--max",
                    "2", "--ack")
    finally:
        relay.close()
    assert p.returncode == 0, show(p)
    assert sluice.queue("k")["acked"] == 2  # both requests happened...
    assert relay.accepted == 1  # ...over one connection
