"""Malformed and hostile requests get the documented error (JSON shape, right status and code)
and never hurt the server: after each one it still serves. Covers bad JSON, names, durations,
unknown routes (404 not_found), wrong methods (405 with Allow), oversize bodies (413) and headers
(431), bad base64, too many batch items, non-JSON Content-Type (415), and garbage on the
socket."""

import json

import pytest

from sluice_harness import ConnectionClosed, assert_error, b64

JSON_ENDPOINTS = [  # (method, path) of every endpoint that takes a JSON body
    ("POST", "/v1/queues/q/batch"), ("POST", "/v1/queues/q/ack"),
    ("POST", "/v1/queues/q/release"), ("POST", "/v1/queues/q/redrive"),
    ("PUT", "/v1/queues/q"), ("PUT", "/v1/queues/q/groups/g"),
]

# path -> methods the docs give it
ROUTES = {
    "/v1/queues": {"GET"},
    "/v1/queues/q": {"GET", "PUT", "DELETE"},
    "/v1/queues/q/messages": {"GET", "POST"},
    "/v1/queues/q/batch": {"POST"},
    "/v1/queues/q/ack": {"POST"},
    "/v1/queues/q/messages/some-receipt": {"DELETE"},
    "/v1/queues/q/release": {"POST"},
    "/v1/queues/q/pop": {"POST"},
    "/v1/queues/q/peek": {"GET"},
    "/v1/queues/q/redrive": {"POST"},
    "/v1/queues/q/purge": {"POST"},
    "/v1/queues/q/groups": {"GET"},
    "/v1/queues/q/groups/g": {"GET", "PUT", "DELETE"},
    "/healthz": {"GET"},
    "/readyz": {"GET"},
}
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@pytest.fixture
def srv(sluice):
    sluice.put_queue("q", status=201)
    sluice.put_group("q", "g", status=201)
    yield sluice
    assert sluice.alive(), "server stopped serving after a malformed request"


@pytest.mark.parametrize("path", [
    "/nope", "/v1", "/v1/nope", "/v2/queues", "/v1/queues/q/unknown",
    "/v1/queues/q/messages/r/extra", "/v1/queues/q/groups/g/extra", "/healthz/extra",
    "/v1/queue/q", "/V1/queues",
])
def test_unknown_route_is_404_not_found(srv, path):
    for method in ("GET", "POST"):
        assert_error(srv.request(method, path), 404, "not_found")


@pytest.mark.parametrize("path,allowed", sorted(ROUTES.items()))
def test_wrong_method_is_405_with_allow(srv, path, allowed):
    for method in ALL_METHODS:
        if method in allowed:
            continue
        r = srv.request(method, path)
        assert_error(r, 405, "method_not_allowed")
        allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed <= allow, (method, path, r.headers.get("Allow"))
        assert method not in allow, (method, path, r.headers.get("Allow"))


@pytest.mark.parametrize("method,path", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [b"{", b"{\"a\": }", b"\xff\xfe{}", b"{} trailing",
                                  b"{\"a\": \"\xc3\x28\"}", b"[" * 100000])
def test_bad_json_is_400_invalid_json(srv, method, path, body):
    r = srv.request(method, path, data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("method,path,ctype", [
    (m, p, c) for m, p in JSON_ENDPOINTS
    for c in ["text/plain", "application/octet-stream", "application/xml", "application/jsonx",
              "multipart/form-data; boundary=x", "image/png"]
    # a batch also comes as lines or in NSQ's binary framing (02-publish-batch-lines-and-binary)
    if not (p.endswith("/batch") and c in ("text/plain", "application/octet-stream"))])
def test_json_endpoint_with_non_json_content_type_is_415(srv, method, path, ctype):
    r = srv.request(method, path, data=b"{}", headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/queues/{n}"), ("PUT", "/v1/queues/{n}"), ("DELETE", "/v1/queues/{n}"),
    ("POST", "/v1/queues/{n}/messages"), ("GET", "/v1/queues/{n}/messages"),
    ("POST", "/v1/queues/{n}/batch"), ("POST", "/v1/queues/{n}/ack"),
    ("DELETE", "/v1/queues/{n}/messages/r"), ("POST", "/v1/queues/{n}/release"),
    ("POST", "/v1/queues/{n}/pop"), ("GET", "/v1/queues/{n}/peek"),
    ("POST", "/v1/queues/{n}/redrive"), ("POST", "/v1/queues/{n}/purge"),
    ("GET", "/v1/queues/{n}/groups"), ("GET", "/v1/queues/{n}/groups/g"),
    ("PUT", "/v1/queues/{n}/groups/g"), ("DELETE", "/v1/queues/{n}/groups/g"),
])
def test_bad_queue_name_on_every_route_is_400_invalid_name(srv, method, path):
    json_body = path.endswith(("/batch", "/ack", "/release", "/redrive"))
    for name in ("-x", "x" * 129, "a%21b"):
        kw = {"json": {"messages": [{"text": "x"}], "receipts": ["r"]}} if json_body else {}
        r = srv.request(method, path.format(n=name), **kw)
        assert_error(r, 400, "invalid_name")


