"""Graceful shutdown (docs/config.md, docs/operations.md): on SIGTERM (or SIGINT) the server answers
parked long-polls at once with an empty result, lets requests in progress finish within
shutdown_timeout (replies carry Connection: close), refuses new work while draining, and exits 0."""

import signal
import threading
import time

import pytest
import requests

from sluice_harness import ConnectionClosed, unb64


class Bg(threading.Thread):
    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.resp, self.exc, self.t_done = fn, None, None, None
        self.start()

    def run(self):
        try:
            self.resp = self.fn()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.exc = e
        self.t_done = time.monotonic()


def answered_empty(r):
    """docs/operations.md: parked long-polls are answered at once with an empty result."""
    return r.status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_answers_parked_long_poll_and_exits_0(sluice, sig):
    sluice.put_queue("q", status=201)
    lease = Bg(lambda: requests.get(sluice.url + "/v1/queues/q/messages",
                                    params={"wait": "25"}, timeout=30))
    pop = Bg(lambda: requests.post(sluice.url + "/v1/queues/q/pop", params={"wait": "25"},
                                   timeout=30))
    time.sleep(0.3)
    assert lease.is_alive() and pop.is_alive()
    t0 = time.monotonic()
    code = sluice.stop(sig)
    assert code == 0, sluice.stderr()
    for bg in (lease, pop):
        bg.join(5)
        assert bg.exc is None, f"parked poll was not answered: {bg.exc!r}"
        assert answered_empty(bg.resp), (bg.resp.status_code, bg.resp.text)
        assert bg.t_done - t0 < 3.0
    assert lease.resp.json() == {"messages": []}
    assert pop.resp.json() == {"message": None}


def test_idle_server_exits_0_promptly(sluice):
    t0 = time.monotonic()
    assert sluice.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_that_keep_coming_while_stopping_still_end_in_exit_0(start_sluice, restart_sluice,
                                                                     sig):
    # An impatient operator (or a supervisor that repeats itself): the second signal skips the
    # wait, and any that arrive while the server closes its storage must not kill it mid-close.
    srv = start_sluice("--data-dir", "data")
    srv.publish("q", b"kept")
    busy = srv.connect()  # an unfinished request holds the drain open for the second signal
    busy.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    time.sleep(0.1)
    while srv.proc.poll() is None:
        srv.proc.send_signal(sig)
        time.sleep(0.0005)
    assert srv.stop() == 0, srv.stderr()
    assert "Second signal: stopping now." in srv.stderr()
    srv = restart_sluice(srv)
    assert unb64(srv.pop("q")["body"]) == b"kept"


def test_idle_keep_alive_connections_do_not_delay_shutdown(sluice):
    conns = []
    for _ in range(5):
        c = sluice.connect()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
        conns.append(c)
    t0 = time.monotonic()
    assert sluice.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 2.0  # shutdown_timeout is 10 s: nothing was in flight
    for c in conns:
        c.close()


def test_clients_that_vanished_mid_request_do_not_delay_shutdown(sluice):
    for _ in range(3):
        c = sluice.connect()
        c.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        c.close()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert sluice.stop(signal.SIGTERM) == 0
    # Nothing is in flight: the requests' clients are gone (shutdown_timeout is 10 s).
    assert time.monotonic() - t0 < 2.0


def test_unfinished_request_cannot_hold_shutdown_past_shutdown_timeout(start_sluice):
    srv = start_sluice("--shutdown-timeout", "1s")
    c = srv.connect()
    c.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    time.sleep(0.1)
    t0 = time.monotonic()
    assert srv.stop(signal.SIGTERM, timeout=5) == 0
    assert time.monotonic() - t0 < 1.0 + 1.5
    c.close()


def test_request_finishing_during_drain_is_answered(start_sluice):
    srv = start_sluice("--shutdown-timeout", "5s")
    c = srv.connect()
    c.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    time.sleep(0.1)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    c.send(b"cd")  # the rest of the in-flight request arrives while draining
    try:
        resp = c.read_response(timeout=4)
    except ConnectionClosed as e:
        pytest.fail(f"in-flight request was dropped during drain: {e}")
    # docs/operations.md: requests in progress get up to shutdown_timeout to finish, and their
    # replies carry Connection: close.
    assert resp.status == 201, resp
    assert resp.headers.get("connection", "").lower() == "close", resp
    c.close()
    assert srv.stop(timeout=6) == 0


def test_new_request_on_open_connection_while_draining_is_refused(start_sluice):
    srv = start_sluice("--shutdown-timeout", "3s")
    idle = srv.connect()
    idle.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.read_response().status == 200
    busy = srv.connect()  # holds the drain open with an unfinished request
    busy.send(b"POST /v1/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
    time.sleep(0.1)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        idle.send(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = idle.read_response(timeout=3)
    except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
        resp = None  # closing idle connections at shutdown is fine
    if resp is not None:
        assert resp.status == 503, resp
        assert resp.json()["error"]["code"] == "shutting_down"
    idle.close()
    busy.close()
    assert srv.stop(timeout=6) == 0

