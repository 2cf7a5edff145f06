"""Space (issue 4, src/store_file.c "Segments"): with a small --segment-bytes (64 KiB) a queue's
log rotates into several segment files. Once every message of the old segments is acked, their
files are deleted. When the oldest segment is pinned by one unacked message while everything
after it is acked, a few more publishes trigger compaction: fewer files, fewer bytes, and the
pinned message survives a restart with its attempts and its retry time. What the restart needs
besides messages — the idempotency keys still in their window — survives deletion and compaction
too."""

import os
import time

import pytest

import sluice_harness as h
from sluice_harness import unb64

SEG = 65536
BODY = 1024


def body(tag, i):
    return f"{tag}-{i:05d}-".encode() + b"x" * (BODY - 12)


def segs(srv, q):
    files = h.segment_files(srv.data_dir, q)
    return files, sum(f.stat().st_size for f in files)


def ack_all(srv, q, skip=()):
    """Leases and acks every visible message; returns how many."""
    n = 0
    while True:
        msgs = srv.lease(q, max=100, visibility="60s")
        if not msgs:
            return n
        assert not any(m["id"] in skip for m in msgs), msgs
        out = srv.ack(q, [m["receipt"] for m in msgs])
        assert out["acked"] == len(msgs), out
        n += len(msgs)


def fill(srv, q, tag, n):
    r = srv.post(f"/v1/queues/{q}/batch",
                 json={"messages": [{"body": h.b64(body(tag, i))} for i in range(n)]})
    assert r.status_code == 201, h.describe(r)
    return r.json()["ids"]


@pytest.fixture
def srv(start_sluice):
    return start_sluice("--data-dir", "data", "--segment-bytes", str(SEG))


def test_segments_rotate_and_fully_acked_ones_are_deleted(srv, restart_sluice):
    srv.put_queue("c", status=201)
    ids = []
    for k in range(6):
        ids += fill(srv, "c", f"b{k}", 50)
    files, size = segs(srv, "c")
    assert len(files) >= 4, f"300 KiB in 64 KiB segments gave {len(files)} files"
    assert all(f.stat().st_size < SEG + 2 * BODY + 1024 for f in files[:-1]), \
        [f.stat().st_size for f in files]
    newest = files[-1].name
    assert ack_all(srv, "c") == 300
    # the deletions go with the acks' batches (or the next one)
    h.wait_until(lambda: len(segs(srv, "c")[0]) == 1, timeout=2)
    left, left_size = segs(srv, "c")
    assert [f.name for f in left] == [newest], \
        f"after acking everything, old segments remain: {[f.name for f in left]}"
    assert left_size < size / 2
    # and the server holds no file open that rotation left behind or deletion removed: the
    # space of a deleted segment comes back only when its last descriptor is closed
    held = [os.readlink(f"/proc/{srv.proc.pid}/fd/{fd}")
            for fd in os.listdir(f"/proc/{srv.proc.pid}/fd")]
    held = [t for t in held if "/c/" in t or t.endswith("(deleted)")]
    assert len(held) == 1 and held[0].endswith(newest), held

    # the queue is whole after a restart: empty, ids go on
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    assert srv.lease("c", max=10) == []
    assert srv.queue("c")["messages"] == 0
    assert srv.publish("c", b"next")["id"] == ids[-1] + 1