@pytest.mark.parametrize("value", ["5 parsecs", "-1", "1.0s", "1h30m", "%ZZ", "1_000"])
def test_bad_duration_query_parameters_are_400(srv, value):
    r = srv.get("/v1/queues/q/messages", params={"visibility": value})
    assert_error(r, 400, ("invalid_parameter", "bad_request"))
    r = srv.post("/v1/queues/q/messages", params={"delay": value}, data=b"x")
    assert_error(r, 400, ("invalid_parameter", "bad_request"))
    assert srv.queue("q")["messages"] == 0


def test_bad_base64_is_400_invalid_base64(srv):
    r = srv.post("/v1/queues/q/batch", json={"messages": [{"body": "not base64!"}]})
    assert_error(r, 400, "invalid_base64", mention="messages[0]")


def test_too_many_batch_items_is_413(srv):
    r = srv.post("/v1/queues/q/batch", json={"messages": [{"body": b64(b"x")}] * 1001})
    assert_error(r, 413, "payload_too_large")
    assert srv.queue("q")["messages"] == 0


def test_publish_over_max_request_bytes_is_413(start_sluice):
    srv = start_sluice("--max-request-bytes", "64k", "--max-message-bytes", "1M")
    r = srv.post("/v1/queues/q/messages", data=b"z" * (100 * 1024))
    assert_error(r, 413, "payload_too_large")
    assert srv.alive()


def test_huge_declared_content_length_is_413_without_waiting_for_the_body(srv):
    with srv.connect() as c:
        c.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 100000000000\r\n\r\n")
        resp = c.read_response(timeout=3)
    assert resp.status == 413, resp
    assert resp.json()["error"]["code"] == "payload_too_large"


def test_chunked_body_over_the_limit_is_413(start_sluice):
    srv = start_sluice("--max-request-bytes", "64k")
    chunk = b"y" * 8192
    data = b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 10 + b"0\r\n\r\n"
    with srv.connect() as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        resp = c.read_response(timeout=3)
    assert resp.status == 413, resp
    assert srv.get("/v1/queues/q").status_code == 404
    assert srv.alive()


