"""MQ Go's requests as SPEC §4 accepts them (SEEDS-PROTOCOL.md §1.1-1.2, 1.5): /connect, /send and
/disconnect with or without the trailing slash and no redirect; keys matched case-insensitively as
Go decoded them (the last spelling wins); README-form JSON replies; and a clear JSON error, never
an empty 200, for bad JSON (the README's own trailing comma included), a bad or missing mode, a
receiver without a usable ClientURL, a send from an id that is not a connected sender, fields of
the wrong type, and an unknown id on disconnect. A refused connect does not use up an id."""

import json

import pytest

from receiver import (mqgo_body, mqgo_connect, mqgo_disconnect, mqgo_post,  # noqa: F401
                      mqgo_send, receivers, sub_info)
from sluice_harness import assert_error

ARGS = ["--storage", "memory", "--push-retry-min", "50ms", "--push-retry-max", "200ms"]


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.sluice(args=ARGS)
def test_all_three_endpoints_with_or_without_the_trailing_slash(sluice, receivers, slash):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"), path="/connect" + slash)
    sid = mqgo_connect(sluice, "send", "", path="/connect" + slash)
    mqgo_send(sluice, sid, "hello", path="/send" + slash)
    [got] = rec.wait_ok(1)
    assert mqgo_body(got) == "hello"
    mqgo_disconnect(sluice, rid, path="/disconnect" + slash)
    mqgo_disconnect(sluice, sid, path="/disconnect" + slash)


