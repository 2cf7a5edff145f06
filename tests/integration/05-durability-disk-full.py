"""A real full disk (issue 4 "Space", SPEC §5): the data directory is on a 2 MiB tmpfs that also
holds a filler file placed there beforehand. Publishing until the disk is full ends in 503
storage_unavailable; reads keep working (lease, peek, GET queue, /healthz); once the filler is
deleted, publishing resumes by itself within a few seconds, without a restart; after a crash and
a restart nothing answered 201 is lost, and nothing stored before is damaged."""

import time

import pytest

import sluice_harness as h
from sluice_harness import assert_error, unb64

BODY = 8 * 1024


def body(i):
    return f"{i:06d}".encode() + bytes([i % 251]) * (BODY - 6)


@pytest.mark.timeout(60)
def test_full_disk_refuses_writes_keeps_reads_and_recovers_by_itself(tmpfs, start_sluice,
                                                                     restart_sluice):
    fs = tmpfs("2m")
    filler = fs / "filler"
    filler.write_bytes(b"\0" * (512 * 1024))
    srv = start_sluice("--data-dir", str(fs / "data"))
    srv.put_queue("q", status=201)

    published, refused = {}, []
    i = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        i += 1
        r = srv.post("/v1/queues/q/messages", data=body(i))
        if r.status_code == 201:
            published[i] = r.json()["id"]
            assert i < 400, "2 MiB should be full long before 400 messages of 8 KiB"
            continue
        assert_error(r, 503, "storage_unavailable")
        refused.append(i)
        break
    assert refused, "the disk never filled up"
    assert len(published) >= 20, f"only {len(published)} messages fitted: is the tmpfs too small?"
    assert h.wait_until(lambda: "No space left on device" in srv.stderr()), srv.stderr()

    # while full: writes are refused at once, reads work
    for _ in range(3):
        i += 1
        r = srv.post("/v1/queues/q/messages", data=body(i), timeout=3)
        assert_error(r, 503, "storage_unavailable")
        refused.append(i)
    assert srv.alive()
    info = srv.queue("q")
    assert info["messages"] >= len(published), info
    first = srv.peek("q", limit=5)["messages"]
    assert [unb64(m["body"]) for m in first] == [body(k) for k in sorted(published)[:5]]
    [m] = srv.lease("q", visibility="60s")
    assert unb64(m["body"]) == body(min(published)), "lease gave other bytes"
    held = m  # leased while the disk is full; not acked (an ack is a write)
    r = srv.post("/v1/queues/q/ack", json={"receipts": [held["receipt"]]})
    assert_error(r, 503, "storage_unavailable")

    # space comes back: publishing resumes without a restart
    filler.unlink()
    t_free = time.monotonic()
    resumed = None
    while time.monotonic() - t_free < 5:
        i += 1
        r = srv.post("/v1/queues/q/messages", data=body(i))
        if r.status_code == 201:
            published[i] = r.json()["id"]
            resumed = time.monotonic() - t_free
            break
        assert_error(r, 503, "storage_unavailable")
        refused.append(i)
        time.sleep(0.1)
    assert resumed is not None, "publishing did not resume within 5 s of freeing space"
    for _ in range(5):
        i += 1
        published[i] = srv.publish("q", body(i))["id"]
    assert h.wait_until(lambda: "works again" in srv.stderr()), srv.stderr()

    # a crash, then a restart on the same file system: everything answered 201 is there
    assert srv.kill() == -9
    srv = restart_sluice(srv)
    got = {}
    while True:
        msgs = srv.lease("q", max=100, visibility="60s")
        if not msgs:
            break
        for m in msgs:
            b = unb64(m["body"])
            k = int(b[:6])
            assert b == body(k), f"message {m['id']} came back with other bytes"
            assert k not in got, f"message {m['id']} delivered twice after the restart"
            got[k] = m["id"]
    lost = sorted(k for k in published if k not in got)
    assert not lost, f"{len(lost)} publishes answered 201 are lost: {lost[:20]}"
    assert all(got[k] == published[k] for k in published), "ids changed across the restart"
    extra = sorted(k for k in got if k not in published)
    assert set(extra) <= set(refused), f"unknown messages: {extra}"
    info = srv.queue("q")
    assert "storage" not in info, f"damage reported after the disk was full: {info}"
    assert "torn tail" not in srv.stderr() and "damaged" not in srv.stderr(), srv.stderr()
    print(f"\n{len(published)} publishes answered 201, {len(refused)} refused with 503, "
          f"publishing resumed {resumed:.2f} s after space was freed")
