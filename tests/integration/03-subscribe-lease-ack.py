"""Leasing and acknowledging: GET /v1/queues/{q}/messages leases up to `max` messages in id order
with receipts; POST ack acknowledges a batch and lists dead receipts; DELETE .../messages/{receipt}
acknowledges one and is strict (404 receipt_not_found)."""

import pytest

from sluice_harness import assert_error, unb64


def test_lease_returns_messages_in_id_order_with_receipts(sluice):
    ids = sluice.publish_many("l", [b"a", b"b", b"c"])
    msgs = sluice.lease("l", max=2)
    assert [m["id"] for m in msgs] == ids[:2]
    assert all(m["attempts"] == 1 for m in msgs)
    assert len({m["receipt"] for m in msgs}) == 2
    # Leased messages are invisible to other consumers of the group.
    [third] = sluice.lease("l", max=10)
    assert third["id"] == ids[2]
    assert sluice.lease("l", max=10) == []
    q = sluice.queue("l")
    assert q["in_flight"] == 3 and q["messages"] == 3


def test_lease_defaults_to_one_message(sluice):
    sluice.publish_many("l", [b"a", b"b"])
    assert len(sluice.lease("l")) == 1


def test_lease_on_empty_existing_queue_is_an_empty_list(sluice):
    sluice.put_queue("empty", status=201)
    r = sluice.get("/v1/queues/empty/messages")
    assert r.status_code == 200 and r.json() == {"messages": []}


def test_lease_max_1000_is_accepted(sluice):
    sluice.batch("l", [{"text": str(i)} for i in range(1000)])
    sluice.publish("l", b"last")
    msgs = sluice.lease("l", max=1000)
    assert len(msgs) == 1000
    assert [m["id"] for m in msgs] == sorted(m["id"] for m in msgs)


def test_lease_reply_carries_at_most_32_MiB_of_bodies(sluice):
    body = b"m" * (1 << 20)
    for _ in range(34):
        sluice.publish("big", body)
    first = sluice.lease("big", max=34)
    assert 1 <= len(first) <= 32, len(first)
    rest = sluice.lease("big", max=34)
    assert len(first) + len(rest) == 34  # fewer came back, none were lost
    assert all(unb64(m["body"]) == body for m in first[:1] + rest[:1])