def test_chunked_publish_within_limits_is_accepted(srv):
    data = (b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    resp = srv.raw(data)
    assert resp.status == 201, resp
    [m] = srv.lease("q")
    assert m["body"] == b64(b"hello world")


def assert_431_and_closed(srv, path, headers):
    """docs/api.md: more than max_header_bytes is answered 431 by libmicrohttpd itself (HTML body)
    and the connection is closed."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with srv.connect() as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        resp = c.read_response(timeout=3)
        assert resp.status == 431, resp
        closed, _ = c.wait_closed(2)
        assert closed, "connection left open after 431"


def test_oversize_headers_are_431(srv):
    assert_431_and_closed(srv, "/v1/queues", {"X-Big": "a" * (20 * 1024)})


def test_many_headers_over_the_limit_are_431(srv):
    assert_431_and_closed(srv, "/v1/queues", {f"X-H{i}": "v" * 100 for i in range(200)})


def test_oversize_request_line_is_431(srv):
    assert_431_and_closed(srv, "/v1/queues/q/peek?x=" + "a" * (20 * 1024), {})


def test_max_header_bytes_is_configurable(start_sluice):
    srv = start_sluice("--max-header-bytes", "2k")
    assert srv.get("/healthz", headers={"X-Small": "a" * 500}).status_code == 200
    assert_431_and_closed(srv, "/healthz", {"X-Big": "a" * 3000})
    assert srv.alive()


def test_headers_just_under_default_limit_are_fine(srv):
    r = srv.get("/v1/queues", headers={"X-Big": "a" * (12 * 1024)})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("method,path,code", [
    ("GET", "/%FF", "not_found"),
    ("GET", "/v1/%C3%28/x", "not_found"),
    ("GET", "/v1/queues/%FF", "invalid_name"),
    ("PUT", "/v1/queues/q%FE", "invalid_name"),
    ("GET", "/v1/queues/q/groups/%FF", "invalid_name"),
    ("GET", "/v1/queues/q/messages?group=%FF", "invalid_name"),
    ("POST", "/v1/queues/q/pop?group=%C0%80", "invalid_name"),
    ("DELETE", "/v1/queues/q/messages/%FF%FE", "receipt_not_found"),
])
def test_non_utf8_bytes_in_the_url_are_refused_without_crashing(srv, method, path, code):
    # Error messages that quote the path must not break on bytes that are not UTF-8.
    assert_error(srv.request(method, path), 404 if "not_found" in code else 400, code)


@pytest.mark.parametrize("header", [b"Sluice-Attr-\xff: v", b"Sluice-Attr-x: \xff\xfe",
                                    b"Content-Type: text/\xff", b"traceparent: \xc3\x28",
                                    b"Sluice-Attr-\xc3\xa9: v"])
def test_non_ascii_attribute_headers_are_400_without_crashing(srv, header):
    resp = srv.raw(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                   + header + b"\r\n\r\nx")
    assert resp.status == 400, resp
    assert resp.json()["error"]["code"] in ("invalid_parameter", "bad_request"), resp
    assert srv.queue("q")["messages"] == 0


GARBAGE = [
    b"\x00\xff\x13garbage\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello start
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /v1/queues HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Content-Length: 7\r\n\r\nhello12",
    b"G" * 5000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("data", GARBAGE, ids=[f"garbage{i}" for i in range(len(GARBAGE))])
def test_garbage_on_the_socket_is_refused_and_server_keeps_serving(srv, data):
    with srv.connect() as c:
        try:
            c.send(data)
            resp = c.read_response(timeout=1.5)
        except (ConnectionClosed, BrokenPipeError, ConnectionResetError, TimeoutError):
            resp = None  # closing the connection (or waiting for more) is a fine answer
    if resp is not None:
        assert 400 <= resp.status < 500 or resp.status == 505, resp
    assert srv.queue("q")["messages"] == 0  # nothing was published by the garbage


def test_raw_nul_byte_ends_the_path_as_documented(srv):
    # docs/api.md, NUL bytes: libmicrohttpd hands over C strings, so "nq\0x" is read as "nq" (a
    # queue that does not exist here). What matters: a well-formed answer, and the server lives.
    with srv.connect() as c:
        c.send(b"GET /v1/queues/nq\x00x HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = c.read_response(timeout=1.5)
    assert resp.status == 404 and resp.json()["error"]["code"] == "queue_not_found", resp
    assert srv.get("/healthz").status_code == 200


def raw_publish(srv, header):
    try:
        return srv.raw(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                       + header + b"\r\n\r\nx", timeout=1.5)
    except (ConnectionClosed, BrokenPipeError, ConnectionResetError, TimeoutError):
        return None


def test_nul_byte_ends_a_header_value_as_documented(srv):
    # docs/api.md, NUL bytes: "abc\0xyz" is read as "abc", so it is a duplicate of "abc", and an
    # attribute value "a\0b" is stored as "a". No HTTP client library sends such bytes.
    assert raw_publish(srv, b"Idempotency-Key: abc").status == 201
    resp = raw_publish(srv, b"Idempotency-Key: abc\x00xyz")
    assert resp.status == 200 and resp.json()["duplicate"] is True, resp
    assert raw_publish(srv, b"Sluice-Attr-x: a\x00b").status == 201
    msgs = srv.lease("q", max=10)
    assert [m["attributes"].get("x") for m in msgs] == [None, "a"]
    assert srv.get("/healthz").status_code == 200


def test_client_closing_mid_request_does_not_hurt(srv):
    for partial in (b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                    b"\r\nonly part", b"GET /v1/que", b"POST /v1/queues/q/batch HTTP/1.1\r\n"):
        c = srv.connect()
        c.send(partial)
        c.close()
    assert srv.queue("q")["messages"] == 0


def test_pipelined_requests_are_answered_in_order(srv):
    req = b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"
    with srv.connect() as c:
        c.send(req + b"a" + req + b"b" + b"GET /v1/queues/q HTTP/1.1\r\nHost: x\r\n\r\n")
        r1, r2, r3 = (c.read_response() for _ in range(3))
    assert r1.status == 201 and r2.status == 201 and r3.status == 200
    assert r1.json()["id"] < r2.json()["id"]
    assert json.loads(r3.body)["messages"] == 2


def test_error_replies_are_json_even_for_unknown_routes_with_bodies(srv):
    r = srv.post("/v1/queues/q/nothing", data=b"x" * 1000)
    assert_error(r, 404, "not_found")
    # The connection is still usable afterwards (the body was consumed).
    assert srv.get("/healthz").status_code == 200
