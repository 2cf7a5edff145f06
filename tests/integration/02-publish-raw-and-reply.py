"""POST /v1/queues/{q}/messages stores the request body verbatim (any bytes, any content type),
answers 201 {"queue", "id", "stored"} with strictly increasing ids, and keeps the Content-Type,
traceparent and Sluice-Attr-* headers as attributes."""


import pytest

from sluice_harness import RFC3339_MS_RE, assert_error, unb64


def test_publish_answers_201_with_queue_id_and_stored(sluice):
    r = sluice.post("/v1/queues/jobs/messages", data=b"hello")
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["queue"] == "jobs"
    assert isinstance(body["id"], int)
    assert body["stored"] == "fsync"  # the default storage is file with fsync = always
    assert "duplicate" not in body


def test_ids_are_strictly_increasing_within_a_queue(sluice):
    ids = sluice.publish_many("jobs", [b"%d" % i for i in range(20)])
    assert all(a < b for a, b in zip(ids, ids[1:])), ids
    other = sluice.publish_many("other", [b"x", b"y"])
    assert other[0] < other[1]


def test_body_bytes_are_kept_verbatim(sluice):
    payload = bytes(range(256)) + b"\x00\r\n\r\n{not json" + "é✓".encode()
    sluice.post("/v1/queues/bin/messages", data=payload,
                headers={"Content-Type": "application/octet-stream"})
    [m] = sluice.lease("bin")
    assert unb64(m["body"]) == payload


def test_json_body_is_stored_as_raw_bytes(sluice):
    raw = b'{"x": 1,   "y": [1,2]}'
    sluice.post("/v1/queues/j/messages", data=raw, headers={"Content-Type": "application/json"})
    [m] = sluice.lease("j")
    assert unb64(m["body"]) == raw  # not re-encoded
    assert m["attributes"]["content-type"] == "application/json"


def test_message_object_fields(sluice):
    pid = sluice.publish("m", b"hello", headers={"Content-Type": "text/plain"})["id"]
    [m] = sluice.lease("m")
    assert m["id"] == pid
    assert m["body"] == "aGVsbG8="
    assert isinstance(m["receipt"], str) and m["receipt"]
    assert m["attempts"] == 1
    assert RFC3339_MS_RE.match(m["published_at"]), m["published_at"]
    assert m["attributes"] == {"content-type": "text/plain"}
    assert "key" not in m  # only messages with an ordering key carry one


def test_sluice_attr_headers_and_traceparent_become_attributes(sluice):
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    sluice.publish("a", b"x", headers={
        "Content-Type": "text/csv", "traceparent": tp,
        "Sluice-Attr-Tenant": "acme", "Sluice-Attr-retry.count_x-1": "3",
        "X-Other-Header": "not kept"})
    [m] = sluice.lease("a")
    assert m["attributes"] == {"content-type": "text/csv", "traceparent": tp,
                               "tenant": "acme", "retry.count_x-1": "3"}


def test_attribute_limits_at_the_boundary_are_accepted(sluice):
    headers = {f"Sluice-Attr-a{i}": "v" for i in range(15)}
    headers["Sluice-Attr-" + "n" * 64] = "v" * 1024
    sluice.publish("lim", b"x", headers=headers)  # 16 attributes, longest name and value
    [m] = sluice.lease("lim")
    assert len(m["attributes"]) == 16
    assert m["attributes"]["n" * 64] == "v" * 1024


def test_eight_attributes_of_1024_bytes_are_accepted(sluice):
    # Each attribute within the documented limits (64-character name, 1024-byte value), 16 at
    # most; 8 of them keep the request headers (about 9 KB) under max_header_bytes (16 KiB).
    headers = {"Sluice-Attr-" + ("%02d" % i) * 32: chr(97 + i) * 1024 for i in range(8)}
    sluice.publish("lim", b"x", headers=headers)
    [m] = sluice.lease("lim")
    assert len(m["attributes"]) == 8
    assert all(len(v) == 1024 for v in m["attributes"].values())


