"""A torn tail (issue 4, src/qlog.c "Reading back"): after a crash (SIGKILL) the last segment
file is cut in the middle of its last record — or garbage bytes follow its last record — as a
write interrupted by a power loss leaves it. At start the server cuts the torn tail off (and says
so in its log): every complete record's message is there with its exact bytes, the cut one is
not, and publishing continues where the valid records end, so the new messages survive another
restart.

The server writes zeros ahead of its appends (the zero tail, src/qlog.c), so a killed server
leaves zeros after the last record. Most tests here strip them first, to damage a file that ends
with its last record; the zero-tail tests at the end damage the file with its zero tail in
place, as a write torn by a power loss leaves it."""

import os
import re

import pytest

import sluice_harness as h
from sluice_harness import unb64

N = 10


def body(i):
    return f"message {i} ".encode() + bytes([i]) * 150


def crash_with_messages(srv, strip=True):
    """Publishes N messages (the last record of the segment is the N-th publish) and kills the
    server. Returns the segment file and its records; the zero tail is cut off unless strip is
    false."""
    srv.put_queue("t", status=201)
    ids = srv.publish_many("t", [body(i) for i in range(1, N + 1)])
    assert ids == list(range(1, N + 1))
    assert srv.kill() == -9
    [seg] = h.segment_files(srv.data_dir, "t")
    recs = h.read_records(seg)
    last = recs[-1]
    assert last.type == h.REC_PUBLISH and last.id == N, recs
    assert h.zero_tail(seg) > 0  # a killed server leaves its zero tail
    if strip:
        assert h.strip_zero_tail(seg) == last.end
    return seg, recs


def all_messages(srv):
    return srv.lease("t", max=100)


def check_continues(srv, restart_sluice, seg, kept, complete):
    """New messages are appended after the valid records and survive another crash. `kept`:
    the old messages still in the queue; `complete`: the ids of every complete publish
    record."""
    new_ids = srv.publish_many("t", [b"after-1", b"after-2"])
    assert len(set(new_ids)) == 2 and min(new_ids) > max(kept), new_ids
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    assert "torn tail" not in srv.stderr() and "damaged" not in srv.stderr(), srv.stderr()
    msgs = all_messages(srv)
    assert [unb64(m["body"]) for m in msgs] == \
        [body(i) for i in kept] + [b"after-1", b"after-2"], msgs
    assert [m["id"] for m in msgs] == list(kept) + new_ids
    # the segment file still starts with its header and holds every record in order, and only
    # zeros follow them
    recs = h.read_records(seg)
    h.zero_tail(seg)
    assert [r.id for r in recs if r.type == h.REC_PUBLISH] == list(complete) + new_ids
    return srv


@pytest.mark.parametrize("where", ["head", "middle", "checksum"])
def test_cut_last_record_is_dropped_and_the_rest_is_kept(start_sluice, restart_sluice, where):
    srv = start_sluice("--data-dir", "data")
    seg, recs = crash_with_messages(srv)
    last = recs[-1]
    cut = {"head": last.offset + 5, "middle": last.offset + last.size // 2,
           "checksum": last.end - 1}[where]
    h.cut_file(seg, cut)

    srv = restart_sluice(srv)
    log = srv.stderr()
    m = re.search(r"(\S+): cut a torn tail of (\d+) bytes at offset (\d+)", log)
    assert m, f"the log does not say it cut a torn tail:\n{log}"
    assert os.path.samefile(srv.workdir / m.group(1), seg), m.group(0)
    assert (int(m.group(2)), int(m.group(3))) == (cut - last.offset, last.offset), m.group(0)
    assert seg.stat().st_size == last.offset  # cut back to the last complete record

    msgs = all_messages(srv)
    assert [m["id"] for m in msgs] == list(range(1, N)), msgs
    assert [unb64(m["body"]) for m in msgs] == [body(i) for i in range(1, N)]
    q = srv.queue("t")
    assert q["messages"] == N - 1 and "storage" not in q, q  # a torn tail is not damage
    srv.ack("t", [m["receipt"] for m in msgs[:3]])
    check_continues(srv, restart_sluice, seg, range(4, N), range(1, N))


