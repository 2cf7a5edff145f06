"""`sluice subscribe`, `sluice subscriptions` and `sluice unsubscribe` against the real server:
what subscribe sends arrives as the subscription's settings and its secret is shown once; the
table lists every subscription (or one queue's) with the counters the server keeps; --json
prints the server's replies; unsubscribe deletes, and keeps going past an unknown id."""

import http.server
import json
import re
import threading

import pytest

import sluice_harness as h
from cli_harness import show


# ---- helpers ----

SECRET = "whsec_" + h.b64(b"0123456789abcdef0123456789abcdef")


def fields(p):
    """The `name  value` lines of subscribe's human output, as a dict."""
    assert p.returncode == 0, show(p)
    out = {}
    for line in p.stdout.decode().splitlines():
        name, _, value = line.partition(" ")
        out[name] = value.strip()
    return out


def table(p):
    """A table printed by the CLI: (header cells, rows of cells split on 2+ spaces)."""
    assert p.returncode == 0, show(p)
    lines = p.stdout.decode().splitlines()
    split = [re.split(r" {2,}", line.strip()) for line in lines]
    return split[0], split[1:]


def subscriptions(sluice, **params):
    r = sluice.get("/v1/subscriptions", params=params)
    assert r.status_code == 200, h.describe(r)
    return r.json()["subscriptions"]


