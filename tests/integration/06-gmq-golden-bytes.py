"""GMQ's TCP protocol, byte for byte (docs/gmq.md; SEEDS-PROTOCOL.md §2.3): the exchanges recorded
between GMQ v1.3's client and server come back identical from sluiced; the HEAD client's request
(with its auth tokens) is answered with auth echoed; FIFO order; field names match
case-insensitively; SYNC is a no-op; the one intended difference is the error object, which names
the problem instead of GMQ's `{}`."""

import pytest

import gmq_client as g

SHA = g.SHA512_EMPTY

# SEEDS-PROTOCOL.md §2.3, "Real bytes, v1.3 client <-> v1.3 server", in the order recorded (three
# publishes precede the L that answers "3").
V13_EXCHANGES = [
    (b'{"operation":"P","queue":"q1","payload":"Zmlyc3Q=","confirmation":"","error":null}',
     b'{"operation":"P","queue":"q1","payload":"Zmlyc3Q=","confirmation":"Y","error":null}'),
    (b'{"operation":"P","queue":"q1","payload":"c2Vjb25k","confirmation":"","error":null}',
     b'{"operation":"P","queue":"q1","payload":"c2Vjb25k","confirmation":"Y","error":null}'),
    (b'{"operation":"P","queue":"q1","payload":"dGhpcmQ=","confirmation":"","error":null}',
     b'{"operation":"P","queue":"q1","payload":"dGhpcmQ=","confirmation":"Y","error":null}'),
    (b'{"operation":"L","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"L","queue":"q1","payload":"3","confirmation":"Y","error":null}'),
    (b'{"operation":"S","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"S","queue":"q1","payload":"Zmlyc3Q=","confirmation":"Y","error":null}'),
    (b'{"operation":"S","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"S","queue":"q1","payload":"c2Vjb25k","confirmation":"Y","error":null}'),
    (b'{"operation":"S","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"S","queue":"q1","payload":"dGhpcmQ=","confirmation":"Y","error":null}'),
    (b'{"operation":"S","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"S","queue":"q1","payload":"","confirmation":"Y","error":null}'),
    (b'{"operation":"L","queue":"q1","payload":"","confirmation":"","error":null}',
     b'{"operation":"L","queue":"q1","payload":"0","confirmation":"Y","error":null}'),
]

# The HEAD client's request for credentials gmqserver/secret, as recorded.
HEAD_REQUEST = (
    b'{"operation":"P","queue":"myqueue","payload":"aGVsbG8gd29ybGQ=","confirmation":"",'
    b'"error":null,"auth":{"user":"676d71736572766572' + SHA.encode() +
    b'","password":"736563726574' + SHA.encode() + b'"}}')


@pytest.fixture
def gmq(start_sluice):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0")
    return srv, g.gmq_port(srv)


def test_the_stand_in_client_sends_exactly_the_recorded_head_bytes():
    assert g.request("P", "myqueue", "aGVsbG8gd29ybGQ=", "gmqserver", "secret") == HEAD_REQUEST
    assert g.request("L", "q1") == V13_EXCHANGES[3][0]


def test_v13_client_server_exchanges_are_byte_identical(gmq):
    _, port = gmq
    for req, want in V13_EXCHANGES:
        assert g.call(port, req) == want, req


def test_head_client_request_is_answered_with_auth_echoed(gmq):
    _, port = gmq
    got = g.call(port, HEAD_REQUEST)
    want = HEAD_REQUEST.replace(b'"confirmation":""', b'"confirmation":"Y"')
    assert got == want
    got = g.call(port, g.request("S", "myqueue", user="gmqserver", password="secret"))
    assert got == (b'{"operation":"S","queue":"myqueue","payload":"aGVsbG8gd29ybGQ=",'
                   b'"confirmation":"Y","error":null,"auth":{"user":"676d71736572766572' +
                   SHA.encode() + b'","password":"736563726574' + SHA.encode() + b'"}}')


def test_unknown_operation_is_n_with_a_precise_error_instead_of_gmqs_empty_object(gmq):
    _, port = gmq
    got = g.call(port, b'{"operation":"X","queue":"q3","payload":"","confirmation":"",'
                       b'"error":null}')
    # GMQ: ...,"confirmation":"N","error":{}}  -- same prefix, then an error that says why
    assert got.startswith(b'{"operation":"X","queue":"q3","payload":"","confirmation":"N",'
                          b'"error":{"code":"invalid_parameter","message":"Unknown operation ')
    g.assert_refused(got, "invalid_parameter", "'X'")


def test_queues_are_independent(gmq):
    _, port = gmq
    g.call(port, g.request("P", "qa", "YQ=="))  # "a"
    g.call(port, g.request("P", "qb", "Yg=="))  # "b"
    assert g.reply(g.call(port, g.request("S", "qb")))["payload"] == "Yg=="
    assert g.reply(g.call(port, g.request("L", "qa")))["payload"] == "1"
    assert g.reply(g.call(port, g.request("S", "qa")))["payload"] == "YQ=="


def test_publish_then_pop_returns_the_same_base64_in_publish_order(gmq):
    import base64
    _, port = gmq
    bodies = [b"first", b"second \x00 binary \xff", b"third"]
    for b in bodies:
        r = g.reply(g.call(port, g.request("P", "fifo", base64.b64encode(b).decode())))
        assert r["confirmation"] == "Y" and r["error"] is None
    assert g.reply(g.call(port, g.request("L", "fifo")))["payload"] == "3"
    for b in bodies:
        r = g.reply(g.call(port, g.request("S", "fifo")))
        assert base64.b64decode(r["payload"]) == b
    r = g.reply(g.call(port, g.request("S", "fifo")))
    assert (r["payload"], r["confirmation"]) == ("", "Y")


def test_field_names_match_case_insensitively_and_a_trailing_newline_is_fine(gmq):
    _, port = gmq
    got = g.call(port, b'{"OPERATION":"P","Queue":"q4","PAYLOAD":"eA=="}\n')
    assert got == b'{"operation":"P","queue":"q4","payload":"eA==","confirmation":"Y","error":null}'
    got = g.call(port, b'{"Operation":"L","QUEUE":"q4"}')
    assert got == b'{"operation":"L","queue":"q4","payload":"1","confirmation":"Y","error":null}'


def test_unknown_and_empty_queues_answer_like_gmq(gmq):
    srv, port = gmq
    assert g.call(port, g.request("S", "never")) == \
        b'{"operation":"S","queue":"never","payload":"","confirmation":"Y","error":null}'
    assert g.call(port, g.request("L", "never")) == \
        b'{"operation":"L","queue":"never","payload":"0","confirmation":"Y","error":null}'
    # S and L create nothing (a GMQ queue is created by its first P)
    assert srv.get("/v1/queues/never").status_code == 404


def test_sync_is_a_no_op_that_confirms(gmq):
    _, port = gmq
    got = g.call(port, b'{"operation":"SYNC","queue":"","payload":"","confirmation":"",'
                       b'"error":null}')
    assert got == (b'{"operation":"SYNC","queue":"","payload":"","confirmation":"Y",'
                   b'"error":null}')


def test_reply_strings_are_escaped_as_go_did(gmq):
    _, port = gmq
    got = g.call(port, '{"operation":"a<b>&c","queue":"q"}'.encode())
    assert got.startswith(b'{"operation":"a\\u003cb\\u003e\\u0026c","queue":"q",')
    g.assert_refused(got, "invalid_parameter")
