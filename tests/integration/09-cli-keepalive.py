"""The CLI reuses one connection for all the requests of a command: `consume --ack` leases and
acks over a single keep-alive connection (counted by a TCP relay in front of the server)."""

import socket
import threading

import subprocess

import pytest

import sluice_harness as h

# ---- running the CLI (the same few lines in every 09-cli-* file) ----


def run_cli(binary, *args, input=b"", env=None, timeout=40):
    """Runs `sluice *args` with `input` on stdin and returns the CompletedProcess (bytes). The
    environment is the test runner's without SLUICE_* and proxy variables, plus `env`. Fails the
    test if the CLI crashed or a sanitizer reported anything."""
    e = h.server_env(env)
    for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        e.pop(k, None)
    p = subprocess.run([str(binary), *args], input=input, capture_output=True, env=e,
                       timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode >= 0, f"sluice was killed by signal {-p.returncode}\n{show(p)}"
    for marker in h.SANITIZER_MARKERS:
        assert marker not in err, f"sanitizer output from sluice:\n{show(p)}"
    return p


def show(p):
    """A CompletedProcess as text, for assertion messages."""
    return (f"argv: {p.args}\nexit status: {p.returncode}\nstdout: {p.stdout[:3000]!r}\n"
            f"stderr: {p.stderr.decode('utf-8', 'replace')[:3000]}")


@pytest.fixture
def cli(sluice, sluice_cli_bin):
    """cli(*args, input=b"") runs `sluice -s <the test's server> *args`."""
    def run(*args, input=b""):
        return run_cli(sluice_cli_bin, "-s", sluice.url, *args, input=input)
    return run


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
