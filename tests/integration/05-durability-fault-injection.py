"""Fault injection through the storage's system-call seam (src/fault.h): the Nth write fails with
ENOSPC (SLUICE_FAULT_WRITE=N), is cut short then fails (SLUICE_FAULT_SHORT=N), or the Nth
fdatasync fails with EIO (SLUICE_FAULT_FSYNC=N), looped over N = 1..K (K = 16, or
$SLUICE_FAULT_MAX). With the fault, a small publish/lease/ack workload sees 503
storage_unavailable answers while the store is degraded, reads keep working, and writes succeed
again once the half-second retry of the failed batch goes through (the fault fires once); the
server never crashes. Restarted WITHOUT the fault on the same data directory, every publish
answered 201 is there with its bytes and every ack answered 200 stays acked (issue 4 "Space")."""

import concurrent.futures
import os
import time

import pytest
import requests

import sluice_harness as h
from sluice_harness import assert_error, unb64

K = int(os.environ.get("SLUICE_FAULT_MAX") or 16)
Q = "f"


def workload(srv, n):
    """Publishes and acks until a 503 was seen and then at least 3 writes succeeded after it,
    or 6 s passed. Returns what the client knows."""
    st = {"published": {}, "maybe": set(), "acked": set(), "ack_failed": set(),
          "errors": 0, "first_error": None, "ok_after": 0, "reads_while_degraded": 0}
    s = requests.Session()
    base = f"{srv.url}/v1/queues/{Q}"
    deadline = time.monotonic() + 6
    i = 0
    while time.monotonic() < deadline:
        if st["errors"] and st["ok_after"] >= 3:
            break
        i += 1
        payload = f"N{n}-msg{i}-".encode() + bytes([i % 256]) * (i % 50)
        r = s.post(base + "/messages", data=payload, timeout=5)
        if r.status_code == 201:
            st["published"][payload] = r.json()["id"]
            if st["errors"]:
                st["ok_after"] += 1
        else:
            assert_error(r, 503, "storage_unavailable")
            st["maybe"].add(payload)  # may be delivered all the same (at least once)
            degraded(srv, s, st)
            continue
        if i % 3 == 0:
            r = s.get(base + "/messages", params={"max": 2, "visibility": "60s"}, timeout=5)
            assert r.status_code == 200, h.describe(r)  # a lease writes nothing: never refused
            msgs = r.json()["messages"]
            if not msgs:
                continue
            bodies = {m["receipt"]: unb64(m["body"]) for m in msgs}
            r = s.post(base + "/ack", json={"receipts": list(bodies)}, timeout=5)
            if r.status_code == 200:
                assert r.json()["not_found"] == [], r.text
                st["acked"].update(bodies.values())
                if st["errors"]:
                    st["ok_after"] += 1
            else:
                assert_error(r, 503, "storage_unavailable")
                st["ack_failed"].update(bodies.values())
                degraded(srv, s, st)
    return st


def degraded(srv, s, st):
    """Called after a 503: reads keep working while the store is degraded."""
    if st["errors"] == 0:
        st["first_error"] = time.monotonic()
        r = s.get(f"{srv.url}/v1/queues/{Q}", timeout=5)
        assert r.status_code == 200, h.describe(r)
        r = s.get(f"{srv.url}/v1/queues/{Q}/peek", timeout=5)
        assert r.status_code == 200, h.describe(r)
        assert s.get(f"{srv.url}/healthz", timeout=5).status_code == 200
        st["reads_while_degraded"] += 1
    st["errors"] += 1
    time.sleep(0.02)


@pytest.mark.timeout(max(60, K * 4))
@pytest.mark.parametrize("fault", ["WRITE", "SHORT", "FSYNC"])
def test_nth_failing_call_degrades_heals_and_loses_nothing_answered(start_sluice, restart_sluice,
                                                                     fault):
    summary, failures = [], []

    def round_(n):
        try:
            summary.append(one_round(start_sluice, restart_sluice, fault, n))
        except (AssertionError, requests.RequestException) as e:
            failures.append(f"SLUICE_FAULT_{fault}={n}: {type(e).__name__}: "
                            f"{str(e).splitlines()[0][:300]}")

    # rounds are independent servers on their own data directories, and mostly wait for the
    # half-second retry: four at a time
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(round_, n) for n in range(1, K + 1)]:
            f.result()
    failures.sort(key=lambda t: int(t.split("=")[1].split(":")[0]))
    print(f"\nSLUICE_FAULT_{fault}: (N, published, 503s, acked) = {sorted(summary)}")
    assert not failures, f"{len(failures)} of {K} rounds failed:\n" + "\n".join(failures)


