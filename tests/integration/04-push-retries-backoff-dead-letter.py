"""Push retries (SPEC §2, issue 5): any answer but 2xx, a timeout or a refused connection releases
the message with a backoff of push_retry_min doubling per attempt up to push_retry_max, with equal
jitter (between half and all of it); each retry carries the same webhook-id and Sluice-Id and the
next Sluice-Attempt; after max_attempts the message is dead-lettered to <queue>.dlq with its last
error ("HTTP 500: ...", the timeout, the refused connection), and the subscription's statistics
say so. Dead letters can be redriven back to the subscription. Timings are only checked against
lower bounds (the backoff is at least this) and generous upper bounds."""

import pytest

from receiver import (closed_port, dead_letters, receivers, sub_info, subscribe,  # noqa: F401
                      verify_signature, wait_for, wait_sub)
from sluice_harness import unb64

NO_CIRCUIT = ["--push-circuit-failures", "1000"]


def fast(retry_min="50ms", retry_max="200ms", *extra):
    return ["--storage", "memory", "--push-retry-min", retry_min, "--push-retry-max", retry_max,
            *NO_CIRCUIT, *extra]


def gaps(reqs):
    return [b.at - a.at for a, b in zip(reqs, reqs[1:])]


@pytest.mark.sluice(args=fast())
def test_a_failed_delivery_is_retried_with_the_next_attempt_number_until_2xx(sluice, receivers):
    rec = receivers()
    rec.handler = lambda req: (500, b"not yet") if req.attempt < 3 else 200
    s = subscribe(sluice, "q", rec.url("/"))
    mid = sluice.publish("q", b"retry me")["id"]
    rec.wait_ok(1)
    reqs = rec.snapshot()
    assert [r.attempt for r in reqs] == [1, 2, 3]
    assert {r.msg_id for r in reqs} == {mid}
    assert {r.header("webhook-id") for r in reqs} == {f"q:{mid}"}
    assert all(r.body == b"retry me" for r in reqs)
    assert all(verify_signature(s["secret"], r) for r in reqs)
    info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 1, what="delivered 1")
    assert info["failed"] == 2 and info["dead_lettered"] == 0
    assert info["last_status"] == 200 and info["last_success_at"] is not None
    assert info["lag"] == 0
    rec.quiet_for(0.3)
    assert dead_letters(sluice, "q") == []


@pytest.mark.sluice(args=fast("100ms", "10s"))
def test_backoff_doubles_per_attempt_with_equal_jitter(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    subscribe(sluice, "q", rec.url("/"), max_attempts=5)
    sluice.publish("q", b"x")
    reqs = rec.wait_for(5)
    g = gaps(reqs)
    # attempt k failed -> wait in [base/2, base], base = 100ms * 2^(k-1); never less than base/2
    for k, gap in enumerate(g, start=1):
        base = 0.1 * 2 ** (k - 1)
        assert gap >= base / 2 - 0.01, f"retry after attempt {k} came after {gap:.3f}s: {g}"
    assert g[3] > g[0], g  # it grows
    assert sum(g) < 8, g  # 0.1+0.2+0.4+0.8 = 1.5 s at most, plus generous slack


@pytest.mark.sluice(args=fast("100ms", "200ms"))
def test_backoff_is_capped_by_push_retry_max(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    subscribe(sluice, "q", rec.url("/"), max_attempts=8)
    sluice.publish("q", b"x")
    reqs = rec.wait_for(8)
    g = gaps(reqs)
    assert all(x >= 0.04 for x in g), g
    assert all(x >= 0.09 for x in g[1:]), g  # base 200ms from the second retry on: >= 100 ms
    # uncapped, the 7 waits would be >= 6.35 s; capped at 200 ms they are <= 1.3 s
    assert sum(g) < 5, g


@pytest.mark.sluice(args=fast())
def test_dead_letter_after_max_attempts_with_the_last_http_error(sluice, receivers):
    rec = receivers()
    rec.answer(500, b"boom")
    s = subscribe(sluice, "orders", rec.url("/"), max_attempts=3)
    mid = sluice.publish("orders", b"the order",
                         headers={"Content-Type": "text/plain",
                                  "Sluice-Attr-Tenant": "acme"})["id"]
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    assert info["failed"] == 3 and info["delivered"] == 0
    assert info["last_status"] == 500
    assert info["last_error"] == "HTTP 500: boom"
    assert [r.attempt for r in rec.snapshot()] == [1, 2, 3]
    [d] = wait_for(lambda: dead_letters(sluice, "orders"), what="a message in orders.dlq")
    assert unb64(d["body"]) == b"the order"
    assert d["attributes"].get("content-type") == "text/plain"
    assert d["attributes"].get("tenant") == "acme"
    dl = d["dead_letter"]
    assert dl["queue"] == "orders" and dl["group"] == s["id"] and dl["id"] == mid
    assert dl["attempts"] == 3
    assert dl["last_error"] == "HTTP 500: boom"
    assert [x["error"] for x in dl["history"]] == ["HTTP 500: boom"] * 3
    # it is over for that message: no more requests, nothing left for the subscription
    rec.quiet_for(0.4)
    assert rec.count() == 3
    info = sub_info(sluice, s["id"])
    assert info["lag"] == 0 and info["in_flight"] == 0 and info["retrying"] == 0
    # the next message goes through once the receiver is healthy
    rec.answer(204)
    sluice.publish("orders", b"next")
    rec.wait_ok(1)
    assert rec.ok()[0].body == b"next"


@pytest.mark.sluice(args=fast("50ms", "200ms", "--max-attempts", "2"))
def test_max_attempts_defaults_to_the_servers(sluice, receivers):
    rec = receivers()
    rec.answer(503)
    s = subscribe(sluice, "q", rec.url("/"))
    assert s["max_attempts"] == 2
    sluice.publish("q", b"x")
    wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    rec.quiet_for(0.3)
    assert [r.attempt for r in rec.snapshot()] == [1, 2]
    [d] = dead_letters(sluice, "q")
    assert d["dead_letter"]["last_error"] == "HTTP 503"


@pytest.mark.sluice(args=fast())
def test_a_timeout_is_a_failure_and_named_in_the_dead_letter(sluice, receivers):
    rec = receivers()
    rec.hang()
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=2, timeout="300ms")
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    assert info["last_status"] is None
    assert "timed out" in info["last_error"].lower(), info["last_error"]
    assert rec.count() == 2
    [d] = dead_letters(sluice, "q")
    assert "timed out" in d["dead_letter"]["last_error"].lower()
    rec.release()


@pytest.mark.sluice(args=fast())
def test_a_refused_connection_is_a_failure_and_named_in_the_dead_letter(sluice):
    port = closed_port()
    s = subscribe(sluice, "q", f"http://127.0.0.1:{port}/", max_attempts=2)
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    assert info["last_status"] is None and info["failed"] == 2
    assert "connect" in info["last_error"].lower(), info["last_error"]
    [d] = dead_letters(sluice, "q")
    assert str(port) in d["dead_letter"]["last_error"]


@pytest.mark.sluice(args=fast())
def test_an_unresolvable_host_is_a_failure_not_a_crash(sluice):
    s = subscribe(sluice, "q", "http://no-such-host.invalid/hook", max_attempts=2)
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, timeout=20,
                    what="dead-lettered")
    assert info["last_status"] is None and info["last_error"]
    assert sluice.alive()


