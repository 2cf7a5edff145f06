"""`sluice listen` with the real server: it subscribes the queue to itself, prints every message
it is pushed in publish order (or one JSON object per delivery), checks each delivery's Standard
Webhooks signature (accepting the server's, refusing forged, stale, tampered and foreign ones
with 401 and a warning), answers 204 or --status, stops after --count deliveries or on
SIGINT/SIGTERM with exit status 0, and leaves no subscription behind. Also: --from earliest,
--no-subscribe as an MQ Go receiver, MQ Go's send flow by hand, and a closed stdout."""

import base64
import hashlib
import hmac
import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

import sluice_harness as h
from cli_harness import cli_env


READY_RE = re.compile(r"sluice: listening on (http://\S+/) (?:as subscription (sub-[0-9a-f]+)|\()")


class Listener:
    """One `sluice listen` process; its stdout and stderr are read on threads, line by line."""

    def __init__(self, binary, server_url, args, read_stdout=True):
        self.argv = [str(binary), "-s", server_url, "listen", *args]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=cli_env())
        self.out, self.err = [], []
        self.ready = threading.Event()
        self.url = self.sub_id = None
        self.threads = [threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                                         daemon=True)]
        if read_stdout:
            self.threads.append(threading.Thread(target=self._read,
                                                 args=(self.proc.stdout, self.out), daemon=True))
        for t in self.threads:
            t.start()

    def _read(self, stream, lines):
        for raw in iter(stream.readline, b""):
            lines.append(raw)
            m = READY_RE.match(raw.decode("utf-8", "replace")) if lines is self.err else None
            if m:
                self.url, self.sub_id = m.group(1), m.group(2)
                self.ready.set()
        stream.close()

    def wait_ready(self, timeout=10):
        """Waits for the 'listening on' line: the port is bound and the subscription made."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.02):
            assert self.proc.poll() is None, f"sluice listen exited early:\n{self.describe()}"
            assert time.monotonic() < deadline, f"sluice listen is not ready:\n{self.describe()}"
        return self

    def wait(self, timeout=20):
        """Waits for the exit; returns the exit status. Fails on a crash or sanitizer output."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"sluice listen did not exit within {timeout}s:\n"
                                 f"{self.describe()}")
        for t in self.threads:
            t.join(timeout=5)
        assert self.proc.returncode >= 0, f"sluice listen crashed:\n{self.describe()}"
        for marker in h.SANITIZER_MARKERS:
            assert marker not in self.stderr(), f"sanitizer output:\n{self.describe()}"
        return self.proc.returncode

    def stdout(self):
        return b"".join(self.out)

    def stderr(self):
        return b"".join(self.err).decode("utf-8", "replace")

    def describe(self):
        return (f"argv: {self.argv}\nexit status: {self.proc.poll()}\n"
                f"stdout: {self.stdout()[:3000]!r}\nstderr: {self.stderr()[:3000]}")


@pytest.fixture
def listen(sluice, sluice_cli_bin):
    """listen(*args) starts `sluice -s <the test's server> listen *args` and waits until it is
    ready. Processes still running at the end are killed."""
    started = []

    def start(*args, read_stdout=True):
        lst = Listener(sluice_cli_bin, sluice.url, args, read_stdout)
        started.append(lst)
        return lst.wait_ready()

    yield start
    for lst in started:
        if lst.proc.poll() is None:
            lst.proc.kill()
            lst.proc.wait()


# ---- helpers ----

SECRET = "whsec_" + base64.b64encode(b"listen-test-key-0123456789abcdef").decode()


