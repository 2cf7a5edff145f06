"""MQ Go compatibility, end to end (SPEC §4; SEEDS-PROTOCOL.md §1): on the main API port a sender
and receivers POST /connect ({"ClientURL", "mode"} -> {"id": N}, ids 1, 2, 3... shared by both
kinds), the sender POSTs /send ({"id", "body"} -> {"status": "Message enqueued.", "id": N}), and
every receiver gets every message sent after it connected, in order, as {"body": "..."} JSON at
its ClientURL (a scheme-less one meaning http://); a receiver that disconnects ({"id": N,
"message": "Disconnected."}) stops getting them while the others go on; a dead or slow receiver
never delays the others. Receivers are push subscriptions "mqgo-N" on the queue `mqgo`."""

import json

import pytest

from receiver import (closed_port, mqgo_body, mqgo_connect, mqgo_disconnect,  # noqa: F401
                      mqgo_post, mqgo_send, receivers, sub_info, wait_for, wait_sub)
from sluice_harness import assert_error

ARGS = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "200ms",
        "--push-timeout", "1s", "--push-circuit-failures", "3", "--push-circuit-pause", "300ms"]


@pytest.mark.sluice(args=ARGS)
def test_two_receivers_both_get_every_message_then_one_disconnects(sluice, receivers):
    r1, r2 = receivers(), receivers()
    id1 = mqgo_connect(sluice, "receive", r1.url("/mqg"))
    id2 = mqgo_connect(sluice, "receive", r2.url("/mqg"))
    sender = mqgo_connect(sluice, "send", "")
    assert (id1, id2, sender) == (1, 2, 3)  # one sequence for senders and receivers
    texts = [f"Here is message {i}." for i in range(20)]
    for t in texts:
        mqgo_send(sluice, sender, t)
    for r in (r1, r2):
        got = r.wait_ok(20)
        assert [mqgo_body(x) for x in got] == texts  # every message, in order
        assert all(x.method == "POST" and x.path == "/mqg" for x in got)
    mqgo_disconnect(sluice, id1)
    more = [f"after {i}" for i in range(5)]
    for t in more:
        mqgo_send(sluice, sender, t)
    r2.wait_ok(25)
    assert [mqgo_body(x) for x in r2.ok()] == texts + more
    r1.quiet_for(0.4)
    assert r1.count() == 20
    # the sender can disconnect too; its id then no longer sends
    mqgo_disconnect(sluice, sender)
    assert_error(mqgo_post(sluice, "/send", {"id": sender, "body": "x"}), 403, "not_a_sender")


@pytest.mark.sluice(args=ARGS)
def test_a_receiver_gets_only_what_was_sent_after_it_connected(sluice, receivers):
    early, late = receivers(), receivers()
    sender = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sender, "before anyone")
    mqgo_connect(sluice, "receive", early.url("/"))
    mqgo_send(sluice, sender, "one")
    mqgo_connect(sluice, "receive", late.url("/"))
    mqgo_send(sluice, sender, "two")
    early.wait_ok(2)
    late.wait_ok(1)
    early.quiet_for(0.3)
    assert [mqgo_body(x) for x in early.snapshot()] == ["one", "two"]
    assert [mqgo_body(x) for x in late.snapshot()] == ["two"]


@pytest.mark.sluice(args=ARGS)
def test_several_senders_share_the_queue(sluice, receivers):
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/"))
    s1 = mqgo_connect(sluice, "send", "")
    s2 = mqgo_connect(sluice, "send", "http://ignored.example/")
    sent = []
    for i in range(10):
        sender = s1 if i % 2 == 0 else s2
        mqgo_send(sluice, sender, f"{sender}:{i}")
        sent.append(f"{sender}:{i}")
    rec.wait_ok(10)
    assert [mqgo_body(x) for x in rec.ok()] == sent


@pytest.mark.sluice(args=ARGS)
def test_scheme_less_client_url_means_http(sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", f"127.0.0.1:{rec.port}/mqg")
    assert sub_info(sluice, f"mqgo-{rid}")["url"] == f"http://127.0.0.1:{rec.port}/mqg"
    sender = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sender, "Here is the message body.")
    [got] = rec.wait_ok(1)
    assert got.path == "/mqg"
    assert mqgo_body(got) == "Here is the message body."


