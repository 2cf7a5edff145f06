"""GMQ and HTTP on one queue (docs/gmq.md): GMQ's S is a pop of the `default` consumer group and L
that group's lag, so a message published over GMQ is consumed over HTTP and the reverse, an HTTP
lease keeps a message from GMQ until it is acked or released, other consumer groups still receive
what GMQ pops, and bodies are byte-identical across the two protocols."""

import base64

import pytest

import gmq_client as g
from sluice_harness import unb64


@pytest.fixture(params=["memory", "file"])
def both(request, start_sluice):
    srv = start_sluice("--storage", request.param, "--gmq-listen", "127.0.0.1:0")
    return srv, g.gmq_port(srv)


def gmq_publish(port, queue, body):
    r = g.reply(g.call(port, g.request("P", queue, base64.b64encode(body).decode())))
    assert r["confirmation"] == "Y", r


def gmq_pop(port, queue):
    r = g.reply(g.call(port, g.request("S", queue)))
    assert r["confirmation"] == "Y", r
    return base64.b64decode(r["payload"])


def gmq_len(port, queue):
    return int(g.reply(g.call(port, g.request("L", queue)))["payload"])


def test_published_over_gmq_consumed_over_http(both):
    srv, port = both
    bodies = [b"from gmq 1", b"\x00\x01 binary \xfe\xff", b"from gmq 3"]
    for b in bodies:
        gmq_publish(port, "mixed", b)
    assert srv.queue("mixed")["messages"] == 3
    leased = srv.lease("mixed", max=2)
    assert [unb64(m["body"]) for m in leased] == bodies[:2]
    srv.ack("mixed", [m["receipt"] for m in leased])
    assert unb64(srv.pop("mixed")["body"]) == bodies[2]
    assert gmq_len(port, "mixed") == 0
    assert gmq_pop(port, "mixed") == b""


def test_published_over_http_popped_over_gmq(both):
    srv, port = both
    srv.publish("mixed", b"from http 1")
    srv.publish("mixed", b"from http 2", headers={"Content-Type": "text/plain"})
    assert gmq_len(port, "mixed") == 2
    assert gmq_pop(port, "mixed") == b"from http 1"
    assert gmq_pop(port, "mixed") == b"from http 2"
    assert srv.lease("mixed") == []
    assert srv.queue("mixed")["messages"] == 0


def test_interleaved_publishers_keep_one_fifo(both):
    srv, port = both
    gmq_publish(port, "fifo", b"1")
    srv.publish("fifo", b"2")
    gmq_publish(port, "fifo", b"3")
    srv.publish("fifo", b"4")
    assert [gmq_pop(port, "fifo"), unb64(srv.pop("fifo")["body"]), gmq_pop(port, "fifo"),
            unb64(srv.pop("fifo")["body"])] == [b"1", b"2", b"3", b"4"]


def test_http_lease_hides_a_message_from_gmq_until_released(both):
    srv, port = both
    gmq_publish(port, "lease", b"held")
    gmq_publish(port, "lease", b"next")
    held = srv.lease("lease")[0]
    assert unb64(held["body"]) == b"held"
    assert gmq_len(port, "lease") == 2  # L counts what the group has not finished
    assert gmq_pop(port, "lease") == b"next"
    assert gmq_pop(port, "lease") == b""
    srv.release("lease", [held["receipt"]])
    assert gmq_pop(port, "lease") == b"held"
    assert gmq_len(port, "lease") == 0


def test_gmq_pop_is_the_default_group_other_groups_still_get_every_message(both):
    srv, port = both
    srv.put_queue("fan", status=201)
    srv.put_group("fan", "audit", status=201)
    gmq_publish(port, "fan", b"a")
    gmq_publish(port, "fan", b"b")
    assert gmq_pop(port, "fan") == b"a"
    assert gmq_pop(port, "fan") == b"b"
    audit = srv.lease("fan", group="audit", max=10)
    assert [unb64(m["body"]) for m in audit] == [b"a", b"b"]


def test_gmq_pop_acks_durably_so_http_never_sees_it_again(both):
    srv, port = both
    srv.publish("once", b"only once")
    assert gmq_pop(port, "once") == b"only once"
    assert srv.peek("once")["messages"] == []
    assert srv.lease("once") == []
    g_info = srv.group("once", "default")
    assert g_info["in_flight"] == 0 and g_info["lag"] == 0, g_info