def test_pinned_oldest_segment_is_compacted_and_the_pinned_message_survives(srv,
                                                                             restart_sluice):
    srv.put_queue("p", status=201)
    pin = srv.publish("p", b"pinned")["id"]
    [m] = srv.lease("p")
    srv.release("p", [m["receipt"]], error="first failure", delay="1h")
    pinned_before = srv.peek("p")["messages"][0]
    assert pinned_before["attempts"] == 1 and pinned_before["state"] == "retry", pinned_before
    for k in range(6):
        fill(srv, "p", f"b{k}", 50)
    files, size = segs(srv, "p")
    assert len(files) >= 4, f"300 KiB in 64 KiB segments gave {len(files)} files"
    assert ack_all(srv, "p", skip={pin}) == 300
    # the oldest segment is pinned, so it is not deleted: the acks' own batches, or at the
    # latest a few more publishes, compact it with the empty ones after it
    for i in range(3):
        srv.publish("p", f"after-{i}".encode())
    assert h.wait_until(lambda: len(segs(srv, "p")[0]) <= 2, timeout=3), \
        f"no compaction: {[f.name for f in segs(srv, 'p')[0]]}"
    files2, size2 = segs(srv, "p")
    assert size2 < size / 4, f"{size} bytes in {len(files)} files before, {size2} in " \
        f"{len(files2)} after"
    assert h.wait_until(lambda: "compacting" in srv.stderr()), srv.stderr()

    for how in ("kill9", "graceful"):
        if how == "kill9":
            assert srv.kill() == -9
        else:
            assert srv.stop() == 0
        srv = restart_sluice(srv)
        assert "damaged" not in srv.stderr(), srv.stderr()
        msgs = srv.peek("p", limit=100)["messages"]
        assert [unb64(m["body"]) for m in msgs] == \
            [b"pinned", b"after-0", b"after-1", b"after-2"], (how, msgs)
        p = msgs[0]
        assert p["id"] == pin and p["attempts"] == 1 and p["state"] == "retry", (how, p)
        assert p["visible_at"] == pinned_before["visible_at"], (how, p, pinned_before)
        q = srv.queue("p")
        assert q["messages"] == 4 and q["acked"] == 300, (how, q)
    # the pinned message stays out of the way until its retry time (1 h)
    got = srv.lease("p", max=10)
    assert [unb64(m["body"]) for m in got] == [b"after-0", b"after-1", b"after-2"]


def test_compaction_keeps_dead_letter_history(srv, restart_sluice):
    """A pinned message with two failed deliveries: the compacted segment must keep its
    history, so that when it is dead-lettered after the restart the history is whole."""
    srv.put_queue("h", status=201, max_attempts=3)
    pin = srv.publish("h", b"pinned")["id"]
    for err in ("e1", "e2"):
        [m] = srv.lease("h")
        srv.release("h", [m["receipt"]], error=err, delay="2s" if err == "e2" else "0")
    t_release = time.monotonic()
    for k in range(6):
        fill(srv, "h", f"b{k}", 50)
    assert ack_all(srv, "h", skip={pin}) == 300
    srv.publish_many("h", [b"a1", b"a2"])
    assert h.wait_until(lambda: len(segs(srv, "h")[0]) <= 2, timeout=3), "no compaction"
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    time.sleep(max(0.0, 2.1 - (time.monotonic() - t_release)))
    msgs = srv.lease("h", max=10)
    assert [unb64(m["body"]) for m in msgs] == [b"pinned", b"a1", b"a2"], msgs
    assert msgs[0]["attempts"] == 3
    srv.release("h", [msgs[0]["receipt"]], error="e3")
    [d] = srv.peek("h.dlq")["messages"]
    assert [x["error"] for x in d["dead_letter"]["history"]] == ["e1", "e2", "e3"], d


@pytest.mark.parametrize("space", ["deleted", "compacted"])
def test_idempotency_keys_in_their_window_survive_segment_deletion_and_compaction(
        srv, restart_sluice, space):
    """docs/api.md: an Idempotency-Key is remembered for the queue's dedup_window (5 min), even
    after its message was acked. Deleting the segment that held the publish (every message in
    it acked), or compacting it (its message still live), must not make the server forget the
    key across a restart."""
    srv.put_queue("i", status=201)
    keyed = srv.publish("i", b"keyed", headers={"Idempotency-Key": "order-1"})["id"]
    [m] = srv.lease("i")
    if space == "deleted":
        srv.ack("i", [m["receipt"]])
    else:
        srv.release("i", [m["receipt"]], delay="1h")  # live: its segment is compacted
    for k in range(6):
        fill(srv, "i", f"b{k}", 50)
    assert ack_all(srv, "i") == 300
    srv.publish_many("i", [b"t1", b"t2"])
    names = [f.name for f in segs(srv, "i")[0]]
    assert len(names) <= 2, f"segments were not {space}: {names}"
    if space == "deleted":
        assert "0000000000000001.seg" not in names, names
    # before the restart the key is known
    r = srv.post("/v1/queues/i/messages", data=b"again", headers={"Idempotency-Key": "order-1"})
    assert r.status_code == 200 and r.json()["id"] == keyed, r.text
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    r = srv.post("/v1/queues/i/messages", data=b"again", headers={"Idempotency-Key": "order-1"})
    assert r.status_code == 200 and r.json()["id"] == keyed, \
        f"after a restart, the key of message {keyed} (segment {space}) was forgotten within " \
        f"its window: {r.status_code} {r.text}"
