"""Idempotent publish: an Idempotency-Key (header, or idempotency_key in a batch item) seen in the
queue within its dedup_window returns the original id with 200 and "duplicate": true and stores
nothing; keys are per queue, 1-256 bytes, and forgotten after the window."""

import time

import pytest

from sluice_harness import assert_error, unb64


def test_repeated_key_returns_original_id_with_200_duplicate(sluice):
    r1 = sluice.post("/v1/queues/i/messages", data=b"first", headers={"Idempotency-Key": "k-1"})
    assert r1.status_code == 201, r1.text
    assert "duplicate" not in r1.json() or r1.json()["duplicate"] is False
    r2 = sluice.post("/v1/queues/i/messages", data=b"second", headers={"Idempotency-Key": "k-1"})
    assert r2.status_code == 200, r2.text
    body = r2.json()
    assert body == {"queue": "i", "id": r1.json()["id"], "stored": body["stored"],
                    "duplicate": True}
    q = sluice.queue("i")
    assert q["messages"] == 1 and q["published"] == 1
    [m] = sluice.lease("i", max=10)
    assert unb64(m["body"]) == b"first"


def test_different_keys_and_no_key_store_separately(sluice):
    a = sluice.publish("i", b"a", headers={"Idempotency-Key": "a"})["id"]
    b = sluice.publish("i", b"b", headers={"Idempotency-Key": "b"})["id"]
    c = sluice.publish("i", b"c")["id"]
    d = sluice.publish("i", b"c")["id"]
    assert len({a, b, c, d}) == 4
    assert sluice.queue("i")["messages"] == 4


def test_keys_are_per_queue(sluice):
    sluice.publish("q1", b"x", headers={"Idempotency-Key": "same"})
    r = sluice.post("/v1/queues/q2/messages", data=b"x", headers={"Idempotency-Key": "same"})
    assert r.status_code == 201, r.text


def test_key_is_remembered_after_the_message_is_acked(sluice):
    first = sluice.publish("i", b"x", headers={"Idempotency-Key": "once"})["id"]
    [m] = sluice.lease("i")
    sluice.ack("i", [m["receipt"]])
    r = sluice.post("/v1/queues/i/messages", data=b"x", headers={"Idempotency-Key": "once"})
    assert r.status_code == 200 and r.json()["id"] == first and r.json()["duplicate"] is True
    assert sluice.lease("i") == []


def test_key_is_forgotten_after_the_dedup_window(sluice):
    sluice.put_queue("w", status=201, dedup_window="300ms")
    first = sluice.publish("w", b"x", headers={"Idempotency-Key": "k"})["id"]
    r = sluice.post("/v1/queues/w/messages", data=b"x", headers={"Idempotency-Key": "k"})
    assert r.status_code == 200 and r.json()["id"] == first
    time.sleep(0.45)
    r = sluice.post("/v1/queues/w/messages", data=b"x", headers={"Idempotency-Key": "k"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] > first


def test_key_lengths_1_and_256_are_accepted(sluice):
    sluice.publish("i", b"x", headers={"Idempotency-Key": "k"})
    sluice.publish("i", b"x", headers={"Idempotency-Key": "k" * 256})


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_key_outside_1_to_256_bytes_is_400(sluice, key):
    r = sluice.post("/v1/queues/i/messages", data=b"x", headers={"Idempotency-Key": key})
    assert_error(r, 400, ("invalid_parameter", "bad_request"))
    assert sluice.get("/v1/queues/i").status_code == 404  # nothing was published


def test_batch_item_duplicates_get_original_id_and_are_listed(sluice):
    orig = sluice.publish("b", b"x", headers={"Idempotency-Key": "dup"})["id"]
    r = sluice.post("/v1/queues/b/batch", json={"messages": [
        {"text": "new", "idempotency_key": "fresh"},
        {"text": "again", "idempotency_key": "dup"},
    ]})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["ids"][1] == orig
    assert out["ids"][0] > orig
    assert out["duplicates"] == [orig]
    assert sluice.queue("b")["messages"] == 2


def test_batch_item_key_then_header_key_is_duplicate(sluice):
    ids = sluice.batch("b", [{"text": "x", "idempotency_key": "from-batch"}])["ids"]
    r = sluice.post("/v1/queues/b/messages", data=b"x",
                    headers={"Idempotency-Key": "from-batch"})
    assert r.status_code == 200 and r.json()["id"] == ids[0] and r.json()["duplicate"] is True


def test_repeated_key_inside_one_batch_is_a_duplicate_of_the_first_item(sluice):
    out = sluice.batch("b", [{"text": "a", "idempotency_key": "k"},
                             {"text": "b", "idempotency_key": "k"}, {"text": "c"}])
    ids = out["ids"]
    assert ids[0] == ids[1] and ids[2] > ids[0]
    assert out["duplicates"] == [ids[0]]
    msgs = sluice.lease("b", max=10)
    assert [unb64(m["body"]) for m in msgs] == [b"a", b"c"]
