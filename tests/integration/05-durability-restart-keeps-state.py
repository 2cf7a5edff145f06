"""The `file` storage (the default) keeps the whole state across a restart, both a graceful one
(SIGTERM) and a crash (SIGKILL): queues and their settings, groups with their start
(earliest/latest), delayed messages (still delayed, then visible on time), TTLs (expire on
time), ordering keys, idempotency keys within their window, the attempts of released messages,
dead letters with their history, redrive, purge, queue and group deletion. Acked messages never
come back; leases held at the crash come back as visible messages, not acked (issue 4, SPEC §5,
src/store_file.c "Recovery")."""

import time

import pytest

from sluice_harness import assert_error, b64, rfc3339, unb64

HOW = ["graceful", "kill9"]


def bodies(msgs):
    return [unb64(m["body"]) for m in msgs]


def by_body(msgs):
    return {unb64(m["body"]): m for m in msgs}


COUNTERS = ("messages", "bytes", "published", "acked", "expired", "dropped", "dead_lettered")


def counters(queue_info):
    return {k: queue_info[k] for k in COUNTERS}


@pytest.mark.parametrize("how", HOW)
def test_queues_settings_and_counters_come_back(sluice, restart, how):
    settings = {"visibility_timeout": "45s", "max_attempts": 3,
                "dead_letter_queue": "jobs.failed", "max_messages": 1000,
                "max_bytes": 1000000, "max_age": "7d", "dedup_window": "10m",
                "max_in_flight_per_key": 2}
    sluice.put_queue("jobs", status=201, **settings)
    sluice.put_queue("jobs", status=200, visibility_timeout="50s")  # the last change wins
    sluice.put_queue("empty", status=201)
    sluice.put_queue("nodlq", status=201, dead_letter_queue="")
    sluice.publish_many("jobs", [b"a", b"b", b"c"])
    sluice.publish_many("auto", [b"x", b"y"])  # created by its first publish
    for q in ("jobs", "auto"):
        [m] = sluice.lease(q)
        sluice.ack(q, [m["receipt"]])
    before = {q: sluice.queue(q) for q in ("jobs", "empty", "nodlq", "auto")}
    names = [q["name"] for q in sluice.get("/v1/queues").json()["queues"]]

    srv = restart(sluice, how)
    assert [q["name"] for q in srv.get("/v1/queues").json()["queues"]] == names
    wrong_counters = {}
    for name, old in before.items():
        new = srv.queue(name)
        assert new["settings"] == old["settings"], (name, old, new)
        assert new["created_at"] == old["created_at"], (name, old, new)
        if counters(new) != counters(old):
            wrong_counters[name] = {"before": counters(old), "after": counters(new)}
    assert srv.queue("jobs")["settings"]["visibility_timeout"] == "50s"
    assert srv.queue("nodlq")["settings"]["dead_letter_queue"] == ""
    # ids go on from where they were
    assert srv.publish("jobs", b"d")["id"] == 4
    assert srv.publish("auto", b"z")["id"] == 3
    assert not wrong_counters, f"queue counters changed across the restart: {wrong_counters}"


@pytest.mark.parametrize("how", HOW)
def test_groups_come_back_with_their_start_and_progress(sluice, restart, how):
    sluice.publish_many("g", [b"1", b"2"])
    sluice.put_group("g", "early", status=201, **{"from": "earliest"})
    sluice.put_group("g", "late", status=201, **{"from": "latest"})
    sluice.publish("g", b"3")
    [m] = sluice.lease("g", group="early")
    assert unb64(m["body"]) == b"1"
    sluice.ack("g", [m["receipt"]])

    srv = restart(sluice, how)
    assert {g["name"] for g in srv.get("/v1/queues/g/groups").json()["groups"]} == \
        {"default", "early", "late"}
    assert srv.put("/v1/queues/g/groups/late").status_code == 200  # exists: not created again
    assert bodies(srv.lease("g", group="late", max=10)) == [b"3"]
    assert bodies(srv.lease("g", group="early", max=10)) == [b"2", b"3"]
    assert bodies(srv.lease("g", max=10)) == [b"1", b"2", b"3"]
    # a group created after the restart from=latest starts after the old messages
    srv.put_group("g", "newest", status=201, **{"from": "latest"})
    srv.publish("g", b"4")
    assert bodies(srv.lease("g", group="newest", max=10)) == [b"4"]


