"""Failure isolation of push delivery (issue 5; SEEDS-PROTOCOL.md §1.5: in MQ Go one dead receiver
killed the server and one silent receiver stalled delivery): a receiver that answers 500, one that
hangs (timeout), one whose port is closed, one that answers garbage or cuts the connection, and
one that answers without end neither crash the server nor hold back a healthy receiver or
publishing; a receiver that comes back after being down (or stops hanging) gets everything, in
order. Checked by counts and order, with generous deadlines; no timing is asserted."""

import socket
import threading
import time

import pytest

from receiver import closed_port, receivers, sub_info, subscribe, wait_sub  # noqa: F401

FAST = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "300ms",
        "--push-circuit-failures", "5", "--push-circuit-pause", "300ms"]


class RawReceiver:
    """A TCP listener that reads a request and then does `what` ("garbage": a non-HTTP answer;
    "close": closes without a word; "reset": an RST)."""

    def __init__(self, what):
        self.what = what
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.settimeout(2)
                try:
                    c.recv(65536)
                except OSError:
                    pass
                if self.what == "garbage":
                    c.sendall(b"SPLAT \x00\xff garbage\r\n\r\nmore garbage")
                elif self.what == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            finally:
                c.close()

    def close(self):
        self.stopping = True
        self.sock.close()


@pytest.mark.sluice(args=FAST + ["--workers", "4", "--jobs", "4", "--push-timeout", "1s"])
def test_bad_receivers_do_not_hold_back_a_healthy_one(sluice, receivers):
    failing, hanging, healthy = receivers(), receivers(), receivers()
    failing.answer(500, b"down")
    hanging.hang()
    subs = {
        "failing": subscribe(sluice, "q", failing.url("/"), max_in_flight=4),
        "hanging": subscribe(sluice, "q", hanging.url("/"), max_in_flight=4),
        "closed": subscribe(sluice, "q", f"http://127.0.0.1:{closed_port()}/", max_in_flight=4),
        "healthy": subscribe(sluice, "q", healthy.url("/"), max_in_flight=1),
    }
    bodies = [b"m%03d" % i for i in range(100)]
    sluice.publish_many("q", bodies)
    healthy.wait_ok(100, timeout=20)
    assert healthy.bodies() == bodies  # every message, in order
    # the hanging receiver holds one request at a time, not max_in_flight of them
    assert hanging.max_active == 1
    assert failing.max_active == 1
    for name in ("failing", "hanging", "closed"):
        info = wait_sub(sluice, subs[name]["id"], lambda i: i["failed"] >= 1,
                        what=f"{name} failed")
        assert info["delivered"] == 0, (name, info)
    assert sub_info(sluice, subs["healthy"]["id"])["failed"] == 0
    assert sluice.alive()
    hanging.release()


@pytest.mark.sluice(args=FAST + ["--workers", "1", "--jobs", "1", "--push-timeout", "60s",
                                 "--shutdown-timeout", "1s"])
def test_publishing_never_waits_on_delivery(sluice, receivers):
    hanging = receivers()
    hanging.hang()
    subscribe(sluice, "q", hanging.url("/"))
    sluice.publish("q", b"first")
    hanging.wait_for(1)  # the only worker is now stuck for a minute
    t0 = time.monotonic()
    for i in range(200):
        r = sluice.post("/v1/queues/q/messages", data=b"%d" % i, timeout=5)
        assert r.status_code == 201, r.text
    elapsed = time.monotonic() - t0
    # pull consumers are served meanwhile too
    assert len(sluice.lease("q", max=1000)) == 201
    assert hanging.count() == 1
    assert sluice.alive()
    print(f"published 200 messages in {elapsed:.2f}s with the only worker stuck")


@pytest.mark.sluice(args=FAST + ["--workers", "2", "--jobs", "2", "--push-timeout", "60s"])
def test_a_hung_receiver_takes_one_worker_and_the_others_keep_going(sluice, receivers):
    hanging, healthy = receivers(), receivers()
    hanging.hang()
    subscribe(sluice, "a", hanging.url("/"), max_in_flight=10)
    subscribe(sluice, "b", healthy.url("/"))
    sluice.publish_many("a", [b"x%d" % i for i in range(10)])
    hanging.wait_for(1)
    bodies = [b"y%d" % i for i in range(50)]
    sluice.publish_many("b", bodies)
    healthy.wait_ok(50)
    assert healthy.bodies() == bodies
    assert hanging.count() == 1  # one request, still hanging: the window stayed at 1
    hanging.release()


