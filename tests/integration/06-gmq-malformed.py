"""Every defect GMQ accepted or crashed on is answered N with a precise error (docs/gmq.md): input
that is not JSON (GMQ answered with plain text), bad base64 (GMQ stored whatever decoded and said
Y), unknown or lower-case operations, queue names we cannot hold (GMQ took any string), unknown
fields and wrong types (Go ignored or half-read them), a non-null error in a request, an empty
payload, a message over max_message_bytes. Nothing is stored by a refused request, and the server
keeps serving."""

import pytest

import gmq_client as g

CASES = [
    # (raw request, error code, words the message must contain)
    (b"this is not json", "invalid_json", "not a JSON object: it starts with 't'"),
    (b"[1,2,3]", "invalid_json", "not a JSON object"),
    (b'{"operation":"P","queue":"q",}', "invalid_json", "not valid JSON"),
    (b'{"operation":"P","queue":"q","payload":"\xff"}', "invalid_json", "not valid JSON"),
    (b'{"operation":"P","queue":"q","payload":"not base64!"}', "invalid_base64", "base64"),
    (b'{"operation":"P","queue":"q","payload":"Zmlyc3Q"}', "invalid_base64", "padding"),
    (b'{"operation":"P","queue":"q","payload":"Zm=yc3Q="}', "invalid_base64", "base64"),
    (b'{"operation":"P","queue":"q","payload":""}', "invalid_parameter", "payload' is empty"),
    (b'{"operation":"P","queue":"q"}', "invalid_parameter", "payload' is empty"),
    (b'{"operation":"p","queue":"q","payload":"eA=="}', "invalid_parameter", "upper case"),
    (b'{"operation":"PUBLISH","queue":"q","payload":"eA=="}', "invalid_parameter",
     "'PUBLISH'"),
    (b'{"queue":"q","payload":"eA=="}', "invalid_parameter", "Unknown operation ''"),
    (b'{"operation":"P","queue":"","payload":"eA=="}', "invalid_name", "Queue name ''"),
    (b'{"operation":"P","queue":"a/b","payload":"eA=="}', "invalid_name", "'a/b'"),
    (b'{"operation":"S","queue":"' + b"x" * 129 + b'"}', "invalid_name", "1 to 128"),
    (b'{"operation":"P","queue":"q","paylod":"eA=="}', "invalid_parameter", "'paylod'"),
    (b'{"operation":"P","queue":"q","payload":"eA==","Payload":"eQ=="}', "invalid_parameter",
     "appears twice"),
    (b'{"operation":"P","queue":7,"payload":"eA=="}', "invalid_parameter",
     "'queue' must be a string"),
    (b'{"operation":"P","queue":"q","payload":"eA==","error":{}}', "invalid_parameter",
     "'error' must be null"),
    (b'{"operation":"P","queue":"q","payload":"eA==","auth":"x"}', "invalid_parameter",
     "'auth' must be an object"),
    (b'{"operation":"P","queue":"q","payload":"eA==","x":true\x00}', "invalid_json", "NUL byte"),
]


@pytest.fixture
def gmq(start_sluice):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0",
                       "--max-message-bytes", "1k")
    return srv, g.gmq_port(srv)


@pytest.mark.parametrize("raw,code,mention", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_defect_is_answered_n_with_a_precise_error_and_stores_nothing(gmq, raw, code, mention):
    srv, port = gmq
    r = g.assert_refused(g.call(port, raw), code, mention)
    assert list(r)[:5] == ["operation", "queue", "payload", "confirmation", "error"]
    assert srv.get("/v1/queues/q").status_code == 404
    assert srv.alive()


def test_refused_request_echoes_what_could_be_read(gmq):
    _, port = gmq
    r = g.assert_refused(g.call(port, b'{"operation":"P","queue":"q","payload":"!!!!"}'),
                         "invalid_base64")
    assert (r["operation"], r["queue"], r["payload"]) == ("P", "q", "!!!!")


def test_message_over_max_message_bytes_is_refused(gmq):
    srv, port = gmq
    import base64
    ok = base64.b64encode(b"x" * 1024).decode()
    big = base64.b64encode(b"x" * 1025).decode()
    assert g.reply(g.call(port, g.request("P", "lim", ok)))["confirmation"] == "Y"
    g.assert_refused(g.call(port, g.request("P", "lim", big)), "payload_too_large", "1025 bytes")
    assert g.reply(g.call(port, g.request("L", "lim")))["payload"] == "1"


def test_base64_line_breaks_are_skipped_as_go_did(gmq):
    _, port = gmq
    import base64
    body = bytes(range(256)) * 3
    wrapped = base64.encodebytes(body).decode()  # 76-character lines, as `base64` prints
    assert "\n" in wrapped
    r = g.reply(g.call(port, g.request("P", "wrap", wrapped)))
    assert r["confirmation"] == "Y" and r["payload"] == wrapped  # P echoes what was sent
    assert base64.b64decode(g.reply(g.call(port, g.request("S", "wrap")))["payload"]) == body


def test_garbage_bytes_never_crash_the_server(gmq):
    import random
    srv, port = gmq
    rnd = random.Random(6)
    seeds = [g.request("P", "fz", "eA=="), g.request("S", "fz", user="u", password="p")]
    for i in range(300):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 6)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        try:
            # an object left open by the damage is answered at EOF, not after gmq_timeout
            out = g.call(port, bytes(data), timeout=5, half_close=True)
        except OSError:
            continue
        assert out, f"no reply to {bytes(data)!r}"
        g.reply(out)  # always one JSON object
    assert srv.alive()
