"""Publish options: `delay` and `deliver_at` keep a message invisible until its time (then it is
delivered, without anybody asking twice: a waiting long-poll gets it), `ttl` deletes it
undelivered once it passes (counted from publish, counted in `expired`); malformed values are
400 invalid_parameter naming the parameter."""

import time

import pytest

from sluice_harness import assert_error, rfc3339, unb64, wait_until


def test_delayed_message_is_invisible_until_its_delay(sluice):
    t0 = time.monotonic()
    sluice.publish("d", b"later", params={"delay": "300ms"})
    assert sluice.lease("d") == []
    assert sluice.queue("d")["delayed"] == 1
    [m] = sluice.lease("d", wait="3")
    elapsed = time.monotonic() - t0
    assert unb64(m["body"]) == b"later"
    assert 0.25 <= elapsed < 1.5, elapsed
    assert sluice.queue("d")["delayed"] == 0


def test_bare_integer_delay_is_seconds(sluice):
    sluice.publish("d", b"x", params={"delay": "1"})
    assert sluice.lease("d") == []
    assert sluice.peek("d")["messages"][0]["state"] == "delayed"


def test_delay_does_not_hold_back_later_undelayed_messages(sluice):
    sluice.publish("d", b"slow", params={"delay": "1h"})
    sluice.publish("d", b"fast")
    [m] = sluice.lease("d")
    assert unb64(m["body"]) == b"fast"


@pytest.mark.parametrize("offset", [0, 60, -330])
def test_deliver_at_keeps_message_invisible_until_that_time(sluice, offset):
    at = time.time() + 0.4
    sluice.publish("at", b"timed", params={"deliver_at": rfc3339(at, offset_minutes=offset)})
    assert sluice.lease("at") == []
    [m] = sluice.lease("at", wait="3")
    now = time.time()
    assert now >= at - 0.05, now - at
    assert now < at + 1.0, now - at
    assert unb64(m["body"]) == b"timed"


@pytest.mark.parametrize("text", ["2020-01-01t00:00:00z", "2020-01-01T00:00:00.123456Z",
                                  "2020-01-01T00:00:00-00:00", "2020-01-01T05:30:00.5+05:30"])
def test_deliver_at_accepts_any_rfc3339_form(sluice, text):
    # RFC 3339 allows lower-case t/z, any number of fraction digits and a -00:00 offset.
    sluice.publish("at", b"x", params={"deliver_at": text})
    assert len(sluice.lease("at")) == 1


def test_deliver_at_in_the_past_is_visible_at_once(sluice):
    sluice.publish("at", b"past", params={"deliver_at": "2020-01-01T00:00:00Z"})
    [m] = sluice.lease("at")
    assert unb64(m["body"]) == b"past"


def test_ttl_deletes_message_undelivered(sluice):
    sluice.publish("t", b"short", params={"ttl": "300ms"})
    sluice.publish("t", b"long", params={"ttl": "1h"})
    time.sleep(0.45)
    msgs = sluice.lease("t", max=10)
    assert [unb64(m["body"]) for m in msgs] == [b"long"]
    assert wait_until(lambda: sluice.queue("t")["expired"] == 1, timeout=1.0), sluice.queue("t")
    assert sluice.queue("t")["messages"] == 1


def test_ttl_counts_from_publish_not_from_visibility(sluice):
    sluice.publish("t", b"never", params={"delay": "400ms", "ttl": "150ms"})
    assert sluice.lease("t", wait="700ms") == []
    assert wait_until(lambda: sluice.queue("t")["expired"] == 1, timeout=1.0), sluice.queue("t")


@pytest.mark.parametrize("value", ["0", "500ms", "30s", "2m", "2h", "1d", "365d", "8760h"])
def test_valid_durations_are_accepted(sluice, value):
    sluice.publish("ok", b"x", params={"delay": value, "ttl": "365d"})


@pytest.mark.parametrize("param", ["delay", "ttl"])
@pytest.mark.parametrize("value", ["soon", "5x", "-1s", "1.5s", "", "366d", "8761h", "1e3",
                                   " 5s", "5 s", "5S", "s", "ms", "0x10", "99999999999999999999"])
def test_malformed_durations_are_400_naming_the_parameter(sluice, param, value):
    r = sluice.post("/v1/queues/bad/messages", data=b"x", params={param: value})
    assert_error(r, 400, "invalid_parameter", mention=param)
    assert sluice.get("/v1/queues/bad").status_code == 404  # nothing was published


@pytest.mark.parametrize("query", ["delay=%FF", "delay=5%FFs", "ttl=%FF", "deliver_at=%FF",
                                   "deliver_at=2026-01-01T00:00:00%FF"])
def test_non_utf8_bytes_in_publish_options_are_400_not_ignored(sluice, query):
    r = sluice.post("/v1/queues/bad/messages?" + query, data=b"x")
    assert_error(r, 400, "invalid_parameter", mention=query.split("=")[0])
    assert sluice.get("/v1/queues/bad").status_code == 404  # nothing was published


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T00:00:00Z",
                                   "2026-01-01T00:00:00", "2026-01-01", "2026-02-30T00:00:00Z",
                                   "2026-01-01T25:00:00Z", "2026-01-01T00:00:00+1:00", ""])
def test_malformed_deliver_at_is_400_naming_it(sluice, value):
    r = sluice.post("/v1/queues/bad/messages", data=b"x", params={"deliver_at": value})
    assert_error(r, 400, "invalid_parameter", mention="deliver_at")


def test_delay_with_deliver_at_is_400(sluice):
    r = sluice.post("/v1/queues/bad/messages", data=b"x",
                    params={"delay": "1s", "deliver_at": rfc3339(time.time() + 60)})
    assert_error(r, 400, "invalid_parameter")
