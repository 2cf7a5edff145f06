"""Extreme and odd values (huge numbers, fractional or negative counts, valueless and repeated
query parameters, empty path segments, long and binary receipts) are refused with the documented
4xx JSON errors or handled, never crash the server, and leave it serving."""

import pytest

from sluice_harness import assert_error


@pytest.fixture
def srv(sluice):
    sluice.put_queue("q", status=201)
    yield sluice
    assert sluice.alive(), "server stopped serving"


@pytest.mark.parametrize("path,params,name", [
    ("/v1/queues/q/messages", {"max": "99999999999999999999"}, "max"),
    ("/v1/queues/q/messages", {"max": "1.5"}, "max"),
    ("/v1/queues/q/messages", {"max": "0x10"}, "max"),
    ("/v1/queues/q/messages", {"max": "+5"}, "max"),
    ("/v1/queues/q/messages", {"visibility": "99999999999999999999ms"}, "visibility"),
    ("/v1/queues/q/messages", {"wait": "9223372036854775808"}, "wait"),
    ("/v1/queues/q/peek", {"after": "18446744073709551616"}, "after"),
    ("/v1/queues/q/peek", {"after": "-0.5"}, "after"),
    ("/v1/queues/q/peek", {"limit": "99999999999999999999"}, "limit"),
])
def test_out_of_range_numbers_in_query_are_400(srv, path, params, name):
    assert_error(srv.get(path, params=params), 400, "invalid_parameter", mention=name)


@pytest.mark.parametrize("body,field", [
    ({"max_attempts": 1e300}, "max_attempts"), ({"max_attempts": 3.7}, "max_attempts"),
    ({"max_messages": 18446744073709551616}, "max_messages"),
    ({"visibility_timeout": -1}, "visibility_timeout"),
    ({"visibility_timeout": 1e300}, "visibility_timeout"),
    ({"max_age": 31622400}, "max_age"),  # 366 days in seconds
])
def test_out_of_range_numbers_in_settings_are_400(srv, body, field):
    r = srv.put("/v1/queues/q", json=body)
    assert_error(r, 400, ("invalid_parameter", "invalid_json"))
    assert srv.queue("q")["settings"]["max_attempts"] == 10  # unchanged


@pytest.mark.parametrize("delay", [-1, 1e300, 31622400, "", None, True, [], {}])
def test_out_of_range_or_mistyped_batch_delay_is_400(srv, delay):
    r = srv.post("/v1/queues/q/batch", json={"messages": [{"text": "x", "delay": delay}]})
    assert_error(r, 400, ("invalid_parameter", "invalid_json"), mention="messages[0]")
    assert srv.queue("q")["messages"] == 0


@pytest.mark.parametrize("ids", [[-1], [1e30], ["1"], [None], [1.5]])
def test_bad_redrive_ids_are_400(srv, ids):
    r = srv.post("/v1/queues/q/redrive", json={"ids": ids})
    assert_error(r, 400, ("invalid_parameter", "invalid_json"))


@pytest.mark.parametrize("query", ["wait", "max", "group", "visibility", "max=2&max=3",
                                   "&&&", "=5", "wait=&max=", "%", "%G1=2", "max=%00"])
def test_odd_query_strings_on_lease_are_answered_not_crashed(srv, query):
    srv.publish("q", b"x")
    r = srv.get("/v1/queues/q/messages?" + query)
    if r.status_code != 200:
        assert_error(r, 400, ("invalid_parameter", "bad_request", "invalid_name"))
    else:
        assert isinstance(r.json()["messages"], list)


@pytest.mark.parametrize("query", ["raw", "raw=", "wait", "group", "raw=1&raw=0"])
def test_odd_query_strings_on_pop_are_answered_not_crashed(srv, query):
    r = srv.post("/v1/queues/q/pop?" + query)
    assert r.status_code in (200, 204, 400), r.text
    if r.status_code == 400:
        assert_error(r, 400, ("invalid_parameter", "bad_request", "invalid_name"))


def test_group_name_with_nul_is_invalid(srv):
    srv.put_group("q", "a", status=201)
    assert_error(srv.get("/v1/queues/q/messages", params={"group": "a\x00b"}), 400,
                 "invalid_name")


def test_percent_encoded_query_values_are_decoded(srv):
    srv.publish("q", b"x")
    r = srv.get("/v1/queues/q/messages?group=%64efault&max=%31")
    assert r.status_code == 200, r.text
    assert len(r.json()["messages"]) == 1


@pytest.mark.parametrize("path", ["/v1/queues//messages", "/v1/queues/", "/v1/queues/q//ack",
                                  "/v1/queues/q/groups/", "/v1/queues/q/messages/",
                                  "//v1/queues", "/v1/queues/q/groups//x"])
def test_empty_path_segments_are_4xx_json(srv, path):
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = srv.request(method, path)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert_error(r, r.status_code, ("not_found", "invalid_name", "method_not_allowed",
                                        "receipt_not_found", "bad_request"))


@pytest.mark.parametrize("receipt", ["x" * 8000, "%FF%FE%00", "..", "%2F", "r%20r", "é"])
def test_odd_receipts_in_path_are_404_receipt_not_found(srv, receipt):
    srv.publish("q", b"x")
    [m] = srv.lease("q")
    assert_error(srv.delete(f"/v1/queues/q/messages/{receipt}"), 404,
                 ("receipt_not_found", "not_found"))
    assert srv.queue("q")["in_flight"] == 1  # the real lease is untouched


def test_odd_receipts_in_ack_are_listed_verbatim(srv):
    odd = ["", "x" * 10000, "é✓", "\u0001", "a\"b", m_receipt_lookalike()]
    r = srv.post("/v1/queues/q/ack", json={"receipts": odd})
    if r.status_code == 200:
        assert r.json() == {"acked": 0, "not_found": odd}
    else:
        assert_error(r, 400, ("invalid_parameter", "invalid_json"))


def m_receipt_lookalike():
    return "1-2a-9f31c2"


def test_long_text_and_unicode_bodies_round_trip(srv):
    text = "é✓\u2028\U0001F600" * 1000
    srv.batch("q", [{"text": text}])
    [m] = srv.lease("q")
    import base64
    assert base64.b64decode(m["body"]).decode() == text