@pytest.mark.sluice(args=ARGS)
def test_replies_are_the_readmes_json_with_a_json_content_type(sluice):
    r = mqgo_post(sluice, "/connect/", {"ClientURL": "", "mode": "send"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"id": 1}
    r = mqgo_post(sluice, "/send/", {"id": 1, "body": "Here is the message body."})
    assert r.status_code == 200 and r.json() == {"status": "Message enqueued.", "id": 1}
    r = mqgo_post(sluice, "/disconnect/", {"id": 1})
    assert r.status_code == 200 and r.json() == {"id": 1, "message": "Disconnected."}


@pytest.mark.parametrize("path", ["/connect", "/send", "/disconnect"])
@pytest.mark.sluice(args=ARGS)
def test_no_redirect_for_the_path_without_the_slash(sluice, path):
    r = mqgo_post(sluice, path, {"id": 1})
    assert not (300 <= r.status_code < 400), r.status_code
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("keys", [
    ("ClientURL", "mode"), ("clienturl", "MODE"), ("CLIENTURL", "Mode"), ("clientUrl", "mOdE"),
])
@pytest.mark.sluice(args=ARGS)
def test_connect_keys_match_case_insensitively(sluice, receivers, keys):
    rec = receivers()
    url_key, mode_key = keys
    r = mqgo_post(sluice, "/connect", {url_key: rec.url("/r"), mode_key: "receive"})
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    assert sub_info(sluice, f"mqgo-{rid}")["url"] == rec.url("/r")


@pytest.mark.sluice(args=ARGS)
def test_send_and_disconnect_keys_match_case_insensitively(sluice, receivers):
    rec = receivers()
    mqgo_connect(sluice, "receive", rec.url("/"))
    sid = mqgo_connect(sluice, "send", "")
    for i, (id_key, body_key) in enumerate([("ID", "Body"), ("Id", "BODY"), ("iD", "bOdY")]):
        r = mqgo_post(sluice, "/send", {id_key: sid, body_key: f"m{i}"})
        assert r.status_code == 200 and r.json() == {"status": "Message enqueued.", "id": sid}
    rec.wait_ok(3)
    assert [mqgo_body(x) for x in rec.ok()] == ["m0", "m1", "m2"]
    r = mqgo_post(sluice, "/disconnect", {"ID": sid})
    assert r.status_code == 200 and r.json() == {"id": sid, "message": "Disconnected."}


@pytest.mark.sluice(args=ARGS)
def test_mode_value_is_case_insensitive_too(sluice):
    assert mqgo_connect(sluice, "SEND", "") == 1
    assert mqgo_connect(sluice, "Send", "") == 2


@pytest.mark.sluice(args=ARGS)
def test_the_last_spelling_of_a_key_wins_and_unknown_keys_are_ignored(sluice, receivers):
    a, b = receivers(), receivers()
    raw = ('{"ClientURL": "%s", "mode": "receive", "clienturl": "%s", "extra": [1, 2], '
           '"Dashboard": true}' % (a.url("/first"), b.url("/last")))
    r = mqgo_post(sluice, "/connect", raw=raw)
    assert r.status_code == 200, r.text
    assert sub_info(sluice, f"mqgo-{r.json()['id']}")["url"] == b.url("/last")
    sid = mqgo_connect(sluice, "send", "")
    r = mqgo_post(sluice, "/send", raw='{"id": %d, "body": "one", "Body": "two"}' % sid)
    assert r.status_code == 200, r.text
    [got] = b.wait_ok(1)
    assert mqgo_body(got) == "two"


@pytest.mark.parametrize("raw", [
    '{"ClientURL": "http://h/", "mode": "send",}',  # the README's example: a trailing comma
    '{"mode": "send"',
    "mode=send",
    "",
    "\xff\xfe",
])
@pytest.mark.sluice(args=ARGS)
def test_bad_json_is_refused_not_an_empty_200(sluice, raw):
    for path in ("/connect", "/send", "/disconnect"):
        r = mqgo_post(sluice, path, raw=raw.encode("latin-1"))
        assert_error(r, 400, "invalid_json")
    assert mqgo_connect(sluice, "send", "") == 1  # no id was used up


@pytest.mark.parametrize("raw", ["[]", '"text"', "42", "null", "true"])
@pytest.mark.sluice(args=ARGS)
def test_json_that_is_not_an_object_is_refused(sluice, raw):
    r = mqgo_post(sluice, "/connect", raw=raw)
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("body", [
    {"ClientURL": "http://h/", "mode": "bogus"},
    {"ClientURL": "http://h/", "mode": ""},
    {"ClientURL": "http://h/"},
    {"ClientURL": "http://h/", "mode": 1},
])
@pytest.mark.sluice(args=ARGS)
def test_bad_or_missing_mode_is_refused(sluice, body):
    r = mqgo_post(sluice, "/connect", body)
    assert_error(r, 400, "invalid_parameter", mention="mode")
    assert mqgo_connect(sluice, "send", "") == 1  # a refused connect does not use up an id


@pytest.mark.parametrize("url", [None, "", "ftp://h/x", "http://", "http://a b/", 5])
@pytest.mark.sluice(args=ARGS)
def test_a_receiver_needs_a_usable_client_url(sluice, url):
    body = {"mode": "receive"}
    if url is not None:
        body["ClientURL"] = url
    r = mqgo_post(sluice, "/connect", body)
    assert_error(r, 400, "invalid_parameter", mention="ClientURL")
    assert sluice.get("/v1/subscriptions").json()["subscriptions"] == []
    assert mqgo_connect(sluice, "send", "") == 1


@pytest.mark.sluice(args=ARGS)
def test_send_from_an_id_that_is_not_a_connected_sender_is_403(sluice, receivers):
    rec = receivers()
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    sid = mqgo_connect(sluice, "send", "")
    # never connected, a receiver's id, a sender that disconnected
    assert_error(mqgo_post(sluice, "/send", {"id": 99, "body": "x"}), 403, "not_a_sender")
    assert_error(mqgo_post(sluice, "/send", {"id": rid, "body": "x"}), 403, "not_a_sender")
    mqgo_disconnect(sluice, sid)
    assert_error(mqgo_post(sluice, "/send/", {"id": sid, "body": "x"}), 403, "not_a_sender")
    rec.quiet_for(0.3)
    assert rec.count() == 0  # nothing was enqueued
    assert sluice.get("/v1/queues/mqgo").json()["published"] == 0


@pytest.mark.parametrize("body,mention", [
    ({"body": "x"}, "id"),
    ({"id": 0, "body": "x"}, "id"),
    ({"id": -1, "body": "x"}, "id"),
    ({"id": "1", "body": "x"}, "id"),
    ({"id": 1.5, "body": "x"}, "id"),
    ({"id": 1}, "body"),
    ({"id": 1, "body": 5}, "body"),
    ({"id": 1, "body": None}, "body"),
    ({"id": 1, "body": {"nested": 1}}, "body"),
])
@pytest.mark.sluice(args=ARGS)
def test_send_with_a_missing_or_wrong_typed_field_is_400(sluice, body, mention):
    assert mqgo_connect(sluice, "send", "") == 1
    r = mqgo_post(sluice, "/send", body)
    assert_error(r, 400, "invalid_parameter", mention=mention)


@pytest.mark.sluice(args=ARGS)
def test_disconnect_of_an_unknown_id_is_404_and_twice_is_404(sluice, receivers):
    rec = receivers()
    assert_error(mqgo_post(sluice, "/disconnect", {"id": 7}), 404, "not_found")
    assert_error(mqgo_post(sluice, "/disconnect", {}), 400, "invalid_parameter", mention="id")
    rid = mqgo_connect(sluice, "receive", rec.url("/"))
    mqgo_disconnect(sluice, rid)
    assert_error(mqgo_post(sluice, "/disconnect/", {"id": rid}), 404, "not_found")
    # an ordinary subscription cannot be disconnected through MQ Go
    r = sluice.post("/v1/queues/q/subscriptions", json={"url": rec.url("/")})
    assert r.status_code == 201
    assert_error(mqgo_post(sluice, "/disconnect", {"id": 12345}), 404, "not_found")
    assert sluice.get(f"/v1/subscriptions/{r.json()['id']}").status_code == 200


@pytest.mark.sluice(args=ARGS)
def test_ids_go_1_2_3_across_senders_and_receivers_and_are_never_reused(sluice, receivers):
    rec = receivers()
    ids = [mqgo_connect(sluice, "send", ""), mqgo_connect(sluice, "receive", rec.url("/")),
           mqgo_connect(sluice, "send", "")]
    assert ids == [1, 2, 3]
    mqgo_disconnect(sluice, 3)
    mqgo_disconnect(sluice, 2)
    assert mqgo_connect(sluice, "receive", rec.url("/")) == 4


@pytest.mark.parametrize("path", ["/send/x", "/connect//", "/connectx", "/CONNECT",
                                  "/dashboard", "/v1/connect"])
@pytest.mark.sluice(args=ARGS)
def test_other_paths_are_404(sluice, path):
    r = mqgo_post(sluice, path, {"mode": "send"})
    assert_error(r, 404, "not_found")
    assert mqgo_connect(sluice, "send", "") == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.sluice(args=ARGS)
def test_only_post_is_allowed(sluice, method):
    for path in ("/connect", "/send/", "/disconnect"):
        r = sluice.request(method, path, data=json.dumps({"mode": "send"}))
        assert_error(r, 405, "method_not_allowed")
        assert "POST" in r.headers.get("Allow", "")


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/json; charset=utf-8"])
@pytest.mark.sluice(args=ARGS)
def test_any_content_type_is_accepted_as_go_did(sluice, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = sluice.post("/connect", data=b'{"mode": "send"}', headers=headers)
    assert r.status_code == 200 and r.json() == {"id": 1}, r.text


@pytest.mark.sluice(args=ARGS + ["--max-message-bytes", "1k"])
def test_a_message_over_max_message_bytes_is_413(sluice):
    sid = mqgo_connect(sluice, "send", "")
    r = mqgo_post(sluice, "/send", {"id": sid, "body": "x" * 1025})
    assert_error(r, 413, "payload_too_large")
    mqgo_send(sluice, sid, "x" * 1024)
