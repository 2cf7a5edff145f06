"""POST /v1/queues/{q}/batch in NSQ's two non-JSON framings (docs/api.md): text/plain is one message
per line (empty lines skipped), application/octet-stream is a 4-byte big-endian count then each
message as a 4-byte big-endian size and its bytes. The query options and headers of a single
publish apply to every message; the batch is all-or-nothing like the JSON form."""

import struct

import pytest

from sluice_harness import assert_error, unb64

LINES = {"Content-Type": "text/plain"}
BINARY = {"Content-Type": "application/octet-stream"}


def framed(*messages, count=None):
    out = struct.pack(">I", len(messages) if count is None else count)
    for m in messages:
        out += struct.pack(">I", len(m)) + m
    return out


def bodies(srv, q, n=1000):
    return [unb64(m["body"]) for m in srv.peek(q, limit=n)["messages"]]


def assert_untouched(srv, q):
    r = srv.get(f"/v1/queues/{q}")
    assert r.status_code == 404 or r.json()["messages"] == 0, r.text


def test_lines_are_messages_in_order_and_empty_lines_are_skipped(sluice):
    r = sluice.post("/v1/queues/l/batch", data=b"\nfirst\nsecond \r\n\n\nthird", headers=LINES)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["queue"] == "l" and out["stored"] == "fsync" and len(out["ids"]) == 3
    msgs = sluice.lease("l", max=10)
    assert [m["id"] for m in msgs] == out["ids"]
    assert [unb64(m["body"]) for m in msgs] == [b"first", b"second \r", b"third"]
    assert all(m["attributes"] == {"content-type": "text/plain"} for m in msgs)


def test_what_seq_pipes_through_curl_is_one_message_per_number(sluice):
    data = "".join(f"{i}\n" for i in range(1, 101)).encode()
    r = sluice.post("/v1/queues/seq/batch", data=data,
                    headers={"Content-Type": "text/plain; charset=utf-8"})
    assert r.status_code == 201, r.text
    assert bodies(sluice, "seq") == [str(i).encode() for i in range(1, 101)]


def test_binary_keeps_any_bytes_including_newlines_nul_and_empty_messages(sluice):
    msgs = [b"a\nb", b"", b"\x00\xff" * 100, b"\n"]
    r = sluice.post("/v1/queues/bin/batch", data=framed(*msgs), headers=BINARY)
    assert r.status_code == 201, r.text
    assert len(r.json()["ids"]) == 4
    assert bodies(sluice, "bin") == msgs
    got = sluice.lease("bin")[0]
    assert got["attributes"] == {"content-type": "application/octet-stream"}


def test_query_options_and_attribute_headers_apply_to_every_message(sluice):
    r = sluice.post("/v1/queues/opt/batch?delay=1h&ttl=2h&key=k7", data=b"a\nb\nc\n",
                    headers={**LINES, "Sluice-Attr-Tenant": "acme",
                             "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert r.status_code == 201, r.text
    info = sluice.queue("opt")
    assert info["messages"] == 3 and info["delayed"] == 3
    assert sluice.lease("opt", max=10) == []
    for m in sluice.peek("opt", limit=10)["messages"]:
        assert m["key"] == "k7", m
        assert m["attributes"] == {"content-type": "text/plain", "tenant": "acme",
                                   "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, m


def test_ordering_key_from_the_query_holds_the_batch_to_one_in_flight(sluice):
    sluice.post("/v1/queues/k/batch?key=one", data=b"1\n2\n3", headers=LINES)
    assert [unb64(m["body"]) for m in sluice.lease("k", max=10)] == [b"1"]


def test_1000_messages_fit_and_1001_are_413_in_both_framings(sluice):
    lines = b"x\n" * 1000
    assert sluice.post("/v1/queues/max/batch", data=lines, headers=LINES).status_code == 201
    assert sluice.post("/v1/queues/max/batch", data=framed(*[b"y"] * 1000),
                       headers=BINARY).status_code == 201
    assert sluice.queue("max")["messages"] == 2000
    assert_error(sluice.post("/v1/queues/over/batch", data=lines + b"z", headers=LINES),
                 413, "payload_too_large", mention="1000")
    # the count alone is enough to refuse: no message follows it
    assert_error(sluice.post("/v1/queues/over/batch", data=struct.pack(">I", 1001),
                             headers=BINARY), 413, "payload_too_large", mention="1001")
    assert_untouched(sluice, "over")


def test_a_message_over_max_message_bytes_rejects_the_whole_batch(start_sluice):
    srv = start_sluice("--max-message-bytes", "1k")
    r = srv.post("/v1/queues/big/batch", data=b"ok\n" + b"x" * 1025 + b"\nok", headers=LINES)
    assert_error(r, 413, "payload_too_large", mention="messages[1]")
    r = srv.post("/v1/queues/big/batch", data=framed(b"ok", b"x" * 1024, b"y" * 1025),
                 headers=BINARY)
    assert_error(r, 413, "payload_too_large", mention="messages[2]")
    assert_untouched(srv, "big")
    assert srv.post("/v1/queues/big/batch", data=framed(b"x" * 1024),
                    headers=BINARY).status_code == 201


@pytest.mark.parametrize("body,mention", [
    (b"", "4-byte message count"),
    (b"\x00\x00\x01", "4-byte message count"),
    (struct.pack(">I", 0), "is 0"),
    (framed(b"abc", count=2), "messages[1]"),
    (framed(b"abc")[:-1], "runs past the end"),
    (framed(b"abc") + b"\n", "1 bytes follow"),
    (struct.pack(">II", 1, 0xFFFFFFFF) + b"x", "runs past the end"),
])
def test_broken_binary_framing_is_400_naming_the_place(sluice, body, mention):
    r = sluice.post("/v1/queues/bad/batch", data=body, headers=BINARY)
    assert_error(r, 400, "invalid_parameter", mention=mention)
    assert_untouched(sluice, "bad")


@pytest.mark.parametrize("body", [b"", b"\n", b"\n\n\n"])
def test_lines_with_no_message_are_400(sluice, body):
    r = sluice.post("/v1/queues/none/batch", data=body, headers=LINES)
    assert_error(r, 400, "invalid_parameter", mention="no message")
    assert_untouched(sluice, "none")


def test_idempotency_key_header_is_refused_on_a_framed_batch(sluice):
    r = sluice.post("/v1/queues/idem/batch", data=b"a\nb",
                    headers={**LINES, "Idempotency-Key": "k"})
    assert_error(r, 400, "invalid_parameter", mention="Idempotency-Key")
    assert_untouched(sluice, "idem")


@pytest.mark.parametrize("query,mention", [("delay=soon", "delay"), ("key=" + "k" * 300, "key"),
                                           ("delay=1s&deliver_at=2030-01-01T00:00:00Z", "delay")])
def test_bad_options_reject_the_whole_batch(sluice, query, mention):
    r = sluice.post(f"/v1/queues/o/batch?{query}", data=b"a\nb", headers=LINES)
    assert_error(r, 400, "invalid_parameter", mention=mention)
    assert_untouched(sluice, "o")


def test_framed_batches_survive_a_restart(sluice, restart):
    sluice.post("/v1/queues/d/batch", data=b"one\ntwo", headers=LINES)
    sluice.post("/v1/queues/d/batch", data=framed(b"three"), headers=BINARY)
    srv = restart(sluice, "crash")
    assert bodies(srv, "d") == [b"one", b"two", b"three"]
