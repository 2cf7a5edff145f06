"""With the `file` storage, push subscriptions and their pending deliveries survive a restart,
graceful (SIGTERM) or a crash (SIGKILL) (issue 5: "with the file storage, pending deliveries
survive a restart"; a subscription is a group whose settings ride in its meta, src/deliver.h):
the same id, URL, settings and secret (signatures still verify); messages published while the
receiver was down are delivered after the restart, in order; acked ones are not delivered again;
attempts go on from where they were; a deleted subscription stays deleted."""

import pytest

from receiver import (receivers, sub_info, subscribe,  # noqa: F401
                      verify_signature, wait_for, wait_sub)

PUSH = ["--push-retry-min", "50ms", "--push-retry-max", "200ms",
        "--push-circuit-failures", "1000"]
HOW = ["graceful", "kill9"]
KEPT = ("id", "queue", "url", "max_in_flight", "max_attempts", "timeout", "created_at")


def down_receiver(receivers):
    """A receiver that is stopped (its port closed) but can start again on the same port."""
    rec = receivers()
    rec.stop()
    return rec


@pytest.mark.parametrize("how", HOW)
@pytest.mark.sluice(args=PUSH)
def test_subscription_and_its_secret_survive(sluice, restart, receivers, how):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/hook"), max_in_flight=3, max_attempts=7,
                  timeout="4s", secret="whsec_c2VjcmV0LWtleS1ieXRlcw==")
    plain = subscribe(sluice, "q", rec.url("/plain"))
    before = sub_info(sluice, s["id"])
    srv = restart(sluice, how)
    # listed as soon as the server says it listens
    listed = srv.get("/v1/subscriptions").json()["subscriptions"]
    assert [x["id"] for x in listed] == [s["id"], plain["id"]]
    after = sub_info(srv, s["id"])
    for k in KEPT:
        assert after[k] == before[k], (k, before[k], after[k])
    assert srv.group("q", s["id"])["name"] == s["id"]
    srv.publish("q", b"after restart")
    got = rec.wait_ok(2)
    by_path = {r.path: r for r in got}
    assert verify_signature(s["secret"], by_path["/hook"])
    assert verify_signature(plain["secret"], by_path["/plain"])


@pytest.mark.parametrize("how", HOW)
@pytest.mark.sluice(args=PUSH)
def test_messages_pending_for_a_down_receiver_are_delivered_after_restart(sluice, restart,
                                                                         receivers, how):
    rec = down_receiver(receivers)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=1000)
    bodies = [b"pending %d" % i for i in range(5)]
    sluice.publish_many("q", bodies)
    wait_sub(sluice, s["id"], lambda i: i["failed"] >= 2, what="failed attempts")
    srv = restart(sluice, how)
    rec.start()
    got = rec.wait_ok(5)
    assert [r.body for r in got] == bodies
    wait_sub(srv, s["id"], lambda i: i["delivered"] == 5 and i["lag"] == 0,
             what="all delivered after the restart")


@pytest.mark.parametrize("how", HOW)
@pytest.mark.sluice(args=PUSH)
def test_acked_deliveries_are_not_delivered_again(sluice, restart, receivers, how):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"))
    sluice.publish_many("q", [b"a", b"b", b"c"])
    rec.wait_ok(3)
    wait_sub(sluice, s["id"], lambda i: i["lag"] == 0 and i["in_flight"] == 0,
             what="all acked")
    srv = restart(sluice, how)
    srv.publish("q", b"d")
    rec.wait_ok(4)
    rec.quiet_for(0.3)
    assert rec.bodies() == [b"a", b"b", b"c", b"d"]


@pytest.mark.sluice(args=PUSH)
def test_attempts_go_on_after_a_restart(sluice, restart, receivers):
    rec = receivers()
    rec.answer(500)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=4)
    sluice.publish("q", b"x")
    wait_sub(sluice, s["id"], lambda i: i["failed"] == 2, what="2 failures")
    rec.hang()  # hold attempt 3 (if it comes) so that it cannot complete before the stop
    srv = restart(sluice, "graceful")
    rec.answer(500)
    wait_for(lambda: srv.get("/v1/queues/q.dlq").status_code == 200,
             what="the message dead-lettered")
    [d] = srv.peek("q.dlq")["messages"]
    assert d["dead_letter"]["attempts"] == 4, d
    attempts = [r.attempt for r in rec.snapshot()]
    # four attempts in all, numbered on across the restart (one may have been cut by the stop)
    assert attempts[-1] == 4 and sorted(set(attempts)) == [1, 2, 3, 4], attempts


@pytest.mark.parametrize("how", HOW)
@pytest.mark.sluice(args=PUSH)
def test_a_deleted_subscription_stays_deleted(sluice, restart, receivers, how):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"))
    keep = subscribe(sluice, "q", rec.url("/keep"))
    assert sluice.delete(f"/v1/subscriptions/{s['id']}").status_code == 200
    srv = restart(sluice, how)
    assert srv.get(f"/v1/subscriptions/{s['id']}").status_code == 404
    assert [x["id"] for x in srv.get("/v1/subscriptions").json()["subscriptions"]] == \
        [keep["id"]]
    srv.publish("q", b"x")
    rec.wait_ok(1)
    rec.quiet_for(0.3)
    assert [r.path for r in rec.snapshot()] == ["/keep"]


@pytest.mark.sluice(args=PUSH + ["--push-timeout", "30s", "--shutdown-timeout", "500ms"])
def test_a_delivery_cut_by_shutdown_is_delivered_again_after_restart(sluice, restart,
                                                                    receivers):
    rec = receivers()
    rec.hang()
    subscribe(sluice, "q", rec.url("/"))
    sluice.publish("q", b"in flight at shutdown")
    rec.wait_for(1)
    srv = restart(sluice, "graceful")
    rec.answer(200)
    got = rec.wait_ok(1, timeout=45)  # at the latest when the lease runs out
    assert got[0].body == b"in flight at shutdown"
    assert srv.alive()
