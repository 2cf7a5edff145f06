"""GMQ framing and limits (docs/gmq.md): a request is answered as soon as its JSON object is complete,
however it was split into TCP segments and without waiting for EOF (GMQ's client never
half-closes); a request larger than gmq_max_request (GMQ's max_message_length) is refused with a
reply the client can still read, instead of GMQ's truncated parse and connection reset; a request
that does not arrive in time gets request_timeout; the connection limit makes clients wait rather
than fail; a half-closing client (nc -N) still gets its reply."""

import base64
import socket
import threading
import time

import pytest

import gmq_client as g
from sluice_harness import unb64


def start(start_sluice, *args):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0", *args)
    return srv, g.gmq_port(srv)


def test_request_sent_one_byte_at_a_time_with_pauses_is_answered_when_complete(start_sluice):
    srv, port = start(start_sluice)
    req = g.request("P", "seg", base64.b64encode(b"one byte per segment").decode())
    t0 = time.monotonic()
    got = g.call(port, req, chunk=1, pause=0.005)
    assert got == req.replace(b'"confirmation":""', b'"confirmation":"Y"')
    assert time.monotonic() - t0 >= len(req) * 0.005  # it really came in pieces
    assert g.reply(g.call(port, g.request("S", "seg")))["payload"] == \
        base64.b64encode(b"one byte per segment").decode()


def test_reply_comes_without_eof_and_the_server_closes_after_it(start_sluice):
    _, port = start(start_sluice)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(g.request("L", "q"))
        # no shutdown(SHUT_WR): GMQ's client never half-closes
        data = b""
        while True:
            part = s.recv(4096)
            if not part:
                break
            data += part
    assert g.reply(data)["payload"] == "0"


def test_half_closing_client_still_gets_its_reply(start_sluice):
    _, port = start(start_sluice)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(g.request("P", "nc", "bmM="))
        s.shutdown(socket.SHUT_WR)  # as `nc -N` does
        data = s.recv(4096)
    assert g.reply(data)["confirmation"] == "Y"


def test_oversized_request_is_refused_and_the_reply_is_still_readable(start_sluice):
    # SEEDS §2.2: with GMQ's 4096-byte buffer a 6000-character payload was truncated and the
    # client usually got "connection reset by peer"
    srv, port = start(start_sluice, "--gmq-max-request", "4096")
    req = g.request("P", "big", "QUFB" * 1500)
    assert len(req) > 4096
    got = g.call(port, req)
    r = g.assert_refused(got, "payload_too_large", "4096")
    assert r["operation"] == "" and r["queue"] == ""  # nothing of it was parsed
    assert g.reply(g.call(port, g.request("L", "big")))["payload"] == "0"
    # exactly at the limit is fine, one byte more is not
    q = next("b" * n for n in range(1, 5) if (4096 - len(g.request("P", "b" * n, ""))) % 4 == 0)
    exact = g.request("P", q, "QUFB" * ((4096 - len(g.request("P", q, ""))) // 4))
    assert len(exact) == 4096
    assert g.reply(g.call(port, exact))["confirmation"] == "Y"
    g.assert_refused(g.call(port, b" " + exact), "payload_too_large")


def test_default_request_limit_fits_a_max_message_bytes_message(start_sluice):
    srv, port = start(start_sluice, "--max-message-bytes", "100k")
    body = b"\xab" * (100 * 1024)
    got = g.call(port, g.request("P", "m", base64.b64encode(body).decode()))
    assert g.reply(got)["confirmation"] == "Y"
    got = g.call(port, g.request("P", "m", base64.b64encode(body + b"x").decode()))
    g.assert_refused(got, "payload_too_large", "max_message_bytes")
    r = srv.pop("m")
    assert unb64(r["body"]) == body


def test_request_not_complete_in_time_gets_request_timeout(start_sluice):
    _, port = start(start_sluice, "--gmq-timeout", "300ms")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b'{"operation":"P","queue":"slow",')
        t0 = time.monotonic()
        data = s.recv(4096)
        waited = time.monotonic() - t0
    g.assert_refused(data, "request_timeout", "300ms")
    assert 0.2 < waited < 3


def test_connection_that_sends_nothing_times_out_too(start_sluice):
    _, port = start(start_sluice, "--gmq-timeout", "200ms")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = s.recv(4096)
    g.assert_refused(data, "request_timeout", "No request arrived")


def test_connection_closed_before_any_request_is_answered_and_forgotten(start_sluice):
    srv, port = start(start_sluice)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.shutdown(socket.SHUT_WR)
        data = s.recv(4096)
    g.assert_refused(data, "bad_request", "closed before a request")
    assert srv.alive()


def test_truncated_request_at_eof_names_what_is_missing(start_sluice):
    _, port = start(start_sluice)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b'{"operation":"P","queue":"q"')
        s.shutdown(socket.SHUT_WR)
        data = s.recv(4096)
    g.assert_refused(data, "invalid_json", "not valid JSON")


def test_two_objects_in_one_write_are_refused(start_sluice):
    _, port = start(start_sluice)
    got = g.call(port, g.request("P", "two", "eA==") + g.request("P", "two", "eQ=="))
    g.assert_refused(got, "invalid_json", "one object per connection")
    assert g.reply(g.call(port, g.request("L", "two")))["payload"] == "0"


def test_connection_limit_makes_new_clients_wait_not_fail(start_sluice):
    _, port = start(start_sluice, "--gmq-max-connections", "2", "--gmq-timeout", "5s")
    holders = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    result = {}

    def third():
        result["reply"] = g.call(port, g.request("L", "q"))
        result["at"] = time.monotonic()

    t = threading.Thread(target=third, daemon=True)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the third client was served while two connections were open"
    released = time.monotonic()
    holders[0].close()
    t.join(5)
    assert not t.is_alive()
    assert g.reply(result["reply"])["payload"] == "0"
    assert result["at"] >= released
    holders[1].close()


@pytest.mark.parametrize("split", [1, 2, 3, 7, 64])
def test_any_segmentation_gives_the_same_reply(start_sluice, split):
    _, port = start(start_sluice)
    req = g.request("P", f"s{split}", "c2VnbWVudHM=", user="u", password="p")
    got = g.call(port, req, chunk=split, pause=0.001)
    assert got == req.replace(b'"confirmation":""', b'"confirmation":"Y"')