@pytest.mark.parametrize("how", HOW)
def test_many_groups_come_back_with_their_names_and_progress(sluice, restart, how):
    # More groups than recovery's first table holds (it grows as GROUP records come): their
    # names must survive the growth (a use-after-free under AddressSanitizer before the fix).
    names = [f"g{i}" for i in range(12)]
    sluice.publish_many("many", [b"1", b"2"])
    for n in names:
        sluice.put_group("many", n, status=201, **{"from": "earliest"})
    for n in names[::2]:
        [m] = sluice.lease("many", group=n)
        sluice.ack("many", [m["receipt"]])
    srv = restart(sluice, how)
    assert {g["name"] for g in srv.get("/v1/queues/many/groups").json()["groups"]} == \
        {"default", *names}
    for i, n in enumerate(names):
        assert bodies(srv.lease("many", group=n, max=10)) == ([b"2"] if i % 2 == 0 else [b"1", b"2"])


@pytest.mark.parametrize("how", HOW)
def test_a_message_gone_with_a_deleted_group_stays_gone_for_a_group_made_later(sluice, restart,
                                                                               how):
    # "one" is acked by default and waits only for g2; deleting g2 removes it. A group made
    # from=earliest afterwards must not find it in the log at the next start.
    sluice.publish("q", b"one")
    sluice.put_group("q", "g2", status=201, **{"from": "earliest"})
    [m] = sluice.lease("q")
    sluice.ack("q", [m["receipt"]])
    assert sluice.delete("/v1/queues/q/groups/g2").status_code == 200
    sluice.publish("q", b"two")
    sluice.put_group("q", "g1", status=201, **{"from": "earliest"})
    assert bodies(sluice.peek("q", group="g1")["messages"]) == [b"two"]
    srv = restart(sluice, how)
    assert bodies(srv.peek("q", group="g1")["messages"]) == [b"two"]
    assert srv.queue("q")["messages"] == 1


@pytest.mark.parametrize("how", HOW)
def test_delayed_messages_stay_delayed_then_become_visible(sluice, restart, how):
    t0 = time.monotonic()
    sluice.publish("d", b"later", params={"delay": "3s"})
    sluice.publish("d", b"at", params={"deliver_at": _rfc3339_in(3.0)})
    sluice.publish("d", b"now")

    srv = restart(sluice, how)
    assert bodies(srv.lease("d", max=10)) == [b"now"]
    peek = by_body(srv.peek("d")["messages"])
    assert peek[b"later"]["state"] == "delayed" and peek[b"at"]["state"] == "delayed", peek
    assert srv.queue("d")["delayed"] == 2
    assert time.monotonic() - t0 < 2.5, "restart too slow for this test to mean anything"
    got = []
    deadline = time.monotonic() + 6
    while len(got) < 2 and time.monotonic() < deadline:
        got += srv.lease("d", max=10, wait="5")
    elapsed = time.monotonic() - t0
    assert sorted(bodies(got)) == [b"at", b"later"]
    assert 2.8 <= elapsed < 4.5, f"delayed messages came due after {elapsed:.2f}s, not ~3s"


def _rfc3339_in(seconds):
    return rfc3339(time.time() + seconds)


