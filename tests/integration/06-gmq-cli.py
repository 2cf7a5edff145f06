"""The sluice CLI's GMQ client mode (docs/cli.md, "GMQ client mode"): GMQ's client flags
(`-s HOST:PORT -q QUEUE -a P|S|L -m BASE64 -o FILE -p tcp|tcp4|tcp6 -user -password -l FILE`, one
or two dashes, `-a=P`) send exactly the request GMQ's client sent and print the server's reply
verbatim without a newline; unlike GMQ's client, a refused request ("N") exits 3 with the error on
stderr, an unreachable server exits 4 with a message (no Go panic), a usage error exits 2, and -o
truncates. Without GMQ's flags, -s is still sluice's --server."""

import base64
import socket
import subprocess
import threading

import pytest

import gmq_client as g
import sluice_harness as h


def run_cli(binary, *args, timeout=30):
    e = h.server_env()
    p = subprocess.run([str(binary), *args], capture_output=True, env=e, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode >= 0, f"sluice was killed by signal {-p.returncode}: {err}"
    for marker in h.SANITIZER_MARKERS:
        assert marker not in err, f"sanitizer output from sluice:\n{err}"
    return p


@pytest.fixture
def gmq(start_sluice):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0")
    return srv, f"127.0.0.1:{g.gmq_port(srv)}"


def test_publish_length_subscribe_print_the_reply_verbatim(gmq, sluice_cli_bin):
    srv, addr = gmq
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "P", "-m", "aGVsbG8=")
    assert p.returncode == 0, p
    assert p.stdout == b'{"operation":"P","queue":"jobs","payload":"aGVsbG8=","confirmation":"Y",' \
                       b'"error":null}'
    assert p.stderr == b""
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "L")
    assert (p.returncode, g.reply(p.stdout)["payload"]) == (0, "1")
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "S")
    assert p.returncode == 0
    assert base64.b64decode(g.reply(p.stdout)["payload"]) == b"hello"
    assert not p.stdout.endswith(b"\n")
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "S")  # empty queue: still Y
    assert (p.returncode, g.reply(p.stdout)["payload"]) == (0, "")


def test_go_flag_forms_are_accepted(gmq, sluice_cli_bin):
    srv, addr = gmq
    p = run_cli(sluice_cli_bin, "--s", addr, "-q=forms", "--a=P", "--m", "Zm9ybXM=")
    assert p.returncode == 0, p
    assert srv.queue("forms")["messages"] == 1


def test_refused_request_exits_3_and_shows_the_error(gmq, sluice_cli_bin):
    srv, addr = gmq
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "P", "-m", "not base64")
    assert p.returncode == 3, p
    g.assert_refused(p.stdout, "invalid_base64")  # the reply is still printed, as GMQ did
    assert p.stderr.startswith(b"sluice: invalid_base64: "), p.stderr
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "jobs", "-a", "X")
    assert p.returncode == 3 and b"Unknown operation 'X'" in p.stderr


def test_unreachable_server_exits_4_with_a_message(sluice_cli_bin):
    port = h.free_port()
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{port}", "-q", "q", "-a", "L")
    assert p.returncode == 4, p
    assert b"cannot connect to 127.0.0.1:" in p.stderr and b"goroutine" not in p.stderr
    assert p.stdout == b""


@pytest.mark.parametrize("args,mention", [
    (("-q", "q"), b"action is missing"),
    (("-a", "P"), b"queue is missing"),
    (("-a", "L", "-q", "q", "-user", "u"), b"-user and -password go together"),
    (("-a", "L", "-q", "q", "-p", "udp"), b"-p 'udp'"),
    (("-a", "L", "-q", "q", "-s", "host:port"), b"not HOST:PORT"),
    (("-a", "L", "-q", "q", "-x", "1"), b"unknown flag '-x'"),
    (("-a", "L", "-q"), b"needs a value"),
    (("-a", "L", "-q", "q", "extra"), b"unexpected argument 'extra'"),
])
def test_usage_errors_exit_2(sluice_cli_bin, args, mention):
    p = run_cli(sluice_cli_bin, *args)
    assert p.returncode == 2, p
    assert mention in p.stderr, p.stderr


def test_help_in_gmq_mode_lists_the_flags(sluice_cli_bin):
    p = run_cli(sluice_cli_bin, "-a", "P", "-h")
    assert p.returncode == 0
    for flag in (b"-a ACTION", b"-q QUEUE", b"-m BASE64", b"-s HOST:PORT", b"-p PROTOCOL",
                 b"-user USER", b"-o FILE", b"-l FILE"):
        assert flag in p.stdout, p.stdout
    p = run_cli(sluice_cli_bin, "--help")
    assert b"GMQ client mode" in p.stdout