@pytest.mark.parametrize("garbage", [os.urandom(61), b"\xff" * 300], ids=["random", "ones"])
def test_garbage_after_the_last_record_is_cut(start_sluice, restart_sluice, garbage):
    srv = start_sluice("--data-dir", "data")
    seg, recs = crash_with_messages(srv)
    size = seg.stat().st_size
    h.append_bytes(seg, garbage)

    srv = restart_sluice(srv)
    log = srv.stderr()
    m = re.search(r"(\S+): cut a torn tail of (\d+) bytes at offset (\d+)", log)
    assert m, f"the log does not say it cut a torn tail:\n{log}"
    assert (int(m.group(2)), int(m.group(3))) == (len(garbage), size), m.group(0)
    assert seg.stat().st_size == size

    msgs = all_messages(srv)
    assert [m["id"] for m in msgs] == list(range(1, N + 1)), msgs
    assert [unb64(m["body"]) for m in msgs] == [body(i) for i in range(1, N + 1)]
    assert "storage" not in srv.queue("t")
    check_continues(srv, restart_sluice, seg, range(1, N + 1), range(1, N + 1))


def test_segment_cut_inside_its_header_is_replaced(start_sluice, restart_sluice):
    """A crash while a new segment's header was being written leaves a file shorter than a
    header: nothing in it was ever acknowledged, so the server drops it and goes on."""
    srv = start_sluice("--data-dir", "data")
    seg, recs = crash_with_messages(srv)
    nxt = seg.with_name("%016x.seg" % (int(seg.stem, 16) + 1))
    nxt.write_bytes(b"SLUICE")

    srv = restart_sluice(srv)
    assert "incomplete segment" in srv.stderr(), srv.stderr()
    msgs = all_messages(srv)
    assert [m["id"] for m in msgs] == list(range(1, N + 1)), msgs
    new_id = srv.publish("t", b"after")["id"]
    assert new_id == N + 1
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    assert [unb64(m["body"]) for m in all_messages(srv)] == \
        [body(i) for i in range(1, N + 1)] + [b"after"]


# ---- the zero tail -----------------------------------------------------------------------------


def test_the_zero_tail_is_no_damage_and_appends_go_into_it(start_sluice, restart_sluice):
    """After a crash the zeros written ahead are the end of the records: nothing is cut or
    reported, and new records are written over the zeros, right after the old ones."""
    srv = start_sluice("--data-dir", "data")
    seg, recs = crash_with_messages(srv, strip=False)
    size = seg.stat().st_size
    assert size > recs[-1].end and size % 4096 == 0, (size, recs[-1])

    srv = restart_sluice(srv)
    assert "torn tail" not in srv.stderr() and "damage" not in srv.stderr(), srv.stderr()
    assert [unb64(m["body"]) for m in all_messages(srv)] == [body(i) for i in range(1, N + 1)]
    assert "storage" not in srv.queue("t")
    srv = check_continues(srv, restart_sluice, seg, range(1, N + 1), range(1, N + 1))
    assert h.read_records(seg)[-1].end > recs[-1].end
    # a clean stop cuts the zero tail off: the file ends with its last record
    assert srv.stop() == 0, srv.stderr()
    assert seg.stat().st_size == h.records_end(seg)


def test_zeros_after_the_last_record_are_a_zero_tail(start_sluice, restart_sluice):
    """Zeros following the last record, however few, are not a torn tail."""
    srv = start_sluice("--data-dir", "data")
    seg, _ = crash_with_messages(srv)
    h.append_bytes(seg, b"\x00" * 7)
    srv = restart_sluice(srv)
    assert "torn tail" not in srv.stderr(), srv.stderr()
    assert [m["id"] for m in all_messages(srv)] == list(range(1, N + 1))
    check_continues(srv, restart_sluice, seg, range(1, N + 1), range(1, N + 1))


@pytest.mark.parametrize("kept", [0, 12, 100])
def test_a_record_torn_inside_the_zero_tail_is_cut(start_sluice, restart_sluice, kept):
    """A write torn by a power loss inside the zero tail: the last record's first `kept` bytes
    reached the disk, the rest still reads as the zeros. Its length reaches into the zeros, so it
    is a torn write, cut off, not a whole damaged record."""
    srv = start_sluice("--data-dir", "data")
    seg, recs = crash_with_messages(srv, strip=False)
    last = recs[-1]
    with open(seg, "r+b") as f:
        f.seek(last.offset + kept)
        f.write(bytes(last.size - kept))

    srv = restart_sluice(srv)
    log = srv.stderr()
    if kept == 0:  # nothing of it reached the disk: just the zero tail
        assert "torn tail" not in log, log
    else:
        m = re.search(r"cut a torn tail of (\d+) bytes at offset (\d+)", log)
        assert m and int(m.group(2)) == last.offset, log
        assert seg.stat().st_size == last.offset  # cut, zero tail and all
    assert [m["id"] for m in all_messages(srv)] == list(range(1, N)), log
    assert "storage" not in srv.queue("t")
    check_continues(srv, restart_sluice, seg, range(1, N), range(1, N))