def sign(secret, wid, ts, body):
    """The Standard Webhooks signature, computed with Python's hmac (not the server's code)."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def post(url, body, wid="q:1", ts=None, sig=None, secret=SECRET, extra=None):
    """POSTs a delivery of our own making to a listener; returns the response."""
    ts = str(int(time.time())) if ts is None else str(ts)
    headers = {"webhook-id": wid, "webhook-timestamp": ts,
               "webhook-signature": sig if sig is not None else sign(secret, wid, ts, body)}
    headers.update(extra or {})
    return requests.post(url, data=body, headers=headers, timeout=5)


def subscriptions(sluice):
    r = sluice.get("/v1/subscriptions")
    assert r.status_code == 200, h.describe(r)
    return r.json()["subscriptions"]


# ---- the plain flow ----


def test_listen_prints_published_messages_in_order_then_stops_and_unsubscribes(sluice, listen):
    lst = listen("events", "--count", "20")
    subs = subscriptions(sluice)
    assert [(s["id"], s["queue"], s["url"]) for s in subs] == [(lst.sub_id, "events", lst.url)]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", lst.url)
    bodies = [f"message {i}".encode() for i in range(20)]
    sluice.publish_many("events", bodies)
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"".join(b + b"\n" for b in bodies), lst.describe()
    assert f"stopped after 20 deliveries; subscription {lst.sub_id} deleted" in lst.stderr()
    assert subscriptions(sluice) == []
    assert sluice.get(f"/v1/subscriptions/{lst.sub_id}").status_code == 404


def test_listen_json_prints_one_object_per_delivery_with_its_headers(sluice, listen):
    lst = listen("--json", "jq", "-n", "3")
    ids = sluice.publish_many("jq", [b"plain text", "grüße".encode(), b"\x00\xff\xfe"])
    assert lst.wait() == 0, lst.describe()
    objs = [json.loads(line) for line in lst.stdout().splitlines()]
    assert [o["id"] for o in objs] == ids
    for o, i in zip(objs, ids):
        assert o["queue"] == "jq" and o["attempt"] == 1, o
        assert o["subscription"] == lst.sub_id and o["webhook_id"] == f"jq:{i}", o
        assert o["verified"] is True, o
    assert [o["body"] for o in objs[:2]] == ["plain text", "grüße"]
    assert "encoding" not in objs[0]
    assert objs[2]["encoding"] == "base64" and h.unb64(objs[2]["body"]) == b"\x00\xff\xfe"


def test_listen_shows_a_binary_body_as_size_and_hex(sluice, listen):
    lst = listen("bin", "--count", "1")
    sluice.publish("bin", b"\x00\x01\xff")
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"(binary, 3 bytes) 00 01 ff\n", lst.describe()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_listen_stops_on_a_signal_exits_0_and_unsubscribes(sluice, listen, sig):
    lst = listen("sig")
    sluice.publish("sig", b"one")
    assert h.wait_until(lambda: lst.out, timeout=10), lst.describe()
    assert len(subscriptions(sluice)) == 1
    lst.proc.send_signal(sig)
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"one\n"
    assert f"stopped on {sig.name} after 1 delivery; subscription {lst.sub_id} deleted" in \
        lst.stderr(), lst.describe()
    assert subscriptions(sluice) == []


def test_listen_from_earliest_receives_messages_published_before_it_started(sluice, listen):
    sluice.publish_many("old", [b"a", b"b", b"c"])
    lst = listen("old", "--from", "earliest", "--count", "4")
    sluice.publish("old", b"d")
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"a\nb\nc\nd\n"


def test_listen_by_default_starts_with_the_next_message(sluice, listen):
    sluice.publish("new", b"before")
    lst = listen("new", "--count", "1")
    sluice.publish("new", b"after")
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"after\n"


def test_listen_host_is_where_it_listens_and_where_the_server_delivers(sluice, listen):
    lst = listen("hosted", "--host", "127.0.0.2", "--count", "1")
    port = int(lst.url.rsplit(":", 1)[1].rstrip("/"))
    assert lst.url == f"http://127.0.0.2:{port}/"
    assert subscriptions(sluice)[0]["url"] == lst.url
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    sluice.publish("hosted", b"via 127.0.0.2")
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"via 127.0.0.2\n"


# ---- signatures ----


def test_listen_checks_signatures_with_its_secret(sluice, listen):
    """With --secret the test knows the key, so it can sign deliveries itself: a correct
    signature (made by Python's hmac) passes; a wrong one, a tampered body, a stale timestamp,
    missing headers and a wrong key are refused with 401 and a warning each, and not printed."""
    lst = listen("sigq", "--secret", SECRET, "--count", "2", "--json")
    now = int(time.time())
    good = post(lst.url, b"signed by the test", wid="sigq:900", ts=now)
    assert good.status_code == 204, good.text
    refused = [
        post(lst.url, b"x", sig="v1," + base64.b64encode(b"\0" * 32).decode()),
        post(lst.url, b"tampered", sig=sign(SECRET, "q:1", now, b"original"), ts=now),
        post(lst.url, b"stale", ts=now - 3600),
        post(lst.url, b"future", ts=now + 3600),
        post(lst.url, b"other key", secret="whsec_" + base64.b64encode(b"k" * 32).decode()),
        requests.post(lst.url, data=b"no headers", timeout=5),
    ]
    assert [r.status_code for r in refused] == [401] * len(refused)
    sluice.publish("sigq", b"from the server")
    assert lst.wait() == 0, lst.describe()
    objs = [json.loads(line) for line in lst.stdout().splitlines()]
    assert [(o["body"], o["verified"]) for o in objs] == [("signed by the test", True),
                                                         ("from the server", True)]
    warnings = [line for line in lst.stderr().splitlines() if "answered 401" in line]
    assert len(warnings) == len(refused), lst.stderr()
    assert any("does not match" in w for w in warnings)
    assert any("5 minutes" in w for w in warnings)
    assert any("lacks" in w for w in warnings)


def test_listen_accepts_any_of_several_signatures(sluice, listen):
    """The convention sends several space-separated signatures while a key rotates."""
    lst = listen("rot", "--secret", SECRET, "--count", "1")
    ts = int(time.time())
    wrong = "v1," + base64.b64encode(b"\1" * 32).decode()
    r = post(lst.url, b"rotating", wid="rot:1", ts=ts,
             sig=f"{wrong} {sign(SECRET, 'rot:1', ts, b'rotating')}")
    assert r.status_code == 204, r.text
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"rotating\n"


def test_listen_refuses_deliveries_of_a_subscription_with_another_secret(sluice, listen):
    lst = listen("mine", "--count", "1")
    r = sluice.post("/v1/queues/theirs/subscriptions",
                    json={"url": lst.url, "secret": "someone-elses-secret"})
    assert r.status_code == 201, h.describe(r)
    theirs = r.json()["id"]
    sluice.publish("theirs", b"not for me")
    assert h.wait_until(lambda: sluice.get(f"/v1/subscriptions/{theirs}").json()["last_status"]
                        == 401, timeout=10), lst.describe()
    assert f"it came from subscription '{theirs}'" in lst.stderr(), lst.describe()
    sluice.publish("mine", b"for me")
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"for me\n"
    assert [s["id"] for s in subscriptions(sluice)] == [theirs]


@pytest.mark.sluice(args=["--push-retry-min", "50ms", "--push-retry-max", "200ms",
                         "--push-circuit-failures", "1000"])
def test_no_subscribe_with_a_mismatched_secret_refuses_and_with_the_right_one_accepts(
        sluice, listen):
    right = "whsec_" + base64.b64encode(b"the-right-key-for-this-test-0123").decode()
    wrong = "whsec_" + base64.b64encode(b"the-wrong-key-for-this-test-0123").decode()
    port = h.free_port()
    bad = listen("--no-subscribe", "--secret", wrong, "--port", str(port))
    assert subscriptions(sluice) == [], "--no-subscribe makes no subscription"
    r = sluice.post("/v1/queues/ext/subscriptions",
                    json={"url": bad.url, "secret": right, "max_attempts": 100})
    assert r.status_code == 201, h.describe(r)
    sid = r.json()["id"]
    sluice.publish("ext", b"signed with the right key")
    assert h.wait_until(lambda: sluice.get(f"/v1/subscriptions/{sid}").json()["last_status"]
                        == 401, timeout=10), bad.describe()
    bad.proc.send_signal(signal.SIGINT)
    assert bad.wait() == 0, bad.describe()
    assert bad.stdout() == b""
    assert "does not match" in bad.stderr(), bad.describe()
    # The same port with the right secret: the retried delivery now passes.
    good = listen("--no-subscribe", "--secret", right, "--port", str(port), "--count", "1",
                  "--json")
    assert good.wait(timeout=40) == 0, good.describe()
    obj = json.loads(good.stdout())
    assert obj["body"] == "signed with the right key" and obj["verified"] is True, obj
    assert obj["attempt"] >= 2, "the first attempt was refused"
    assert [s["id"] for s in subscriptions(sluice)] == [sid], "not the listener's to delete"


# ---- answers ----


@pytest.mark.sluice(args=["--push-retry-min", "50ms", "--push-retry-max", "100ms"])
def test_listen_status_500_makes_the_server_retry(sluice, listen):
    lst = listen("retry", "--status", "500", "--count", "3", "--json")
    mid = sluice.publish("retry", b"again")["id"]
    assert lst.wait() == 0, lst.describe()
    objs = [json.loads(line) for line in lst.stdout().splitlines()]
    assert [(o["id"], o["attempt"], o["body"]) for o in objs] == [
        (mid, 1, "again"), (mid, 2, "again"), (mid, 3, "again")]


def test_listen_sends_its_last_answer_before_stopping(sluice, listen):
    """The server sees every one of the --count answers (none is cut off by the exit), so it
    counts them all delivered and none failed."""
    lst = listen("--no-subscribe", "--count", "3")
    r = sluice.post("/v1/queues/last/subscriptions", json={"url": lst.url})
    assert r.status_code == 201, h.describe(r)
    sid = r.json()["id"]
    sluice.publish_many("last", [b"1", b"2", b"3"])
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"1\n2\n3\n"
    assert h.wait_until(lambda: sluice.get(f"/v1/subscriptions/{sid}").json()["delivered"] == 3,
                        timeout=5), sluice.get(f"/v1/subscriptions/{sid}").json()
    assert sluice.get(f"/v1/subscriptions/{sid}").json()["failed"] == 0


def test_listen_answers_204_to_a_delivery_and_405_to_anything_but_post(sluice, listen):
    lst = listen("--no-subscribe", "--count", "1")
    assert requests.get(lst.url, timeout=5).status_code == 405
    r = requests.post(lst.url, data=b"unsigned", timeout=5)
    assert r.status_code == 204 and r.content == b""
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"unsigned\n"
    assert "signatures not checked" in lst.stderr()


def test_listen_status_option_sets_the_answer(sluice, listen):
    lst = listen("--no-subscribe", "--status", "202", "--count", "1")
    r = requests.post(lst.url, data=b"x", timeout=5)
    assert r.status_code == 202
    assert lst.wait() == 0, lst.describe()


# ---- MQ Go ----


def test_listen_shows_mqgo_sends_on_the_mqgo_queue(sluice, listen):
    """The flow the help text gives: listen on the queue MQ Go's /send publishes to, connect a
    sender, send."""
    lst = listen("mqgo", "--count", "2")
    sender = sluice.post("/connect", json={"mode": "send"})
    assert sender.status_code == 200, h.describe(sender)
    sid = sender.json()["id"]
    for body in ("hello", "world"):
        r = sluice.post("/send", json={"id": sid, "body": body})
        assert r.status_code == 200, h.describe(r)
    assert lst.wait() == 0, lst.describe()
    assert lst.stdout() == b"hello\nworld\n"


def test_listen_no_subscribe_is_an_mqgo_receiver(sluice, listen):
    port = h.free_port()
    lst = listen("--no-subscribe", "-p", str(port), "--count", "2", "--json")
    assert lst.url == f"http://127.0.0.1:{port}/"
    recv = sluice.post("/connect", json={"ClientURL": f"127.0.0.1:{port}", "mode": "receive"})
    assert recv.status_code == 200, h.describe(recv)
    sender = sluice.post("/connect", json={"mode": "send"}).json()["id"]
    for body in ("one", "two"):
        assert sluice.post("/send", json={"id": sender, "body": body}).status_code == 200
    assert lst.wait() == 0, lst.describe()
    objs = [json.loads(line) for line in lst.stdout().splitlines()]
    assert [json.loads(o["body"]) for o in objs] == [{"body": "one"}, {"body": "two"}]
    assert all(o["verified"] is False for o in objs)
    r = sluice.post("/disconnect", json={"id": recv.json()["id"]})
    assert r.status_code == 200, h.describe(r)


# ---- local failures ----


def test_listen_with_stdout_closed_exits_5_and_unsubscribes(sluice, listen):
    lst = listen("pipe", read_stdout=False)
    sluice.publish("pipe", b"first")
    assert lst.proc.stdout.readline() == b"first\n"
    lst.proc.stdout.close()  # the reader went away, as `sluice listen q | head -1` does
    sluice.publish("pipe", b"second")
    assert lst.wait() == 5, lst.describe()
    assert "cannot write standard output" in lst.stderr(), lst.describe()
    assert subscriptions(sluice) == []
