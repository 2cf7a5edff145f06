"""Consumer groups: every group receives every message (fan-out), consumers inside one group
compete; groups are created with from=earliest|latest, listed, shown with lag/in_flight/ready/
delivered/acked, and deleted (not `default`: 409); a message is retained until every group acked
it."""

import pytest

from sluice_harness import assert_error, unb64

GROUP_FIELDS = {"name", "lag", "in_flight", "ready", "delivered", "acked"}


def bodies(msgs):
    return [unb64(m["body"]) for m in msgs]


def test_put_group_creates_201_then_finds_200(sluice):
    sluice.put_queue("f", status=201)
    r = sluice.put("/v1/queues/f/groups/billing")
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["name"] == "billing" and GROUP_FIELDS <= set(g)
    r = sluice.put("/v1/queues/f/groups/billing")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "billing"


def test_groups_list_includes_default(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "b", status=201)
    sluice.put_group("f", "a", status=201)
    r = sluice.get("/v1/queues/f/groups")
    assert r.status_code == 200, r.text
    groups = r.json()["groups"]
    assert {g["name"] for g in groups} == {"default", "a", "b"}
    for g in groups:
        assert GROUP_FIELDS <= set(g), g
    assert sluice.queue("f")["groups"] and len(sluice.queue("f")["groups"]) == 3


def test_every_group_receives_every_message(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "audit", status=201)
    sluice.publish_many("f", [b"1", b"2"])
    assert bodies(sluice.lease("f", max=10)) == [b"1", b"2"]
    assert bodies(sluice.lease("f", max=10, group="audit")) == [b"1", b"2"]


def test_consumers_in_one_group_compete(sluice):
    sluice.publish_many("f", [b"1", b"2"])
    first = sluice.lease("f")
    second = sluice.lease("f")
    assert len(first) == len(second) == 1
    assert first[0]["id"] != second[0]["id"]
    assert sluice.lease("f") == []


def test_message_is_retained_until_every_group_acks(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "g2", status=201)
    sluice.publish("f", b"x")
    [a] = sluice.lease("f")
    sluice.ack("f", [a["receipt"]])
    assert sluice.queue("f")["messages"] == 1  # g2 has not acked yet
    [p] = sluice.peek("f")["messages"]
    assert p["state"] == "acked"
    assert sluice.peek("f", group="g2")["messages"][0]["state"] == "ready"
    [b] = sluice.lease("f", group="g2")
    sluice.ack("f", [b["receipt"]])
    assert sluice.queue("f")["messages"] == 0


def test_group_stats(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "g", status=201)
    sluice.publish_many("f", [b"1", b"2", b"3", b"4"])
    m1, m2 = sluice.lease("f", max=2, group="g")
    sluice.ack("f", [m1["receipt"]])
    g = sluice.group("f", "g")
    assert g["name"] == "g"
    assert g["lag"] == 3 and g["in_flight"] == 1 and g["ready"] == 2
    assert g["delivered"] == 2 and g["acked"] == 1
    d = sluice.group("f", "default")
    assert d["lag"] == 4 and d["in_flight"] == 0 and d["ready"] == 4
    assert d["delivered"] == 0 and d["acked"] == 0


def test_from_latest_sees_only_later_messages(sluice):
    sluice.publish("f", b"before")
    r = sluice.put("/v1/queues/f/groups/late", params={"from": "latest"})
    assert r.status_code == 201, r.text
    assert r.json()["lag"] == 0
    sluice.publish("f", b"after")
    assert bodies(sluice.lease("f", group="late", max=10)) == [b"after"]


def test_from_latest_in_body(sluice):
    sluice.publish("f", b"before")
    r = sluice.put("/v1/queues/f/groups/late", json={"from": "latest"})
    assert r.status_code == 201, r.text
    sluice.publish("f", b"after")
    assert bodies(sluice.lease("f", group="late", max=10)) == [b"after"]