def test_batch_ack_acknowledges_and_lists_dead_receipts(sluice):
    sluice.publish_many("l", [b"a", b"b", b"c"])
    a, b = sluice.lease("l", max=2)
    r = sluice.post("/v1/queues/l/ack", json={"receipts": [a["receipt"], "bogus-receipt",
                                                           b["receipt"]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"acked": 2, "not_found": ["bogus-receipt"]}
    # Acking again: both dead now, not an error.
    assert sluice.ack("l", [a["receipt"], b["receipt"]]) == {
        "acked": 0, "not_found": [a["receipt"], b["receipt"]]}
    q = sluice.queue("l")
    assert q["acked"] == 2 and q["messages"] == 1 and q["in_flight"] == 0
    assert unb64(sluice.lease("l")[0]["body"]) == b"c"


def test_acked_messages_are_never_delivered_again(sluice):
    sluice.publish("l", b"once")
    [m] = sluice.lease("l", visibility="200ms")
    sluice.ack("l", [m["receipt"]])
    assert sluice.lease("l", wait="400ms") == []


def test_delete_receipt_acknowledges_one_and_is_strict(sluice):
    sluice.publish("l", b"a")
    [m] = sluice.lease("l")
    r = sluice.delete(f"/v1/queues/l/messages/{m['receipt']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"acked": 1}
    assert_error(sluice.delete(f"/v1/queues/l/messages/{m['receipt']}"), 404,
                 "receipt_not_found")
    assert_error(sluice.delete("/v1/queues/l/messages/not-a-receipt"), 404, "receipt_not_found")
    assert sluice.queue("l")["acked"] == 1


def test_receipt_of_another_queue_is_not_found(sluice):
    sluice.publish("q1", b"a")
    sluice.put_queue("q2", status=201)
    [m] = sluice.lease("q1")
    assert_error(sluice.delete(f"/v1/queues/q2/messages/{m['receipt']}"), 404,
                 "receipt_not_found")
    assert sluice.ack("q2", [m["receipt"]]) == {"acked": 0, "not_found": [m["receipt"]]}
    # Still leased in q1, and ackable there.
    assert sluice.ack("q1", [m["receipt"]]) == {"acked": 1, "not_found": []}


def test_receipt_of_another_group_is_not_found(sluice):
    sluice.put_queue("g", status=201)
    sluice.put_group("g", "other", status=201)
    sluice.publish("g", b"a")
    [m] = sluice.lease("g")
    [o] = sluice.lease("g", group="other")
    assert m["receipt"] != o["receipt"]
    assert sluice.ack("g", [m["receipt"]]) == {"acked": 1, "not_found": []}
    # The other group's lease is untouched by the default group's ack.
    assert sluice.group("g", "other")["in_flight"] == 1
    assert sluice.ack("g", [o["receipt"]]) == {"acked": 1, "not_found": []}


def test_lease_unknown_queue_is_404(sluice):
    assert_error(sluice.get("/v1/queues/nope/messages"), 404, "queue_not_found")


def test_lease_unknown_group_is_404_and_creates_nothing(sluice):
    sluice.publish("l", b"a")
    assert_error(sluice.get("/v1/queues/l/messages", params={"group": "typo"}), 404,
                 "group_not_found")
    assert [g["name"] for g in sluice.queue("l")["groups"]] == ["default"]


@pytest.mark.parametrize("params,name", [
    ({"max": "0"}, "max"), ({"max": "1001"}, "max"), ({"max": "-1"}, "max"),
    ({"max": "two"}, "max"), ({"max": ""}, "max"),
    ({"visibility": "long"}, "visibility"), ({"visibility": "-1s"}, "visibility"),
    ({"visibility": "366d"}, "visibility"), ({"wait": "forever"}, "wait"),
    ({"wait": "-5"}, "wait"),
])
def test_bad_lease_parameters_are_400_naming_them(sluice, params, name):
    sluice.publish("l", b"a")
    r = sluice.get("/v1/queues/l/messages", params=params)
    assert_error(r, 400, "invalid_parameter", mention=name)
    assert sluice.queue("l")["in_flight"] == 0


@pytest.mark.parametrize("query", ["max=%FF", "visibility=%FF", "wait=1%FF", "max=2%FF"])
def test_non_utf8_bytes_in_lease_parameters_are_400_not_ignored(sluice, query):
    sluice.publish("l", b"a")
    r = sluice.get("/v1/queues/l/messages?" + query)
    assert_error(r, 400, "invalid_parameter", mention=query.split("=")[0])
    assert sluice.queue("l")["in_flight"] == 0


def test_lease_bad_group_name_is_400(sluice):
    sluice.publish("l", b"a")
    assert_error(sluice.get("/v1/queues/l/messages", params={"group": "bad name"}), 400,
                 "invalid_name")


@pytest.mark.parametrize("body", [b"{", b"[]", b"null"])
def test_ack_with_non_object_body_is_400_invalid_json(sluice, body):
    sluice.put_queue("l", status=201)
    r = sluice.post("/v1/queues/l/ack", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("body", [b'{"receipts": "r"}', b'{"receipts": [1]}', b'{"rcpts": ["r"]}'])
def test_ack_with_fields_of_the_wrong_shape_is_400(sluice, body):
    sluice.put_queue("l", status=201)
    r = sluice.post("/v1/queues/l/ack", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, ("invalid_json", "invalid_parameter"))


def test_ack_receipt_count_outside_1_to_1000_is_rejected(sluice):
    sluice.put_queue("l", status=201)
    r = sluice.post("/v1/queues/l/ack", json={"receipts": []})
    assert_error(r, 400, ("invalid_parameter", "invalid_json"))
    r = sluice.post("/v1/queues/l/ack", json={"receipts": ["r%d" % i for i in range(1001)]})
    assert r.status_code in (400, 413), r.text
    assert_error(r, r.status_code, "invalid_parameter" if r.status_code == 400
                 else "payload_too_large")
    r = sluice.post("/v1/queues/l/ack", json={"receipts": ["r%d" % i for i in range(1000)]})
    assert r.status_code == 200 and r.json()["acked"] == 0 and len(r.json()["not_found"]) == 1000


def test_ack_with_non_json_content_type_is_415(sluice):
    sluice.publish("l", b"a")
    [m] = sluice.lease("l")
    r = sluice.post("/v1/queues/l/ack", data=b'{"receipts": ["%s"]}' % m["receipt"].encode(),
                    headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert sluice.queue("l")["in_flight"] == 1  # nothing was acked


def test_ack_on_unknown_queue_is_404(sluice):
    assert_error(sluice.post("/v1/queues/nope/ack", json={"receipts": ["r"]}), 404,
                 "queue_not_found")
