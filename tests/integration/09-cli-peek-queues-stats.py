"""sluice peek, queues and stats print tables: peek shows id, state, attempts and a body preview
without leasing; queues shows NAME MESSAGES IN_FLIGHT DELAYED GROUPS PUBLISHED ACKED with the
server's numbers; stats adds a (total) row, or shows one queue's counters, settings and
groups."""

import re

from cli_harness import show


QUEUE_COLUMNS = ["NAME", "MESSAGES", "IN_FLIGHT", "DELAYED", "GROUPS", "PUBLISHED", "ACKED"]
QUEUE_FIELDS = ["name", "messages", "in_flight", "delayed", "groups", "published", "acked"]


def table(text):
    """The rows of a printed table, each split on runs of spaces (cells hold none here)."""
    return [line.split() for line in text.splitlines() if line.strip()]


def test_peek_lists_id_state_attempts_and_body_without_leasing(sluice, cli):
    ids = sluice.publish_many("p", [b"first", b"two\nlines", b"\x00\x01\xfe"])
    sluice.lease("p")  # the first one becomes leased
    p = cli("peek", "p")
    assert p.returncode == 0, show(p)
    lines = p.stdout.decode().splitlines()
    assert lines[0].split() == ["ID", "STATE", "ATTEMPTS", "BODY"]
    rows = [line.split(None, 3) for line in lines[1:]]
    assert rows[0] == [str(ids[0]), "leased", "1", "first"]
    assert rows[1] == [str(ids[1]), "ready", "0", "two\\nlines"]
    assert rows[2][:3] == [str(ids[2]), "ready", "0"]
    assert rows[2][3].startswith("(binary, 3 bytes) 00 01 fe")
    assert len(rows) == 3
    # Peeking leased nothing: the two ready messages can still be leased.
    assert [m["id"] for m in sluice.lease("p", max=10)] == ids[1:]


def test_peek_limit_and_after_page_through_the_queue(sluice, cli):
    ids = sluice.publish_many("p", [b"m%d" % i for i in range(5)])
    first = cli("peek", "p", "--limit", "2")
    assert first.returncode == 0, show(first)
    assert [int(r[0]) for r in table(first.stdout.decode())[1:]] == ids[:2]
    assert f"--after {ids[1]}" in first.stderr.decode(), show(first)
    rest = cli("peek", "p", "--after", str(ids[1]), "--limit", "10")
    assert rest.returncode == 0, show(rest)
    assert [int(r[0]) for r in table(rest.stdout.decode())[1:]] == ids[2:]


def test_peek_group_shows_that_groups_state(sluice, cli):
    sluice.publish("p", b"x")
    sluice.put_group("p", "other", status=201)
    sluice.lease("p")
    mine = table(cli("peek", "p").stdout.decode())
    other = table(cli("peek", "p", "--group", "other").stdout.decode())
    assert mine[1][1] == "leased" and other[1][1] == "ready"


def populate(sluice):
    sluice.publish_many("alpha", [b"1", b"2", b"3"])
    sluice.publish("beta", b"x")
    sluice.publish("beta", b"later", params={"delay": "1h"})
    sluice.lease("alpha")
    [m] = sluice.lease("beta")
    sluice.ack("beta", [m["receipt"]])
    sluice.put_group("beta", "g2", status=201)


def expected_rows(sluice):
    queues = sluice.get("/v1/queues").json()["queues"]
    return [[str(q[f]) for f in QUEUE_FIELDS] for q in queues]


def test_queues_table_shows_the_servers_counters(sluice, cli):
    populate(sluice)
    p = cli("queues")
    assert p.returncode == 0, show(p)
    rows = table(p.stdout.decode())
    assert rows[0] == QUEUE_COLUMNS
    assert rows[1:] == expected_rows(sluice)
    assert [r[0] for r in rows[1:]] == ["alpha", "beta"]


def test_queues_with_no_queue_prints_only_the_header(sluice, cli):
    p = cli("queues")
    assert p.returncode == 0, show(p)
    assert table(p.stdout.decode()) == [QUEUE_COLUMNS]


def test_stats_without_queue_adds_a_total_row(sluice, cli):
    populate(sluice)
    p = cli("stats")
    assert p.returncode == 0, show(p)
    rows = table(p.stdout.decode())
    expected = expected_rows(sluice)
    assert rows[0] == QUEUE_COLUMNS and rows[1:-1] == expected
    totals = [str(sum(int(r[i]) for r in expected)) for i in range(1, len(QUEUE_COLUMNS))]
    assert rows[-1] == ["(total)"] + totals


def test_stats_of_one_queue_shows_counters_settings_and_groups(sluice, cli):
    populate(sluice)
    q = sluice.queue("beta")
    p = cli("stats", "beta")
    assert p.returncode == 0, show(p)
    text = p.stdout.decode()
    fields = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+) +(\S.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2)
    for key in ("name", "messages", "delayed", "in_flight", "published", "acked"):
        assert fields[key] == str(q[key]), text
    assert re.search(r"^settings$", text, re.M), text
    for key, value in q["settings"].items():
        assert re.search(rf"^  {re.escape(key)} +{re.escape(str(value))}$", text, re.M), text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("GROUP "))
    assert lines[header].split() == ["GROUP", "LAG", "IN_FLIGHT", "READY", "DELIVERED", "ACKED",
                                    "DEAD"]
    groups = {r[0]: r for r in table("\n".join(lines[header + 1:]))}
    assert set(groups) == {g["name"] for g in q["groups"]} == {"default", "g2"}
    for g in q["groups"]:
        assert groups[g["name"]][1] == str(g["lag"])
        assert groups[g["name"]][2] == str(g["in_flight"])