def test_from_earliest_is_default_and_starts_at_oldest_retained(sluice):
    sluice.publish_many("f", [b"1", b"2"])
    [m] = sluice.lease("f")
    sluice.ack("f", [m["receipt"]])  # only "2" remains retained
    sluice.put_group("f", "e", status=201)
    sluice.put_group("f", "e2", status=201, **{"from": "earliest"})
    assert bodies(sluice.lease("f", group="e", max=10)) == [b"2"]
    assert bodies(sluice.lease("f", group="e2", max=10)) == [b"2"]


def test_existing_group_start_is_not_changed(sluice):
    sluice.publish("f", b"1")
    sluice.put_group("f", "g", status=201, **{"from": "latest"})
    sluice.put_group("f", "g", status=200, **{"from": "earliest"})
    assert sluice.lease("f", group="g") == []


def test_bad_from_is_400(sluice):
    sluice.put_queue("f", status=201)
    assert_error(sluice.put("/v1/queues/f/groups/g", params={"from": "middle"}), 400,
                 "invalid_parameter", mention="from")
    assert_error(sluice.put("/v1/queues/f/groups/g", json={"from": 3}), 400,
                 ("invalid_parameter", "invalid_json"))
    assert_error(sluice.get("/v1/queues/f/groups/g"), 404, "group_not_found")


def test_delete_group_drops_its_leases_and_lag(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "g", status=201)
    sluice.publish("f", b"x")
    [a] = sluice.lease("f")
    sluice.ack("f", [a["receipt"]])
    [held] = sluice.lease("f", group="g")
    r = sluice.delete("/v1/queues/f/groups/g")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": "g"}
    assert sluice.queue("f")["messages"] == 0  # nobody needs the message any more
    assert_error(sluice.get("/v1/queues/f/groups/g"), 404, "group_not_found")
    assert_error(sluice.get("/v1/queues/f/messages", params={"group": "g"}), 404,
                 "group_not_found")
    assert sluice.ack("f", [held["receipt"]])["not_found"] == [held["receipt"]]
    assert [g["name"] for g in sluice.get("/v1/queues/f/groups").json()["groups"]] == ["default"]


def test_default_group_cannot_be_deleted(sluice):
    sluice.put_queue("f", status=201)
    assert_error(sluice.delete("/v1/queues/f/groups/default"), 409, "conflict")
    assert sluice.group("f", "default")["name"] == "default"


def test_put_default_group_answers_200(sluice):
    sluice.put_queue("f", status=201)
    assert sluice.put("/v1/queues/f/groups/default").status_code == 200


def test_unknown_group_is_404(sluice):
    sluice.put_queue("f", status=201)
    assert_error(sluice.get("/v1/queues/f/groups/nope"), 404, "group_not_found")
    assert_error(sluice.delete("/v1/queues/f/groups/nope"), 404, "group_not_found")


def test_groups_of_unknown_queue_are_404(sluice):
    assert_error(sluice.get("/v1/queues/nope/groups"), 404, "queue_not_found")
    assert_error(sluice.get("/v1/queues/nope/groups/g"), 404, "queue_not_found")
    assert_error(sluice.put("/v1/queues/nope/groups/g"), 404, "queue_not_found")
    assert_error(sluice.delete("/v1/queues/nope/groups/g"), 404, "queue_not_found")


@pytest.mark.parametrize("name", ["-g", "g" * 129, "a b", "g!"])
def test_bad_group_names_are_400(sluice, name):
    sluice.put_queue("f", status=201)
    assert_error(sluice.put(f"/v1/queues/f/groups/{name}"), 400, "invalid_name")
    assert_error(sluice.get(f"/v1/queues/f/groups/{name}"), 400, "invalid_name")
    assert_error(sluice.delete(f"/v1/queues/f/groups/{name}"), 400, "invalid_name")


def test_group_name_of_128_characters_is_valid(sluice):
    sluice.put_queue("f", status=201)
    sluice.put_group("f", "g" * 128, status=201)


def test_group_put_with_non_json_content_type_is_415(sluice):
    sluice.put_queue("f", status=201)
    r = sluice.put("/v1/queues/f/groups/g", data=b'{"from": "latest"}',
                   headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
