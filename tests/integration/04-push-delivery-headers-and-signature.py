"""What a push delivery looks like on the wire (SPEC §2 push subscription, issue 5): a POST to the
subscription's URL (path and query kept) whose body is the message body verbatim (binary, empty,
large), Content-Type the publisher's (else application/octet-stream), the Standard Webhooks
headers (webhook-id "<queue>:<id>", webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>"
with the subscription's secret: the decoded key of a "whsec_" secret, or a plain secret's own
bytes), Sluice-Subscription/-Queue/-Id/-Attempt, Sluice-Key for an ordering key, the publisher's
traceparent and Sluice-Attr-* attributes. Every message arrives, once, to every subscription."""

import base64
import hashlib
import hmac
import os
import time

import pytest

from receiver import (expected_signature, receivers, subscribe,  # noqa: F401
                      verify_signature, wait_sub)

FAST = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "200ms"]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.sluice(args=FAST)
def test_every_message_arrives_once_with_its_body_verbatim(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/hook"))
    bodies = [f"message {i}".encode() for i in range(50)]
    ids = sluice.publish_many("q", bodies)
    got = rec.wait_ok(50)
    assert [r.body for r in got] == bodies
    assert [r.msg_id for r in got] == ids
    assert all(r.method == "POST" and r.path == "/hook" for r in got)
    assert all(r.attempt == 1 for r in got)
    wait_sub(sluice, s["id"], lambda i: i["delivered"] == 50 and i["lag"] == 0,
             what="50 delivered, lag 0")
    rec.quiet_for(0.3)
    assert rec.count() == 50  # acked: nothing delivered twice


@pytest.mark.sluice(args=FAST)
def test_binary_empty_and_large_bodies(sluice, receivers):
    rec = receivers()
    subscribe(sluice, "q", rec.url("/"))
    binary = bytes(range(256)) * 4 + b"\x00\r\n\r\n\xff"
    large = os.urandom(512 * 1024)
    sluice.publish("q", binary)
    sluice.publish("q", b"")
    sluice.publish("q", large)
    got = rec.wait_ok(3)
    assert got[0].body == binary
    assert got[1].body == b"" and got[1].header("content-length") == "0"
    assert got[2].body == large
    # no "Expect: 100-continue" dance for a large body
    assert "expect" not in got[2].headers


@pytest.mark.sluice(args=FAST)
def test_content_type_is_the_publishers_else_octet_stream(sluice, receivers):
    rec = receivers()
    subscribe(sluice, "q", rec.url("/"))
    sluice.publish("q", b'{"a":1}', headers={"Content-Type": "application/json"})
    sluice.publish("q", b"text", headers={"Content-Type": "text/plain; charset=utf-8"})
    sluice.post("/v1/queues/q/messages", data=b"raw", headers={"Content-Type": ""})
    got = rec.wait_ok(3)
    assert got[0].header("content-type") == "application/json"
    assert got[1].header("content-type") == "text/plain; charset=utf-8"
    assert got[2].header("content-type") == "application/octet-stream"


@pytest.mark.sluice(args=FAST)
def test_standard_webhooks_headers_and_signature_with_the_generated_secret(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "orders", rec.url("/"))
    before = int(time.time())
    mid = sluice.publish("orders", b'{"order": 42}',
                         headers={"Content-Type": "application/json"})["id"]
    [req] = rec.wait_ok(1)
    after = int(time.time())
    assert req.header("webhook-id") == f"orders:{mid}"
    ts = req.header("webhook-timestamp")
    assert ts.isdigit() and before - 1 <= int(ts) <= after + 1, ts
    sig = req.header("webhook-signature")
    assert sig.startswith("v1,")
    assert sig == expected_signature(s["secret"], f"orders:{mid}", ts, b'{"order": 42}')
    assert verify_signature(s["secret"], req)
    # the signature covers the body: any change breaks it
    req.body = b'{"order": 43}'
    assert not verify_signature(s["secret"], req)


@pytest.mark.sluice(args=FAST)
def test_whsec_secret_uses_its_decoded_bytes_and_a_plain_secret_its_own(sluice, receivers):
    key = os.urandom(32)
    whsec = "whsec_" + base64.b64encode(key).decode()
    r1, r2 = receivers(), receivers()
    subscribe(sluice, "q", r1.url("/"), secret=whsec)
    subscribe(sluice, "q", r2.url("/"), secret="plain secret, 16+!")
    sluice.publish("q", b"payload")
    [a] = r1.wait_ok(1)
    [b] = r2.wait_ok(1)
    # computed here from first principles, not with the helper
    msg = f"{a.header('webhook-id')}.{a.header('webhook-timestamp')}.".encode() + b"payload"
    want = "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    assert a.header("webhook-signature") == want
    msg = f"{b.header('webhook-id')}.{b.header('webhook-timestamp')}.".encode() + b"payload"
    want = base64.b64encode(hmac.new(b"plain secret, 16+!", msg, hashlib.sha256).digest()).decode()
    assert b.header("webhook-signature") == "v1," + want
    # the same message to two subscriptions: same webhook-id, different signatures
    assert a.header("webhook-id") == b.header("webhook-id")
    assert a.header("webhook-signature") != b.header("webhook-signature")


@pytest.mark.sluice(args=FAST)
def test_sluice_headers_key_traceparent_and_attributes(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "jobs", rec.url("/"), max_in_flight=4)
    m1 = sluice.publish("jobs", b"a", params={"key": "customer-7"},
                        headers={"traceparent": TRACEPARENT, "Sluice-Attr-Tenant": "acme",
                                 "Sluice-Attr-Region": "eu-west-1"})["id"]
    m2 = sluice.publish("jobs", b"b")["id"]
    got = {r.msg_id: r for r in rec.wait_ok(2)}
    a, b = got[m1], got[m2]
    for r, mid in ((a, m1), (b, m2)):
        assert r.header("sluice-subscription") == s["id"]
        assert r.header("sluice-queue") == "jobs"
        assert r.header("sluice-id") == str(mid)
        assert r.header("sluice-attempt") == "1"
    assert a.header("sluice-key") == "customer-7"
    assert a.header("traceparent") == TRACEPARENT
    assert a.header("sluice-attr-tenant") == "acme"
    assert a.header("sluice-attr-region") == "eu-west-1"
    # none of these when the publisher sent none
    assert "sluice-key" not in b.headers and "traceparent" not in b.headers
    assert not [h for h in b.headers if h.startswith("sluice-attr-")], b.headers


@pytest.mark.sluice(args=FAST)
def test_url_path_and_query_are_kept_and_a_scheme_less_url_is_http(sluice, receivers):
    rec = receivers()
    s1 = subscribe(sluice, "q", rec.url("/in/box?token=abc&x=1"))
    s2 = subscribe(sluice, "q", f"127.0.0.1:{rec.port}/no-scheme")
    assert s2["url"] == f"http://127.0.0.1:{rec.port}/no-scheme"
    sluice.publish("q", b"x")
    got = rec.wait_ok(2)
    assert sorted(r.path for r in got) == ["/in/box?token=abc&x=1", "/no-scheme"]
    assert {r.header("sluice-subscription") for r in got} == {s1["id"], s2["id"]}


@pytest.mark.sluice(args=FAST)
def test_every_subscription_gets_every_message_fan_out(sluice, receivers):
    recs = [receivers() for _ in range(4)]
    for r in recs:
        subscribe(sluice, "q", r.url("/"))
    bodies = [f"m{i}".encode() for i in range(20)]
    sluice.publish_many("q", bodies)
    for r in recs:
        r.wait_ok(20)
        assert r.bodies() == bodies
    # pull consumers of the default group still see every message too
    msgs = sluice.lease("q", max=100)
    assert len(msgs) == 20


@pytest.mark.sluice(args=FAST)
def test_batch_published_messages_are_pushed_with_their_attributes(sluice, receivers):
    rec = receivers()
    subscribe(sluice, "q", rec.url("/"), max_in_flight=1)
    sluice.batch("q", [{"text": "one", "attributes": {"content-type": "text/plain",
                                                      "color": "red"}},
                       {"body": base64.b64encode(b"\x01\x02").decode()}])
    a, b = rec.wait_ok(2)
    assert a.body == b"one" and a.header("content-type") == "text/plain"
    assert a.header("sluice-attr-color") == "red"
    assert b.body == b"\x01\x02" and b.header("content-type") == "application/octet-stream"


@pytest.mark.sluice(args=FAST)
def test_2xx_answers_all_ack_and_redirects_are_not_followed(sluice, receivers):
    for status in (200, 201, 202, 204, 299):
        rec = receivers()
        s = subscribe(sluice, f"ok{status}", rec.url("/"), max_attempts=1)
        rec.answer(status)
        sluice.publish(f"ok{status}", b"x")
        info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 1, what=f"{status} acks")
        assert info["failed"] == 0 and info["last_status"] == status
    # a 3xx is not a success, and the Location is not followed
    rec, target = receivers(), receivers()
    rec.handler = lambda req: (302, b"")
    s = subscribe(sluice, "redir", rec.url("/"), max_attempts=1)
    sluice.publish("redir", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="302 dead-letters")
    assert info["delivered"] == 0 and info["last_status"] == 302
    assert target.count() == 0


