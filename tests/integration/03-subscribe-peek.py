"""Peek: GET /v1/queues/{q}/peek browses messages in id order without leasing them, with each
message's state for the group (ready, delayed+visible_at, leased+lease_expires_at, retry,
waiting_key, acked), paged with after/limit and next_after."""


import pytest

from sluice_harness import RFC3339_MS_RE, assert_error, unb64


def by_body(peeked):
    return {unb64(m["body"]): m for m in peeked["messages"]}


def test_peek_does_not_lease(sluice):
    ids = sluice.publish_many("p", [b"a", b"b"])
    out = sluice.peek("p")
    assert [m["id"] for m in out["messages"]] == ids
    for m in out["messages"]:
        assert m["attempts"] == 0  # never delivered
        assert RFC3339_MS_RE.match(m["published_at"])
        assert m["state"] == "ready"
        assert "receipt" not in m
    assert len(sluice.lease("p", max=10)) == 2  # both still available
    assert "next_after" not in out


def test_peek_shows_every_state(sluice):
    sluice.put_queue("p", status=201)
    sluice.put_group("p", "other", status=201)
    sluice.publish("p", b"acked")
    sluice.publish("p", b"leased")
    sluice.publish("p", b"retry")
    sluice.publish("p", b"delayed", params={"delay": "1h"})
    sluice.publish("p", b"k1", params={"key": "k"})
    sluice.publish("p", b"k2", params={"key": "k"})
    sluice.publish("p", b"ready")
    acked, leased, retry = sluice.lease("p", max=3)
    sluice.ack("p", [acked["receipt"]])
    sluice.release("p", [retry["receipt"]], delay="1h")
    [k1] = sluice.lease("p")
    assert unb64(k1["body"]) == b"k1"

    states = by_body(sluice.peek("p", limit=100))
    assert states[b"acked"]["state"] == "acked"
    assert states[b"leased"]["state"] == "leased"
    assert RFC3339_MS_RE.match(states[b"leased"]["lease_expires_at"])
    assert states[b"retry"]["state"] == "retry"
    assert states[b"delayed"]["state"] == "delayed"
    assert RFC3339_MS_RE.match(states[b"delayed"]["visible_at"])
    assert states[b"k1"]["state"] == "leased"
    assert states[b"k2"]["state"] == "waiting_key"
    assert states[b"ready"]["state"] == "ready"
    assert states[b"leased"]["attempts"] == 1
    assert states[b"ready"]["attempts"] == 0
    assert states[b"retry"]["attempts"] == 1

    # Another group's view: everything is ready except the delayed one.
    other = by_body(sluice.peek("p", group="other", limit=100))
    assert other[b"acked"]["state"] == "ready"
    assert other[b"delayed"]["state"] == "delayed"
    assert other[b"leased"]["state"] == "ready"


def test_peek_times_are_in_the_future_where_they_should_be(sluice):
    sluice.publish("p", b"d", params={"delay": "1h"})
    sluice.publish("p", b"l")
    sluice.lease("p", visibility="10m")
    s = by_body(sluice.peek("p"))
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)

    def parse(t):
        return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
    vis = parse(s[b"d"]["visible_at"]) - now
    exp = parse(s[b"l"]["lease_expires_at"]) - now
    assert 3500 <= vis.total_seconds() <= 3601, vis
    assert 590 <= exp.total_seconds() <= 601, exp


def test_peek_pages_with_after_limit_and_next_after(sluice):
    ids = sluice.publish_many("p", [b"%d" % i for i in range(25)])
    page1 = sluice.peek("p")
    assert [m["id"] for m in page1["messages"]] == ids[:10]  # limit defaults to 10
    assert page1["next_after"] == ids[9]
    page2 = sluice.peek("p", after=page1["next_after"], limit=10)
    assert [m["id"] for m in page2["messages"]] == ids[10:20]
    page3 = sluice.peek("p", after=page2["next_after"], limit=10)
    assert [m["id"] for m in page3["messages"]] == ids[20:]
    assert "next_after" not in page3
    assert sluice.peek("p", after=ids[-1])["messages"] == []
    assert [m["id"] for m in sluice.peek("p", limit=1000)["messages"]] == ids


def test_peek_after_skips_acked_gap(sluice):
    ids = sluice.publish_many("p", [b"a", b"b", b"c"])
    [m] = sluice.lease("p")
    sluice.ack("p", [m["receipt"]])
    assert [x["id"] for x in sluice.peek("p", after=0)["messages"]] == ids[1:]


def test_peek_on_empty_queue(sluice):
    sluice.put_queue("p", status=201)
    out = sluice.peek("p")
    assert out["messages"] == [] and "next_after" not in out


def test_peek_unknown_queue_and_group_are_404(sluice):
    assert_error(sluice.get("/v1/queues/nope/peek"), 404, "queue_not_found")
    sluice.put_queue("p", status=201)
    assert_error(sluice.get("/v1/queues/p/peek", params={"group": "nope"}), 404,
                 "group_not_found")


@pytest.mark.parametrize("params,name", [
    ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"after": "-1"}, "after"), ({"after": "abc"}, "after"), ({"after": "1.5"}, "after"),
])
def test_peek_bad_parameters_are_400(sluice, params, name):
    sluice.put_queue("p", status=201)
    assert_error(sluice.get("/v1/queues/p/peek", params=params), 400, "invalid_parameter",
                 mention=name)
