"""Pop (at-most-once): POST /v1/queues/{q}/pop receives and deletes one message: JSON
{"message": {...no receipt...}} or {"message": null}; raw=1 gives the body verbatim with its
Content-Type and Sluice-* headers, or 204 when empty."""


import pytest

from sluice_harness import RFC3339_MS_RE, assert_error, unb64


def test_pop_returns_message_without_receipt_and_deletes_it(sluice):
    mid = sluice.publish("p", b"hello", headers={"Content-Type": "text/plain",
                                                  "Sluice-Attr-X": "1"})["id"]
    r = sluice.post("/v1/queues/p/pop")
    assert r.status_code == 200, r.text
    m = r.json()["message"]
    assert m["id"] == mid
    assert unb64(m["body"]) == b"hello"
    assert "receipt" not in m
    assert m["attempts"] == 1
    assert RFC3339_MS_RE.match(m["published_at"])
    assert m["attributes"] == {"content-type": "text/plain", "x": "1"}
    q = sluice.queue("p")
    assert q["messages"] == 0 and q["in_flight"] == 0
    assert sluice.lease("p") == []


def test_pop_on_empty_queue_is_null_message(sluice):
    sluice.put_queue("p", status=201)
    r = sluice.post("/v1/queues/p/pop")
    assert r.status_code == 200 and r.json() == {"message": None}


def test_pop_takes_messages_in_order(sluice):
    ids = sluice.publish_many("p", [b"1", b"2", b"3"])
    assert [sluice.pop("p")["id"] for _ in range(3)] == ids
    assert sluice.pop("p") is None


def test_pop_carries_the_ordering_key(sluice):
    sluice.publish("p", b"k", params={"key": "cust-1"})
    assert sluice.pop("p")["key"] == "cust-1"


def test_pop_skips_leased_and_delayed_messages(sluice):
    sluice.publish("p", b"leased")
    sluice.publish("p", b"delayed", params={"delay": "1h"})
    sluice.publish("p", b"ready")
    sluice.lease("p")
    assert unb64(sluice.pop("p")["body"]) == b"ready"
    assert sluice.pop("p") is None


def test_raw_pop_returns_body_verbatim_with_headers(sluice):
    payload = b"\x00\xffraw bytes\r\n"
    mid = sluice.publish("p", payload, headers={"Content-Type": "image/png"})["id"]
    r = sluice.post("/v1/queues/p/pop", params={"raw": "1"})
    assert r.status_code == 200
    assert r.content == payload
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Sluice-Id"] == str(mid)
    assert r.headers["Sluice-Queue"] == "p"
    assert r.headers["Sluice-Attempts"] == "1"
    assert RFC3339_MS_RE.match(r.headers["Sluice-Published-At"]), r.headers
    assert sluice.queue("p")["messages"] == 0


def test_raw_pop_without_stored_content_type_is_octet_stream(sluice):
    sluice.publish("p", b"no type")  # requests sends no Content-Type for bytes
    r = sluice.post("/v1/queues/p/pop", params={"raw": "1"})
    assert r.status_code == 200 and r.content == b"no type"
    assert r.headers["Content-Type"] == "application/octet-stream"


def test_raw_pop_on_empty_queue_is_204_without_body(sluice):
    sluice.put_queue("p", status=201)
    r = sluice.post("/v1/queues/p/pop", params={"raw": "1"})
    assert r.status_code == 204
    assert r.content == b""


def test_raw_pop_of_empty_body_message(sluice):
    # The raw form must tell "empty queue" (204) from "message with an empty body" (200).
    sluice.publish("p", b"")
    r = sluice.post("/v1/queues/p/pop", params={"raw": "1"})
    assert r.status_code == 200 and r.content == b""
    assert "Sluice-Id" in r.headers


def test_pop_from_a_group_leaves_other_groups_their_copy(sluice):
    sluice.put_queue("p", status=201)
    sluice.put_group("p", "g2", status=201)
    sluice.publish("p", b"both")
    assert unb64(sluice.pop("p", group="g2")["body"]) == b"both"
    assert sluice.pop("p", group="g2") is None
    assert unb64(sluice.pop("p")["body"]) == b"both"
    assert sluice.queue("p")["messages"] == 0


def test_pop_unknown_group_is_404(sluice):
    sluice.publish("p", b"x")
    assert_error(sluice.post("/v1/queues/p/pop", params={"group": "nope"}), 404,
                 "group_not_found")
    assert sluice.queue("p")["messages"] == 1


@pytest.mark.parametrize("params,name", [({"wait": "x"}, "wait"), ({"wait": "-1"}, "wait"),
                                         ({"raw": "maybe"}, "raw")])
def test_pop_bad_parameters_are_400(sluice, params, name):
    sluice.publish("p", b"x")
    assert_error(sluice.post("/v1/queues/p/pop", params=params), 400, "invalid_parameter",
                 mention=name)
    assert sluice.queue("p")["messages"] == 1


def test_pop_bad_queue_name_is_400(sluice):
    assert_error(sluice.post("/v1/queues/bad~name/pop"), 400, "invalid_name")
