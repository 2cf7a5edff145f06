"""Slow clients cannot pin the server: a request that does not arrive whole within
request_timeout gets its connection closed without a reply (trickling one byte at a time does not
help), an idle keep-alive connection is closed after idle_timeout, and other clients are served
meanwhile; a parked long-poll is not an idle connection. The server runs with 1 s timeouts."""

import threading
import time

import pytest
import requests


TIMEOUT_ARGS = ("--request-timeout", "1s", "--idle-timeout", "1s")
SLACK = 1.5  # seconds allowed past a timeout for the server to notice and close


@pytest.fixture
def srv(start_sluice):
    s = start_sluice(*TIMEOUT_ARGS)
    s.session.headers["Connection"] = "close"  # helpers never reuse a connection being timed out
    return s


def check_closed_response(data):
    """docs/api.md: a request that does not arrive whole in time has its connection closed
    without a reply; an idle connection is just closed."""
    assert data == b"", data[:200]


def test_trickled_body_is_cut_off_after_request_timeout_while_others_are_served(srv):
    c = srv.connect()
    t0 = time.monotonic()
    c.send(b"POST /v1/queues/slow/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n")
    served = 0
    closed_at = None
    for _ in range(200):  # would take 20 s to finish
        try:
            c.send(b"a")
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
        if not c.is_open():
            closed_at = time.monotonic()
            break
        # Another client is served promptly while the trickler is connected.
        r = requests.get(srv.url + "/healthz", timeout=2)
        assert r.status_code == 200
        served += 1
        time.sleep(0.1)
        if time.monotonic() - t0 > 1 + SLACK + 1:
            break
    assert closed_at is not None, "the trickling client was never cut off"
    assert closed_at - t0 <= 1 + SLACK, closed_at - t0
    assert closed_at - t0 >= 0.8, "cut off before request_timeout"
    assert served >= 3
    _, data = c.wait_closed(1)
    check_closed_response(data)
    c.close()
    assert srv.get("/v1/queues/slow").status_code == 404  # nothing was published
    assert srv.alive()


def test_trickled_headers_are_cut_off_after_request_timeout(srv):
    c = srv.connect()
    t0 = time.monotonic()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed_at = None
    for i in range(100):
        try:
            c.send(b"X-H%d: v\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
        if not c.is_open():
            closed_at = time.monotonic()
            break
        time.sleep(0.15)
        if time.monotonic() - t0 > 1 + SLACK + 1:
            break
    assert closed_at is not None, "the trickling client was never cut off"
    assert 0.8 <= closed_at - t0 <= 1 + SLACK, closed_at - t0
    c.close()
    assert srv.alive()


@pytest.mark.parametrize("partial", [b"", b"GET /healthz HTTP/1.1\r\nHo",
                                     b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\n"
                                     b"Content-Length: 10\r\n\r\nabc"])
def test_stalled_request_is_closed_after_the_timeout(srv, partial):
    c = srv.connect()
    t0 = time.monotonic()
    if partial:
        c.send(partial)
    closed, data = c.wait_closed(1 + SLACK + 0.5)
    assert closed, "stalled connection was never closed"
    assert 0.8 <= time.monotonic() - t0 <= 1 + SLACK, time.monotonic() - t0
    check_closed_response(data)
    c.close()
    assert srv.alive()


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(srv):
    c = srv.connect()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.read_response().status == 200
    t0 = time.monotonic()
    time.sleep(0.5)
    assert c.is_open(), "closed before idle_timeout"
    closed, data = c.wait_closed(1 + SLACK)
    assert closed, "idle connection was never closed"
    assert time.monotonic() - t0 <= 1 + SLACK
    check_closed_response(data)
    c.close()


def test_activity_keeps_a_connection_open_past_idle_timeout(srv):
    c = srv.connect()
    for _ in range(4):  # 4 requests 0.5 s apart: 2 s on one connection with a 1 s idle timeout
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
        time.sleep(0.5)
    c.close()


def test_parked_long_poll_outlives_idle_and_request_timeouts(srv):
    srv.put_queue("lp", status=201)
    c = srv.connect()
    t0 = time.monotonic()
    c.send(b"GET /v1/queues/lp/messages?wait=2 HTTP/1.1\r\nHost: x\r\n\r\n")
    resp = c.read_response(timeout=5)
    elapsed = time.monotonic() - t0
    assert resp.status == 200, resp
    assert resp.json() == {"messages": []}
    assert 1.8 <= elapsed < 3.0, elapsed
    c.close()


def test_parked_long_poll_gets_a_late_message(srv):
    srv.put_queue("lp", status=201)
    c = srv.connect()
    c.send(b"GET /v1/queues/lp/messages?wait=3 HTTP/1.1\r\nHost: x\r\n\r\n")
    threading.Timer(1.5, lambda: requests.post(srv.url + "/v1/queues/lp/messages", data=b"late",
                                               timeout=5)).start()
    resp = c.read_response(timeout=5)
    assert resp.status == 200, resp
    assert len(resp.json()["messages"]) == 1
    c.close()


def test_many_slow_clients_do_not_block_others(srv):
    slow = [srv.connect() for _ in range(30)]
    for s in slow:
        s.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab")
    t0 = time.monotonic()
    r = requests.post(srv.url + "/v1/queues/q/messages", data=b"fast", timeout=3)
    assert r.status_code == 201
    assert time.monotonic() - t0 < 1.0
    for s in slow:
        closed, _ = s.wait_closed(1 + SLACK + 0.5)
        assert closed
        s.close()
    assert srv.queue("q")["messages"] == 1