def one_round(start_sluice, restart_sluice, fault, n):
    srv = start_sluice("--data-dir", f"data-{n}", env={f"SLUICE_FAULT_{fault}": str(n)})
    st = workload(srv, n)
    assert st["errors"] > 0, "no request was answered 503 (the fault never showed)"
    assert st["ok_after"] >= 3, "writes did not succeed again after the fault"
    assert h.wait_until(lambda: "Storage write failed" in srv.stderr()), srv.stderr()
    assert srv.running(), "the server died"
    # stop it: a crash for odd N, a graceful stop for even N
    if n % 2:
        assert srv.kill() == -9
        stopped = "SIGKILL"
    else:
        code = srv.stop()
        stopped = f"SIGTERM (exit {code})"
    old, srv = srv, restart_sluice(srv, env={})
    present = {}
    for m in srv.peek(Q, limit=1000)["messages"]:
        present[unb64(m["body"])] = m["id"]
    lost = {b: i for b, i in st["published"].items()
            if b not in st["acked"] and b not in st["ack_failed"] and b not in present}
    assert not lost, f"publishes answered 201 are lost after {stopped}: {lost}"
    wrong = {b: (i, present[b]) for b, i in st["published"].items()
             if b in present and present[b] != i}
    assert not wrong, f"messages came back with other ids: {wrong}"
    back = [b for b in st["acked"] if b in present]
    assert not back, f"messages acked with 200 came back after {stopped}: {back}"
    unknown = [b for b in present if b not in st["published"] and b not in st["maybe"]]
    assert not unknown, f"unknown bytes delivered: {unknown}"
    q = srv.queue(Q)
    assert "storage" not in q, f"damage after a failed write: {q}"
    assert not any(w in srv.stderr() for w in ("torn tail", "damaged")), srv.stderr()
    assert srv.stop() == 0, srv.stderr()
    if stopped.startswith("SIGTERM"):  # checked last, so that a crash there is not all we learn
        assert code == 0, f"after the fault healed, SIGTERM made the server exit {code}: " \
            f"{old.stderr().strip().splitlines()[-1]}"
    return (n, len(st["published"]), st["errors"], len(st["acked"]))


def test_publish_answered_503_leaves_the_queue_consistent(start_sluice):
    """A publish answered 503 "may still be delivered" (src/store_file.c "Failure"): once the
    retry healed the store, what the queue counts is what can be peeked and leased, and the queue
    can be deleted and the server stopped."""
    srv = start_sluice("--data-dir", "data", env={"SLUICE_FAULT_WRITE": "2"})
    srv.publish(Q, b"a")
    assert_error(srv.post(f"/v1/queues/{Q}/messages", data=b"b"), 503, "storage_unavailable")
    assert h.wait_until(lambda: srv.post(f"/v1/queues/{Q}/messages", data=b"c").status_code
                        == 201, timeout=3), "the store did not heal"
    info = srv.queue(Q)
    peeked = [unb64(m["body"]) for m in srv.peek(Q, limit=100)["messages"]]
    leased = [unb64(m["body"]) for m in srv.lease(Q, max=100)]
    assert peeked == leased, (peeked, leased)
    assert info["messages"] == len(peeked), \
        f"GET counts {info['messages']} messages, peek and lease give {peeked}"
    assert set(peeked) in ({b"a", b"c"}, {b"a", b"b", b"c"}), peeked
    r = srv.delete(f"/v1/queues/{Q}")
    assert r.status_code == 200, r.text
    assert srv.alive()


def test_permanent_fault_keeps_answering_503_and_reads_work(start_sluice, restart_sluice):
    """SLUICE_FAULT_REPEAT=1: from the 3rd write on every write fails (a disk that stays full).
    Writes are refused, reads and leases go on, /healthz stays up, and the server stops cleanly;
    the two publishes answered 201 before are there after a restart without the fault."""
    srv = start_sluice("--data-dir", "data",
                       env={"SLUICE_FAULT_WRITE": "3", "SLUICE_FAULT_REPEAT": "1"})
    ok = [srv.publish(Q, f"m{i}".encode())["id"] for i in range(2)]
    r = srv.post(f"/v1/queues/{Q}/messages", data=b"refused")
    assert_error(r, 503, "storage_unavailable")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:  # three retries, all failing
        assert_error(srv.post(f"/v1/queues/{Q}/messages", data=b"x"), 503, "storage_unavailable")
        time.sleep(0.1)
    [m] = srv.lease(Q, visibility="60s")
    assert m["id"] == ok[0]
    assert_error(srv.post(f"/v1/queues/{Q}/ack", json={"receipts": [m["receipt"]]}), 503,
                 "storage_unavailable")
    assert srv.queue(Q)["messages"] >= 2
    assert srv.alive()
    assert srv.stop() == 0, srv.stderr()
    assert "Storage still failing at shutdown" in srv.stderr(), srv.stderr()
    srv = restart_sluice(srv, env={})
    got = [unb64(m["body"]) for m in srv.lease(Q, max=10)]
    assert got[:2] == [b"m0", b"m1"], got
    assert set(got) <= {b"m0", b"m1", b"refused", b"x"}, got