@pytest.mark.sluice(args=FAST)
def test_a_receiver_that_comes_back_after_being_down_gets_everything_in_order(sluice,
                                                                              receivers):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=1000)
    sluice.publish("q", b"before")
    rec.wait_ok(1)  # a kept-alive connection to it now exists
    rec.stop()  # down: the port is closed and that connection dies
    bodies = [b"during%d" % i for i in range(5)]
    sluice.publish_many("q", bodies)
    info = wait_sub(sluice, s["id"], lambda i: i["failed"] >= 3, what="3 refused attempts")
    assert "connect" in info["last_error"].lower(), info
    rec.start()  # back, on the same port
    rec.wait_ok(6)
    assert [r.body for r in rec.ok()] == [b"before"] + bodies
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 6 and i["lag"] == 0,
                    what="everything delivered")
    assert info["circuit"] == "closed" and info["dead_lettered"] == 0
    rec.quiet_for(0.3)
    assert [r.body for r in rec.snapshot()] == [b"before"] + bodies  # each once


@pytest.mark.sluice(args=FAST)
def test_a_receiver_that_hangs_then_recovers_gets_the_message(sluice, receivers):
    rec = receivers()
    rec.hang()
    s = subscribe(sluice, "q", rec.url("/"), timeout="300ms", max_attempts=1000)
    sluice.publish_many("q", [b"a", b"b"])
    wait_sub(sluice, s["id"], lambda i: i["failed"] >= 2, what="2 timeouts")
    rec.answer(200)
    rec.wait_ok(2)
    assert [r.body for r in rec.ok()] == [b"a", b"b"]
    assert rec.ok()[0].attempt >= 3
    wait_sub(sluice, s["id"], lambda i: i["delivered"] == 2, what="2 delivered")


@pytest.mark.parametrize("what", ["garbage", "close", "reset"])
@pytest.mark.sluice(args=FAST)
def test_a_receiver_that_answers_garbage_or_cuts_the_connection_is_a_failure(sluice,
                                                                             receivers, what):
    raw = RawReceiver(what)
    healthy = receivers()
    try:
        s = subscribe(sluice, "q", f"http://127.0.0.1:{raw.port}/", max_attempts=2)
        subscribe(sluice, "q", healthy.url("/"))
        sluice.publish_many("q", [b"a", b"b"])
        info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 2,
                        what="both dead-lettered")
        assert info["delivered"] == 0 and info["last_error"], info
        healthy.wait_ok(2)
        assert sluice.alive()
    finally:
        raw.close()


@pytest.mark.sluice(args=FAST)
def test_a_receiver_that_answers_without_end_is_cut_off(sluice, receivers):
    rec = receivers()
    rec.answer(500, b"z" * (8 << 20))  # an 8 MiB error page
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=2)
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    assert info["last_error"].startswith("HTTP 500"), info["last_error"]
    assert len(info["last_error"]) < 300
    ok = receivers()
    ok.answer(200, b"k" * (4 << 20))  # a 2xx with a huge body is still a success
    s2 = subscribe(sluice, "r", ok.url("/"), max_attempts=1)
    sluice.publish("r", b"y")
    info = wait_sub(sluice, s2["id"], lambda i: i["delivered"] + i["failed"] >= 1,
                    what="an outcome")
    assert info["delivered"] == 1, info
    assert sluice.alive()


@pytest.mark.sluice(args=FAST + ["--push-timeout", "60s", "--shutdown-timeout", "1s"])
def test_shutdown_is_not_held_by_a_hung_receiver(sluice, receivers):
    rec = receivers()
    rec.hang()
    subscribe(sluice, "q", rec.url("/"))
    sluice.publish("q", b"x")
    rec.wait_for(1)
    t0 = time.monotonic()
    assert sluice.stop() == 0, sluice.stderr()
    assert time.monotonic() - t0 < 8, "shutdown waited for the receiver"
    rec.release()


@pytest.mark.sluice(args=FAST)
def test_many_receivers_one_of_them_dead_all_others_get_everything(sluice, receivers):
    recs = [receivers() for _ in range(8)]
    dead_port = closed_port()
    subscribe(sluice, "q", f"http://127.0.0.1:{dead_port}/")
    subscribe(sluice, "q", f"127.0.0.1:{dead_port}/no-scheme")
    for r in recs:
        subscribe(sluice, "q", r.url("/"))
    bodies = [b"%d" % i for i in range(30)]
    sluice.publish_many("q", bodies)
    for r in recs:
        r.wait_ok(30)
        assert r.bodies() == bodies
    assert sluice.alive()


@pytest.mark.sluice(args=FAST)
def test_a_handler_that_fails_some_messages_delivers_the_rest(sluice, receivers):
    rec = receivers()
    rec.handler = lambda req: 500 if req.body.endswith(b"7") else 200
    s = subscribe(sluice, "q", rec.url("/"), max_in_flight=4, max_attempts=2)
    sluice.publish_many("q", [b"%d" % i for i in range(30)])
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 27 and i["dead_lettered"] == 3,
                    what="27 delivered, 3 dead-lettered")
    assert info["lag"] == 0
    assert sorted(r.body for r in rec.ok()) == sorted(b"%d" % i for i in range(30)
                                                      if i % 10 != 7)
