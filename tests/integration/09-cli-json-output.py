"""--json makes every command print the server's JSON reply, which parses as JSON and says what
the server says; it works before the command (global option) and after it."""

import json

from cli_harness import show
from sluice_harness import unb64


def parse(p):
    assert p.returncode == 0, show(p)
    return json.loads(p.stdout)


def test_publish_json_is_the_publish_reply(sluice, cli):
    reply = parse(cli("--json", "publish", "j", "body"))
    assert reply["queue"] == "j" and isinstance(reply["id"], int)
    assert reply["stored"] in ("memory", "os", "fsync")
    dup = parse(cli("--json", "publish", "j", "x", "--idempotency-key", "k"))
    again = parse(cli("--json", "publish", "j", "x", "--idempotency-key", "k"))
    assert again["duplicate"] is True and again["id"] == dup["id"]


def test_consume_json_is_the_lease_reply_with_live_receipts(sluice, cli):
    ids = sluice.publish_many("j", [b"a", b"\xff\x00"])
    reply = parse(cli("--json", "consume", "j", "--max", "10"))
    msgs = reply["messages"]
    assert [m["id"] for m in msgs] == ids
    assert [unb64(m["body"]) for m in msgs] == [b"a", b"\xff\x00"]
    assert sluice.ack("j", [m["receipt"] for m in msgs])["acked"] == 2


def test_consume_json_ack_prints_the_lease_reply_and_acks(sluice, cli):
    sluice.publish("j", b"a")
    reply = parse(cli("--json", "consume", "j", "--ack"))
    assert len(reply["messages"]) == 1
    assert sluice.queue("j")["acked"] == 1


def test_consume_json_on_an_empty_queue_prints_an_empty_list_and_exits_1(sluice, cli):
    sluice.put_queue("j", status=201)
    p = cli("--json", "consume", "j")
    assert p.returncode == 1, show(p)
    assert json.loads(p.stdout) == {"messages": []}


def test_peek_json_is_the_peek_reply(sluice, cli):
    sluice.publish_many("j", [b"a", b"b", b"c"])
    assert parse(cli("--json", "peek", "j", "--limit", "2")) == sluice.peek("j", limit=2)


def test_queues_and_stats_json_are_the_queue_replies(sluice, cli):
    sluice.publish("j1", b"a")
    sluice.publish("j2", b"b")
    listed = sluice.get("/v1/queues").json()
    assert parse(cli("--json", "queues")) == listed
    assert parse(cli("--json", "stats")) == listed
    one = parse(cli("--json", "stats", "j1"))
    expected = sluice.queue("j1")
    assert one["name"] == "j1" and one["settings"] == expected["settings"]
    assert one["messages"] == expected["messages"] and one["groups"] == expected["groups"]


def test_ack_and_release_json_are_their_replies(sluice, cli):
    sluice.publish_many("j", [b"a", b"b"])
    m1, m2 = sluice.lease("j", max=2)
    assert parse(cli("--json", "ack", "j", m1["receipt"])) == {"acked": 1, "not_found": []}
    assert parse(cli("--json", "release", "j", m2["receipt"])) == {"released": 1,
                                                                   "not_found": []}


def test_json_is_also_accepted_after_the_command(sluice, cli):
    sluice.publish("j", b"a")
    assert parse(cli("queues", "--json")) == sluice.get("/v1/queues").json()