@pytest.mark.parametrize("how", HOW)
def test_ttl_expires_on_time_after_restart(sluice, restart, how):
    t0 = time.monotonic()
    sluice.publish("t", b"short", params={"ttl": "2s"})
    sluice.publish("t", b"delayed-short", params={"ttl": "2s", "delay": "3s"})
    sluice.publish("t", b"long", params={"ttl": "1h"})

    srv = restart(sluice, how)
    assert time.monotonic() - t0 < 1.5, "restart too slow for this test to mean anything"
    # still there before its TTL (peek does not deliver it)
    assert sorted(bodies(srv.peek("t")["messages"])) == [b"delayed-short", b"long", b"short"]
    time.sleep(max(0.0, 2.3 - (time.monotonic() - t0)))
    assert bodies(srv.lease("t", max=10)) == [b"long"]
    time.sleep(max(0.0, 3.3 - (time.monotonic() - t0)))
    assert srv.lease("t", max=10) == []
    q = srv.queue("t")
    assert q["expired"] == 2 and q["messages"] == 1, q


@pytest.mark.parametrize("how", HOW)
def test_ordering_keys_keep_their_order(sluice, restart, how):
    for b in (b"k1-a", b"k1-b", b"k1-c"):
        sluice.publish("o", b, params={"key": "k1"})
    sluice.publish("o", b"k2-a", params={"key": "k2"})
    [a] = sluice.lease("o")  # k1-a is leased at the restart; k1-b waits behind it
    assert unb64(a["body"]) == b"k1-a"

    srv = restart(sluice, how)
    first = srv.lease("o", max=10)
    assert bodies(first) == [b"k1-a", b"k2-a"], first
    assert first[0]["key"] == "k1"
    assert srv.lease("o", max=10) == []  # k1-b waits until k1-a is acked
    srv.ack("o", [m["receipt"] for m in first])
    [b] = srv.lease("o", max=10)
    assert unb64(b["body"]) == b"k1-b"
    srv.ack("o", [b["receipt"]])
    assert bodies(srv.lease("o", max=10)) == [b"k1-c"]


@pytest.mark.parametrize("how", HOW)
def test_idempotency_keys_are_remembered_within_the_window(sluice, restart, how):
    sluice.put_queue("i", status=201)
    sluice.put_queue("brief", status=201, dedup_window="2s")
    acked = sluice.publish("i", b"one", headers={"Idempotency-Key": "k-acked"})["id"]
    kept = sluice.publish("i", b"two", headers={"Idempotency-Key": "k-kept"})["id"]
    sluice.batch("i", [{"text": "three", "idempotency_key": "k-batch"}])
    [m] = sluice.lease("i")
    assert m["id"] == acked
    sluice.ack("i", [m["receipt"]])
    t_brief = time.monotonic()
    short = sluice.publish("brief", b"x", headers={"Idempotency-Key": "k-short"})["id"]

    srv = restart(sluice, how)
    for key, want in (("k-acked", acked), ("k-kept", kept)):
        r = srv.post("/v1/queues/i/messages", data=b"again", headers={"Idempotency-Key": key})
        assert r.status_code == 200, (key, r.status_code, r.text)
        assert r.json()["id"] == want and r.json().get("duplicate") is True, r.text
    r = srv.post("/v1/queues/i/batch",
                 json={"messages": [{"text": "again", "idempotency_key": "k-batch"}]})
    assert r.status_code == 201 and r.json().get("duplicates") == [3], r.text
    assert srv.queue("i")["published"] == 3
    r = srv.post("/v1/queues/brief/messages", data=b"y", headers={"Idempotency-Key": "k-short"})
    assert r.status_code == 200 and r.json()["id"] == short, r.text
    # the window still ends on time
    time.sleep(max(0.0, 2.2 - (time.monotonic() - t_brief)))
    r = srv.post("/v1/queues/brief/messages", data=b"z", headers={"Idempotency-Key": "k-short"})
    assert r.status_code == 201 and r.json()["id"] == short + 1, r.text


