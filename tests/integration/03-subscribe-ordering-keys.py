"""Ordering keys: within a group, messages with the same `key` are delivered in publish order and
at most max_in_flight_per_key at a time (later ones wait, state waiting_key), while other keys and
unkeyed messages proceed in parallel."""

import time

import pytest

from sluice_harness import assert_error, unb64


def bodies(msgs):
    return [unb64(m["body"]) for m in msgs]


def test_same_key_waits_while_others_proceed(sluice):
    sluice.publish("o", b"k1-a", params={"key": "k1"})
    sluice.publish("o", b"k1-b", params={"key": "k1"})
    sluice.publish("o", b"k2-a", params={"key": "k2"})
    sluice.publish("o", b"nokey")
    msgs = sluice.lease("o", max=10)
    assert bodies(msgs) == [b"k1-a", b"k2-a", b"nokey"]
    assert [m.get("key") for m in msgs] == ["k1", "k2", None]
    states = {unb64(p["body"]): p["state"] for p in sluice.peek("o")["messages"]}
    assert states[b"k1-b"] == "waiting_key"
    assert sluice.lease("o", max=10) == []
    sluice.ack("o", [msgs[0]["receipt"]])
    [nxt] = sluice.lease("o", max=10)
    assert unb64(nxt["body"]) == b"k1-b" and nxt["key"] == "k1"


def test_released_message_keeps_its_place_in_the_key_order(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    [m] = sluice.lease("o", max=10)
    sluice.release("o", [m["receipt"]])
    [again] = sluice.lease("o", max=10)
    assert unb64(again["body"]) == b"1" and again["attempts"] == 2


def test_expired_lease_keeps_its_place_in_the_key_order(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    sluice.lease("o", max=10, visibility="200ms")
    time.sleep(0.3)
    [again] = sluice.lease("o", max=10)
    assert unb64(again["body"]) == b"1" and again["attempts"] == 2


def test_max_in_flight_per_key_allows_that_many_at_once(sluice):
    sluice.put_queue("o", status=201, max_in_flight_per_key=2)
    for i in range(4):
        sluice.publish("o", b"%d" % i, params={"key": "k"})
    assert bodies(sluice.lease("o", max=10)) == [b"0", b"1"]
    assert sluice.lease("o", max=10) == []


def test_keys_are_per_group(sluice):
    sluice.put_queue("o", status=201)
    sluice.put_group("o", "g2", status=201)
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    assert bodies(sluice.lease("o", max=10)) == [b"1"]
    assert bodies(sluice.lease("o", max=10, group="g2")) == [b"1"]


def test_pop_respects_key_order_and_frees_the_key(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    assert unb64(sluice.pop("o")["body"]) == b"1"
    assert unb64(sluice.pop("o")["body"]) == b"2"


def test_leased_key_blocks_pop_of_the_next_same_key_message(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    sluice.lease("o")
    assert sluice.pop("o") is None


def test_key_of_128_bytes_is_accepted(sluice):
    sluice.publish("o", b"x", params={"key": "k" * 128})
    assert sluice.lease("o")[0]["key"] == "k" * 128


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_key_outside_1_to_128_bytes_is_400(sluice, key):
    r = sluice.post("/v1/queues/o/messages", data=b"x", params={"key": key})
    assert_error(r, 400, "invalid_parameter", mention="key")


def test_released_with_delay_keeps_later_same_key_messages_waiting(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    [m] = sluice.lease("o", max=10)
    sluice.release("o", [m["receipt"]], delay="300ms")
    assert sluice.lease("o", max=10) == []  # "2" must not overtake "1"
    [again] = sluice.lease("o", max=10, wait="3")
    assert unb64(again["body"]) == b"1"


def test_ack_wakes_a_long_poll_waiting_behind_the_key(sluice):
    import threading
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    [m] = sluice.lease("o")
    result = {}

    def poll():
        t0 = time.monotonic()
        result["msgs"] = sluice.lease("o", wait="5")
        result["t"] = time.monotonic() - t0
    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.3)
    sluice.ack("o", [m["receipt"]])
    t.join(6)
    assert [unb64(x["body"]) for x in result["msgs"]] == [b"2"]
    assert result["t"] < 1.5


def test_dead_lettered_message_frees_its_key(sluice):
    sluice.put_queue("o", status=201, max_attempts=1)
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    [m] = sluice.lease("o", max=10)
    sluice.release("o", [m["receipt"]])  # attempts exhausted: dead-lettered
    [nxt] = sluice.lease("o", max=10)
    assert unb64(nxt["body"]) == b"2"
    [d] = sluice.peek("o.dlq")["messages"]
    assert unb64(d["body"]) == b"1"


def test_dropped_leased_message_frees_its_key(sluice):
    sluice.put_queue("o", status=201, max_messages=2)
    sluice.publish("o", b"1", params={"key": "k"})
    [m] = sluice.lease("o")
    sluice.publish("o", b"2", params={"key": "k"})
    sluice.publish("o", b"3", params={"key": "k"})  # "1" is dropped though leased
    assert sluice.queue("o")["dropped"] == 1
    [nxt] = sluice.lease("o", max=10)
    assert unb64(nxt["body"]) == b"2"


def test_purge_frees_every_key(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.lease("o")
    sluice.post("/v1/queues/o/purge")
    sluice.publish("o", b"new", params={"key": "k"})
    [m] = sluice.lease("o")
    assert unb64(m["body"]) == b"new"


def test_expired_waiting_message_does_not_block_its_key(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k", "ttl": "200ms"})
    sluice.publish("o", b"3", params={"key": "k"})
    [m] = sluice.lease("o", max=10)
    time.sleep(0.3)
    sluice.ack("o", [m["receipt"]])
    [nxt] = sluice.lease("o", max=10)
    assert unb64(nxt["body"]) == b"3"


def test_raising_max_in_flight_per_key_releases_waiting_messages(sluice):
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    sluice.lease("o", max=10)
    sluice.put_queue("o", status=200, max_in_flight_per_key=2)
    [m] = sluice.lease("o", max=10)
    assert unb64(m["body"]) == b"2"


def test_deleting_a_group_with_keyed_leases_leaves_other_groups_working(sluice):
    sluice.put_queue("o", status=201)
    sluice.put_group("o", "g", status=201)
    sluice.publish("o", b"1", params={"key": "k"})
    sluice.publish("o", b"2", params={"key": "k"})
    sluice.lease("o", group="g", max=10)
    assert sluice.delete("/v1/queues/o/groups/g").status_code == 200
    [m] = sluice.lease("o", max=10)
    sluice.ack("o", [m["receipt"]])
    [m2] = sluice.lease("o", max=10)
    assert unb64(m2["body"]) == b"2"
