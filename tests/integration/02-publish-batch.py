"""POST /v1/queues/{q}/batch publishes up to 1000 messages all-or-nothing: items carry exactly
one of body (base64) or text, plus delay/deliver_at/ttl/key/attributes/idempotency_key; any bad
item rejects the whole batch with a message naming the item."""

import time

import pytest

from sluice_harness import assert_error, b64, rfc3339, unb64


def queue_is_empty_or_absent(srv, q):
    r = srv.get(f"/v1/queues/{q}")
    return r.status_code == 404 or r.json()["messages"] == 0


def test_batch_of_body_and_text_items_in_order(sluice):
    r = sluice.post("/v1/queues/jobs/batch", json={"messages": [
        {"body": b64(b"\x00\x01bin")},
        {"text": "plain utf-8 text é"},
        {"body": b64(b"third"), "attributes": {"content-type": "text/plain", "tenant": "a"}},
    ]})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["queue"] == "jobs" and out["stored"] == "fsync"  # the default: file, always
    ids = out["ids"]
    assert len(ids) == 3 and ids[0] < ids[1] < ids[2]
    assert "duplicates" not in out or out["duplicates"] == []
    msgs = sluice.lease("jobs", max=10)
    assert [m["id"] for m in msgs] == ids
    assert unb64(msgs[0]["body"]) == b"\x00\x01bin"
    assert unb64(msgs[1]["body"]) == "plain utf-8 text é".encode()
    assert msgs[2]["attributes"] == {"content-type": "text/plain", "tenant": "a"}


def test_batch_ids_follow_earlier_publishes(sluice):
    first = sluice.publish("jobs", b"x")["id"]
    ids = sluice.batch("jobs", [{"text": "a"}, {"text": "b"}])["ids"]
    assert first < ids[0] < ids[1]


def test_batch_items_with_delay_ttl_and_key(sluice):
    sluice.batch("opts", [
        {"text": "now", "key": "k1"},
        {"text": "later", "delay": "1h"},
        {"text": "at", "deliver_at": rfc3339(time.time() + 3600)},
        {"text": "ttl", "ttl": "1h", "key": "k2"},
        {"text": "secs", "delay": 3600},
    ])
    msgs = sluice.lease("opts", max=10)
    assert sorted(unb64(m["body"]) for m in msgs) == [b"now", b"ttl"]
    assert {m["key"] for m in msgs} == {"k1", "k2"}
    assert sluice.queue("opts")["delayed"] == 3


def test_batch_item_with_sixteen_attributes_of_the_largest_size_is_accepted(sluice):
    # Every documented attribute limit at once: 16 attributes, 64-character names, 1024-byte
    # values.
    attrs = {("%02d" % i) * 32: chr(97 + i) * 1024 for i in range(16)}
    sluice.batch("attrs", [{"text": "x", "attributes": attrs}])
    [m] = sluice.lease("attrs")
    assert m["attributes"] == attrs


def test_batch_of_1000_is_accepted(sluice):
    out = sluice.batch("many", [{"text": str(i)} for i in range(1000)])
    assert len(out["ids"]) == 1000
    assert sluice.queue("many")["messages"] == 1000


def test_batch_of_1001_is_413(sluice):
    r = sluice.post("/v1/queues/many/batch", json={"messages": [{"text": "x"}] * 1001})
    assert_error(r, 413, "payload_too_large")
    assert queue_is_empty_or_absent(sluice, "many")


@pytest.mark.parametrize("bad", [
    "aGVsbG8", "aGVsbG8=x", "aGV sbG8=", "aGVs*G8=", "-_8=", "aGVsbG8==",
])
def test_bad_base64_rejects_the_whole_batch_naming_the_item(sluice, bad):
    items = [{"text": "ok"}] * 3 + [{"body": bad}] + [{"text": "after"}]
    r = sluice.post("/v1/queues/b/batch", json={"messages": items})
    assert_error(r, 400, "invalid_base64", mention="messages[3]")
    assert queue_is_empty_or_absent(sluice, "b")


