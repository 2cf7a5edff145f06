"""sluice publish and sluice pop: a message published from an argument or from standard input
(any bytes, NULs included) comes back byte for byte from `sluice pop` writing to a pipe; the
publish options reach the server; pop on an empty queue exits 1."""

import json
import subprocess
import time

import sluice_harness as h
from cli_harness import run_cli, show
from sluice_harness import rfc3339, unb64


def test_publish_from_argument_prints_the_new_id(sluice, cli):
    p = cli("publish", "jobs", "hello")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert out.endswith("\n") and out.strip().isdigit(), show(p)
    [m] = sluice.lease("jobs")
    assert m["id"] == int(out) and unb64(m["body"]) == b"hello"


def test_publish_from_stdin_round_trips_binary_bytes_through_pop(sluice, cli):
    body = bytes(range(256)) * 8 + b"\x00\r\n\xff\x00"
    first = cli("publish", "bin", input=body)  # no MSG: standard input
    second = cli("publish", "bin", "-", input=b"second\n")  # "-": standard input too
    assert first.returncode == 0 and second.returncode == 0, show(first) + show(second)
    assert int(first.stdout) < int(second.stdout)
    # subprocess gives pop a pipe for stdout: the body must arrive verbatim, nothing added.
    p = cli("pop", "bin")
    assert p.returncode == 0, show(p)
    assert p.stdout == body
    p = cli("pop", "bin")
    assert p.returncode == 0 and p.stdout == b"second\n", show(p)


def test_pop_into_a_shell_pipeline_adds_no_bytes(sluice, sluice_cli_bin):
    sluice.publish("pipe", b"abc")
    cmd = f'"{sluice_cli_bin}" -s {sluice.url} pop pipe | od -An -tx1'
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=30,
                         env=h.server_env())
    assert out.returncode == 0, out
    assert out.stdout.split() == [b"61", b"62", b"63"]
    assert sluice.pop("pipe") is None  # it was removed


def test_pop_on_an_empty_queue_exits_1_and_prints_nothing(sluice, cli):
    sluice.put_queue("empty", status=201)
    start = time.monotonic()
    p = cli("pop", "empty", "--wait", "300ms")
    assert p.returncode == 1, show(p)
    assert p.stdout == b""
    assert time.monotonic() - start >= 0.25  # it did wait


def test_pop_json_prints_the_message_object_and_exits_1_when_empty(sluice, cli):
    mid = sluice.publish("pj", b"hi there")["id"]
    p = cli("--json", "pop", "pj")
    assert p.returncode == 0, show(p)
    reply = json.loads(p.stdout)
    assert reply["message"]["id"] == mid
    assert unb64(reply["message"]["body"]) == b"hi there"
    p = cli("--json", "pop", "pj")
    assert p.returncode == 1, show(p)
    assert json.loads(p.stdout) == {"message": None}


def test_publish_key_content_type_and_attributes_reach_the_server(sluice, cli):
    p = cli("publish", "opts", "body", "--key", "order 7&x=y", "--content-type",
            "text/plain; charset=utf-8", "--attr", "origin=cli test", "--attr", "n=1")
    assert p.returncode == 0, show(p)
    [m] = sluice.lease("opts")
    assert m["key"] == "order 7&x=y"
    attrs = m["attributes"]
    assert attrs["content-type"] == "text/plain; charset=utf-8"
    assert attrs["origin"] == "cli test" and attrs["n"] == "1"


def test_publish_without_content_type_does_not_send_curls_form_default(sluice, cli):
    p = cli("publish", "ct", "a=b")
    assert p.returncode == 0, show(p)
    [m] = sluice.lease("ct")
    assert m["attributes"].get("content-type") != "application/x-www-form-urlencoded"
    assert unb64(m["body"]) == b"a=b"


def test_publish_message_starting_with_a_dash_after_double_dash(sluice, cli):
    p = cli("publish", "dash", "--", "-v")
    assert p.returncode == 0, show(p)
    [m] = sluice.lease("dash")
    assert unb64(m["body"]) == b"-v"