@pytest.mark.parametrize("how", HOW)
def test_released_messages_keep_their_attempts_and_retry_delay(sluice, restart, how):
    sluice.put_queue("r", status=201, max_attempts=10)
    sluice.publish_many("r", [b"twice", b"later"])
    for err in ("e1", "e2"):
        [m] = sluice.lease("r")
        assert unb64(m["body"]) == b"twice"
        sluice.release("r", [m["receipt"]], error=err)
    twice, later = sluice.lease("r", max=10)  # "twice" (attempt 3) stays leased at the restart
    assert (unb64(twice["body"]), twice["attempts"]) == (b"twice", 3), twice
    assert unb64(later["body"]) == b"later"
    sluice.release("r", [later["receipt"]], delay="3s")
    t0 = time.monotonic()

    srv = restart(sluice, how)
    peek = by_body(srv.peek("r")["messages"])
    assert peek[b"twice"]["attempts"] == 2, peek  # the lease at the restart does not count
    assert peek[b"later"]["state"] == "retry" and peek[b"later"]["attempts"] == 1, peek
    [m] = srv.lease("r", max=10)
    assert unb64(m["body"]) == b"twice" and m["attempts"] == 3, m
    got = srv.lease("r", max=10, wait="5")
    assert bodies(got) == [b"later"] and got[0]["attempts"] == 2, got
    assert 2.8 <= time.monotonic() - t0 < 4.5


@pytest.mark.parametrize("how", HOW)
def test_dead_letters_keep_their_history_and_redrive_survives(sluice, restart, how):
    sluice.put_queue("dl", status=201, max_attempts=2)
    sluice.publish("dl", b"moved-back", headers={"Sluice-Attr-Tenant": "t1"})
    sluice.publish("dl", b"stays-dead")
    sluice.publish("dl", b"redriven-after")
    for _ in range(2):
        msgs = sluice.lease("dl", max=10)
        assert len(msgs) == 3
        sluice.release("dl", [m["receipt"] for m in msgs], error="upstream timeout")
    assert sluice.queue("dl")["dead_lettered"] == 3
    dead = by_body(sluice.peek("dl.dlq")["messages"])
    r = sluice.post("/v1/queues/dl.dlq/redrive", json={"ids": [dead[b"moved-back"]["id"]]})
    assert r.status_code == 200 and r.json()["redriven"] == 1, r.text
    before = by_body(sluice.peek("dl.dlq")["messages"])
    counters_before = counters(sluice.queue("dl"))
    assert counters_before["dead_lettered"] == 3 and counters_before["acked"] == 0

    srv = restart(sluice, how)
    after = by_body(srv.peek("dl.dlq")["messages"])
    assert set(after) == {b"stays-dead", b"redriven-after"}, after
    for body, m in after.items():
        dl = m["dead_letter"]
        assert dl == before[body]["dead_letter"], (body, before[body], m)
        assert dl["queue"] == "dl" and dl["group"] == "default" and dl["attempts"] == 2
        assert dl["last_error"] == "upstream timeout"
        assert [h["error"] for h in dl["history"]] == ["upstream timeout"] * 2
    counters_after = counters(srv.queue("dl"))
    # the message redriven before the restart is back in its queue, attempts afresh
    [m] = srv.lease("dl", max=10)
    assert unb64(m["body"]) == b"moved-back" and m["attempts"] == 1, m
    assert m["attributes"].get("tenant") == "t1"
    srv.ack("dl", [m["receipt"]])
    # redrive after the restart, then another restart
    r = srv.post("/v1/queues/dl/redrive", json={"ids": [after[b"redriven-after"]["id"]]})
    assert r.status_code == 200 and r.json()["redriven"] == 1, r.text
    srv = restart(srv, how)
    assert bodies(srv.peek("dl.dlq")["messages"]) == [b"stays-dead"]
    [m] = srv.lease("dl", max=10)
    assert unb64(m["body"]) == b"redriven-after" and m["attempts"] == 1, m
    # dead-lettering is not acking: the counters say which happened, after a restart too
    assert counters_after == counters_before, \
        f"counters before the restart {counters_before}, after {counters_after}"


