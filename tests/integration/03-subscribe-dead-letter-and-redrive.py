"""Dead letters: once a delivery ends (released or lease expired) with attempts at max_attempts,
the message moves to Q.dlq (or the queue's dead_letter_queue) carrying `dead_letter` metadata
(origin, attempts, reason, last error, history); `.dlq` queues and dead_letter_queue "" redeliver
without limit; POST redrive moves dead letters back to their origin group with attempts reset."""

import pytest

from sluice_harness import RFC3339_MS_RE, assert_error, unb64, wait_until


def fail_n(srv, q, n, error=None, group=None):
    """Leases the head message n times, releasing it each time (with `error`)."""
    last = None
    for _ in range(n):
        params = {"group": group} if group else {}
        [m] = srv.lease(q, **params)
        srv.release(q, [m["receipt"]], **({"error": error} if error else {}))
        last = m
    return last


def test_released_message_moves_to_dlq_after_max_attempts(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=2)
    mid = sluice.publish("jobs", b"payload", headers={"Content-Type": "text/plain",
                                                       "Sluice-Attr-Tenant": "t1"})["id"]
    [m] = sluice.lease("jobs")
    sluice.release("jobs", [m["receipt"]], error="first failure")
    [m] = sluice.lease("jobs")
    assert m["attempts"] == 2
    sluice.release("jobs", [m["receipt"]], error="upstream timeout")

    assert sluice.lease("jobs") == []
    q = sluice.queue("jobs")
    assert q["dead_lettered"] == 1 and q["messages"] == 0

    dlq = sluice.peek("jobs.dlq")["messages"]
    assert len(dlq) == 1
    d = dlq[0]
    assert unb64(d["body"]) == b"payload"
    assert d["attributes"].get("content-type") == "text/plain"
    assert d["attributes"].get("tenant") == "t1"
    dl = d["dead_letter"]
    assert dl["queue"] == "jobs" and dl["group"] == "default" and dl["id"] == mid
    assert dl["attempts"] == 2
    assert dl["last_error"] == "upstream timeout"
    assert RFC3339_MS_RE.match(dl["dead_lettered_at"])
    assert isinstance(dl["reason"], str) and dl["reason"]
    assert len(dl["history"]) == 2
    assert [h["error"] for h in dl["history"]] == ["first failure", "upstream timeout"]
    assert all(h["event"] == "released" and RFC3339_MS_RE.match(h["at"]) for h in dl["history"])

    # Leasing from the dead-letter queue shows the same metadata.
    [lm] = sluice.lease("jobs.dlq")
    assert lm["dead_letter"]["queue"] == "jobs"
    assert lm["dead_letter"]["last_error"] == "upstream timeout"