@pytest.mark.sluice(args=ARGS)
def test_receivers_are_push_subscriptions_on_the_mqgo_queue(sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    info = sub_info(sluice, f"mqgo-{rid}")
    assert info["queue"] == "mqgo" and info["url"] == rec.url("/")
    assert info.get("mqgo") is True
    assert info["max_in_flight"] == 1
    listed = sluice.get("/v1/subscriptions", params={"queue": "mqgo"}).json()["subscriptions"]
    assert [s["id"] for s in listed] == [f"mqgo-{rid}"]
    assert sluice.group("mqgo", f"mqgo-{rid}")["name"] == f"mqgo-{rid}"
    mqgo_send(sluice, sender, "text")
    [got] = rec.wait_ok(1)
    assert got.header("sluice-subscription") == f"mqgo-{rid}"
    assert got.header("sluice-queue") == "mqgo"
    # the message went through the queue, which has no `default` group to keep it for
    q = sluice.queue("mqgo")
    assert q["published"] == 1 and [g["name"] for g in q["groups"]] == [f"mqgo-{rid}"]
    assert sluice.get("/v1/queues/mqgo/groups/default").status_code == 404
    # and disconnecting removes the subscription
    mqgo_disconnect(sluice, rid)
    assert sluice.get(f"/v1/subscriptions/mqgo-{rid}").status_code == 404


@pytest.mark.sluice(args=ARGS)
def test_a_dead_receiver_never_delays_the_others_or_the_server(sluice, receivers):
    healthy, hanging = receivers(), receivers()
    hanging.hang()
    mqgo_connect(sluice, "receive", f"http://127.0.0.1:{closed_port()}/dead")
    mqgo_connect(sluice, "receive", "no-such-host.invalid/mqg")  # the README's URL form
    mqgo_connect(sluice, "receive", hanging.url("/slow"))
    failing = receivers()
    failing.answer(500)
    mqgo_connect(sluice, "receive", failing.url("/"))
    mqgo_connect(sluice, "receive", healthy.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    texts = [f"m{i}" for i in range(40)]
    for t in texts:
        mqgo_send(sluice, sender, t)
    healthy.wait_ok(40)
    assert [mqgo_body(x) for x in healthy.ok()] == texts
    assert hanging.max_active == 1
    assert sluice.alive()
    hanging.release()


@pytest.mark.sluice(args=ARGS)
def test_a_receiver_that_comes_back_gets_what_it_missed(sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sender, "first")
    rec.wait_ok(1)
    rec.stop()
    for t in ("second", "third"):
        mqgo_send(sluice, sender, t)
    wait_sub(sluice, f"mqgo-{rid}", lambda i: i["failed"] >= 1, what="a failed attempt")
    rec.start()
    rec.wait_ok(3)
    assert [mqgo_body(x) for x in rec.ok()] == ["first", "second", "third"]


@pytest.mark.sluice(args=ARGS)
def test_unicode_and_json_special_characters_round_trip(sluice, receivers):
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    texts = ['quotes " and \\ backslash', "line\nbreak\ttab", "caf\u00e9 \u2603 \U0001F600",
             "", "{\"body\": \"nested\"}", "x" * 100000]
    for t in texts:
        mqgo_send(sluice, sender, t)
    rec.wait_ok(len(texts))
    assert [mqgo_body(x) for x in rec.ok()] == texts
    # the delivery is valid UTF-8 JSON
    for x in rec.ok():
        json.loads(x.body.decode("utf-8"))


@pytest.mark.sluice(args=ARGS + ["--storage", "file"])
def test_receivers_survive_a_restart_and_ids_are_not_reused(sluice, restart_sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    assert (rid, sender) == (1, 2)
    mqgo_send(sluice, sender, "before")
    rec.wait_ok(1)
    assert sluice.stop() == 0
    srv = restart_sluice(sluice)
    # senders are not kept (MQ Go kept nothing); the receiver is a durable subscription
    assert_error(mqgo_post(srv, "/send", {"id": sender, "body": "x"}), 403, "not_a_sender")
    new_sender = mqgo_connect(srv, "send", "")
    assert new_sender > rid, f"id {new_sender} reuses a receiver's id after the restart"
    mqgo_send(srv, new_sender, "after")
    rec.wait_ok(2)
    assert [mqgo_body(x) for x in rec.ok()] == ["before", "after"]
    # the queue came back without a `default` group to hold messages for
    assert [g["name"] for g in srv.queue("mqgo")["groups"]] == [f"mqgo-{rid}"]
    mqgo_disconnect(srv, rid)


@pytest.mark.sluice(args=ARGS)
def test_messages_every_receiver_got_are_not_kept_forever(sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    sender = mqgo_connect(sluice, "send", "")
    for i in range(20):
        mqgo_send(sluice, sender, f"m{i}")
    rec.wait_ok(20)
    wait_sub(sluice, f"mqgo-{rid}", lambda i: i["lag"] == 0, what="all acked")
    wait_for(lambda: sluice.queue("mqgo")["messages"] == 0, timeout=3,
             what="the mqgo queue to let go of messages every receiver acked")


@pytest.mark.sluice(args=ARGS)
def test_a_message_sent_with_no_receiver_connected_is_not_kept(sluice, receivers):
    # as in MQ Go, a message goes to the receivers connected when it is sent, and to no one else
    sender = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sender, "to nobody")
    q = sluice.queue("mqgo")
    assert (q["published"], q["messages"], q["groups"]) == (1, 0, [])
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/"))
    mqgo_send(sluice, sender, "to someone")
    assert [mqgo_body(x) for x in rec.wait_ok(1)] == ["to someone"]
    rec.quiet_for(0.3)
    assert len(rec.ok()) == 1
