"""The data directory belongs to one server (src/store_file.c lock_dir): a second sluiced on the
same directory refuses to start with a clear message and a non-zero status, and the first goes on
unharmed; the lock goes with the process, even a killed one. A data directory that cannot be
written — a regular file in its path, a read-only file system, an existing data directory
mounted read-only — stops the server at start with a message naming the directory and the
reason, never a server that answers and then loses what it acknowledged."""

import subprocess

import pytest

import sluice_harness as h
from sluice_harness import unb64


def test_second_server_on_the_same_data_dir_refuses_to_start(start_sluice, restart_sluice,
                                                               run_sluiced, workdir):
    data = workdir / "shared-data"
    first = start_sluice("--data-dir", str(data))
    first.publish("q", b"kept")

    res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", str(data))
    assert res.returncode != 0, res
    assert "Listening on" not in res.stderr, res
    assert str(data) in res.stderr and "in use" in res.stderr, res

    # the first one is unharmed and still owns it
    assert first.publish("q", b"after")["id"] == 2
    assert [unb64(m["body"]) for m in first.lease("q", max=10)] == [b"kept", b"after"]

    # the lock goes with the process, even one killed with SIGKILL
    assert first.kill() == -9
    second = restart_sluice(first)
    assert [unb64(m["body"]) for m in second.peek("q")["messages"]] == [b"kept", b"after"]
    res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", str(data))
    assert res.returncode != 0 and "in use" in res.stderr, res


def test_same_dir_named_differently_is_still_locked(start_sluice, run_sluiced, workdir):
    data = workdir / "d"
    start_sluice("--data-dir", str(data))
    (workdir / "link").symlink_to(data)
    for other in (str(workdir / "link"), str(workdir / "." / "d" / ".")):
        res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", other)
        assert res.returncode != 0 and "in use" in res.stderr, res


def test_data_dir_that_is_a_file_stops_the_server(run_sluiced, workdir):
    f = workdir / "not-a-dir"
    f.write_text("x")
    for d in (f, f / "sub"):
        res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", str(d))
        assert res.returncode != 0, res
        assert "Listening on" not in res.stderr, res
        assert str(d) in res.stderr and "Not a directory" in res.stderr, res


def test_read_only_file_system_stops_the_server(tmpfs, run_sluiced):
    ro = tmpfs("1m", name="ro", options="ro")
    for d in (ro, ro / "data"):
        res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", str(d))
        assert res.returncode != 0, res
        assert "Listening on" not in res.stderr, res
        assert str(d) in res.stderr and "Read-only file system" in res.stderr, res


def test_existing_data_dir_mounted_read_only_stops_the_server(start_sluice, run_sluiced,
                                                              workdir):
    data = workdir / "data"
    srv = start_sluice("--data-dir", str(data))
    srv.publish("q", b"x")
    assert srv.stop() == 0
    mounted = False
    try:
        for cmd in (["mount", "--bind", str(data), str(data)],
                    ["mount", "-o", "remount,ro,bind", str(data)]):
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                pytest.fail(f"{' '.join(cmd)} failed: {p.stderr.strip()}", pytrace=False)
            mounted = True
        res = run_sluiced("--listen", "127.0.0.1:0", "--data-dir", str(data))
        assert res.returncode != 0, res
        assert "Listening on" not in res.stderr, res
        assert str(data) in res.stderr and "Read-only file system" in res.stderr, res
    finally:
        if mounted:
            h.umount(data)
    # writable again: the data is all there
    srv = start_sluice("--data-dir", str(data))
    assert [unb64(m["body"]) for m in srv.peek("q")["messages"]] == [b"x"]