@pytest.mark.sluice(args=FAST)
def test_delivery_reuses_kept_alive_connections(sluice, receivers):
    rec = receivers()
    subscribe(sluice, "q", rec.url("/"))
    sluice.publish_many("q", [b"%d" % i for i in range(20)])
    rec.wait_ok(20)
    # one subscription at max_in_flight 1 to one receiver: one connection carries them all
    # (a second one is allowed, should the first be closed for any reason)
    conns = {r.peer for r in rec.snapshot()}
    assert len(conns) <= 2, conns
    assert all(r.header("connection", "").lower() != "close" for r in rec.snapshot())


@pytest.mark.sluice(args=FAST)
def test_attribute_values_that_cannot_be_header_values_are_left_out(sluice, receivers):
    rec = receivers()
    subscribe(sluice, "q", rec.url("/"))
    sluice.batch("q", [{"text": "t", "attributes": {"ok": "fine", "evil": "v\r\nX-Injected: 1",
                                                    "traceparent": "bad\x01value"}}])
    [req] = rec.wait_ok(1)
    assert req.header("sluice-attr-ok") == "fine"
    assert "x-injected" not in req.headers, req.header_list
    assert "sluice-attr-evil" not in req.headers and "traceparent" not in req.headers
    assert req.body == b"t"
