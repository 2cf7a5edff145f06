"""Retention at a segment boundary (src/store_file.c "Segments"): with --max-messages 1 every
publish drops the message before it, and with --segment-bytes 64k and 10 KB bodies every sixth or
seventh publish starts a new segment. That publish then empties the segment it rotates away from
in the same loop iteration, so the segment is deleted while the batch that finishes it is still
being built (this once wrote before the store's array of segments: a heap underflow that only
the sanitizer build shows, as a crash of the server at teardown). The queue keeps the last
message, its files are the newest segment or two, and restarts, after a crash or a clean stop,
bring back that message with its counters."""

import pytest

import sluice_harness as h
from sluice_harness import unb64

BODY = 10 * 1024
N = 40  # about six segments


def body(i):
    return f"m-{i:05d}-".encode() + b"x" * (BODY - 8)


@pytest.fixture
def srv(start_sluice):
    return start_sluice("--data-dir", "data", "--segment-bytes", "64k", "--max-messages", "1")


@pytest.mark.parametrize("how", ["kill9", "graceful"])
def test_retention_that_empties_the_segment_a_publish_rotates_away_from(srv, restart, how):
    srv.put_queue("r", status=201)
    ids = [srv.publish("r", body(i))["id"] for i in range(N)]
    assert ids == list(range(ids[0], ids[0] + N)), ids
    q = srv.queue("r")
    assert q["messages"] == 1 and q["dropped"] == N - 1, q
    files = [f.name for f in h.segment_files(srv.data_dir, "r")]
    # every rotation deleted the segment before it (its only message was dropped)
    assert 1 <= len(files) <= 2 and files[-1] != "0000000000000001.seg", files

    for _ in range(2):
        srv = restart(srv, how)
        assert "damaged" not in srv.stderr(), srv.stderr()
        [m] = srv.peek("r")["messages"]
        assert m["id"] == ids[-1] and unb64(m["body"]) == body(N - 1), m
        q = srv.queue("r")
        assert q["messages"] == 1 and q["published"] == N and q["dropped"] == N - 1, q
    # ids go on, and the next publish drops the restored message
    assert srv.publish("r", b"next")["id"] == ids[-1] + 1
    [m] = srv.peek("r")["messages"]
    assert unb64(m["body"]) == b"next", m
