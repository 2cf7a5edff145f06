"""Unsubscribing (DELETE /v1/subscriptions/{id}, issue 5) stops delivery for good: nothing new is
sent, a request in flight or a retry waiting out its backoff or a circuit pause is not followed by
another, the group is gone, other subscriptions of the queue go on, and subscribing again starts
afresh (from latest, a new id). Deleting subscriptions while their deliveries are in flight never
hurts the server (the sanitizer build checks the memory side)."""

import threading
import time

import pytest

from receiver import HANG, receivers, subscribe, wait_sub  # noqa: F401
from sluice_harness import assert_error

FAST = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "300ms",
        "--push-circuit-failures", "1000"]


def unsubscribe(srv, sid):
    r = srv.delete(f"/v1/subscriptions/{sid}")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": sid}


@pytest.mark.sluice(args=FAST)
def test_unsubscribe_stops_delivery_and_others_go_on(sluice, receivers):
    gone, stays = receivers(), receivers()
    s1 = subscribe(sluice, "q", gone.url("/"))
    subscribe(sluice, "q", stays.url("/"))
    sluice.publish_many("q", [b"a", b"b"])
    gone.wait_ok(2)
    stays.wait_ok(2)
    unsubscribe(sluice, s1["id"])
    sluice.publish_many("q", [b"c", b"d"])
    stays.wait_ok(4)
    assert stays.bodies() == [b"a", b"b", b"c", b"d"]
    gone.quiet_for(0.4)
    assert gone.bodies() == [b"a", b"b"]
    assert_error(sluice.get(f"/v1/queues/q/groups/{s1['id']}"), 404, "group_not_found")
    assert [s["url"] for s in sluice.get("/v1/subscriptions").json()["subscriptions"]] == \
        [stays.url("/")]


@pytest.mark.sluice(args=FAST + ["--push-timeout", "700ms"])
def test_unsubscribe_during_a_hung_request_sends_nothing_more(sluice, receivers):
    rec = receivers()
    rec.hang()
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish_many("q", [b"a", b"b"])
    rec.wait_for(1)
    unsubscribe(sluice, s["id"])
    rec.quiet_for(1.5)  # past the timeout of the hung request and any backoff
    assert rec.count() == 1
    rec.answer(200)
    rec.quiet_for(0.3)
    assert sluice.alive()


@pytest.mark.sluice(args=["--storage", "memory", "--push-retry-min", "600ms",
                          "--push-retry-max", "600ms", "--push-circuit-failures", "1000"])
def test_unsubscribe_while_a_retry_waits_cancels_it(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish("q", b"x")
    wait_sub(sluice, s["id"], lambda i: i["failed"] == 1, what="the first failure")
    unsubscribe(sluice, s["id"])
    rec.quiet_for(1.0)  # the retry was due after at most 600 ms
    assert rec.count() == 1


@pytest.mark.sluice(args=["--storage", "memory", "--push-retry-min", "20ms",
                          "--push-retry-max", "300ms", "--push-circuit-failures", "2",
                          "--push-circuit-pause", "300ms"])
def test_unsubscribe_while_the_circuit_is_open_sends_no_probe(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish("q", b"x")
    wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open", what="circuit open")
    unsubscribe(sluice, s["id"])
    rec.quiet_for(0.8)
    assert rec.count() == 2


@pytest.mark.sluice(args=FAST)
def test_subscribing_again_starts_afresh_from_latest(sluice, receivers):
    rec = receivers()
    s1 = subscribe(sluice, "q", rec.url("/"))
    sluice.publish("q", b"one")
    rec.wait_ok(1)
    unsubscribe(sluice, s1["id"])
    sluice.publish("q", b"missed")
    s2 = subscribe(sluice, "q", rec.url("/"))
    assert s2["id"] != s1["id"]
    sluice.publish("q", b"two")
    rec.wait_ok(2)
    rec.quiet_for(0.3)
    assert rec.bodies() == [b"one", b"two"]
    wait_sub(sluice, s2["id"], lambda i: i["delivered"] == 1, what="one delivered")


@pytest.mark.sluice(args=FAST + ["--push-timeout", "2s"])
def test_deleting_many_subscriptions_with_deliveries_in_flight_is_safe(sluice, receivers):
    rec = receivers()
    gate = threading.Event()
    rec.handler = lambda req: (gate.wait(0.2), HANG if req.seq % 3 == 0 else
                               500 if req.seq % 3 == 1 else 200)[1]
    subs = [subscribe(sluice, f"q{i % 3}", rec.url(f"/{i}"), max_in_flight=4)["id"]
            for i in range(24)]
    for q in ("q0", "q1", "q2"):
        sluice.publish_many(q, [b"%d" % i for i in range(10)])
    rec.wait_for(20)
    for sid in subs:
        unsubscribe(sluice, sid)
    gate.set()
    rec.release()
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []
    # requests in flight at the delete finish (libcurl may send one again at once when its
    # connection was cut without an answer); after that, nothing more comes
    time.sleep(0.5)
    n = rec.count()
    rec.quiet_for(0.7)
    assert rec.count() == n
    # and the queues still work for everything else
    sluice.publish("q0", b"after")
    assert sluice.alive()
    for q in ("q0", "q1", "q2"):
        r = sluice.get(f"/v1/queues/{q}/groups")
        assert [g["name"] for g in r.json()["groups"]] == ["default"], r.text
