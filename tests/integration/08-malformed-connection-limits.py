"""Connection limits: with max_connections (or max_connections_per_ip) connections held open, a
further connection is not served, and the server serves again as soon as one is released."""

import time

import pytest
import requests

from sluice_harness import ConnectionClosed


def extra_connection_is_not_served(srv):
    """Opens one more connection and asks /healthz on it; True when it gets no 200 within 1 s
    (refused, closed, answered with an error, or left waiting)."""
    try:
        c = srv.connect(timeout=1)
    except OSError:
        return True, None
    try:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = c.read_response(timeout=1)
    except (ConnectionClosed, BrokenPipeError, ConnectionResetError, TimeoutError):
        return True, c
    return resp.status != 200, c


@pytest.mark.parametrize("flag", ["--max-connections", "--max-connections-per-ip"])
def test_connections_over_the_limit_are_not_served_and_service_recovers(start_sluice, flag):
    srv = start_sluice(flag, "3")
    for _ in range(3):  # a few rounds: recovering once is not enough
        held = []
        for _ in range(3):
            c = srv.connect()
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().status == 200
            held.append(c)
        refused, extra = extra_connection_is_not_served(srv)
        assert refused, "a 4th connection was served with max 3"
        if extra:
            extra.close()
        for c in held:
            c.close()
        time.sleep(0.2)
        r = requests.get(srv.url + "/healthz", timeout=3, headers={"Connection": "close"})
        assert r.status_code == 200

def test_clients_that_vanish_mid_request_do_not_keep_their_connection_slots(start_sluice):
    srv = start_sluice("--max-connections", "2")
    for _ in range(4):
        c = srv.connect()
        c.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        c.close()
    time.sleep(0.3)
    r = requests.get(srv.url + "/healthz", timeout=3, headers={"Connection": "close"})
    assert r.status_code == 200
