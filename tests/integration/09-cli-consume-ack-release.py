"""sluice consume, ack and release: consume leases and shows id, attempts, receipt and body (text,
or size and hex for binary); --ack acknowledges what it printed; an empty queue exits 1 after the
wait; ack and release take the receipts consume printed, and a dead receipt exits 3."""

import json
import re
import time

from cli_harness import show


def receipts_in(text):
    return re.findall(r"^  receipt +(\S+)$", text, re.M)


def test_consume_prints_id_attempts_receipt_and_text_body(sluice, cli):
    mid = sluice.publish("c", b"hello world\nsecond line")["id"]
    p = cli("consume", "c")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert re.search(rf"^message {mid}$", out, re.M), out
    assert re.search(r"^  attempts +1$", out, re.M), out
    assert re.search(r"^  body +hello world$", out, re.M), out
    assert re.search(r"^ +second line$", out, re.M), out
    [receipt] = receipts_in(out)
    # The receipt shown is the live lease: acking it through the API works.
    assert sluice.ack("c", [receipt]) == {"acked": 1, "not_found": []}


def test_consume_shows_a_binary_body_as_size_and_hex(sluice, cli):
    sluice.publish("b", b"\x00\x01\x02\xff" * 10)
    p = cli("consume", "b")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert "(binary, 40 bytes)" in out and "00 01 02 ff" in out, out
    assert b"\x00" not in p.stdout and b"\xff" not in p.stdout


def test_consume_without_ack_leaves_the_messages_leased(sluice, cli):
    sluice.publish_many("c", [b"a", b"b"])
    p = cli("consume", "c", "--max", "5")
    assert p.returncode == 0, show(p)
    assert len(receipts_in(p.stdout.decode())) == 2
    q = sluice.queue("c")
    assert q["in_flight"] == 2 and q["acked"] == 0


def test_consume_ack_acknowledges_what_it_printed(sluice, cli):
    ids = sluice.publish_many("c", [b"one", b"two", b"three"])
    p = cli("consume", "c", "--max", "10", "--ack")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert [int(x) for x in re.findall(r"^message (\d+)$", out, re.M)] == ids
    for body in ("one", "two", "three"):
        assert re.search(rf"^  body +{body}$", out, re.M), out
    q = sluice.queue("c")
    assert q["acked"] == 3 and q["in_flight"] == 0
    assert sluice.lease("c", max=10, visibility="0") == []


def test_consume_group_and_visibility_are_passed_on(sluice, cli):
    sluice.publish("g", b"x")
    sluice.put_group("g", "billing", status=201)
    p = cli("consume", "g", "--group", "billing", "--visibility", "1h", "--json")
    assert p.returncode == 0, show(p)
    assert len(json.loads(p.stdout)["messages"]) == 1
    assert sluice.group("g", "billing")["in_flight"] == 1
    assert sluice.group("g", "default")["in_flight"] == 0


def test_consume_on_an_empty_queue_waits_then_exits_1(sluice, cli):
    sluice.put_queue("empty", status=201)
    start = time.monotonic()
    p = cli("consume", "empty", "--wait", "500ms")
    assert p.returncode == 1, show(p)
    assert p.stdout == b""
    assert time.monotonic() - start >= 0.4


def test_consume_on_a_missing_queue_is_a_server_error_not_empty(sluice, cli):
    p = cli("consume", "nosuchqueue")
    assert p.returncode == 3, show(p)
    assert p.stderr.decode().startswith("sluice: queue_not_found: "), show(p)


def test_ack_takes_the_receipts_consume_printed(sluice, cli):
    sluice.publish_many("a", [b"1", b"2"])
    got = cli("consume", "a", "--max", "2")
    receipts = receipts_in(got.stdout.decode())
    assert len(receipts) == 2, show(got)
    p = cli("ack", "a", *receipts)
    assert p.returncode == 0, show(p)
    assert p.stdout == b"acked 2\n"
    assert sluice.queue("a")["acked"] == 2


def test_ack_of_a_dead_receipt_exits_3_and_names_it(sluice, cli):
    sluice.publish_many("a", [b"1", b"2"])
    m1, m2 = sluice.lease("a", max=2)
    sluice.ack("a", [m1["receipt"]])
    p = cli("ack", "a", m1["receipt"], m2["receipt"])
    assert p.returncode == 3, show(p)
    assert p.stdout == b"acked 1\n"
    err = p.stderr.decode()
    assert "receipt_not_found" in err and m1["receipt"] in err and m2["receipt"] not in err


def test_release_makes_the_message_visible_again_as_a_new_attempt(sluice, cli):
    mid = sluice.publish("r", b"retry me")["id"]
    [m] = sluice.lease("r")
    p = cli("release", "r", m["receipt"], "--error", "upstream timeout")
    assert p.returncode == 0, show(p)
    assert p.stdout == b"released 1\n"
    [again] = sluice.lease("r")
    assert again["id"] == mid and again["attempts"] == 2


def test_release_with_delay_keeps_the_message_invisible(sluice, cli):
    sluice.publish("r", b"later")
    [m] = sluice.lease("r")
    p = cli("release", "r", m["receipt"], "--delay", "1h")
    assert p.returncode == 0, show(p)
    assert sluice.lease("r") == []
    assert sluice.queue("r")["messages"] == 1


def test_release_of_a_dead_receipt_exits_3(sluice, cli):
    sluice.put_queue("r", status=201)
    p = cli("release", "r", "not-a-receipt")
    assert p.returncode == 3, show(p)
    assert "not-a-receipt" in p.stderr.decode()