@pytest.mark.parametrize("headers", [
    {f"Sluice-Attr-a{i}": "v" for i in range(17)},          # 17 attributes
    {"Sluice-Attr-" + "n" * 65: "v"},                        # name of 65 characters
    {"Sluice-Attr-big": "v" * 1025},                         # value of 1025 bytes
    {"Sluice-Attr-a+b": "v"},                                # name outside [a-z0-9_.-]
])
def test_attributes_over_the_limits_are_400(sluice, headers):
    r = sluice.post("/v1/queues/lim/messages", data=b"x", headers=headers)
    assert_error(r, 400, ("invalid_parameter", "bad_request"))
    q = sluice.get("/v1/queues/lim")
    assert q.status_code == 404 or q.json()["messages"] == 0, q.text


def test_reserved_sluice_attribute_names_cannot_be_set_by_publishers(sluice):
    r = sluice.post("/v1/queues/res/messages", data=b"x",
                    headers={"Sluice-Attr-sluice-origin": "forged"})
    if r.status_code == 201:
        [m] = sluice.lease("res")
        assert m["attributes"].get("sluice-origin") != "forged", m
        assert "dead_letter" not in m
    else:
        assert_error(r, 400, ("invalid_parameter", "bad_request"))


def test_publish_to_bad_queue_name_is_400(sluice):
    assert_error(sluice.post("/v1/queues/bad$name/messages", data=b"x"), 400, "invalid_name")


def test_publish_without_content_type_has_no_content_type_attribute(sluice):
    # requests sends bytes without any Content-Type header.
    r = sluice.post("/v1/queues/n/messages", data=b"plain")
    assert r.status_code == 201
    assert "Content-Type" not in r.request.headers
    [m] = sluice.lease("n")
    assert "content-type" not in m["attributes"]


def test_published_at_is_the_publish_time(sluice):
    import datetime
    before = datetime.datetime.now(datetime.timezone.utc)
    sluice.publish("t", b"x")
    after = datetime.datetime.now(datetime.timezone.utc)
    [m] = sluice.lease("t")
    ts = datetime.datetime.strptime(m["published_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= ts <= after + datetime.timedelta(seconds=1)


def test_message_over_max_message_bytes_is_413(start_sluice):
    srv = start_sluice("--max-message-bytes", "1k")
    srv.publish("big", b"x" * 1024)
    assert_error(srv.post("/v1/queues/big/messages", data=b"x" * 1025), 413, "payload_too_large")
    assert srv.queue("big")["messages"] == 1


def test_default_max_message_bytes_is_1MiB(sluice):
    sluice.publish("big", b"y" * (1 << 20))
    assert_error(sluice.post("/v1/queues/big/messages", data=b"y" * ((1 << 20) + 1)), 413,
                 "payload_too_large")
    [m] = sluice.lease("big")
    assert len(unb64(m["body"])) == 1 << 20


def test_expect_100_continue_publish_as_curl_sends_it(sluice):
    # curl sends "Expect: 100-continue" for bodies over 1 KiB and waits for the interim reply.
    body = b"e" * 4096
    with sluice.connect() as c:
        c.send(b"POST /v1/queues/ex/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
               b"Expect: 100-continue\r\n\r\n")
        interim = c.read_response(timeout=2)
        assert interim.status == 100, interim
        c.send(body)
        resp = c.read_response(timeout=2)
    assert resp.status == 201, resp
    [m] = sluice.lease("ex")
    assert unb64(m["body"]) == body


def test_expect_100_continue_with_oversize_body_is_413_at_once(sluice):
    with sluice.connect() as c:
        c.send(b"POST /v1/queues/ex/messages HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
        resp = c.read_response(timeout=2)
    assert resp.status == 413, resp
    assert resp.json()["error"]["code"] == "payload_too_large"
