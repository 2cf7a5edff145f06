"""Exit statuses: 2 for a usage error (message on stderr, nothing sent to the server), 3 when
the server answers with an error (printed as `sluice: <code>: <message>`), 4 when the server
cannot be reached or does not answer; errors go to stderr and nothing to stdout."""

import re
import socket
import threading

import pytest

import sluice_harness as h
from cli_harness import run_cli, show


USAGE_ERRORS = [
    [],
    ["frobnicate"],
    ["--bogus", "queues"],
    ["-s"],
    ["publish"],
    ["publish", "q", "a", "b"],
    ["publish", "q", "x", "--delay", "soon"],
    ["publish", "q", "x", "--ttl", "5y"],
    ["publish", "q", "x", "--deliver-at", "tomorrow"],
    ["publish", "q", "x", "--delay", "1s", "--deliver-at", "2030-01-01T00:00:00Z"],
    ["publish", "q", "x", "--attr", "novalue"],
    ["publish", "q", "x", "--attr", "bad name=v"],
    ["publish", "q", "x", "--no-such-option"],
    ["consume"],
    ["consume", "q", "--max", "0"],
    ["consume", "q", "--max", "1001"],
    ["consume", "q", "--max", "ten"],
    ["consume", "q", "--wait"],
    ["consume", "q", "--visibility", "-1s"],
    ["pop", "q", "extra"],
    ["ack", "q"],
    ["release", "q", "r", "--delay", "x"],
    ["peek", "q", "--limit", "5000"],
    ["peek", "q", "--after", "-1"],
    ["queues", "extra"],
    ["stats", "a", "b"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_usage_errors_exit_2_with_a_message_and_send_nothing(sluice, cli, args):
    p = cli(*args)
    assert p.returncode == 2, show(p)
    assert p.stdout == b""
    assert p.stderr.startswith(b"sluice: "), show(p)
    # Nothing reached the server: not even the publish that would have created queue q.
    assert sluice.get("/v1/queues").json() == {"queues": []}


def test_invalid_queue_name_exits_3_with_the_servers_error(sluice, cli):
    for args in (["publish", "bad name!", "x"], ["consume", "bad name!"], ["peek", "--", "-bad"]):
        p = cli(*args)
        assert p.returncode == 3, show(p)
        assert p.stdout == b""
        assert re.fullmatch(r"sluice: invalid_name: \S.*\n", p.stderr.decode()), show(p)
    assert sluice.get("/v1/queues").json() == {"queues": []}


def test_missing_group_exits_3_with_group_not_found(sluice, cli):
    sluice.publish("q", b"x")
    p = cli("consume", "q", "--group", "nosuchgroup")
    assert p.returncode == 3, show(p)
    assert p.stderr.decode().startswith("sluice: group_not_found: "), show(p)


def test_connection_refused_exits_4(sluice_cli_bin):
    port = h.free_port()
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{port}", "queues")
    assert p.returncode == 4, show(p)
    assert p.stdout == b""
    assert f"127.0.0.1:{port}" in p.stderr.decode(), show(p)


def test_server_closing_without_an_answer_exits_4(sluice_cli_bin):
    """A peer that accepts and hangs up is 'could not be reached' too, not a server error."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{port}", "queues")
    finally:
        lsock.close()
    assert p.returncode == 4, show(p)
    assert p.stdout == b""


def test_unknown_host_exits_4(sluice_cli_bin):
    p = run_cli(sluice_cli_bin, "-s", "no-such-host.invalid:8080", "queues")
    assert p.returncode == 4, show(p)
