"""Queues: PUT creates (201) or finds (200), GET lists them sorted with summaries, GET one shows
counters, settings and groups, DELETE removes the queue and every message; names follow the
grammar [A-Za-z0-9][A-Za-z0-9._-]{0,127}."""

import pytest

from sluice_harness import RFC3339_MS_RE, assert_error

DEFAULT_SETTINGS = {
    "visibility_timeout": "30s", "max_attempts": 10, "max_messages": 0, "max_bytes": 0,
    "max_age": "0s", "dedup_window": "5m", "max_in_flight_per_key": 1,
}
SUMMARY_FIELDS = {"name", "messages", "bytes", "delayed", "in_flight", "groups", "published",
                  "acked"}


def test_put_creates_queue_with_default_settings_then_finds_it(sluice):
    r = sluice.put("/v1/queues/jobs")
    assert r.status_code == 201, r.text
    q = r.json()
    assert q["name"] == "jobs"
    for k, v in DEFAULT_SETTINGS.items():
        assert q["settings"][k] == v, (k, q["settings"])
    assert q["settings"]["dead_letter_queue"] == "jobs.dlq"
    assert q["messages"] == 0 and q["published"] == 0
    assert RFC3339_MS_RE.match(q["created_at"]), q["created_at"]
    assert [g["name"] for g in q["groups"]] == ["default"]

    r = sluice.put("/v1/queues/jobs")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "jobs"
    assert r.json()["created_at"] == q["created_at"]


def test_list_is_sorted_by_name_with_summaries(sluice):
    for name in ["zeta", "Alpha", "mid.q", "alpha"]:
        sluice.put_queue(name, status=201)
    sluice.publish("mid.q", b"hello")
    sluice.publish("mid.q", b"abc")
    r = sluice.get("/v1/queues")
    assert r.status_code == 200, r.text
    queues = r.json()["queues"]
    names = [q["name"] for q in queues]
    assert names == sorted(names) and set(names) == {"zeta", "Alpha", "mid.q", "alpha"}
    for q in queues:
        assert SUMMARY_FIELDS <= set(q), q
    mid = next(q for q in queues if q["name"] == "mid.q")
    assert mid["messages"] == 2 and mid["bytes"] == 8 and mid["published"] == 2
    assert mid["in_flight"] == 0 and mid["delayed"] == 0 and mid["acked"] == 0
    assert mid["groups"] == 1


def test_list_is_empty_on_a_fresh_server(sluice):
    r = sluice.get("/v1/queues")
    assert r.status_code == 200
    assert r.json() == {"queues": []}


def test_first_publish_creates_the_queue(sluice):
    assert_error(sluice.get("/v1/queues/auto"), 404, "queue_not_found")
    sluice.publish("auto", b"one")
    q = sluice.queue("auto")
    assert q["name"] == "auto" and q["messages"] == 1 and q["published"] == 1


def test_get_shows_counters_and_group(sluice):
    sluice.publish_many("c", [b"aa", b"bbb", b"c"])
    sluice.publish("c", b"later", params={"delay": "1h"})
    leased = sluice.lease("c")
    assert len(leased) == 1
    sluice.ack("c", [leased[0]["receipt"]])
    sluice.lease("c")  # one more in flight
    q = sluice.queue("c")
    assert q["published"] == 4
    assert q["acked"] == 1
    assert q["messages"] == 3  # two visible/leased + one delayed
    assert q["bytes"] == len(b"bbb") + len(b"c") + len(b"later")
    assert q["delayed"] == 1
    assert q["in_flight"] == 1
    assert q["expired"] == 0 and q["dropped"] == 0 and q["dead_lettered"] == 0
    default = next(g for g in q["groups"] if g["name"] == "default")
    assert default["in_flight"] == 1
    assert default["lag"] == 2  # visible messages not acked; the delayed one is in `delayed`


def test_get_unknown_queue_is_404(sluice):
    assert_error(sluice.get("/v1/queues/nope"), 404, "queue_not_found")


def test_delete_removes_queue_and_messages(sluice):
    sluice.publish_many("gone", [b"1", b"2"])
    r = sluice.delete("/v1/queues/gone")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": "gone"}
    assert_error(sluice.get("/v1/queues/gone"), 404, "queue_not_found")
    assert "gone" not in [q["name"] for q in sluice.get("/v1/queues").json()["queues"]]
    assert_error(sluice.get("/v1/queues/gone/messages"), 404, "queue_not_found")
    # Re-created, it starts empty.
    sluice.put_queue("gone", status=201)
    assert sluice.queue("gone")["messages"] == 0
    assert sluice.lease("gone") == []


def test_delete_unknown_queue_is_404(sluice):
    assert_error(sluice.delete("/v1/queues/never"), 404, "queue_not_found")


@pytest.mark.parametrize("name", ["a", "A9", "x" * 128, "a.b_c-D", "9lives", "jobs.dlq"])
def test_valid_names_are_accepted(sluice, name):
    assert sluice.put(f"/v1/queues/{name}").status_code == 201
    assert sluice.queue(name)["name"] == name


@pytest.mark.parametrize("name", ["x" * 129, "-dash", ".dot", "_under", "a!b", "a%20b", "a*b",
                                  "caf%C3%A9", "a:b", "a%00b"])
def test_invalid_names_are_400_invalid_name(sluice, name):
    assert_error(sluice.put(f"/v1/queues/{name}"), 400, "invalid_name")
    assert_error(sluice.get(f"/v1/queues/{name}"), 400, "invalid_name")
    assert_error(sluice.post(f"/v1/queues/{name}/messages", data=b"x"), 400, "invalid_name")
    assert_error(sluice.delete(f"/v1/queues/{name}"), 400, "invalid_name")
    assert sluice.get("/v1/queues").json()["queues"] == []


def test_name_with_encoded_slash_is_404_not_found(sluice):
    # docs/api.md: a "/" (even sent as %2F) makes a different path.
    assert_error(sluice.put("/v1/queues/a%2Fb"), 404, "not_found")
    assert sluice.get("/v1/queues").json()["queues"] == []


def test_dlq_queue_has_no_dead_letter_queue_of_its_own(sluice):
    sluice.put_queue("jobs.dlq", status=201)
    assert sluice.queue("jobs.dlq")["settings"]["dead_letter_queue"] == ""


def test_deleted_queue_receipts_are_dead(sluice):
    sluice.publish("gone", b"x")
    [m] = sluice.lease("gone")
    assert sluice.delete("/v1/queues/gone").status_code == 200
    sluice.put_queue("gone", status=201)
    assert_error(sluice.delete(f"/v1/queues/gone/messages/{m['receipt']}"), 404,
                 "receipt_not_found")


def test_too_many_queues_is_507(start_sluice):
    srv = start_sluice("--max-queues", "2")
    srv.put_queue("q1", status=201)
    srv.publish("q2", b"x")
    assert_error(srv.put("/v1/queues/q3"), 507, "too_many_queues")
    assert_error(srv.post("/v1/queues/q3/messages", data=b"x"), 507, "too_many_queues")
    # Existing queues still work, and deleting one makes room.
    srv.publish("q1", b"y")
    assert srv.delete("/v1/queues/q1").status_code == 200
    srv.put_queue("q3", status=201)