class Receiver:
    """A webhook receiver on loopback that answers every POST with 204 and keeps the bodies."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                bodies.append(self.rfile.read(n))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---- subscribe ----


def test_subscribe_sends_every_option_and_prints_the_subscription_with_its_secret(sluice, cli):
    p = cli("subscribe", "orders", "http://127.0.0.1:9/hook", "--secret", SECRET,
            "--max-in-flight", "3", "--max-attempts", "4", "--timeout", "2s", "--from",
            "earliest")
    f = fields(p)
    assert re.fullmatch(r"sub-[0-9a-f]{16}", f["id"]), show(p)
    assert f["queue"] == "orders" and f["url"] == "http://127.0.0.1:9/hook"
    assert f["secret"] == SECRET, "the secret is shown, since no other command shows it"
    assert f["max_in_flight"] == "3" and f["max_attempts"] == "4" and f["timeout"] == "2s"
    assert f["last_status"] == "-", "null fields are shown as '-'"
    # the server has exactly what was asked for
    r = sluice.get(f"/v1/subscriptions/{f['id']}")
    assert r.status_code == 200, h.describe(r)
    sub = r.json()
    assert (sub["queue"], sub["url"], sub["max_in_flight"], sub["max_attempts"],
            sub["timeout"]) == ("orders", "http://127.0.0.1:9/hook", 3, 4, "2s")
    assert "secret" not in sub


def test_subscribe_from_earliest_delivers_what_was_published_before(sluice, cli, receiver):
    sluice.publish_many("backlog", [b"old-1", b"old-2"])
    p = cli("subscribe", "backlog", receiver.url, "--from", "earliest")
    assert p.returncode == 0, show(p)
    assert h.wait_until(lambda: len(receiver.bodies) >= 2, timeout=10), receiver.bodies
    assert receiver.bodies == [b"old-1", b"old-2"]


def test_subscribe_from_latest_by_default_skips_what_was_published_before(sluice, cli,
                                                                          receiver):
    sluice.publish("fresh", b"before")
    p = cli("subscribe", "fresh", receiver.url)
    assert p.returncode == 0, show(p)
    sluice.publish("fresh", b"after")
    assert h.wait_until(lambda: receiver.bodies, timeout=10)
    assert receiver.bodies == [b"after"]


def test_subscribe_without_secret_shows_the_servers_random_whsec_secret(sluice, cli):
    a = fields(cli("subscribe", "q", "http://127.0.0.1:9/"))
    b = fields(cli("subscribe", "q", "http://127.0.0.1:9/"))
    for f in (a, b):
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+=*", f["secret"]), f
        assert len(h.unb64(f["secret"][6:])) >= 24
    assert a["secret"] != b["secret"] and a["id"] != b["id"]


def test_subscribe_json_prints_the_servers_201_reply(sluice, cli):
    p = cli("--json", "subscribe", "q", "http://127.0.0.1:9/", "--secret", SECRET)
    assert p.returncode == 0, show(p)
    reply = json.loads(p.stdout)
    assert reply["secret"] == SECRET and reply["queue"] == "q"
    assert [s["id"] for s in subscriptions(sluice)] == [reply["id"]]


# ---- subscriptions ----


def test_subscriptions_table_lists_every_subscription_and_one_queues(sluice, cli):
    ids = {}
    for q, url in (("alpha", "http://127.0.0.1:9/a"), ("alpha", "http://127.0.0.1:9/b"),
                   ("beta", "http://127.0.0.1:9/c")):
        ids[url] = fields(cli("subscribe", q, url))["id"]
    header, rows = table(cli("subscriptions"))
    assert header == ["ID", "QUEUE", "URL", "CIRCUIT", "IN_FLIGHT", "DELIVERED", "FAILED",
                      "LAST_STATUS", "LAST_ERROR"]
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (ids[u], q, u) for q, u in (("alpha", "http://127.0.0.1:9/a"),
                                    ("alpha", "http://127.0.0.1:9/b"),
                                    ("beta", "http://127.0.0.1:9/c")))
    _, rows = table(cli("subscriptions", "beta"))
    assert [(r[0], r[1]) for r in rows] == [(ids["http://127.0.0.1:9/c"], "beta")]


def test_subscriptions_table_shows_the_delivery_counters(sluice, cli, receiver):
    sid = fields(cli("subscribe", "counted", receiver.url))["id"]
    sluice.publish_many("counted", [b"1", b"2", b"3"])
    assert h.wait_until(lambda: subscriptions(sluice)[0]["delivered"] == 3, timeout=10)
    header, rows = table(cli("subscriptions", "counted"))
    row = dict(zip(header, rows[0]))
    assert row["ID"] == sid and row["CIRCUIT"] == "closed"
    assert (row["IN_FLIGHT"], row["DELIVERED"], row["FAILED"]) == ("0", "3", "0")


def test_subscriptions_table_shows_the_last_error_of_a_dead_endpoint(sluice, cli):
    port = h.free_port()
    fields(cli("subscribe", "dead", f"http://127.0.0.1:{port}/"))
    sluice.publish("dead", b"x")
    assert h.wait_until(lambda: subscriptions(sluice)[0]["failed"] >= 1, timeout=10)
    header, rows = table(cli("subscriptions"))
    row = dict(zip(header, rows[0]))
    assert int(row["FAILED"]) >= 1
    assert row["LAST_ERROR"] != "-" and "\n" not in row["LAST_ERROR"], row
    assert len(row["LAST_ERROR"]) <= 63, "a long error is cut to fit the table"


def test_subscriptions_json_prints_the_servers_reply(sluice, cli):
    fields(cli("subscribe", "q", "http://127.0.0.1:9/"))
    fields(cli("subscribe", "other", "http://127.0.0.1:9/"))
    p = cli("--json", "subscriptions")
    assert p.returncode == 0, show(p)
    assert json.loads(p.stdout) == sluice.get("/v1/subscriptions").json()
    p = cli("subscriptions", "other", "--json")
    assert p.returncode == 0, show(p)
    reply = json.loads(p.stdout)
    assert [s["queue"] for s in reply["subscriptions"]] == ["other"]


# ---- unsubscribe ----


def test_unsubscribe_deletes_and_delivery_stops(sluice, cli, receiver):
    sid = fields(cli("subscribe", "stopping", receiver.url))["id"]
    sluice.publish("stopping", b"before")
    assert h.wait_until(lambda: receiver.bodies, timeout=10)
    p = cli("unsubscribe", sid)
    assert p.returncode == 0, show(p)
    assert p.stdout == f"deleted {sid}\n".encode()
    assert subscriptions(sluice) == []
    assert sluice.get(f"/v1/subscriptions/{sid}").status_code == 404
    sluice.publish("stopping", b"after")
    assert not h.wait_until(lambda: len(receiver.bodies) > 1, timeout=1.5)
    assert receiver.bodies == [b"before"]


def test_unsubscribe_json_prints_the_delete_reply(sluice, cli):
    sid = fields(cli("subscribe", "q", "http://127.0.0.1:9/"))["id"]
    p = cli("--json", "unsubscribe", sid)
    assert p.returncode == 0, show(p)
    assert json.loads(p.stdout) == {"deleted": sid}


def test_unsubscribe_several_ids_goes_past_an_unknown_one_and_exits_3(sluice, cli):
    a = fields(cli("subscribe", "q", "http://127.0.0.1:9/a"))["id"]
    b = fields(cli("subscribe", "q", "http://127.0.0.1:9/b"))["id"]
    p = cli("unsubscribe", a, "sub-0000000000000000", b)
    assert p.returncode == 3, show(p)
    assert p.stdout == f"deleted {a}\ndeleted {b}\n".encode(), show(p)
    assert p.stderr.decode().startswith("sluice: subscription_not_found: "), show(p)
    assert subscriptions(sluice) == []
