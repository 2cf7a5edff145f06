"""A flipped byte in the middle of a segment file (issue 4, src/qlog.c "Reading back"): at start
the record fails its checksum; the server keeps every readable record before and after it, never
delivers the damaged message (no corrupt bytes, ever), names the file and the offset of the
damaged range in its log and lists it in GET /v1/queues/{q} under "storage": {"damaged": [...]}.
The flip is tried in a message body and in each field of a record's head."""

import re

import pytest

import sluice_harness as h
from sluice_harness import unb64

N = 6
HIT = 3  # the message whose record is damaged


def body(i):
    return bytes((i * 7 + k) % 256 for k in range(200))


@pytest.mark.parametrize("where", ["body", "length", "type", "reserved", "checksum"])
@pytest.mark.parametrize("how", ["kill9", "graceful"])
def test_damaged_record_is_skipped_reported_and_never_delivered(start_sluice, restart_sluice,
                                                                 where, how):
    srv = start_sluice("--data-dir", "data")
    srv.put_queue("q", status=201)
    assert srv.publish_many("q", [body(i) for i in range(1, N + 1)]) == list(range(1, N + 1))
    # message N is acked: its FINISH record comes after the damage and must still count
    msgs = srv.lease("q", max=N)
    srv.ack("q", [msgs[-1]["receipt"]])
    assert (srv.kill() == -9) if how == "kill9" else (srv.stop() == 0)

    [seg] = h.segment_files(srv.data_dir, "q")
    recs = h.read_records(seg)
    [rec] = [r for r in recs if r.type == h.REC_PUBLISH and r.id == HIT]
    assert rec.body == body(HIT), "the test's reading of the record layout is off"
    assert recs[-1].type == h.REC_FINISH, recs
    offset = {"body": rec.body_offset + len(rec.body) // 2,
              "length": rec.offset + 1,    # the length's second byte: it points past the file
              "type": rec.offset + 4,
              "reserved": rec.offset + 6,
              "checksum": rec.end - 2}[where]
    corrupt = bytearray(seg.read_bytes())
    h.flip_byte(seg, offset, 0x10)
    corrupt[offset] ^= 0x10
    bad_body = bytes(corrupt[rec.body_offset:rec.body_offset + len(rec.body)])

    srv = restart_sluice(srv)
    got = srv.lease("q", max=100)
    assert [m["id"] for m in got] == [i for i in range(1, N) if i != HIT], got
    for m in got:
        assert unb64(m["body"]) == body(m["id"]), f"message {m['id']} has wrong bytes"
    delivered = [unb64(m["body"]) for m in got] + \
        [unb64(m["body"]) for m in srv.peek("q", limit=100)["messages"]]
    if where == "body":
        assert bad_body not in delivered, "the damaged body was delivered"

    info = srv.queue("q")
    assert info.get("storage", {}).get("damaged") == \
        [{"file": seg.name, "offset": rec.offset, "bytes": rec.size}], info
    assert info["messages"] == N - 2, info

    log = srv.stderr()
    assert re.search(rf"\S*{re.escape(seg.name)}: {rec.size} damaged bytes at offset "
                     rf"{rec.offset}\b", log), f"the log does not name file and offset:\n{log}"

    # the server goes on: new messages and acks are kept, the damage is still reported
    new_id = srv.publish("q", b"new")["id"]
    assert new_id == N + 1
    srv.ack("q", [got[0]["receipt"]])
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    again = srv.lease("q", max=100)
    assert [m["id"] for m in again] == [i for i in range(2, N) if i != HIT] + [new_id], again
    assert unb64(again[-1]["body"]) == b"new"
    assert srv.queue("q")["storage"]["damaged"] == info["storage"]["damaged"]


def test_damage_in_a_queues_checkpoint_keeps_its_messages(start_sluice, restart_sluice):
    """The first record of a segment is the queue's checkpoint (settings, counters). Damaged, it
    is reported like any other record; the messages after it are all delivered."""
    srv = start_sluice("--data-dir", "data")
    srv.put_queue("q", status=201, max_attempts=4)
    srv.publish_many("q", [body(i) for i in range(1, 4)])
    assert srv.kill() == -9
    [seg] = h.segment_files(srv.data_dir, "q")
    recs = h.read_records(seg)
    assert recs[0].type == h.REC_QUEUE, recs
    h.flip_byte(seg, recs[0].offset + 20)

    srv = restart_sluice(srv)
    got = srv.lease("q", max=10)
    assert [unb64(m["body"]) for m in got] == [body(i) for i in range(1, 4)]
    assert srv.queue("q")["storage"]["damaged"] == \
        [{"file": seg.name, "offset": recs[0].offset, "bytes": recs[0].size}]
    assert seg.name in srv.stderr()
    new_id = srv.publish("q", b"new")["id"]
    assert new_id == 4, "a damaged checkpoint must not make ids be reused"
