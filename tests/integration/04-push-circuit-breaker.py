"""The circuit breaker of push delivery (SPEC §2 "an endpoint that keeps failing is paused by a
circuit breaker and retried later, not hammered"; src/deliver.c): push_circuit_failures failures
in a row open the circuit for push_circuit_pause; then one probe goes out (half_open); a failed
probe doubles the pause (capped by push_retry_max), a 2xx closes the circuit and delivery resumes.
Messages wait in the queue meanwhile, their attempts untouched; other subscriptions are not
affected. The settings come from the [push] section of a config file. Timings are checked only
as lower bounds (the pause is at least this long) and generous upper bounds."""

import pytest

from receiver import HANG, closed_port, receivers, sub_info, subscribe, wait_sub  # noqa: F401
from sluice_harness import RFC3339_MS_RE


def config(failures=3, pause="1s", retry_max="2s"):
    return f"""
[storage]
storage = memory

[push]
push_retry_min = 20ms
push_retry_max = {retry_max}
push_circuit_failures = {failures}
push_circuit_pause = {pause}
"""


@pytest.mark.sluice(config=config(failures=3, pause="300ms", retry_max="600ms"))
def test_failures_in_a_row_open_the_circuit_and_failed_probes_double_the_pause(sluice,
                                                                                receivers):
    rec = receivers()
    rec.answer(500)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open", what="circuit open")
    assert RFC3339_MS_RE.match(info["paused_until"]), info
    assert info["failed"] == 3
    reqs = rec.wait_for(7, timeout=15)
    g = [b.at - a.at for a, b in zip(reqs, reqs[1:])]
    # 3 failures, then pauses of 300 ms, 600 ms, and 600 ms again (the cap), each ended by a
    # failing probe
    assert g[2] >= 0.28, g
    assert g[3] >= 0.58, g
    assert g[4] >= 0.58, g
    assert g[5] >= 0.58, g
    assert g[5] < 2.0, g  # capped at push_retry_max; doubling would make it 2.4 s
    # the pause does not use up attempts: the probes are the next attempts of the same message
    assert [r.attempt for r in reqs[:7]] == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.sluice(config=config(failures=2, pause="300ms", retry_max="10s"))
def test_probe_is_half_open_and_a_success_closes_the_circuit(sluice, receivers):
    rec = receivers()
    # two failures open the circuit; the first probe hangs past the timeout (a failure: the
    # probe is seen half_open meanwhile); the next probe succeeds
    rec.handler = lambda req: 500 if req.seq < 2 else HANG if req.seq == 2 else 200
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100, timeout="1s")
    sluice.publish_many("q", [b"a", b"b", b"c"])
    wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open", what="circuit open")
    info = wait_sub(sluice, s["id"], lambda i: i["circuit"] == "half_open", what="half_open")
    assert info["in_flight"] == 1 and info["paused_until"] is None
    assert rec.count() == 3
    info = wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open" and i["failed"] == 3,
                    what="open again after the failed probe")
    assert info["paused_until"] is not None
    assert "timed out" in info["last_error"].lower()
    rec.wait_ok(3)
    info = wait_sub(sluice, s["id"], lambda i: i["circuit"] == "closed" and i["delivered"] == 3,
                    what="closed and everything delivered")
    assert info["paused_until"] is None and info["last_status"] == 200
    assert [r.body for r in rec.ok()] == [b"a", b"b", b"c"]
    reqs = rec.snapshot()
    assert [(r.body, r.attempt) for r in reqs] == [(b"a", 1), (b"a", 2), (b"a", 3), (b"a", 4),
                                                   (b"b", 1), (b"c", 1)]
    rec.release()


@pytest.mark.sluice(config=config(failures=3, pause="1s"))
def test_no_request_while_open_and_waiting_messages_keep_their_attempts(sluice, receivers):
    rec = receivers()
    rec.handler = lambda req: 500 if req.seq < 3 else 200
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish("q", b"first")
    wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open", what="circuit open")
    # published during the pause: they wait, untried
    sluice.publish_many("q", [b"second", b"third"])
    rec.wait_ok(3, timeout=15)
    reqs = rec.snapshot()
    assert [(r.body, r.attempt) for r in reqs] == [
        (b"first", 1), (b"first", 2), (b"first", 3), (b"first", 4), (b"second", 1),
        (b"third", 1)]
    assert reqs[3].at - reqs[2].at >= 0.95, "a request went out while the circuit was open"
    wait_sub(sluice, s["id"], lambda i: i["circuit"] == "closed" and i["lag"] == 0,
             what="closed, all delivered")


@pytest.mark.sluice(config=config(failures=3, pause="30s"))
def test_failures_not_in_a_row_do_not_open_the_circuit(sluice, receivers):
    rec = receivers()
    rec.handler = lambda req: 500 if req.attempt == 1 else 200  # fail, succeed, fail, succeed...
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish_many("q", [b"%d" % i for i in range(8)])
    rec.wait_ok(8)
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 8, what="8 delivered")
    assert info["circuit"] == "closed" and info["failed"] == 8


@pytest.mark.sluice(config=config(failures=2, pause="30s"))
def test_an_open_circuit_does_not_hold_back_other_subscriptions(sluice, receivers):
    bad, good = receivers(), receivers()
    bad.answer(500)
    sb = subscribe(sluice, "q", bad.url("/"), max_attempts=100)
    sg = subscribe(sluice, "q", good.url("/"))
    sluice.publish("q", b"m0")
    wait_sub(sluice, sb["id"], lambda i: i["circuit"] == "open", what="circuit open")
    bodies = [b"m%d" % i for i in range(1, 30)]
    sluice.publish_many("q", bodies)
    good.wait_ok(30)
    assert good.bodies() == [b"m0"] + bodies
    assert sub_info(sluice, sg["id"])["circuit"] == "closed"
    assert bad.count() == 2  # paused for 30 s: not hammered
    info = sub_info(sluice, sb["id"])
    assert info["circuit"] == "open" and info["lag"] == 30


@pytest.mark.sluice(config=config(failures=2, pause="500ms", retry_max="500ms"))
def test_a_refused_endpoint_opens_the_circuit_and_a_listening_one_closes_it(sluice, receivers):

    port = closed_port()
    s = subscribe(sluice, "q", f"http://127.0.0.1:{port}/", max_attempts=1000)
    sluice.publish_many("q", [b"a", b"b"])
    info = wait_sub(sluice, s["id"], lambda i: i["circuit"] == "open", what="circuit open")
    assert "connect" in info["last_error"].lower()
    rec = receivers(port=port)  # the endpoint comes up
    rec.wait_ok(2)
    assert rec.bodies() == [b"a", b"b"]
    wait_sub(sluice, s["id"], lambda i: i["circuit"] == "closed" and i["delivered"] == 2,
             what="closed and delivered")


@pytest.mark.sluice(config=config(failures=2, pause="600ms", retry_max="200ms"))
def test_a_failed_probe_never_shortens_the_pause(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    subscribe(sluice, "q", rec.url("/"), max_attempts=100)
    sluice.publish("q", b"x")
    reqs = rec.wait_for(4, timeout=15)
    g = [b.at - a.at for a, b in zip(reqs, reqs[1:])]
    assert g[1] >= 0.58, g  # the first pause
    assert g[2] >= 0.58, g  # after a failed probe: at least as long again
