"""Order and parallelism of push delivery (SPEC §2, issue 5; src/deliver.c "Order" and "Window"):
max_in_flight 1 (the default) delivers in publish order, one request at a time, retries included
(a failing message holds back the ones behind it until it is delivered or dead-lettered); a larger
max_in_flight sends up to that many at once, never more, growing from 1 by one per success and
falling back to 1 on a failure; ordering keys stay in order even then. The receiver counts the
requests it is handling at once; timings are never asserted."""

import threading
import time

import pytest

from receiver import HANG, receivers, sub_info, subscribe, wait_sub  # noqa: F401

FAST = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "200ms",
        "--push-circuit-failures", "1000"]


@pytest.mark.sluice(args=FAST)
def test_max_in_flight_1_delivers_in_publish_order_one_at_a_time(sluice, receivers):
    rec = receivers()
    rec.answer(200, delay=0.005)
    s = subscribe(sluice, "q", rec.url("/"))
    assert s["max_in_flight"] == 1
    bodies = [b"%03d" % i for i in range(100)]
    ids = sluice.publish_many("q", bodies)
    got = rec.wait_ok(100)
    assert [r.body for r in got] == bodies
    assert [r.msg_id for r in got] == ids
    assert rec.max_active == 1, f"{rec.max_active} requests at once with max_in_flight 1"


@pytest.mark.sluice(args=FAST)
def test_a_failing_message_holds_back_the_ones_behind_it(sluice, receivers):
    rec = receivers()
    # message "m2" fails its first 3 attempts; everything else succeeds at once
    rec.handler = lambda req: 500 if req.body == b"m2" and req.attempt <= 3 else 200
    subscribe(sluice, "q", rec.url("/"))
    bodies = [b"m%d" % i for i in range(6)]
    sluice.publish_many("q", bodies)
    rec.wait_ok(6)
    seq = [(r.body, r.attempt) for r in rec.snapshot()]
    assert seq == [(b"m0", 1), (b"m1", 1), (b"m2", 1), (b"m2", 2), (b"m2", 3), (b"m2", 4),
                   (b"m3", 1), (b"m4", 1), (b"m5", 1)], seq
    assert [r.body for r in rec.ok()] == bodies
    assert rec.max_active == 1


@pytest.mark.sluice(args=FAST)
def test_a_dead_lettered_message_lets_the_next_ones_through_in_order(sluice, receivers):
    rec = receivers()
    rec.handler = lambda req: 500 if req.body == b"poison" else 200
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=3)
    sluice.publish_many("q", [b"a", b"poison", b"b", b"c"])
    rec.wait_ok(3)
    seq = [r.body for r in rec.snapshot()]
    assert seq == [b"a", b"poison", b"poison", b"poison", b"b", b"c"], seq
    wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1 and i["delivered"] == 3,
             what="1 dead-lettered, 3 delivered")


@pytest.mark.sluice(args=FAST)
def test_larger_max_in_flight_sends_in_parallel_but_never_more(sluice, receivers):
    rec = receivers()
    rec.answer(200, delay=0.1)
    s = subscribe(sluice, "q", rec.url("/"), max_in_flight=8)
    bodies = [b"%d" % i for i in range(60)]
    sluice.publish_many("q", bodies)
    got = rec.wait_ok(60, timeout=20)
    assert sorted(r.body for r in got) == sorted(bodies)
    assert len({r.msg_id for r in got}) == 60  # each once
    assert 1 < rec.max_active <= 8, f"{rec.max_active} requests at once, max_in_flight 8"
    wait_sub(sluice, s["id"], lambda i: i["delivered"] == 60 and i["in_flight"] == 0,
             what="60 delivered")


