"""Release (nack): POST /v1/queues/{q}/release gives leases back, visible again at once or after
`delay`; the attempt counts; dead receipts are listed in not_found; `error` (up to 512 bytes) is
recorded."""

import time

import pytest

from sluice_harness import assert_error


def test_release_makes_message_visible_again_at_once(sluice):
    mid = sluice.publish("r", b"x")["id"]
    [m] = sluice.lease("r")
    r = sluice.post("/v1/queues/r/release", json={"receipts": [m["receipt"]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"released": 1, "not_found": []}
    [again] = sluice.lease("r")
    assert again["id"] == mid and again["attempts"] == 2
    assert again["receipt"] != m["receipt"]


def test_release_with_delay_keeps_it_invisible_that_long(sluice):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    t0 = time.monotonic()
    sluice.release("r", [m["receipt"]], delay="300ms")
    assert sluice.lease("r") == []
    [p] = sluice.peek("r")["messages"]
    assert p["state"] == "retry"
    [again] = sluice.lease("r", wait="3")
    assert 0.25 <= time.monotonic() - t0 < 1.5
    assert again["attempts"] == 2


def test_release_accepts_delay_as_number_of_seconds(sluice):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    sluice.release("r", [m["receipt"]], delay=3600)
    assert sluice.lease("r") == []


def test_released_receipt_is_dead(sluice):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    sluice.release("r", [m["receipt"]])
    assert sluice.release("r", [m["receipt"]]) == {"released": 0, "not_found": [m["receipt"]]}
    assert_error(sluice.delete(f"/v1/queues/r/messages/{m['receipt']}"), 404,
                 "receipt_not_found")


def test_release_lists_unknown_receipts_and_releases_the_rest(sluice):
    sluice.publish_many("r", [b"a", b"b"])
    a, b = sluice.lease("r", max=2)
    out = sluice.release("r", [a["receipt"], "nope", b["receipt"]], error="upstream timeout")
    assert out == {"released": 2, "not_found": ["nope"]}
    assert len(sluice.lease("r", max=10)) == 2


def test_release_error_of_512_bytes_is_accepted(sluice):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    assert sluice.release("r", [m["receipt"]], error="e" * 512)["released"] == 1


def test_release_error_over_512_bytes_is_400(sluice):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    r = sluice.post("/v1/queues/r/release", json={"receipts": [m["receipt"]], "error": "e" * 513})
    assert_error(r, 400, "invalid_parameter", mention="error")
    assert sluice.queue("r")["in_flight"] == 1  # still leased


@pytest.mark.parametrize("delay", ["soon", "-1s", "366d", "1.5s"])
def test_release_bad_delay_is_400_naming_it(sluice, delay):
    sluice.publish("r", b"x")
    [m] = sluice.lease("r")
    r = sluice.post("/v1/queues/r/release", json={"receipts": [m["receipt"]], "delay": delay})
    assert_error(r, 400, "invalid_parameter", mention="delay")
    assert sluice.queue("r")["in_flight"] == 1


@pytest.mark.parametrize("body", [b"{", b"[]"])
def test_release_non_object_body_is_400_invalid_json(sluice, body):
    sluice.put_queue("r", status=201)
    r = sluice.post("/v1/queues/r/release", data=body,
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("body", [b'{"receipts": 3}', b'{"delay": "1s"}'])
def test_release_fields_of_the_wrong_shape_are_400(sluice, body):
    sluice.put_queue("r", status=201)
    r = sluice.post("/v1/queues/r/release", data=body,
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, ("invalid_json", "invalid_parameter"))


def test_release_with_non_json_content_type_is_415(sluice):
    sluice.put_queue("r", status=201)
    r = sluice.post("/v1/queues/r/release", data=b'{"receipts": ["x"]}',
                    headers={"Content-Type": "text/csv"})
    assert_error(r, 415, "unsupported_media_type")


def test_release_on_unknown_queue_is_404(sluice):
    assert_error(sluice.post("/v1/queues/nope/release", json={"receipts": ["x"]}), 404,
                 "queue_not_found")


def test_release_counts_the_attempt_toward_max_attempts(sluice):
    sluice.put_queue("r", status=201, max_attempts=2)
    sluice.publish("r", b"x")
    for _ in range(2):
        [m] = sluice.lease("r")
        sluice.release("r", [m["receipt"]])
    assert sluice.lease("r") == []
    assert sluice.queue("r")["dead_lettered"] == 1
