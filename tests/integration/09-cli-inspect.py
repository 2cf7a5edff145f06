"""`sluice inspect DATA_DIR` checks a file-storage data directory offline (issue 4 point 5): it
reads every segment file with the server's own scanner, prints per queue the segment files,
record counts, message counts, an estimate of the live messages (the log replayed as recovery
replays it), the groups and the settings of the last checkpoint, and every problem with its file,
offset and length. It exits 0 when nothing is damaged, 1 on damage, 2 on a usage error, 5 when a
file cannot be read. It never writes, so it may run beside a live sluiced.

Each test runs a real sluiced with `--storage file --data-dir` on a temporary directory, stops
it, damages files by hand where the test says so, and runs the real CLI on the directory."""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import sluice_harness as h
from cli_harness import run_cli, show


# ---- helpers of this file ----

SEG1 = "0000000000000001.seg"


@pytest.fixture
def data(workdir):
    """The data directory the tests' servers use (absolute, outside the servers' own cwd)."""
    return workdir / "data"


@pytest.fixture
def server(start_sluice, data):
    """server(*extra_args) starts sluiced with the file storage on `data`."""
    def start(*args):
        return start_sluice("--storage", "file", "--data-dir", str(data), *args)
    return start


@pytest.fixture
def inspect(sluice_cli_bin):
    """inspect(*args) runs `sluice inspect *args` and returns the CompletedProcess."""
    def run(*args, env=None):
        return run_cli(sluice_cli_bin, "inspect", *[str(a) for a in args], env=env)
    return run


@pytest.fixture
def inspect_json(inspect):
    """inspect_json(*args) runs `sluice inspect --json *args` and returns (status, document)."""
    def run(*args):
        p = inspect("--json", *args)
        assert p.stdout, show(p)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            pytest.fail(f"--json printed something that is not JSON\n{show(p)}")
        return p.returncode, doc
    return run


def queue_of(doc, name):
    for q in doc["queues"]:
        if q["name"] == name:
            return q
    raise AssertionError(f"no queue {name!r} in {[q['name'] for q in doc['queues']]}")


def group_of(q, name):
    for g in q["groups"]:
        if g["name"] == name:
            return g
    raise AssertionError(f"no group {name!r} in {q['groups']}")


def problems(doc, kind=None):
    return [p for p in doc["problems"] if kind is None or p["kind"] == kind]


def seg_path(data, queue, file=SEG1):
    return data / "queues" / queue / file


def records_of(doc, queue, file=SEG1):
    """The --verbose record list of one segment."""
    for s in queue_of(doc, queue)["segments"]:
        if s["file"] == file:
            return s["record_list"]
    raise AssertionError(f"no segment {file} in queue {queue}")


def publish_record(records, msg_id):
    [r] = [r for r in records if r["type"] == "publish" and r["id"] == msg_id]
    return r


def flip(path, offset):
    b = bytearray(path.read_bytes())
    b[offset] ^= 0xFF
    path.write_bytes(bytes(b))