@pytest.mark.parametrize("how", HOW)
def test_purge_and_deletions_stay_done(sluice, restart, how):
    sluice.put_queue("pg", status=201)
    sluice.publish_many("pg", [b"1", b"2", b"3"])
    sluice.put_group("pg", "tmp", status=201)
    assert sluice.post("/v1/queues/pg/purge").json() == {"purged": 3}
    r = sluice.delete("/v1/queues/pg/groups/tmp")
    assert r.status_code == 200, r.text
    sluice.publish_many("gone", [b"old1", b"old2"])
    sluice.put_group("gone", "g2", status=201)
    r = sluice.delete("/v1/queues/gone")
    assert r.status_code == 200, r.text

    pg_before = counters(sluice.queue("pg"))
    assert pg_before["published"] == 3 and pg_before["messages"] == 0

    srv = restart(sluice, how)
    assert counters(srv.queue("pg")) == pg_before
    assert srv.lease("pg", max=10) == []
    assert srv.publish("pg", b"4")["id"] == 4  # ids are not reused after a purge
    assert_error(srv.get("/v1/queues/pg/groups/tmp"), 404, "group_not_found")
    assert_error(srv.get("/v1/queues/gone"), 404, "queue_not_found")
    assert "gone" not in [x["name"] for x in srv.get("/v1/queues").json()["queues"]]
    # a new queue of the same name starts empty
    assert srv.publish("gone", b"new")["id"] == 1
    assert bodies(srv.lease("gone", max=10)) == [b"new"]
    assert_error(srv.get("/v1/queues/gone/groups/g2"), 404, "group_not_found")


@pytest.mark.parametrize("how", HOW)
def test_a_group_made_after_a_deletion_and_a_restart_keeps_its_own_state(sluice, restart, how):
    """A deleted group's records stay in the log after a restart: a group created then must not
    get its number, or at the next restart it vanishes or takes the deleted group's acks as its
    own (fuzz/README.md, "Found and fixed")."""
    sluice.publish_many("rg", [b"1", b"2"])
    sluice.put_group("rg", "old", status=201, **{"from": "earliest"})
    [m] = sluice.lease("rg", group="old")
    sluice.ack("rg", [m["receipt"]])  # the log says: group "old" is done with message 1
    r = sluice.delete("/v1/queues/rg/groups/old")
    assert r.status_code == 200, r.text

    srv = restart(sluice, how)
    srv.put_group("rg", "new", status=201, **{"from": "earliest"})
    assert srv.group("rg", "new")["lag"] == 2

    srv = restart(srv, how)
    assert {g["name"] for g in srv.get("/v1/queues/rg/groups").json()["groups"]} == \
        {"default", "new"}
    assert srv.group("rg", "new")["lag"] == 2
    assert bodies(srv.lease("rg", group="new", max=10)) == [b"1", b"2"]
    assert_error(srv.get("/v1/queues/rg/groups/old"), 404, "group_not_found")


@pytest.mark.parametrize("how", HOW)
def test_acked_never_come_back_and_held_leases_come_back_visible(sluice, restart, how):
    sluice.put_queue("a", status=201, visibility_timeout="60s")
    bodies_sent = [f"m{i}".encode() for i in range(10)]
    sluice.publish_many("a", bodies_sent)
    leased = sluice.lease("a", max=6)
    assert bodies(leased) == bodies_sent[:6]
    r = sluice.delete(f"/v1/queues/a/messages/{leased[0]['receipt']}")
    assert r.status_code == 200, r.text
    assert sluice.ack("a", [m["receipt"] for m in leased[1:4]])["acked"] == 3
    # m4, m5 are leased (60 s) at the restart

    srv = restart(sluice, how)
    got = srv.lease("a", max=20)
    assert bodies(got) == [b"m4", b"m5", b"m6", b"m7", b"m8", b"m9"], got
    assert all(m["attempts"] == 1 for m in got), got
    q = srv.queue("a")
    assert q["acked"] == 4 and q["messages"] == 6, q
    srv.ack("a", [m["receipt"] for m in got])
    srv = restart(srv, how)
    assert srv.lease("a", max=20) == []
    assert srv.queue("a")["messages"] == 0