def test_output_file_gets_the_reply_and_is_truncated(gmq, sluice_cli_bin, workdir):
    _, addr = gmq
    out = workdir / "reply.json"
    out.write_bytes(b"x" * 500)  # GMQ's client left such a tail behind
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "o", "-a", "L", "-o", str(out))
    assert p.returncode == 0 and p.stdout == b""
    assert g.reply(out.read_bytes())["payload"] == "0"
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "o", "-a", "L", "-o", str(workdir / "no/such"))
    assert p.returncode == 5, p


def test_log_file_gets_the_diagnostics(sluice_cli_bin, workdir):
    log = workdir / "client.log"
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{h.free_port()}", "-q", "q", "-a", "L",
                "-l", str(log))
    assert p.returncode == 4
    assert b"cannot connect" in log.read_bytes() and p.stderr == b""


def test_credentials_are_sent_as_the_head_clients_tokens(start_sluice, sluice_cli_bin):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0", "--gmq-user",
                       "gmqserver", "--gmq-password", "secret")
    addr = f"127.0.0.1:{g.gmq_port(srv)}"
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "myqueue", "-a", "P", "-m", "aGVsbG8gd29ybGQ=")
    assert p.returncode == 3 and b"unauthorized" in p.stderr
    p = run_cli(sluice_cli_bin, "-s", addr, "-q", "myqueue", "-a", "P", "-m", "aGVsbG8gd29ybGQ=",
                "-user", "gmqserver", "-password", "secret")
    assert p.returncode == 0, p
    assert g.reply(p.stdout)["auth"] == {"user": g.token("gmqserver"),
                                         "password": g.token("secret")}


class FakeServer:
    """Accepts one connection, records what arrives until the request is complete, answers."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.got = b""
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5)
            while self.got.count(b"{") == 0 or self.got.count(b"{") != self.got.count(b"}"):
                part = conn.recv(65536)
                if not part:
                    break
                self.got += part
            conn.sendall(self.answer)
        self.sock.close()


def test_the_cli_sends_exactly_what_gmqs_head_client_sent(sluice_cli_bin):
    fake = FakeServer(b'{"confirmation":"Y"}')
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{fake.port}", "-q", "myqueue", "-a", "P",
                "-m", "aGVsbG8gd29ybGQ=", "-user", "gmqserver", "-password", "secret")
    fake.thread.join(5)
    assert p.returncode == 0, p
    # SEEDS-PROTOCOL.md §2.3, recorded from the HEAD client
    assert fake.got == g.request("P", "myqueue", "aGVsbG8gd29ybGQ=", "gmqserver", "secret")
    assert p.stdout == b'{"confirmation":"Y"}'


def test_a_reply_that_is_not_gmqs_exits_3(sluice_cli_bin):
    fake = FakeServer(b"Error parsing the incoming message: invalid character")  # GMQ v1.3
    p = run_cli(sluice_cli_bin, "-s", f"127.0.0.1:{fake.port}", "-q", "q", "-a", "L")
    fake.thread.join(5)
    assert p.returncode == 3, p
    assert p.stdout == b"Error parsing the incoming message: invalid character"
    assert b"not a GMQ reply" in p.stderr


def test_protocol_flag_picks_the_address_family(gmq, sluice_cli_bin):
    _, addr = gmq
    port = addr.rsplit(":", 1)[1]
    p = run_cli(sluice_cli_bin, "-s", f"localhost:{port}", "-p", "tcp4", "-q", "q", "-a", "L")
    assert p.returncode == 0, p
    # the server listens on 127.0.0.1 only: over IPv6 there is nobody at that port
    p = run_cli(sluice_cli_bin, "-s", f"localhost:{port}", "-p", "tcp6", "-q", "q", "-a", "L")
    assert p.returncode == 4, p


def test_dash_s_alone_is_still_the_http_server_option(sluice, sluice_cli_bin):
    sluice.publish("http", b"x")
    p = run_cli(sluice_cli_bin, "-s", sluice.url, "queues")
    assert p.returncode == 0, p
    assert b"http" in p.stdout
    p = run_cli(sluice_cli_bin, "-s", sluice.url, "--json", "stats", "http")
    assert p.returncode == 0, p
