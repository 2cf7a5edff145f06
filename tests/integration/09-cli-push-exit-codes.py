"""Exit statuses of subscribe, subscriptions, unsubscribe and listen: 2 for a usage error (a
message on stderr, nothing sent: no queue, no subscription made), 3 when the server refuses
(unknown subscription, bad queue name, bad URL), 4 when the server cannot be reached, and for
listen 5 when its port cannot be bound. listen leaves no subscription and no open port behind
whichever way it fails."""

import socket

import pytest

import sluice_harness as h
from cli_harness import run_cli, show


USAGE_ERRORS = [
    ["subscribe"],
    ["subscribe", "q"],
    ["subscribe", "q", "http://x/", "extra"],
    ["subscribe", "q", "http://x/", "--max-in-flight", "0"],
    ["subscribe", "q", "http://x/", "--max-in-flight", "many"],
    ["subscribe", "q", "http://x/", "--max-attempts", "-1"],
    ["subscribe", "q", "http://x/", "--timeout", "soon"],
    ["subscribe", "q", "http://x/", "--from", "middle"],
    ["subscribe", "q", "http://x/", "--secret"],
    ["subscribe", "q", "http://x/", "--bogus"],
    ["subscriptions", "a", "b"],
    ["subscriptions", "--bogus"],
    ["unsubscribe"],
    ["listen"],
    ["listen", "q", "extra"],
    ["listen", "q", "--port", "65536"],
    ["listen", "q", "-p", "http"],
    ["listen", "q", "--status", "199"],
    ["listen", "q", "--status", "600"],
    ["listen", "q", "--count", "0"],
    ["listen", "q", "-n", "lots"],
    ["listen", "q", "--from", "now"],
    ["listen", "q", "--secret", ""],
    ["listen", "q", "--host", ""],
    ["listen", "--no-subscribe", "q"],
    ["listen", "--no-subscribe", "--from", "earliest"],
    ["listen", "--no-subscribe", "--secret", "whsec_not*base64"],
    ["listen", "q", "--host", "no-such-host.invalid"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a))
def test_usage_errors_exit_2_with_a_message_and_send_nothing(sluice, cli, args):
    p = cli(*args)
    assert p.returncode == 2, show(p)
    assert p.stdout == b""
    assert p.stderr.startswith(b"sluice: "), show(p)
    # Nothing reached the server: subscribing would have created the queue.
    assert sluice.get("/v1/queues").json() == {"queues": []}
    assert sluice.get("/v1/subscriptions").json() == {"subscriptions": []}


def test_unknown_subscription_exits_3_with_subscription_not_found(sluice, cli):
    p = cli("unsubscribe", "sub-0123456789abcdef")
    assert p.returncode == 3, show(p)
    assert p.stdout == b""
    assert p.stderr.decode().startswith("sluice: subscription_not_found: "), show(p)


@pytest.mark.parametrize("args,code", [
    (["subscribe", "bad name!", "http://127.0.0.1:9/"], "invalid_name"),
    (["subscribe", "q", "ftp://127.0.0.1/"], "invalid_parameter"),
    (["subscribe", "q", "http://127.0.0.1:9/", "--secret", "whsec_***"], "invalid_parameter"),
    (["subscriptions", "bad name!"], "invalid_name"),
    (["listen", "bad name!"], "invalid_name"),
], ids=["subscribe-bad-queue", "subscribe-bad-url", "subscribe-bad-secret",
        "subscriptions-bad-queue", "listen-bad-queue"])
def test_server_refusals_exit_3_with_the_servers_error(sluice, cli, args, code):
    p = cli(*args)
    assert p.returncode == 3, show(p)
    assert p.stdout == b""
    assert p.stderr.decode().startswith(f"sluice: {code}: "), show(p)
    assert sluice.get("/v1/subscriptions").json() == {"subscriptions": []}


@pytest.mark.parametrize("args", [
    ["subscribe", "q", "http://127.0.0.1:9/"],
    ["subscriptions"],
    ["unsubscribe", "sub-0123456789abcdef"],
    ["listen", "q", "--count", "1"],
], ids=lambda a: a[0])
def test_unreachable_server_exits_4(sluice_cli_bin, args):
    port = h.free_port()
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{port}", *args)
    assert p.returncode == 4, show(p)
    assert p.stdout == b""
    assert f"127.0.0.1:{port}" in p.stderr.decode(), show(p)


def test_listen_on_a_port_in_use_exits_5_and_subscribes_nothing(sluice, cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = cli("listen", "q", "--port", str(port), "--count", "1")
    assert p.returncode == 5, show(p)
    assert p.stdout == b""
    assert f"port {port}" in p.stderr.decode() and "in use" in p.stderr.decode(), show(p)
    assert sluice.get("/v1/subscriptions").json() == {"subscriptions": []}


def test_listen_refused_by_the_server_leaves_its_port_closed(sluice, cli):
    port = h.free_port()
    p = cli("listen", "bad name!", "--port", str(port))
    assert p.returncode == 3, show(p)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
