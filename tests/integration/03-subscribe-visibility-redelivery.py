"""Visibility timeout: a leased message that is not acked becomes visible again once its lease
expires, with attempts + 1 and a new receipt; the old receipt is dead; visibility=0 makes it
visible again at once; an ack within the lease prevents redelivery."""

import time

from sluice_harness import assert_error, wait_until


def test_unacked_message_reappears_after_its_lease_with_attempts_plus_one(sluice):
    mid = sluice.publish("v", b"x")["id"]
    t0 = time.monotonic()
    [m1] = sluice.lease("v", visibility="200ms")
    assert sluice.lease("v") == []
    [m2] = sluice.lease("v", wait="3")
    elapsed = time.monotonic() - t0
    assert 0.15 <= elapsed < 1.5, elapsed
    assert m2["id"] == mid and m2["attempts"] == 2
    assert m2["receipt"] != m1["receipt"]


def test_expired_receipt_is_dead_and_cannot_ack_the_new_delivery(sluice):
    sluice.publish("v", b"x")
    [m1] = sluice.lease("v", visibility="200ms")
    time.sleep(0.3)
    [m2] = sluice.lease("v", visibility="30s")
    assert_error(sluice.delete(f"/v1/queues/v/messages/{m1['receipt']}"), 404,
                 "receipt_not_found")
    assert sluice.ack("v", [m1["receipt"]]) == {"acked": 0, "not_found": [m1["receipt"]]}
    assert sluice.queue("v")["in_flight"] == 1  # m2's lease survived the stale acks
    assert sluice.ack("v", [m2["receipt"]]) == {"acked": 1, "not_found": []}


def test_expired_receipt_is_dead_even_before_redelivery(sluice):
    sluice.publish("v", b"x")
    [m1] = sluice.lease("v", visibility="200ms")
    time.sleep(0.3)
    assert_error(sluice.delete(f"/v1/queues/v/messages/{m1['receipt']}"), 404,
                 "receipt_not_found")
    [m2] = sluice.lease("v")
    assert m2["attempts"] == 2


def test_visibility_zero_makes_messages_visible_again_at_once(sluice):
    mid = sluice.publish("v", b"x")["id"]
    for attempt in (1, 2, 3):
        [m] = sluice.lease("v", visibility="0")
        assert m["id"] == mid and m["attempts"] == attempt


def test_ack_within_the_lease_prevents_redelivery(sluice):
    sluice.publish("v", b"x")
    [m] = sluice.lease("v", visibility="300ms")
    sluice.ack("v", [m["receipt"]])
    assert sluice.lease("v", wait="600ms") == []


def test_lease_uses_queue_visibility_timeout_by_default(sluice):
    sluice.put_queue("v", status=201, visibility_timeout="200ms")
    sluice.publish("v", b"x")
    [m1] = sluice.lease("v")
    [m2] = sluice.lease("v", wait="2")
    assert m2["id"] == m1["id"] and m2["attempts"] == 2


def test_explicit_visibility_overrides_queue_setting(sluice):
    sluice.put_queue("v", status=201, visibility_timeout="200ms")
    sluice.publish("v", b"x")
    sluice.lease("v", visibility="30s")
    assert sluice.lease("v", wait="500ms") == []


def test_redelivery_keeps_id_order_with_other_messages(sluice):
    a, b = sluice.publish_many("v", [b"a", b"b"])
    [m] = sluice.lease("v", visibility="200ms")
    assert m["id"] == a
    time.sleep(0.3)
    msgs = sluice.lease("v", max=10)
    assert [x["id"] for x in msgs] == [a, b]
    assert [x["attempts"] for x in msgs] == [2, 1]


def test_lease_expiry_restores_in_flight_count(sluice):
    sluice.publish("v", b"x")
    sluice.lease("v", visibility="200ms")
    assert sluice.queue("v")["in_flight"] == 1
    assert wait_until(lambda: sluice.queue("v")["in_flight"] == 0, timeout=1.5), sluice.queue("v")
    [m] = sluice.peek("v")["messages"]
    assert m["state"] in ("retry", "ready"), m