@pytest.mark.sluice(args=FAST)
def test_the_window_starts_at_one_and_grows_with_successes(sluice, receivers):
    rec = receivers()
    gate = threading.Event()

    def handle(req):
        if req.seq == 0:
            gate.wait(10)  # the first request is held: while it is, no second may start
        else:
            time.sleep(0.05)
        return 200

    rec.handler = handle
    s = subscribe(sluice, "q", rec.url("/"), max_in_flight=10)
    sluice.publish_many("q", [b"%d" % i for i in range(40)])
    rec.wait_for(1)
    rec.quiet_for(0.3)
    assert rec.count() == 1, "a new subscription must start with one request in flight"
    assert sub_info(sluice, s["id"])["in_flight"] == 1
    gate.set()
    rec.wait_ok(40)
    assert 1 < rec.max_active <= 10, rec.max_active
    # one success opens the window to 2, not to max_in_flight: the second request started alone
    # or with one more
    assert rec.snapshot()[1].concurrent <= 2


@pytest.mark.sluice(args=FAST)
def test_the_window_falls_back_to_one_on_a_failure(sluice, receivers):
    rec = receivers()
    rec.answer(200, delay=0.05)
    s = subscribe(sluice, "q", rec.url("/"), max_in_flight=6)
    sluice.publish_many("q", [b"warm%d" % i for i in range(40)])
    rec.wait_ok(40)
    wait_sub(sluice, s["id"], lambda i: i["delivered"] == 40 and i["in_flight"] == 0,
             what="the warm-up delivered")
    assert rec.max_active > 1, "the window never grew"
    # from now on every request fails (slowly, so that parallel requests would overlap)
    rec.answer(500, delay=0.05)
    sluice.publish_many("q", [b"cold%d" % i for i in range(10)])
    wait_sub(sluice, s["id"], lambda i: i["failed"] >= 20, what="20 failures")
    reqs = rec.snapshot()
    first_fail = min(r.seq for r in reqs if r.body.startswith(b"cold"))
    # those already in flight when the first failure came back finish; after them, one at a time
    later = [r for r in reqs if r.seq > first_fail + 7]
    assert len(later) >= 5, reqs[first_fail:]
    assert max(r.concurrent for r in later) == 1, [(r.seq, r.concurrent) for r in later]
    rec.answer(200, delay=0)
    wait_sub(sluice, s["id"], lambda i: i["lag"] == 0 and i["in_flight"] == 0,
             what="everything delivered after recovery")


@pytest.mark.sluice(args=FAST)
def test_ordering_keys_keep_their_order_and_one_at_a_time_with_parallel_delivery(sluice,
                                                                                 receivers):
    rec = receivers()
    per_key_active = {}
    lock = threading.Lock()
    overlap = []

    def handle(req):
        key = req.header("sluice-key")
        with lock:
            per_key_active[key] = per_key_active.get(key, 0) + 1
            if per_key_active[key] > 1:
                overlap.append(key)
        try:
            time.sleep(0.02)
            return 200
        finally:
            with lock:
                per_key_active[key] -= 1

    rec.handler = handle
    subscribe(sluice, "q", rec.url("/"), max_in_flight=8)
    sent = {}
    for i in range(60):
        key = f"k{i % 4}"
        sluice.publish("q", b"%s-%d" % (key.encode(), i), params={"key": key})
        sent.setdefault(key, []).append(b"%s-%d" % (key.encode(), i))
    got = rec.wait_ok(60, timeout=20)
    for key, bodies in sent.items():
        assert [r.body for r in got if r.header("sluice-key") == key] == bodies, key
    assert not overlap, f"two messages of one key in flight at once: {overlap[:5]}"
    assert rec.max_active > 1, "different keys never went in parallel"


@pytest.mark.sluice(args=FAST)
def test_hung_request_with_max_in_flight_1_holds_back_the_next_until_its_timeout(sluice,
                                                                                receivers):
    rec = receivers()
    rec.handler = lambda req: HANG if req.body == b"slow" and req.attempt == 1 else 200
    s = subscribe(sluice, "q", rec.url("/"), timeout="500ms")
    sluice.publish_many("q", [b"slow", b"after"])
    rec.wait_ok(2)
    seq = [(r.body, r.attempt) for r in rec.snapshot()]
    assert seq == [(b"slow", 1), (b"slow", 2), (b"after", 1)], seq
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 2, what="2 delivered")
    assert info["failed"] == 1
    rec.release()
