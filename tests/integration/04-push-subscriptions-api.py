"""Push subscriptions API (SPEC §3, issue 5): POST /v1/queues/{q}/subscriptions creates a
subscription (a consumer group named "sub-<16 hex>" whose consumer is the server), with its
defaults (max_in_flight 1, the server's max_attempts, push_timeout, from latest, a generated
"whsec_" secret) and strict validation (unknown fields, bad URL, secret, numbers, durations);
list (all, ?queue=, per queue), get (with lag/ready/retrying), delete, 404s; the queue is created
when missing; deleting the queue or the group ends the subscription."""

import base64
import re

import pytest

from receiver import (dead_letters, mqgo_connect, mqgo_post, mqgo_send,  # noqa: F401
                      receivers, sub_info, subscribe,
                      verify_signature, wait_for, wait_sub)
from sluice_harness import RFC3339_MS_RE, assert_error

FAST = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "200ms"]
SUB_ID_RE = re.compile(r"^sub-[0-9a-f]{16}$")
FIELDS = {"id", "queue", "url", "max_in_flight", "max_attempts", "timeout", "created_at",
          "circuit", "paused_until", "in_flight", "delivered", "failed",
          "last_status", "last_error", "last_attempt_at", "last_success_at"}
GROUP_COUNTERS = {"lag", "ready", "retrying", "dead_lettered"}  # get and create only


@pytest.mark.sluice(args=FAST)
def test_create_returns_201_with_the_subscription_defaults_and_a_generated_secret(sluice):
    r = sluice.post("/v1/queues/orders/subscriptions", json={"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 201, r.text
    s = r.json()
    assert FIELDS | GROUP_COUNTERS <= set(s), sorted(FIELDS | GROUP_COUNTERS - set(s))
    assert SUB_ID_RE.match(s["id"]), s["id"]
    assert s["queue"] == "orders"
    assert s["url"] == "http://127.0.0.1:9/hook"
    assert s["max_in_flight"] == 1
    assert s["max_attempts"] == 10
    assert s["timeout"] == "10s"
    assert RFC3339_MS_RE.match(s["created_at"]), s["created_at"]
    assert s["circuit"] == "closed" and s["paused_until"] is None
    assert (s["in_flight"], s["delivered"], s["failed"], s["dead_lettered"]) == (0, 0, 0, 0)
    assert s["last_status"] is None and s["last_error"] is None
    assert s["last_attempt_at"] is None and s["last_success_at"] is None
    # a Standard Webhooks secret: whsec_ + base64 of random bytes
    assert s["secret"].startswith("whsec_"), s["secret"]
    key = base64.b64decode(s["secret"][6:], validate=True)
    assert len(key) >= 16
    # two subscriptions never share an id or a secret
    s2 = subscribe(sluice, "orders", "http://127.0.0.1:9/hook")
    assert s2["id"] != s["id"] and s2["secret"] != s["secret"]


@pytest.mark.sluice(args=FAST)
def test_create_makes_the_queue_and_a_consumer_group_named_after_the_subscription(sluice):
    assert sluice.get("/v1/queues/fresh").status_code == 404
    s = subscribe(sluice, "fresh", "http://127.0.0.1:9/")
    assert sluice.get("/v1/queues/fresh").status_code == 200
    g = sluice.group("fresh", s["id"])
    assert g["name"] == s["id"]
    groups = {x["name"]: x for x in sluice.get("/v1/queues/fresh/groups").json()["groups"]}
    assert set(groups) == {"default", s["id"]}
    # the group carries the subscription's limits
    assert groups[s["id"]]["max_in_flight"] == 1 and groups[s["id"]]["max_attempts"] == 10


@pytest.mark.sluice(args=FAST)
def test_explicit_settings_are_kept(sluice):
    s = subscribe(sluice, "q", "https://example.invalid/path?x=1", secret="my-plain-secret-16",
                  max_in_flight=16, max_attempts=3, timeout="1500ms", **{"from": "earliest"})
    assert s["url"] == "https://example.invalid/path?x=1"
    assert s["secret"] == "my-plain-secret-16"
    assert s["max_in_flight"] == 16 and s["max_attempts"] == 3
    assert s["timeout"] == "1.5s" or s["timeout"] == "1500ms", s["timeout"]
    got = sub_info(sluice, s["id"])
    assert "secret" not in got, "GET must not reveal the secret"
    for k in ("url", "max_in_flight", "max_attempts", "timeout", "queue", "created_at"):
        assert got[k] == s[k], k
    # a number of seconds is a duration too
    s2 = subscribe(sluice, "q", "http://h/", timeout=2)
    assert s2["timeout"] == "2s"


@pytest.mark.sluice(args=FAST)
def test_url_without_a_scheme_means_http(sluice):
    s = subscribe(sluice, "q", "127.0.0.1:9/mqg")
    assert s["url"] == "http://127.0.0.1:9/mqg"
    s = subscribe(sluice, "q", "svc.domain.tld/mqg")
    assert s["url"] == "http://svc.domain.tld/mqg"


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://h/", "http://",
    "http://exa mple/", "http://h/\u00e9", "", "x" * 3000, "http://h:99999/",
])
@pytest.mark.sluice(args=FAST)
def test_bad_urls_are_refused(sluice, url):
    r = sluice.post("/v1/queues/q/subscriptions", json={"url": url})
    assert_error(r, 400, "invalid_parameter", mention="url")
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []


@pytest.mark.parametrize("body", [
    {}, {"url": None}, {"url": 5}, {"url": ["http://h/"]},
])
@pytest.mark.sluice(args=FAST)
def test_url_is_required_and_must_be_a_string(sluice, body):
    r = sluice.post("/v1/queues/q/subscriptions", json=body)
    assert_error(r, 400, "invalid_parameter", mention="url")


@pytest.mark.sluice(args=FAST)
def test_unknown_field_and_bad_json_are_refused(sluice):
    r = sluice.post("/v1/queues/q/subscriptions", json={"url": "http://h/", "secrett": "x"})
    assert_error(r, 400, ("invalid_parameter", "bad_request"), mention="secrett")
    r = sluice.post("/v1/queues/q/subscriptions", data=b'{"url": "http://h/",}',
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = sluice.post("/v1/queues/q/subscriptions", json=["http://h/"])
    assert r.status_code == 400, r.text
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []


@pytest.mark.parametrize("field,value", [
    ("secret", ""), ("secret", "x" * 15), ("secret", "x" * 257),
    ("secret", "whsec_"), ("secret", "whsec_" + base64.b64encode(b"k" * 15).decode()),
    ("secret", "whsec_" + base64.b64encode(b"k" * 65).decode()), ("secret", "caf\u00e9"), ("secret", "tab\there"),
    ("secret", "new\nline"), ("secret", 42), ("secret", "whsec_!!!notbase64!!!"),
    ("max_in_flight", 0), ("max_in_flight", 10001), ("max_in_flight", -1),
    ("max_in_flight", "4"), ("max_in_flight", 1.5), ("max_in_flight", None),
    ("max_attempts", 0), ("max_attempts", -3), ("max_attempts", "3"),
    ("from", "oldest"), ("from", ""), ("from", 1),
    ("timeout", "soon"), ("timeout", "0"), ("timeout", "2h"), ("timeout", -1), ("timeout", [1]),
])
@pytest.mark.sluice(args=FAST)
def test_bad_values_are_refused_with_the_field_named(sluice, field, value):
    r = sluice.post("/v1/queues/q/subscriptions", json={"url": "http://h/", field: value})
    assert_error(r, 400, "invalid_parameter", mention=field)
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []


@pytest.mark.sluice(args=FAST)
def test_limits_that_are_allowed(sluice):
    s = subscribe(sluice, "q", "http://h/", secret="s" * 256, max_in_flight=10000,
                  max_attempts=1, timeout="1h")
    assert s["max_in_flight"] == 10000 and s["max_attempts"] == 1 and len(s["secret"]) == 256
    s = subscribe(sluice, "q", "http://h/", secret="!" * 16, max_in_flight=1, timeout="1ms")
    assert s["secret"] == "!" * 16
    for n in (16, 64):
        sec = "whsec_" + base64.b64encode(b"k" * n).decode()
        assert subscribe(sluice, "q", "http://h/", secret=sec)["secret"] == sec


@pytest.mark.sluice(args=FAST + ["--max-attempts", "4", "--push-timeout", "3s"])
def test_defaults_follow_the_server_configuration(sluice):
    s = subscribe(sluice, "q", "http://h/")
    assert s["max_attempts"] == 4
    assert s["timeout"] == "3s"


@pytest.mark.sluice(args=FAST)
def test_list_all_by_queue_and_per_queue(sluice):
    a1 = subscribe(sluice, "alpha", "http://h/1")
    b1 = subscribe(sluice, "beta", "http://h/2")
    a2 = subscribe(sluice, "alpha", "http://h/3")
    everything = sluice.get("/v1/subscriptions").json()["subscriptions"]
    assert [s["id"] for s in everything] == [a1["id"], b1["id"], a2["id"]]  # oldest first
    for s in everything:
        assert FIELDS <= set(s) and "secret" not in s and not GROUP_COUNTERS & set(s)
    only_alpha = sluice.get("/v1/subscriptions", params={"queue": "alpha"}).json()
    assert [s["id"] for s in only_alpha["subscriptions"]] == [a1["id"], a2["id"]]
    per_queue = sluice.get("/v1/queues/beta/subscriptions").json()
    assert [s["id"] for s in per_queue["subscriptions"]] == [b1["id"]]
    none = sluice.get("/v1/subscriptions", params={"queue": "gamma"}).json()
    assert none == {"subscriptions": []}
    # naming a queue in the path asks for that queue: a queue without subscriptions has none,
    # one that does not exist is an error
    sluice.publish("plain", b"x")
    assert sluice.get("/v1/queues/plain/subscriptions").json() == {"subscriptions": []}
    assert_error(sluice.get("/v1/queues/gamma/subscriptions"), 404, "queue_not_found")


@pytest.mark.sluice(args=FAST)
def test_get_adds_lag_ready_and_retrying(sluice, receivers):
    rec = receivers()
    rec.hang()  # nothing gets acked while we look
    s = subscribe(sluice, "q", rec.url("/"), timeout="5s")
    for i in range(3):
        sluice.publish("q", f"m{i}".encode())
    rec.wait_for(1)
    info = sub_info(sluice, s["id"])
    for k in ("lag", "ready", "retrying"):
        assert isinstance(info[k], int), (k, info)
    assert info["lag"] == 3, info
    assert info["in_flight"] == 1, info
    assert info["last_attempt_at"] is not None and RFC3339_MS_RE.match(info["last_attempt_at"])
    rec.answer(200)


@pytest.mark.sluice(args=FAST)
def test_delete_answers_deleted_and_then_404(sluice):
    s = subscribe(sluice, "q", "http://h/")
    r = sluice.delete(f"/v1/subscriptions/{s['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": s["id"]}
    assert_error(sluice.get(f"/v1/subscriptions/{s['id']}"), 404, "subscription_not_found")
    assert_error(sluice.delete(f"/v1/subscriptions/{s['id']}"), 404, "subscription_not_found")
    assert sluice.get(f"/v1/queues/q/groups/{s['id']}").status_code == 404
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []
    assert sluice.get("/v1/queues/q").status_code == 200  # the queue stays


@pytest.mark.sluice(args=FAST)
def test_unknown_subscription_is_404_and_bad_names_400(sluice):
    assert_error(sluice.get("/v1/subscriptions/sub-0000000000000000"), 404,
                 "subscription_not_found")
    assert_error(sluice.delete("/v1/subscriptions/nope"), 404, "subscription_not_found")
    # a plain consumer group is not a subscription
    sluice.put_queue("q", status=201)
    sluice.put_group("q", "workers", status=201)
    assert_error(sluice.get("/v1/subscriptions/workers"), 404, "subscription_not_found")
    assert_error(sluice.delete("/v1/subscriptions/default"), 404, "subscription_not_found")
    assert sluice.group("q", "workers")["name"] == "workers"
    r = sluice.get("/v1/subscriptions/bad%20name")
    assert r.status_code in (400, 404), r.text
    assert sluice.get("/v1/subscriptions/a/b").status_code == 404


@pytest.mark.sluice(args=FAST)
def test_methods_not_allowed(sluice):
    s = subscribe(sluice, "q", "http://h/")
    assert_error(sluice.put(f"/v1/subscriptions/{s['id']}", json={}), 405, "method_not_allowed")
    assert_error(sluice.post("/v1/subscriptions", json={"url": "http://h/"}), 405,
                 "method_not_allowed")
    assert_error(sluice.delete("/v1/queues/q/subscriptions"), 405, "method_not_allowed")


@pytest.mark.sluice(args=FAST)
def test_invalid_queue_name_is_refused(sluice):
    r = sluice.post("/v1/queues/-bad/subscriptions", json={"url": "http://h/"})
    assert_error(r, 400, "invalid_name")


@pytest.mark.sluice(args=FAST)
def test_from_latest_skips_the_backlog_and_earliest_delivers_it(sluice, receivers):
    for i in range(3):
        sluice.publish("q", f"old{i}".encode())
    latest, earliest = receivers(), receivers()
    subscribe(sluice, "q", latest.url("/"))  # from latest is the default
    subscribe(sluice, "q", earliest.url("/"), **{"from": "earliest"})
    sluice.publish("q", b"new")
    earliest.wait_ok(4)
    latest.wait_ok(1)
    assert earliest.bodies() == [b"old0", b"old1", b"old2", b"new"]
    latest.quiet_for(0.3)
    assert latest.bodies() == [b"new"]


@pytest.mark.sluice(args=FAST)
def test_deleting_the_queue_ends_its_subscriptions(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"))
    other = subscribe(sluice, "keep", rec.url("/keep"))
    assert sluice.delete("/v1/queues/q").status_code == 200
    wait_for(lambda: sluice.get(f"/v1/subscriptions/{s['id']}").status_code == 404,
             what="the subscription of a deleted queue to end")
    # the queue made again starts with no subscription; nothing is pushed to the old URL
    sluice.publish("q", b"after")
    sluice.publish("keep", b"kept")
    rec.wait_ok(1)
    rec.quiet_for(0.3)
    assert [r.path for r in rec.snapshot()] == ["/keep"]
    wait_sub(sluice, other["id"], lambda i: i["delivered"] == 1, what="delivered 1")


@pytest.mark.sluice(args=FAST)
def test_deleting_the_group_ends_the_subscription(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"))
    assert sluice.delete(f"/v1/queues/q/groups/{s['id']}").status_code == 200
    wait_for(lambda: sluice.get(f"/v1/subscriptions/{s['id']}").status_code == 404,
             what="the subscription whose group was deleted to end")
    sluice.publish("q", b"x")
    rec.quiet_for(0.3)
    assert rec.count() == 0


@pytest.mark.sluice(args=FAST)
def test_subscription_ids_are_unique_and_well_formed(sluice):
    ids = {subscribe(sluice, "q", "http://h/")["id"] for _ in range(20)}
    assert len(ids) == 20
    assert all(SUB_ID_RE.match(i) for i in ids)


@pytest.mark.sluice(args=FAST)
def test_subscription_secret_signs_deliveries(sluice, receivers):
    rec = receivers()
    s = subscribe(sluice, "q", rec.url("/"))
    sluice.publish("q", b"hello")
    [req] = rec.wait_ok(1)
    assert verify_signature(s["secret"], req)
    assert not verify_signature("whsec_" + base64.b64encode(b"wrong key").decode(), req)
    assert req.body == b"hello"
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 1, what="delivered 1")
    assert info["last_status"] == 200 and info["failed"] == 0
    assert RFC3339_MS_RE.match(info["last_success_at"])
    assert dead_letters(sluice, "q") == []


@pytest.mark.sluice(args=FAST + ["--push-library", "libsluice-test-no-such-curl.so.0"])
def test_without_libcurl_subscribing_is_503_and_the_rest_works(sluice):
    # libcurl is loaded on the first subscription, not at start: the server starts without it
    r = sluice.post("/v1/queues/q/subscriptions", json={"url": "http://127.0.0.1:9/"})
    assert_error(r, 503, "push_unavailable", mention="libcurl")
    assert "Push delivery is unavailable: libsluice-test-no-such-curl.so.0" in sluice.stderr()
    # an MQ Go receiver is a subscription too; a sender is not
    r = mqgo_post(sluice, "/connect", {"mode": "receive", "ClientURL": "http://127.0.0.1:9/"})
    assert_error(r, 503, "push_unavailable")
    sender = mqgo_connect(sluice, "send")
    mqgo_send(sluice, sender, "still accepted")
    # nothing was made, and queues work as ever
    assert sluice.get("/v1/subscriptions").json() == {"subscriptions": []}
    assert sluice.publish("q", b"x")["id"] == 1
    assert sluice.get("/v1/queues/q/subscriptions").json() == {"subscriptions": []}