def snapshot(root):
    """Every file under root: size, modification time and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def restarted_counts(server, names):
    """Starts a server on the data directory, returns {queue: messages} as it recovered them,
    and stops it again."""
    srv = server()
    counts = {n: srv.queue(n)["messages"] for n in names}
    assert srv.stop() == 0, srv.stderr()
    return counts


# ---- a clean directory: what it prints ----


def test_counts_groups_and_settings_of_a_clean_directory(server, data, inspect, inspect_json):
    srv = server()
    srv.put_queue("jobs", status=201, visibility_timeout="45s", max_attempts=3)
    srv.publish_many("jobs", [b"a", b"b", b"c", b"d", b"e"])
    srv.put_group("jobs", "audit", status=201)  # from the earliest: it receives 1..6
    srv.publish("jobs", b"f")
    receipts = [m["receipt"] for m in srv.lease("jobs", max=2)]  # default: 1, 2
    srv.ack("jobs", receipts)
    [m] = srv.lease("jobs")  # default: 3, released with an error -> a FAIL record
    srv.release("jobs", [m["receipt"]], error="boom")
    [m] = srv.lease("jobs", group="audit")  # audit: 1 -> message 1 is done for both groups
    srv.ack("jobs", [m["receipt"]])
    srv.publish_many("mail", [b"x", b"y", b"z"])
    assert srv.pop("mail")["id"] == 1
    assert srv.stop() == 0, srv.stderr()

    status, doc = inspect_json(data)
    assert status == 0, doc
    assert doc["clean"] is True and doc["server_running"] is False
    assert doc["data_dir"] == str(data)
    assert problems(doc) == []
    assert [q["name"] for q in doc["queues"]] == ["jobs", "mail"]

    jobs = queue_of(doc, "jobs")
    [seg] = jobs["segments"]
    assert seg["file"] == SEG1 and seg["seq"] == 1 and seg["status"] == "ok"
    assert seg["bytes"] == seg_path(data, "jobs").stat().st_size
    assert (seg["first_id"], seg["last_id"], seg["messages"]) == (1, 6, 6)
    assert seg["damaged_bytes"] == 0 and seg["tail_bytes"] == 0
    r = jobs["records"]
    assert (r["publish"], r["finish"], r["fail"], r["drop"], r["purge"]) == (6, 3, 1, 0, 0)
    assert r["group"] == 2 and r["queue"] >= 1 and r["unreadable"] == 0
    assert seg["records"] == sum(v for k, v in r.items() if k != "unreadable")
    m = jobs["messages"]
    assert (m["published"], m["completed"], m["live"], m["last_id"]) == (6, 1, 5, 6)
    assert m["live_bytes"] == 5 and m["delayed"] == 0 and m["purged"] == 0
    default, audit = group_of(jobs, "default"), group_of(jobs, "audit")
    assert (default["gid"], default["finished"], default["failures"], default["pending"]) == \
        (1, 2, 1, 4)
    assert (audit["finished"], audit["failures"], audit["pending"]) == (1, 0, 5)
    assert not default["deleted"] and not audit["deleted"]
    cp = jobs["checkpoint"]
    assert cp["file"] == SEG1
    assert cp["settings"]["visibility_timeout"] == "45s"
    assert cp["settings"]["max_attempts"] == 3
    assert cp["settings"]["dead_letter_queue"] == "jobs.dlq" and cp["dead_letter_queue_auto"]

    mail = queue_of(doc, "mail")
    assert (mail["messages"]["published"], mail["messages"]["live"]) == (3, 2)
    assert doc["summary"]["queues"] == 2 and doc["summary"]["segments"] == 2
    assert doc["summary"]["problems"] == {"note": 0, "warning": 0, "damage": 0, "error": 0}

    # the estimate is what the server itself restores
    assert restarted_counts(server, ["jobs", "mail"]) == {"jobs": 5, "mail": 2}

    p = inspect(data)
    assert p.returncode == 0 and p.stderr == b"", show(p)
    out = p.stdout.decode()
    for text in ("== queue jobs ==", "== queue mail ==", SEG1, "result: clean", "45s",
                 "jobs.dlq (automatic)", "sluiced         not running"):
        assert text in out, out
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.startswith("SEQ  FILE"))
    assert lines[header + 1].split() == ["1", SEG1, str(seg["bytes"]), str(seg["records"]), "6",
                                         "1", "6", "ok"], out
    assert any(l.split()[:2] == ["audit", "2"] for l in lines), out
    assert all(l == l.rstrip() for l in lines), "trailing spaces"


def test_segments_rotate_with_contiguous_ids(server, data, inspect_json):
    srv = server("--segment-bytes", "65536")
    for _ in range(3):
        srv.batch("big", [{"body": h.b64(b"x" * 1000)} for _ in range(60)])
    assert srv.stop() == 0, srv.stderr()

    status, doc = inspect_json(data)
    assert status == 0, doc
    segs = queue_of(doc, "big")["segments"]
    assert len(segs) >= 2, segs
    assert [s["seq"] for s in segs] == sorted(s["seq"] for s in segs)
    assert sum(s["messages"] for s in segs) == 180
    assert segs[0]["first_id"] == 1 and segs[-1]["last_id"] == 180
    for a, b in zip(segs, segs[1:]):
        assert b["first_id"] == a["last_id"] + 1, segs
    for s in segs:
        assert s["bytes"] == seg_path(data, "big", s["file"]).stat().st_size
        assert s["file"] == "%016x.seg" % s["seq"]
    # every segment starts with a checkpoint: the last one is in the newest segment
    assert queue_of(doc, "big")["checkpoint"]["file"] == segs[-1]["file"]
    assert queue_of(doc, "big")["messages"]["live"] == 180


def test_drops_purges_and_deleted_groups_replay_as_recovery_does(server, data, inspect_json):
    srv = server()
    srv.put_queue("kept", status=201, max_messages=3)
    srv.publish_many("kept", [b"1", b"2", b"3", b"4", b"5"])  # retention drops 1 and 2
    srv.publish_many("wiped", [b"a", b"b", b"c", b"d"])
    assert srv.post("/v1/queues/wiped/purge").json() == {"purged": 4}
    srv.publish_many("wiped", [b"e", b"f"])
    srv.put_queue("fan", status=201)
    srv.put_group("fan", "extra", status=201)
    srv.publish_many("fan", [b"p", b"q", b"r"])
    srv.ack("fan", [m["receipt"] for m in srv.lease("fan", max=3)])  # default is done
    assert srv.delete("/v1/queues/fan/groups/extra").status_code == 200  # so nothing is left
    srv.publish("later", b"soon", params={"delay": "1h"})
    assert srv.stop() == 0, srv.stderr()

    status, doc = inspect_json(data)
    assert status == 0, doc
    kept = queue_of(doc, "kept")["messages"]
    assert kept["dropped"]["retention"] == 2 and kept["live"] == 3
    assert queue_of(doc, "kept")["records"]["drop"] == 2
    wiped = queue_of(doc, "wiped")
    assert wiped["messages"]["purged"] == 4 and wiped["messages"]["live"] == 2
    assert wiped["records"]["purge"] == 1
    fan = queue_of(doc, "fan")
    assert group_of(fan, "extra")["deleted"] is True
    assert fan["records"]["group_del"] == 1
    assert fan["messages"]["live"] == 0 and fan["messages"]["completed"] == 3
    later = queue_of(doc, "later")["messages"]
    assert later["live"] == 1 and later["delayed"] == 1

    assert restarted_counts(server, ["kept", "wiped", "fan", "later"]) == \
        {"kept": 3, "wiped": 2, "fan": 0, "later": 1}


def test_verbose_lists_every_record(server, data, inspect, inspect_json):
    srv = server()
    srv.publish("jobs", b"hello", params={"key": "k1"},
                headers={"Idempotency-Key": "once"})
    srv.ack("jobs", [srv.lease("jobs")[0]["receipt"]])
    assert srv.stop() == 0, srv.stderr()

    status, doc = inspect_json("--verbose", data)
    assert status == 0, doc
    recs = records_of(doc, "jobs")
    seg = queue_of(doc, "jobs")["segments"][0]
    assert len(recs) == seg["records"]
    assert recs[0]["offset"] == 32 and recs[0]["type"] == "queue"
    for a, b in zip(recs, recs[1:]):
        assert b["offset"] == a["offset"] + a["bytes"], recs
    assert recs[-1]["offset"] + recs[-1]["bytes"] == seg["bytes"]
    pub = publish_record(recs, 1)
    assert pub["key"] == "k1" and pub["idempotency_key"] == "once" and pub["body_bytes"] == 5
    [fin] = [r for r in recs if r["type"] == "finish"]
    assert fin["gid"] == 1 and fin["ids"] == [1]

    # without --verbose there is no record list
    status, doc = inspect_json(data)
    assert "record_list" not in queue_of(doc, "jobs")["segments"][0]

    p = inspect("-v", data)
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert "FILE                  OFFSET  TYPE" in out, out
    assert "key=k1" in out and "idempotency_key=once" in out, out


# ---- damage ----


def test_a_flipped_byte_is_a_damaged_range_with_its_file_and_offset(server, data, inspect,
                                                                   inspect_json):
    srv = server()
    srv.publish_many("jobs", [b"message %d" % i for i in range(1, 11)])
    assert srv.stop() == 0, srv.stderr()
    _, doc = inspect_json("--verbose", data)
    rec = publish_record(records_of(doc, "jobs"), 5)
    flip(seg_path(data, "jobs"), rec["offset"] + 20)

    status, doc = inspect_json(data)
    assert status == 1, doc
    assert doc["clean"] is False
    [p] = problems(doc)
    assert p == {"severity": "damage", "kind": "damaged", "queue": "jobs",
                 "file": f"queues/jobs/{SEG1}", "offset": rec["offset"], "bytes": rec["bytes"],
                 "detail": p["detail"]}
    jobs = queue_of(doc, "jobs")
    assert jobs["segments"][0]["status"] == "damaged"
    assert jobs["segments"][0]["damaged_bytes"] == rec["bytes"]
    assert jobs["messages"]["live"] == 9 and jobs["records"]["publish"] == 9

    p = inspect(data)
    assert p.returncode == 1, show(p)
    row = [l for l in p.stdout.decode().splitlines() if l.startswith("damage ")]
    assert len(row) == 1 and row[0].split()[1:6] == [
        "damaged", "jobs", f"queues/jobs/{SEG1}", str(rec["offset"]), str(rec["bytes"])], row
    assert "result: damage found" in p.stdout.decode()

    # recovery reports the same range, keeps the other nine messages, and leaves the file alone
    srv = server()
    info = srv.queue("jobs")
    assert info["messages"] == 9
    assert info["storage"]["damaged"] == [{"file": SEG1, "offset": rec["offset"],
                                           "bytes": rec["bytes"]}]
    assert srv.stop() == 0, srv.stderr()
    assert inspect(data).returncode == 1


def test_a_cut_tail_is_a_torn_tail_that_recovery_cuts_off(server, data, inspect, inspect_json):
    srv = server()
    srv.publish_many("jobs", [b"first", b"second", b"third", b"fourth"])
    assert srv.stop() == 0, srv.stderr()
    _, doc = inspect_json("--verbose", data)
    last = publish_record(records_of(doc, "jobs"), 4)
    path = seg_path(data, "jobs")
    size = path.stat().st_size
    assert last["offset"] + last["bytes"] == size  # a clean stop left no zero tail
    os.truncate(path, size - 10)
    # the bytes the cut record kept, up to its last non-zero one: zeros that end a file are
    # read as the zero tail (src/qlog.c), whoever wrote them
    torn = len(path.read_bytes()[last["offset"]:].rstrip(b"\0"))

    status, doc = inspect_json(data)
    assert status == 1, doc
    [p] = problems(doc)
    assert (p["severity"], p["kind"], p["file"]) == ("damage", "torn_tail", f"queues/jobs/{SEG1}")
    assert (p["offset"], p["bytes"]) == (last["offset"], torn)
    seg = queue_of(doc, "jobs")["segments"][0]
    assert seg["status"] == "torn tail" and seg["tail_bytes"] == torn
    assert seg["zero_tail_bytes"] == last["bytes"] - 10 - torn
    assert queue_of(doc, "jobs")["messages"]["live"] == 3
    out = inspect(data).stdout.decode()
    assert f"recovery cuts the file at offset {last['offset']}" in out, out

    # a restart cuts it: the directory is clean again, with the three whole messages
    assert restarted_counts(server, ["jobs"]) == {"jobs": 3}
    assert path.stat().st_size == last["offset"]
    status, doc = inspect_json(data)
    assert status == 0 and problems(doc) == [], doc


def test_damage_at_the_end_of_an_older_segment_is_damage_not_a_torn_tail(server, data,
                                                                         inspect_json):
    srv = server("--segment-bytes", "65536")
    for _ in range(2):
        srv.batch("big", [{"body": h.b64(b"y" * 1000)} for _ in range(70)])
    assert srv.stop() == 0, srv.stderr()
    _, doc = inspect_json(data)
    first = queue_of(doc, "big")["segments"][0]
    path = seg_path(data, "big", first["file"])
    os.truncate(path, first["bytes"] - 100)

    status, doc = inspect_json(data)
    assert status == 1, doc
    [p] = problems(doc)
    assert (p["kind"], p["file"]) == ("damaged", f"queues/big/{first['file']}")
    assert p["offset"] + p["bytes"] == first["bytes"] - 100


def test_a_bad_header_makes_the_whole_file_unreadable(server, data, inspect_json):
    srv = server()
    srv.publish_many("jobs", [b"a", b"b"])
    assert srv.stop() == 0, srv.stderr()
    path = seg_path(data, "jobs")
    b = bytearray(path.read_bytes())
    b[0:8] = b"NOTSLUIC"
    path.write_bytes(bytes(b))

    status, doc = inspect_json(data)
    assert status == 1, doc
    bad = problems(doc, "bad_header")
    assert len(bad) == 1, doc["problems"]
    assert (bad[0]["file"], bad[0]["offset"], bad[0]["bytes"]) == \
        (f"queues/jobs/{SEG1}", 0, len(b))
    assert "magic" in bad[0]["detail"]
    jobs = queue_of(doc, "jobs")
    assert jobs["segments"][0]["status"] == "bad header"
    assert jobs["messages"]["live"] == 0 and jobs["checkpoint"] is None
    assert [p["kind"] for p in problems(doc) if p["severity"] == "warning"] == ["no_checkpoint"]


# ---- leftovers and stray files: warnings, exit 0 ----


def test_stray_files_and_leftovers_are_warnings(server, data, inspect, inspect_json):
    srv = server()
    srv.publish("jobs", b"x")
    assert srv.stop() == 0, srv.stderr()
    (data / "notes.txt").write_text("mine")
    (seg_path(data, "jobs", "README")).write_text("hello")
    (seg_path(data, "jobs", SEG1 + ".tmp")).write_bytes(b"half a compaction")
    (seg_path(data, "jobs", "0X00000000000001.seg")).write_bytes(b"")
    (data / "trash" / "gone.1700000000000").mkdir(parents=True)
    (data / "queues" / "bad name").mkdir()
    (data / "queues" / "plainfile").write_text("")
    (data / "queues" / "empty").mkdir()

    status, doc = inspect_json(data)
    assert status == 0, doc
    assert doc["clean"] is True
    found = {(p["kind"], p["file"]) for p in problems(doc)}
    assert found == {
        ("stray", "notes.txt"),
        ("stray", "queues/jobs/README"),
        ("unfinished_compaction", f"queues/jobs/{SEG1}.tmp"),
        ("stray", "queues/jobs/0X00000000000001.seg"),
        ("trash", "trash/gone.1700000000000"),
        ("stray", "queues/bad name"),
        ("stray", "queues/plainfile"),
        ("no_segments", "queues/empty"),
    }, doc["problems"]
    assert all(p["severity"] == "warning" for p in problems(doc))
    assert doc["summary"]["problems"]["warning"] == 8
    assert queue_of(doc, "jobs")["messages"]["live"] == 1
    [lenient] = [p for p in problems(doc) if p["file"].endswith("0X00000000000001.seg")]
    assert "segment 1" in lenient["detail"], lenient

    p = inspect(data)
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert "result: clean" in out and "8 warnings" in out, out


def test_missing_and_misnamed_segments_are_reported(server, data, inspect_json):
    srv = server("--segment-bytes", "65536")
    for _ in range(3):
        srv.batch("big", [{"body": h.b64(b"z" * 1000)} for _ in range(70)])
    assert srv.stop() == 0, srv.stderr()
    _, doc = inspect_json(data)
    segs = queue_of(doc, "big")["segments"]
    assert len(segs) >= 3, segs
    middle = segs[1]["file"]
    os.unlink(seg_path(data, "big", middle))
    last = segs[-1]
    renamed = "%016x.seg" % (last["seq"] + 5)
    os.rename(seg_path(data, "big", last["file"]), seg_path(data, "big", renamed))

    status, doc = inspect_json(data)
    assert status == 0, doc
    kinds = sorted(p["kind"] for p in problems(doc))
    assert kinds == ["missing_segments", "seq_mismatch"], doc["problems"]
    [gap] = problems(doc, "missing_segments")
    assert gap["file"] == "queues/big" and f"between {segs[0]['file']} and {renamed}" in \
        gap["detail"], gap
    [mis] = problems(doc, "seq_mismatch")
    assert mis["file"] == f"queues/big/{renamed}"
    assert str(last["seq"]) in mis["detail"]


# ---- beside a running server ----


def test_a_running_server_is_detected_and_nothing_is_written(server, data, inspect,
                                                             inspect_json):
    srv = server()
    srv.publish_many("jobs", [b"a", b"b", b"c"])
    srv.ack("jobs", [srv.lease("jobs")[0]["receipt"]])
    before = snapshot(data)

    status, doc = inspect_json("--verbose", data)
    assert status == 0, doc
    assert doc["server_running"] is True
    assert queue_of(doc, "jobs")["messages"]["live"] == 2
    p = inspect(data)
    assert p.returncode == 0 and "sluiced         running" in p.stdout.decode(), show(p)
    assert snapshot(data) == before
    assert srv.publish("jobs", b"d")["id"] == 4  # its lock and files are untouched

    # a partial record after the last one of the newest segment (in its zero tail, where the
    # server writes) is a write in progress while it runs...
    path = seg_path(data, "jobs")
    assert queue_of(doc, "jobs")["segments"][0]["zero_tail_bytes"] > 0
    with open(path, "r+b") as f:
        f.seek(h.records_end(path))
        f.write(b"\x40\x00\x00\x00\x01\x00\x00\x00\xaa\xbb")
    status, doc = inspect_json(data)
    assert status == 0, doc
    [p] = problems(doc)
    assert (p["severity"], p["kind"]) == ("note", "write_in_progress"), p
    # ...and a torn tail once it is stopped
    assert srv.stop() == 0, srv.stderr()
    status, doc = inspect_json(data)
    assert status == 1, doc
    assert doc["server_running"] is False
    [p] = problems(doc)
    assert (p["kind"], p["bytes"]) == ("torn_tail", 10), p


# ---- options, usage and exit statuses ----


def test_queue_option_checks_one_queue(server, data, inspect, inspect_json):
    srv = server()
    srv.publish("alpha", b"a")
    srv.publish("beta", b"b")
    assert srv.stop() == 0, srv.stderr()
    flip(seg_path(data, "beta"), seg_path(data, "beta").stat().st_size - 3)
    (data / "stray.txt").write_text("")

    status, doc = inspect_json("--queue", "alpha", data)
    assert status == 0, doc
    assert [q["name"] for q in doc["queues"]] == ["alpha"] and problems(doc) == []
    status, doc = inspect_json(data, "-q", "beta")
    assert status == 1, doc
    assert [q["name"] for q in doc["queues"]] == ["beta"]
    assert [p["kind"] for p in problems(doc)] == ["torn_tail"]
    status, doc = inspect_json(data)
    assert status == 1
    assert sorted(p["kind"] for p in problems(doc)) == ["stray", "torn_tail"]

    p = inspect(data, "--queue", "nope")
    assert p.returncode == 5 and p.stdout == b"", show(p)
    assert b"no queue 'nope'" in p.stderr
    p = inspect(data, "--queue", "../etc")
    assert p.returncode == 2 and b"not a queue name" in p.stderr, show(p)


@pytest.mark.parametrize("args", [[], ["a", "b"], ["--bogus", "d"], ["d", "--queue"]],
                         ids=lambda a: " ".join(a) or "(none)")
def test_usage_errors_exit_2(inspect, args):
    p = inspect(*args)
    assert p.returncode == 2, show(p)
    assert p.stdout == b"" and p.stderr.startswith(b"sluice: inspect: "), show(p)
    assert b"Usage: sluice inspect DATA_DIR" in p.stderr


def test_a_directory_that_is_not_a_data_directory_or_does_not_exist(inspect, workdir):
    (workdir / "plain").mkdir()
    p = inspect(workdir / "plain")
    assert p.returncode == 2 and b"not a data directory" in p.stderr, show(p)
    p = inspect(workdir / "missing")
    assert p.returncode == 5 and b"No such file or directory" in p.stderr, show(p)
    assert p.stdout == b""


def test_inspect_needs_no_server_and_has_help(sluice_cli_bin, server, data, inspect):
    srv = server()
    srv.publish("jobs", b"x")
    assert srv.stop() == 0, srv.stderr()
    # a server address that would be a usage error for the other commands is not even looked at
    p = inspect(data, env={"SLUICE_SERVER": "not a url"})
    assert p.returncode == 0, show(p)
    p = run_cli(sluice_cli_bin, "-s", "127.0.0.1:1", "--json", "inspect", data)
    assert p.returncode == 0 and json.loads(p.stdout)["clean"] is True, show(p)

    p = inspect("--help")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert out.startswith("Usage: sluice [global options] inspect DATA_DIR")
    for text in ("--queue", "--verbose", "--json", "1 damage found"):
        assert text in out, out
    top = run_cli(sluice_cli_bin, "--help").stdout.decode()
    assert "  inspect DATA_DIR" in top and "inspect found damage" in top, top


def test_an_unreadable_segment_exits_5(server, data, sluice_cli_bin):
    """Permissions do not stop root, so the CLI runs as nobody on a copy it may list but not
    read."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI as another user")
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    if run_cli(as_nobody[0], *as_nobody[1:], str(sluice_cli_bin), "--version").returncode != 0:
        pytest.skip("the CLI binary cannot be run by another user")
    srv = server()
    srv.publish("jobs", b"x")
    assert srv.stop() == 0, srv.stderr()
    root = Path(tempfile.mkdtemp(prefix="sluice-inspect-"))
    try:
        copy = root / "data"
        shutil.copytree(data, copy)
        for p in [root, *copy.rglob("*"), copy]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        seg_path(copy, "jobs").chmod(0)
        p = run_cli(as_nobody[0], *as_nobody[1:], str(sluice_cli_bin), "--json", "inspect",
                    str(copy))
        assert p.returncode == 5, show(p)
        doc = json.loads(p.stdout)
        [e] = [p for p in problems(doc) if p["severity"] == "error"]
        assert (e["severity"], e["kind"], e["file"]) == \
            ("error", "read_error", f"queues/jobs/{SEG1}"), e
        assert "Permission denied" in e["detail"]
    finally:
        shutil.rmtree(root)