def test_publish_delay_and_deliver_at_keep_the_message_invisible(sluice, cli):
    a = cli("publish", "later", "one", "--delay", "1h")
    b = cli("publish", "later", "two", "--deliver-at", rfc3339(time.time() + 3600))
    assert a.returncode == 0 and b.returncode == 0, show(a) + show(b)
    assert sluice.lease("later", max=10) == []
    states = [m["state"] for m in sluice.peek("later")["messages"]]
    assert states == ["delayed", "delayed"]


def test_publish_ttl_is_accepted(sluice, cli):
    p = cli("publish", "ttl", "x", "--ttl", "1h")
    assert p.returncode == 0, show(p)
    assert len(sluice.lease("ttl")) == 1


def test_publish_with_a_seen_idempotency_key_says_duplicate(sluice, cli):
    a = cli("publish", "idem", "x", "--idempotency-key", "k-1")
    b = cli("publish", "idem", "x", "--idempotency-key", "k-1")
    assert a.returncode == 0 and b.returncode == 0, show(a) + show(b)
    mid = int(a.stdout)
    assert a.stdout.decode() == f"{mid}\n"
    assert b.stdout.decode() == f"{mid} (duplicate)\n"


def test_publish_lines_makes_one_message_per_line_in_batches_and_prints_every_id(sluice, cli):
    # 2500 lines: three batches of at most 1000 (the server's limit); empty lines are skipped and
    # the last line needs no newline.
    data = b"\n".join(b"line %d" % i if i % 100 else b"" for i in range(2501))
    p = cli("publish", "many", "--lines", "--key", "k", input=data)
    assert p.returncode == 0, show(p)
    ids = [int(x) for x in p.stdout.split()]
    want = [b"line %d" % i for i in range(2501) if i % 100]
    assert len(ids) == len(want) == 2475 and ids == sorted(ids)
    got = sluice.peek("many", limit=1000)["messages"]
    assert [unb64(m["body"]) for m in got] == want[:1000]
    assert got[0]["id"] == ids[0] and got[0]["key"] == "k"
    assert got[0]["attributes"] == {"content-type": "text/plain"}
    assert sluice.queue("many")["messages"] == 2475


def test_publish_lines_sends_each_line_as_it_arrives(sluice, sluice_cli_bin):
    # `tail -f log | sluice publish q --lines`: a line is published while the input stays open.
    p = subprocess.Popen([str(sluice_cli_bin), "-s", sluice.url, "publish", "tail", "--lines"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=h.server_env())
    try:
        p.stdin.write(b"first\n")
        p.stdin.flush()
        assert h.wait_until(lambda: sluice.queue("tail")["messages"] == 1
                            if sluice.get("/v1/queues/tail").status_code == 200 else False,
                            timeout=10)
        p.stdin.write(b"second")
        p.stdin.close()
        assert p.wait(timeout=30) == 0
        assert len(p.stdout.read().split()) == 2
    finally:
        p.kill()
        p.wait()
    assert [unb64(m["body"]) for m in sluice.peek("tail")["messages"]] == [b"first", b"second"]


def test_publish_lines_refuses_a_message_argument_and_one_message_options(sluice, cli):
    for extra in (["msg"], ["--idempotency-key", "k"], ["--content-type", "text/csv"]):
        p = cli("publish", "q", "--lines", *extra, input=b"a\n")
        assert p.returncode == 2 and b"--lines" in p.stderr, show(p)
    assert sluice.get("/v1/queues/q").status_code == 404


def test_publish_lines_stops_at_a_batch_the_server_refuses(start_sluice, sluice_cli_bin):
    srv = start_sluice("--max-message-bytes", "1k")
    p = run_cli(sluice_cli_bin, "-s", srv.url, "publish", "big", "--lines",
                input=b"ok\n" + b"x" * 2000 + b"\n")
    assert p.returncode == 3 and b"payload_too_large" in p.stderr, show(p)
    r = srv.get("/v1/queues/big")
    assert r.status_code == 404 or r.json()["messages"] == 0