@pytest.mark.parametrize("how", HOW)
def test_bodies_attributes_and_binary_bytes_come_back_exactly(sluice, restart, how):
    payloads = [bytes(range(256)) * 4, b"", b"\x00\xff" * 1000, "héllo wörld".encode()]
    ids = []
    for i, p in enumerate(payloads):
        ids.append(sluice.publish("b", p, headers={"Content-Type": "application/x-test",
                                                   "Sluice-Attr-N": str(i)})["id"])
    sluice.batch("b", [{"body": b64(b"\x01\x02batch"), "attributes": {"k": "v"}}])

    srv = restart(sluice, how)
    got = srv.lease("b", max=10)
    assert [m["id"] for m in got] == ids + [ids[-1] + 1]
    assert bodies(got) == payloads + [b"\x01\x02batch"]
    for i, m in enumerate(got[:-1]):
        assert m["attributes"] == {"content-type": "application/x-test", "n": str(i)}, m
    assert got[-1]["attributes"] == {"k": "v"}


def test_popped_messages_never_come_back_after_a_crash(sluice, restart):
    """pop is at-most-once (docs/api.md): once its reply with the message was received, the
    message is deleted, so a crash right after it must not deliver it again. The crash comes
    right after the reply, in 25 rounds on the same data directory."""
    srv = sluice
    popped = []
    for i in range(25):
        srv.publish("p", f"m{i}".encode())
        m = srv.pop("p")
        assert m is not None and unb64(m["body"]) == f"m{i}".encode(), m
        popped.append(m["id"])
        srv = restart(srv, "kill9")
        back = [x["id"] for x in srv.peek("p", limit=100)["messages"]]
        assert back == [], (f"round {i}: popped message(s) {back} are in the queue again after "
                            f"a crash right after the pop reply")


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("out_of_order", ["default", "audit"])
def test_acks_out_of_order_then_the_other_groups_acks_leave_nothing_behind(sluice, restart, how,
                                                                            out_of_order):
    """One group acks 2 and 3 but not 1; after the restart the other group acks all three, so 2
    and 3 leave the queue before the first group gets back to them. Its record of them must go
    with them: deleting the group or the queue, and the shutdown, used to fail an assertion."""
    other = "audit" if out_of_order == "default" else "default"
    sluice.put_queue("two", status=201)
    sluice.put_group("two", "audit", status=201)
    sluice.publish_many("two", [b"1", b"2", b"3"])
    msgs = sluice.lease("two", group=out_of_order, max=3)
    assert bodies(msgs) == [b"1", b"2", b"3"]
    sluice.ack("two", [m["receipt"] for m in msgs[1:]])

    srv = restart(sluice, how)
    msgs = srv.lease("two", group=other, max=10)
    assert bodies(msgs) == [b"1", b"2", b"3"]
    srv.ack("two", [m["receipt"] for m in msgs])
    assert srv.queue("two")["messages"] == 1
    msgs = srv.lease("two", group=out_of_order, max=10)
    assert bodies(msgs) == [b"1"]  # the lease held at the restart; 2 and 3 stay acked
    srv.ack("two", [msgs[0]["receipt"]])
    assert srv.queue("two")["messages"] == 0
    r = srv.delete("/v1/queues/two/groups/audit")
    assert r.status_code == 200, r.text
    r = srv.delete("/v1/queues/two")
    assert r.status_code == 200, r.text
    assert srv.stop() == 0, srv.stderr()
