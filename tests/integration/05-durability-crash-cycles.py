"""Crash cycles (issue 4, SPEC §5): concurrent publishers (raw POST) and consumers (lease + ack)
run for a random short time, the server is killed with SIGKILL at a random moment and started
again on the same data directory; then every message is leased and acked, and checked:

* every publish answered 201 is delivered after the restart, unless an ack of it was answered
  200 before the crash (or its ack was sent and the reply never came): lost must be 0;
* nothing whose ack was answered 200 is delivered again;
* no message is delivered twice, except one whose lease was outstanding at the crash (leased,
  ack not answered 200): those are the duplicates the rule allows, and are counted;
* no message comes back with bytes that were never published.

20 cycles by default (CI), SLUICE_CRASH_CYCLES=N for more (`make crash-test` runs 100). The
same, with fewer cycles, runs with --fsync interval, whose weaker promise still covers a process
crash: a publish answered with "stored": "os" is in the OS's page cache, which a killed process
does not take with it (only a power loss could). The tally is printed (pytest -s shows it) and
written to build/crash-tally-fsync-<policy>.txt. SLUICE_CRASH_SEED=N repeats a run."""

import collections
import json
import os
import random
import threading
import time

import pytest
import requests

import sluice_harness as h

CYCLES = int(os.environ.get("SLUICE_CRASH_CYCLES") or 20)
INTERVAL_CYCLES = max(5, CYCLES // 4)
SEED = int(os.environ.get("SLUICE_CRASH_SEED") or random.randrange(1 << 30))
PUBLISHERS, CONSUMERS = 2, 2
QUEUE = "crash"
VISIBILITY = "120s"  # no lease expires within a life: every redelivery comes from a crash
UNACKED = "of which unacked at a crash (checked for presence after it)"


class Ledger:
    """What the clients know, across every life of the server."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = set()      # bodies sent in a publish, whatever came of it
        self.published = {}         # body -> id, publish answered 201
        self.acked = set()          # bodies whose ack was answered 200 (not in not_found)
        self.ack_unanswered = set()  # bodies whose ack was sent, reply never received
        self.delivered_ever = set()  # bodies received in some lease reply
        self.checked = set()         # 201-answered bodies not acked at a restart, so checked
        self.allowed_dups = set()    # bodies whose lease was outstanding at some crash
        self.errors = []             # broken promises, as sentences
        self.answered = 0            # publishes answered 201
        self.tally = collections.Counter()

    def error(self, text):
        with self.lock:
            self.errors.append(text)


class Life:
    """One run of the server between two crashes: the client threads and what they saw."""

    def __init__(self, srv, ledger, rng, cycle, stored):
        self.srv, self.ledger, self.cycle, self.stored = srv, ledger, cycle, stored
        self.stop = threading.Event()
        self.delivered = collections.Counter()  # body -> deliveries in this life
        self.acked_here = set()
        self.threads = []
        for t in range(PUBLISHERS):
            self.threads.append(threading.Thread(target=self.publisher,
                                                 args=(t, random.Random(rng.random())),
                                                 daemon=True))
        for t in range(CONSUMERS):
            self.threads.append(threading.Thread(target=self.consumer,
                                                 args=(rng.uniform(0, 0.3),), daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
            assert not t.is_alive(), "a client thread did not stop"

    def publisher(self, t, rng):
        led = self.ledger
        s = requests.Session()
        url = f"{self.srv.url}/v1/queues/{QUEUE}/messages"
        n = 0
        while not self.stop.is_set():
            n += 1
            body = f"c{self.cycle}-p{t}-{n}-".encode() + rng.randbytes(rng.randrange(0, 300))
            with led.lock:
                led.attempted.add(body)
            try:
                r = s.post(url, data=body, timeout=5)
            except requests.RequestException:
                break  # the server is gone: this publish may or may not have been stored
            if r.status_code != 201:
                led.error(f"cycle {self.cycle}: publish answered {r.status_code} {r.text}")
                continue
            reply = r.json()
            if reply.get("stored") != self.stored:
                led.error(f"cycle {self.cycle}: publish answered stored={reply.get('stored')!r}"
                          f", expected {self.stored!r}")
            with led.lock:
                led.published[body] = reply["id"]
                led.answered += 1

    def consumer(self, late):
        """Starts `late` seconds after the publishers, so that a backlog builds up."""
        led = self.ledger
        if self.stop.wait(late):
            return
        s = requests.Session()
        base = f"{self.srv.url}/v1/queues/{QUEUE}"
        while not self.stop.is_set():
            try:
                r = s.get(base + "/messages", params={"max": 10, "visibility": VISIBILITY,
                                                      "wait": "100ms"}, timeout=5)
            except requests.RequestException:
                break
            if r.status_code == 404:  # the queue is created by the first publish
                time.sleep(0.01)
                continue
            if r.status_code != 200:
                led.error(f"cycle {self.cycle}: lease answered {r.status_code} {r.text}")
                continue
            msgs = r.json()["messages"]
            if not msgs:
                continue
            by_receipt = {}
            with led.lock:
                for m in msgs:
                    body = h.unb64(m["body"])
                    self.delivered[body] += 1
                    led.delivered_ever.add(body)
                    by_receipt[m["receipt"]] = body
                    check_delivery(led, self.cycle, body, m, "during the workload")
            try:
                r = s.post(base + "/ack", json={"receipts": list(by_receipt)}, timeout=5)
            except requests.RequestException:
                with led.lock:
                    led.ack_unanswered.update(by_receipt.values())
                break
            if r.status_code != 200:
                led.error(f"cycle {self.cycle}: ack answered {r.status_code} {r.text}")
                continue
            reply = r.json()
            if reply["not_found"]:
                led.error(f"cycle {self.cycle}: fresh receipts were not found: {reply}")
            with led.lock:
                for rc, body in by_receipt.items():
                    if rc not in reply["not_found"]:
                        led.acked.add(body)
                        self.acked_here.add(body)


def check_delivery(led, cycle, body, m, when):
    """A delivered message must be one that was published, with exactly its bytes, and never
    one whose ack was answered 200. Call with led.lock held."""
    if body not in led.attempted:
        led.errors.append(f"cycle {cycle}: message {m['id']} delivered {when} with bytes that "
                          f"were never published: {body[:60]!r}")
    elif body in led.acked:
        led.errors.append(f"cycle {cycle}: message {m['id']} ({body[:30]!r}) delivered {when} "
                          f"although its ack was answered 200")
    elif body in led.published and led.published[body] != m["id"]:
        led.errors.append(f"cycle {cycle}: message {body[:30]!r} came back with id {m['id']}, "
                          f"published as {led.published[body]}")


def drain_and_verify(srv, led, cycle, previous_life):
    """After a restart: leases and acks everything, and checks it against the ledger."""
    s = requests.Session()
    base = f"{srv.url}/v1/queues/{QUEUE}"
    r = s.get(base, timeout=5)
    if r.status_code == 404:
        got = []
    else:
        assert r.status_code == 200, h.describe(r)
        got = []
        while True:
            r = s.get(base + "/messages", params={"max": 100, "visibility": VISIBILITY},
                      timeout=5)
            assert r.status_code == 200, h.describe(r)
            msgs = r.json()["messages"]
            if not msgs:
                break
            got += msgs
    seen = collections.Counter()
    with led.lock:
        for m in got:
            body = h.unb64(m["body"])
            seen[body] += 1
            check_delivery(led, cycle, body, m, "after the restart")
            if body in led.delivered_ever and body not in led.acked:
                if body in led.allowed_dups:
                    led.tally["duplicates allowed (lease outstanding at the crash)"] += 1
                else:
                    led.errors.append(f"cycle {cycle}: message {m['id']} delivered again after "
                                      f"the restart, but it was not leased at the crash")
        for body, n in seen.items():
            if n > 1:
                led.errors.append(f"cycle {cycle}: {body[:30]!r} delivered {n} times in one "
                                  f"drain")
        lost = [b for b in led.published
                if b not in led.acked and b not in led.ack_unanswered and b not in seen]
        for b in lost:
            led.errors.append(f"cycle {cycle}: LOST message {led.published[b]} ({b[:30]!r}): "
                              f"publish answered 201, never acked, not delivered after the "
                              f"restart")
        led.tally["lost"] += len(lost)
        led.checked.update(b for b in led.published if b not in led.acked)
        led.tally["acks answered 200 checked"] += len(previous_life.acked_here) \
            if previous_life else 0
        led.tally["delivered after restart"] += len(got)
        for body, n in (previous_life.delivered if previous_life else {}).items():
            if n > 1:
                led.errors.append(f"cycle {cycle - 1}: {body[:30]!r} delivered {n} times in "
                                  f"one life (no lease could expire)")
        led.delivered_ever.update(seen)
    # everything drained is acked now (and these acks are checked after the next crash)
    receipts = [m["receipt"] for m in got]
    for i in range(0, len(receipts), 500):
        r = s.post(base + "/ack", json={"receipts": receipts[i:i + 500]}, timeout=5)
        assert r.status_code == 200 and not r.json()["not_found"], h.describe(r)
    with led.lock:
        led.acked.update(h.unb64(m["body"]) for m in got)
        # an ack whose reply was lost, for a message that did not come back: it was applied,
        # so the message must never come back later either
        led.acked.update(b for b in led.ack_unanswered if b not in seen)
        led.ack_unanswered.clear()
        # the published set only needs what may still be delivered
        for b in list(led.published):
            if b in led.acked:
                del led.published[b]
    if got:
        r = s.get(base, timeout=5)
        assert r.status_code == 200 and r.json()["messages"] == 0, h.describe(r)


def run_cycles(sluice, restart_sluice, cycles, stored, policy):
    rng = random.Random(SEED)
    led = Ledger()
    srv = sluice
    life = None
    t_start = time.monotonic()
    try:
        for cycle in range(1, cycles + 1):
            drain_and_verify(srv, led, cycle, life)
            assert not led.errors, "\n".join(led.errors[:20])
            life = Life(srv, led, rng, cycle, stored)
            life.start()
            time.sleep(rng.uniform(0.1, 0.7))
            assert srv.kill() == -9, "the server died before it was killed"
            life.join()
            with led.lock:
                outstanding = {b for b, n in life.delivered.items() if b not in led.acked}
                led.allowed_dups |= outstanding
                led.tally["leases outstanding at a crash"] += len(outstanding)
            led.tally["cycles"] += 1
            srv = restart_sluice(srv)
        drain_and_verify(srv, led, cycles + 1, life)
        assert not led.errors, "\n".join(led.errors[:20])
        # a last graceful restart: everything was acked, nothing comes back
        assert srv.stop() == 0, srv.stderr()
        srv = restart_sluice(srv)
        assert srv.lease(QUEUE, max=100) == [], "acked messages came back after a restart"
    finally:
        with led.lock:
            led.tally["publishes attempted"] = len(led.attempted)
            led.tally["messages checked (publish answered 201)"] = led.answered
            led.tally[UNACKED] = len(led.checked)
        report(led.tally, policy, time.monotonic() - t_start)
    assert led.tally["cycles"] == cycles and led.tally["lost"] == 0


def report(tally, policy, seconds):
    lines = [f"crash cycles, fsync = {policy}: seed {SEED}, {seconds:.1f} s"]
    for k in ("cycles", "publishes attempted", "messages checked (publish answered 201)",
              UNACKED, "acks answered 200 checked",
              "delivered after restart", "leases outstanding at a crash",
              "duplicates allowed (lease outstanding at the crash)", "lost"):
        lines.append(f"  {k}: {tally[k]}")
    text = "\n".join(lines) + "\n"
    print("\n" + text, end="")
    out = h.REPO_ROOT / "build" / f"crash-tally-fsync-{policy}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + json.dumps(dict(tally, seed=SEED, seconds=round(seconds, 1))) + "\n")


@pytest.mark.timeout(max(60, CYCLES * 4 + 30))
def test_crash_cycles_lose_nothing_answered_and_redeliver_only_outstanding_leases(
        start_sluice, restart_sluice, workdir):
    srv = start_sluice("--data-dir", "data")
    run_cycles(srv, restart_sluice, CYCLES, "fsync", "always")


@pytest.mark.timeout(max(60, INTERVAL_CYCLES * 4 + 30))
def test_crash_cycles_with_fsync_interval_keep_every_os_stored_publish(
        start_sluice, restart_sluice, workdir):
    srv = start_sluice("--data-dir", "data", "--fsync", "interval", "--fsync-interval", "50ms")
    run_cycles(srv, restart_sluice, INTERVAL_CYCLES, "os", "interval")
