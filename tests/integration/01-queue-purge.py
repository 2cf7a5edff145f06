"""POST /v1/queues/{q}/purge deletes every message (ready, leased, delayed) and keeps the queue,
its settings and groups; receipts of purged messages are dead."""

from sluice_harness import assert_error


def test_purge_deletes_every_message_and_keeps_the_queue(sluice):
    sluice.put_queue("p", status=201, max_attempts=4)
    sluice.put_group("p", "other", status=201)
    sluice.publish_many("p", [b"a", b"b"])
    sluice.publish("p", b"later", params={"delay": "1h"})
    [leased] = sluice.lease("p")

    r = sluice.post("/v1/queues/p/purge")
    assert r.status_code == 200, r.text
    assert r.json() == {"purged": 3}

    q = sluice.queue("p")
    assert q["messages"] == 0 and q["bytes"] == 0 and q["in_flight"] == 0 and q["delayed"] == 0
    assert q["settings"]["max_attempts"] == 4
    assert {g["name"] for g in q["groups"]} == {"default", "other"}
    assert sluice.lease("p") == []
    assert sluice.lease("p", group="other") == []
    assert sluice.peek("p")["messages"] == []
    # The lease handed out before the purge is dead.
    assert sluice.ack("p", [leased["receipt"]]) == {"acked": 0, "not_found": [leased["receipt"]]}


def test_purge_of_empty_queue_purges_zero(sluice):
    sluice.put_queue("e", status=201)
    r = sluice.post("/v1/queues/e/purge")
    assert r.status_code == 200 and r.json() == {"purged": 0}


def test_queue_works_after_purge_with_increasing_ids(sluice):
    first = sluice.publish("p", b"old")["id"]
    assert sluice.post("/v1/queues/p/purge").json() == {"purged": 1}
    new = sluice.publish("p", b"new")["id"]
    assert new > first  # ids are strictly increasing within a queue
    [m] = sluice.lease("p")
    assert m["id"] == new


def test_purge_unknown_queue_is_404(sluice):
    assert_error(sluice.post("/v1/queues/nope/purge"), 404, "queue_not_found")


def test_purge_bad_name_is_400(sluice):
    assert_error(sluice.post("/v1/queues/-bad/purge"), 400, "invalid_name")