@pytest.mark.sluice(args=fast())
def test_last_error_keeps_the_start_of_the_answer_on_one_line(sluice, receivers):
    rec = receivers()
    rec.answer(502, b"line one\r\nline two\x00\x1b[31m" + b"y" * 5000)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=1)
    sluice.publish("q", b"x")
    info = wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    err = info["last_error"]
    assert err.startswith("HTTP 502: line one"), err
    assert all(0x20 <= ord(c) < 0x7f for c in err), repr(err)
    assert len(err) < 300, len(err)


@pytest.mark.sluice(args=fast())
def test_other_failure_statuses_are_retried_too(sluice, receivers):
    for status in (400, 404, 409, 429, 503):
        rec = receivers()
        rec.handler = lambda req, st=status: st if req.attempt == 1 else 200
        s = subscribe(sluice, f"q{status}", rec.url("/"))
        sluice.publish(f"q{status}", b"x")
        info = wait_sub(sluice, s["id"], lambda i: i["delivered"] == 1, what=f"{status} retried")
        assert info["failed"] == 1
        assert [r.attempt for r in rec.snapshot()] == [1, 2]


@pytest.mark.sluice(args=fast())
def test_the_queues_own_dead_letter_queue_is_used(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    sluice.put_queue("q", status=201, dead_letter_queue="q.failed")
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=1)
    sluice.publish("q", b"x")
    wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 1, what="dead-lettered")
    [d] = wait_for(lambda: sluice.peek("q.failed")["messages"], what="a dead letter in q.failed")
    assert d["dead_letter"]["group"] == s["id"]
    assert sluice.get("/v1/queues/q.dlq").status_code == 404


@pytest.mark.sluice(args=fast())
def test_redriven_dead_letters_are_pushed_again(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=2)
    sluice.publish_many("q", [b"a", b"b"])
    wait_sub(sluice, s["id"], lambda i: i["dead_lettered"] == 2, what="2 dead-lettered")
    rec.answer(200)
    r = sluice.post("/v1/queues/q.dlq/redrive", json={})
    assert r.status_code == 200, r.text
    assert r.json()["redriven"] == 2
    got = rec.wait_ok(2)
    assert sorted(x.body for x in got) == [b"a", b"b"]
    assert all(x.attempt == 1 for x in got)  # attempts start again
    wait_sub(sluice, s["id"], lambda i: i["delivered"] == 2 and i["lag"] == 0,
             what="redriven messages delivered")


@pytest.mark.sluice(args=fast("200ms", "1s"))
def test_without_a_dead_letter_queue_retries_keep_backing_off(sluice, receivers):
    rec = receivers()
    rec.answer(500)
    sluice.put_queue("q", status=201, dead_letter_queue="")  # redeliver without limit
    s = subscribe(sluice, "q", rec.url("/"), max_attempts=2)
    sluice.publish("q", b"x")
    reqs = rec.wait_for(4)
    # the engine keeps redelivering (no dead-letter queue)...
    assert [r.attempt for r in reqs[:4]] == [1, 2, 3, 4]
    # ...and every retry still waits its backoff (>= retry_min / 2), nothing is dead-lettered
    assert all(g >= 0.09 for g in gaps(reqs[:4])), gaps(reqs[:4])
    info = sub_info(sluice, s["id"])
    assert info["dead_lettered"] == 0, info