@pytest.mark.parametrize("item,field", [
    ({"text": "x", "delay": "soon"}, "delay"),
    ({"text": "x", "ttl": "-1s"}, "ttl"),
    ({"text": "x", "deliver_at": "tomorrow"}, "deliver_at"),
    ({"text": "x", "delay": "1s", "deliver_at": rfc3339(time.time() + 60)}, None),
    ({"text": "x", "key": ""}, "key"),
    ({"text": "x", "key": "k" * 129}, "key"),
    ({"text": "x", "idempotency_key": "i" * 257}, "idempotency_key"),
    ({"text": "x", "idempotency_key": ""}, "idempotency_key"),
    ({"text": "x", "attributes": {"n": 5}}, "attributes"),
    ({"text": "x", "attributes": {"Bad Name": "v"}}, "attributes"),
    ({"text": "x", "attributes": {f"a{i}": "v" for i in range(17)}}, "attributes"),
    ({"text": "x", "body": b64(b"x")}, None),   # both body and text
    ({"delay": "1s"}, None),                     # neither
])
def test_invalid_item_rejects_the_whole_batch_naming_the_item(sluice, item, field):
    r = sluice.post("/v1/queues/b/batch", json={"messages": [{"text": "ok"}, item]})
    msg = assert_error(r, 400, ("invalid_parameter", "invalid_json"), mention="messages[1]")
    if field:
        assert field in msg, msg
    assert queue_is_empty_or_absent(sluice, "b")


def test_item_over_max_message_bytes_is_413(start_sluice):
    srv = start_sluice("--max-message-bytes", "1k")
    srv.batch("b", [{"body": b64(b"x" * 1024)}])
    r = srv.post("/v1/queues/b/batch", json={"messages": [{"text": "ok"},
                                                          {"body": b64(b"x" * 1025)}]})
    assert_error(r, 413, "payload_too_large")
    assert srv.queue("b")["messages"] == 1


def test_request_body_over_max_request_bytes_is_413(start_sluice):
    srv = start_sluice("--max-request-bytes", "64k")
    big = [{"text": "y" * 1000} for _ in range(80)]  # about 82 KB of JSON
    r = srv.post("/v1/queues/b/batch", json={"messages": big})
    assert_error(r, 413, "payload_too_large")
    assert queue_is_empty_or_absent(srv, "b")
    assert srv.alive()


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b'"messages"', b"{} x"])
def test_body_that_is_not_a_json_object_is_400_invalid_json(sluice, body):
    r = sluice.post("/v1/queues/b/batch", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    assert queue_is_empty_or_absent(sluice, "b")


@pytest.mark.parametrize("body", [
    b'{"messages": 5}', b'{"messages": [5]}', b'{"messages": ["x"]}', b'{"msgs": []}',
    b'{"messages": [{"text": 5}]}',
])
def test_fields_of_the_wrong_shape_are_400(sluice, body):
    # The docs allow either reading: "not of the expected shape" (invalid_json) or "a JSON field
    # with a bad value" (invalid_parameter).
    r = sluice.post("/v1/queues/b/batch", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, ("invalid_json", "invalid_parameter"))
    assert queue_is_empty_or_absent(sluice, "b")


@pytest.mark.parametrize("ctype", ["text/csv", "application/xml", "multipart/form-data"])
def test_batch_with_an_unknown_content_type_is_415(sluice, ctype):
    # JSON, text/plain (lines) and application/octet-stream (binary) are the three batch forms
    r = sluice.post("/v1/queues/b/batch", data=b'{"messages": [{"text": "x"}]}',
                    headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type", mention="text/plain")
    assert queue_is_empty_or_absent(sluice, "b")


@pytest.mark.parametrize("ctype", [None, "application/json", "application/json; charset=utf-8",
                                   "application/x-www-form-urlencoded"])
def test_batch_accepts_json_missing_and_curl_content_types(sluice, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = sluice.post("/v1/queues/ok/batch", data=b'{"messages": [{"text": "x"}]}', headers=headers)
    assert r.status_code == 201, r.text


def test_batch_to_bad_queue_name_is_400(sluice):
    r = sluice.post("/v1/queues/.bad/batch", json={"messages": [{"text": "x"}]})
    assert_error(r, 400, "invalid_name")
