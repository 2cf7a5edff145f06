"""Retention: when a message becomes visible and the queue then holds more than max_messages or
max_bytes, the oldest visible messages are dropped (counted in `dropped`), leased or not; delayed
messages count but are dropped only once visible; messages older than max_age are dropped too."""

import time

from sluice_harness import unb64, wait_until


def bodies(msgs):
    return [unb64(m["body"]) for m in msgs]


def test_max_messages_drops_the_oldest(sluice):
    sluice.put_queue("r", status=201, max_messages=3)
    for i in range(5):
        sluice.publish("r", b"m%d" % i)
    q = sluice.queue("r")
    assert q["messages"] == 3 and q["dropped"] == 2 and q["published"] == 5
    assert bodies(sluice.lease("r", max=10)) == [b"m2", b"m3", b"m4"]


def test_max_bytes_drops_the_oldest_until_it_fits(sluice):
    sluice.put_queue("r", status=201, max_bytes=10)
    for i in range(4):
        sluice.publish("r", b"abc%d" % i)  # 4 bytes each
    q = sluice.queue("r")
    assert q["bytes"] == 8 and q["messages"] == 2 and q["dropped"] == 2
    assert bodies(sluice.lease("r", max=10)) == [b"abc2", b"abc3"]


def test_leased_messages_are_dropped_too_and_their_receipts_die(sluice):
    sluice.put_queue("r", status=201, max_messages=2)
    sluice.publish_many("r", [b"a", b"b"])
    [held] = sluice.lease("r")
    assert unb64(held["body"]) == b"a"
    sluice.publish("r", b"c")
    q = sluice.queue("r")
    assert q["dropped"] == 1 and q["messages"] == 2
    assert sluice.ack("r", [held["receipt"]])["not_found"] == [held["receipt"]]
    assert bodies(sluice.lease("r", max=10)) == [b"b", b"c"]


def test_delayed_messages_are_kept_and_visible_ones_dropped_first(sluice):
    sluice.put_queue("r", status=201, max_messages=2)
    sluice.publish("r", b"delayed", params={"delay": "1h"})
    sluice.publish("r", b"v1")
    sluice.publish("r", b"v2")
    q = sluice.queue("r")
    assert q["messages"] == 2 and q["dropped"] == 1 and q["delayed"] == 1
    assert bodies(sluice.lease("r", max=10)) == [b"v2"]


def test_delayed_messages_may_stand_above_the_limit_until_they_come_due(sluice):
    sluice.put_queue("r", status=201, max_messages=2)
    for i in range(3):
        sluice.publish("r", b"d%d" % i, params={"delay": "300ms"})
    q = sluice.queue("r")
    assert q["messages"] == 3 and q["delayed"] == 3 and q["dropped"] == 0
    time.sleep(0.45)
    msgs = sluice.lease("r", max=10)
    assert sorted(bodies(msgs)) == [b"d1", b"d2"]  # the oldest was dropped when it came due
    q = sluice.queue("r")
    assert q["messages"] == 2 and q["dropped"] == 1


def test_max_age_drops_old_messages(sluice):
    sluice.put_queue("r", status=201, max_age="300ms")
    sluice.publish("r", b"old")
    time.sleep(0.45)
    sluice.publish("r", b"new")
    assert bodies(sluice.lease("r", max=10)) == [b"new"]
    assert wait_until(lambda: sluice.queue("r")["dropped"] == 1, timeout=1.0), sluice.queue("r")


def test_limit_lowered_on_existing_queue_applies_to_next_publish(sluice):
    sluice.publish_many("r", [b"1", b"2", b"3", b"4"])
    sluice.put_queue("r", status=200, max_messages=2)
    sluice.publish("r", b"5")
    q = sluice.queue("r")
    assert q["messages"] == 2 and q["dropped"] == 3
    assert bodies(sluice.lease("r", max=10)) == [b"4", b"5"]


def test_batch_over_max_messages_keeps_the_newest(sluice):
    sluice.put_queue("r", status=201, max_messages=3)
    sluice.batch("r", [{"text": str(i)} for i in range(5)])
    assert bodies(sluice.lease("r", max=10)) == [b"2", b"3", b"4"]
    assert sluice.queue("r")["dropped"] == 2


def test_queue_defaults_for_limits_come_from_server_config(start_sluice):
    srv = start_sluice("--max-messages", "2", "--max-bytes", "1M", "--max-age", "1h")
    srv.put_queue("r", status=201)
    s = srv.queue("r")["settings"]
    assert s["max_messages"] == 2 and s["max_bytes"] == 1048576 and s["max_age"] == "1h"
    srv.publish_many("r", [b"1", b"2", b"3"])
    assert srv.queue("r")["dropped"] == 1
