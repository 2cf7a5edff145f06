"""How MQ Go receivers are delivered to (SPEC §4, SEEDS-PROTOCOL.md §1.2): by default as the
README says, {"body": "<text>"} with Content-Type application/json; with `mqgo_delivery = raw`
as the original code did, the raw text with Content-Type text/plain. `mqgo_queue` names the queue
senders publish to and receivers subscribe to, so v1 publishers and subscribers can share it.
Bad values of either option stop the server from starting."""

import base64
import json

import pytest

from receiver import (mqgo_body, mqgo_connect, mqgo_send, receivers, sub_info,  # noqa: F401
                      subscribe)


def config(delivery=None, queue=None):
    text = "[storage]\nstorage = memory\n\n[push]\npush_retry_min = 50ms\n"
    if delivery is not None:
        text += f"mqgo_delivery = {delivery}\n"
    if queue is not None:
        text += f"mqgo_queue = {queue}\n"
    return text


@pytest.mark.sluice(config=config())
def test_default_delivery_is_the_readmes_json_body(sluice, receivers):
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/mqg"))
    sid = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sid, "Here is the message body.")
    [got] = rec.wait_ok(1)
    assert got.header("content-type") == "application/json"
    assert json.loads(got.body) == {"body": "Here is the message body."}


@pytest.mark.sluice(config=config(delivery="json"))
def test_json_delivery_of_a_body_that_is_not_utf8_uses_base64(sluice, receivers):
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/"))
    raw = b"\xff\xfe\x00binary"
    sluice.publish("mqgo", raw)  # through the v1 API: any bytes
    [got] = rec.wait_ok(1)
    obj = json.loads(got.body)
    assert obj == {"body": base64.b64encode(raw).decode(), "encoding": "base64"}


@pytest.mark.sluice(config=config(delivery="raw"))
def test_raw_delivery_sends_the_text_as_text_plain(sluice, receivers):
    r1, r2 = receivers(), receivers()
    mqgo_connect(sluice, "receive", r1.url("/mqg"))
    mqgo_connect(sluice, "receive", r2.url("/mqg"))
    sid = mqgo_connect(sluice, "send", "")
    texts = ["Here is the message body.", "caf\u00e9 \u2603", '{"body": "not parsed"}', ""]
    for t in texts:
        mqgo_send(sluice, sid, t)
    for r in (r1, r2):
        got = r.wait_ok(len(texts))
        assert [x.body for x in got] == [t.encode() for t in texts]
        assert all(x.header("content-type") == "text/plain" for x in got)
    # a v1 publish to the same queue reaches them as its bytes too
    sluice.publish("mqgo", b"\x00\x01 from v1", headers={"Content-Type": "image/png"})
    r1.wait_ok(len(texts) + 1)
    last = r1.ok()[-1]
    assert last.body == b"\x00\x01 from v1" and last.header("content-type") == "text/plain"


@pytest.mark.sluice(config=config(delivery="raw"))
def test_raw_mode_only_changes_mqgo_receivers(sluice, receivers):
    mq, hook = receivers(), receivers()
    mqgo_connect(sluice, "receive", mq.url("/"))
    subscribe(sluice, "mqgo", hook.url("/"))
    sid = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sid, "text")
    [a] = mq.wait_ok(1)
    [b] = hook.wait_ok(1)
    assert a.body == b"text" and a.header("content-type") == "text/plain"
    # an ordinary subscription gets the message as published: the body and its content type
    assert b.body == b"text" and b.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.sluice(config=config(queue="legacy.bus"))
def test_mqgo_queue_names_the_queue_used(sluice, receivers):
    mq, hook = receivers(), receivers()
    rid = mqgo_connect(sluice, "receive", mq.url("/"))
    assert sub_info(sluice, f"mqgo-{rid}")["queue"] == "legacy.bus"
    subscribe(sluice, "legacy.bus", hook.url("/"))
    sid = mqgo_connect(sluice, "send", "")
    mqgo_send(sluice, sid, "via MQ Go")
    sluice.publish("legacy.bus", b"via v1", headers={"Content-Type": "text/plain"})
    mq.wait_ok(2)
    hook.wait_ok(2)
    assert [mqgo_body(x) for x in mq.ok()] == ["via MQ Go", "via v1"]
    assert hook.bodies() == [b"via MQ Go", b"via v1"]
    assert sluice.get("/v1/queues/mqgo").status_code == 404
    assert sluice.queue("legacy.bus")["published"] == 2


def test_bad_mqgo_options_refuse_to_start(run_sluiced):
    r = run_sluiced(config=config(delivery="xml"))
    assert r.returncode == 2, r
    assert "mqgo_delivery" in r.stderr, r
    r = run_sluiced("--storage", "memory", "--mqgo-delivery", "text")
    assert r.returncode == 2 and "mqgo" in r.stderr, r
    r = run_sluiced("--storage", "memory", "--mqgo-queue", "-bad name")
    assert r.returncode == 2 and "mqgo_queue" in r.stderr, r


def test_help_lists_the_push_and_mqgo_options(run_sluiced):
    r = run_sluiced("--help")
    assert r.returncode == 0
    for opt in ("--workers", "--jobs", "--push-timeout", "--push-retry-min", "--push-retry-max",
                "--push-circuit-failures", "--push-circuit-pause", "--mqgo-queue",
                "--mqgo-delivery", "-port N, -workers N, -jobs N"):
        assert opt in r.stdout, opt