def test_expired_lease_dead_letters_with_reason_lease_expired(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.publish("jobs", b"x")
    [m] = sluice.lease("jobs", visibility="200ms")
    assert m["attempts"] == 1
    assert sluice.lease("jobs", wait="500ms") == []
    assert wait_until(lambda: sluice.queue("jobs")["dead_lettered"] == 1, timeout=1.0)
    [d] = sluice.peek("jobs.dlq")["messages"]
    assert d["dead_letter"]["reason"] == "lease_expired"
    assert d["dead_letter"]["attempts"] == 1
    assert len(d["dead_letter"]["history"]) == 1


def test_history_keeps_the_last_10_failed_deliveries(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=12)
    sluice.publish("jobs", b"x")
    for i in range(12):
        [m] = sluice.lease("jobs")
        sluice.release("jobs", [m["receipt"]], error=f"e{i}")
    [d] = sluice.peek("jobs.dlq")["messages"]
    hist = d["dead_letter"]["history"]
    assert [h["error"] for h in hist] == [f"e{i}" for i in range(2, 12)]
    assert d["dead_letter"]["attempts"] == 12


def test_custom_dead_letter_queue(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1, dead_letter_queue="jobs.failed")
    sluice.publish("jobs", b"x")
    fail_n(sluice, "jobs", 1)
    assert len(sluice.peek("jobs.failed")["messages"]) == 1
    assert sluice.get("/v1/queues/jobs.dlq").status_code == 404


def test_empty_dead_letter_queue_redelivers_without_limit(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=2, dead_letter_queue="")
    sluice.publish("jobs", b"x")
    fail_n(sluice, "jobs", 4)
    [m] = sluice.lease("jobs")
    assert m["attempts"] == 5
    assert sluice.queue("jobs")["dead_lettered"] == 0


def test_dlq_queue_redelivers_without_limit(sluice):
    sluice.publish("x.dlq", b"x")
    for attempt in range(1, 13):
        [m] = sluice.lease("x.dlq", visibility="0")
        assert m["attempts"] == attempt
    assert sluice.get("/v1/queues/x.dlq.dlq").status_code == 404


def test_dead_letter_happens_per_group(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.put_group("jobs", "g2", status=201)
    sluice.publish("jobs", b"x")
    fail_n(sluice, "jobs", 1)  # default group gives up
    [m] = sluice.lease("jobs", group="g2")  # g2 still has its copy
    assert m["attempts"] == 1
    [d] = sluice.peek("jobs.dlq")["messages"]
    assert d["dead_letter"]["group"] == "default"


def test_redrive_all_through_the_source_queue(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.publish("jobs", b"a", headers={"Sluice-Attr-K": "v"})
    sluice.publish("jobs", b"b")
    fail_n(sluice, "jobs", 2)
    assert len(sluice.peek("jobs.dlq")["messages"]) == 2
    r = sluice.post("/v1/queues/jobs/redrive", json={})
    assert r.status_code == 200, r.text
    assert r.json() == {"redriven": 2, "not_found": []}
    assert sluice.peek("jobs.dlq")["messages"] == []
    msgs = sluice.lease("jobs", max=10)
    assert sorted(unb64(m["body"]) for m in msgs) == [b"a", b"b"]
    assert all(m["attempts"] == 1 for m in msgs)  # attempts start afresh
    a = next(m for m in msgs if unb64(m["body"]) == b"a")
    assert a["attributes"].get("k") == "v"  # keeps its attributes


def test_redrive_selected_ids_through_the_dlq(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.publish_many("jobs", [b"a", b"b"])
    fail_n(sluice, "jobs", 2)
    dl = sluice.peek("jobs.dlq")["messages"]
    first = next(d for d in dl if unb64(d["body"]) == b"a")
    r = sluice.post("/v1/queues/jobs.dlq/redrive", json={"ids": [first["id"], 999999]})
    assert r.status_code == 200, r.text
    assert r.json() == {"redriven": 1, "not_found": [999999]}
    assert [unb64(m["body"]) for m in sluice.lease("jobs", max=10)] == [b"a"]
    assert [unb64(d["body"]) for d in sluice.peek("jobs.dlq")["messages"]] == [b"b"]


def test_redrive_through_source_moves_only_its_own_dead_letters(sluice):
    for q in ("a", "b"):
        sluice.put_queue(q, status=201, max_attempts=1, dead_letter_queue="shared.dlq")
        sluice.publish(q, q.encode())
        fail_n(sluice, q, 1)
    assert len(sluice.peek("shared.dlq")["messages"]) == 2
    assert sluice.post("/v1/queues/a/redrive", json={}).json() == {"redriven": 1,
                                                                    "not_found": []}
    [left] = sluice.peek("shared.dlq")["messages"]
    assert left["dead_letter"]["queue"] == "b"
    assert unb64(sluice.lease("a")[0]["body"]) == b"a"
    assert sluice.lease("b") == []


def test_redrive_goes_to_the_origin_group_only(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.put_group("jobs", "g2", status=201)
    sluice.publish("jobs", b"x")
    [g] = sluice.lease("jobs", group="g2")
    sluice.ack("jobs", [g["receipt"]])
    fail_n(sluice, "jobs", 1)
    assert sluice.post("/v1/queues/jobs/redrive", json={}).json()["redriven"] == 1
    assert len(sluice.lease("jobs")) == 1
    assert sluice.lease("jobs", group="g2") == []


def test_redrive_to_every_group_when_origin_group_is_gone(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.put_group("jobs", "g2", status=201)
    sluice.publish("jobs", b"x")
    fail_n(sluice, "jobs", 1, group="g2")
    [m] = sluice.lease("jobs")
    sluice.ack("jobs", [m["receipt"]])
    assert sluice.delete("/v1/queues/jobs/groups/g2").status_code == 200
    sluice.put_group("jobs", "g3", status=201)
    assert sluice.post("/v1/queues/jobs/redrive", json={}).json()["redriven"] == 1
    assert len(sluice.lease("jobs")) == 1
    assert len(sluice.lease("jobs", group="g3")) == 1


def test_redrive_with_empty_body_means_all(sluice):
    sluice.put_queue("jobs", status=201, max_attempts=1)
    sluice.publish("jobs", b"x")
    fail_n(sluice, "jobs", 1)
    r = sluice.post("/v1/queues/jobs/redrive", data=b"{}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["redriven"] == 1


@pytest.mark.parametrize("body", [b"{", b'{"ids": "all"}', b'{"ids": ["a"]}', b"[]"])
def test_redrive_bad_body_is_400(sluice, body):
    sluice.put_queue("jobs", status=201)
    r = sluice.post("/v1/queues/jobs/redrive", data=body,
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, ("invalid_json", "invalid_parameter") if b"ids" in body
                 else "invalid_json")


def test_redrive_unknown_queue_is_404(sluice):
    assert_error(sluice.post("/v1/queues/nope/redrive", json={}), 404, "queue_not_found")


def test_redrive_non_json_content_type_is_415(sluice):
    sluice.put_queue("jobs", status=201)
    r = sluice.post("/v1/queues/jobs/redrive", data=b"{}", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_dead_letter_cycle_between_two_queues_keeps_working(sluice):
    sluice.put_queue("a", status=201, max_attempts=1, dead_letter_queue="b")
    sluice.put_queue("b", status=201, max_attempts=1, dead_letter_queue="a")
    sluice.publish("a", b"ping")
    for _ in range(3):
        for q, origin in (("a", "b"), ("b", "a")):
            [m] = sluice.lease(q)
            assert unb64(m["body"]) == b"ping"
            if "dead_letter" in m:
                assert m["dead_letter"]["queue"] == origin
            sluice.release(q, [m["receipt"]])
    assert sluice.queue("a")["messages"] + sluice.queue("b")["messages"] == 1
