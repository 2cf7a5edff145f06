"""MQ Go's command line works on sluiced (SPEC §4 "`sluiced -port N -workers N -jobs N` work as
in MQ Go"; SEEDS-PROTOCOL.md §1.4): -port N / -port=N / --port N set the API port, and -workers
and -jobs are meaningful: `workers` bounds the deliveries in progress at once over every
subscription, `jobs` the deliveries leased ahead of the workers. Checked through what receivers
get and what the subscriptions report, while one receiver holds a worker by never answering."""

import pytest

from receiver import (mqgo_body, mqgo_connect, mqgo_send, receivers, sub_info,  # noqa: F401
                      subscribe, wait_for)
from sluice_harness import free_port

BASE = ["--storage", "memory", "--push-timeout", "30s", "--shutdown-timeout", "1s"]


@pytest.mark.parametrize("form", ["-port N", "-port=N", "--port N", "--port=N"])
def test_port_flag_sets_the_api_port(start_sluice, receivers, form):
    port = free_port()
    flag = form.replace("N", str(port)).split(" ")
    srv = start_sluice(*flag, "--storage", "memory", listen=False)
    assert srv.port == port and srv.host == "127.0.0.1", srv.stderr()
    rec = receivers()
    mqgo_connect(srv, "receive", rec.url("/"))
    sid = mqgo_connect(srv, "send", "")
    mqgo_send(srv, sid, "on port %d" % port)
    [got] = rec.wait_ok(1)
    assert mqgo_body(got) == "on port %d" % port


def test_mqgo_flags_together(start_sluice, receivers):
    port = free_port()
    srv = start_sluice("-port", port, "-workers", "2", "-jobs", "3", "--storage", "memory",
                       listen=False)
    assert srv.port == port
    rec = receivers()
    mqgo_connect(srv, "receive", rec.url("/"))
    sid = mqgo_connect(srv, "send", "")
    for i in range(10):
        mqgo_send(srv, sid, f"m{i}")
    rec.wait_ok(10)
    assert [mqgo_body(x) for x in rec.ok()] == [f"m{i}" for i in range(10)]


@pytest.mark.parametrize("args,mention", [
    (["-workers", "0"], "workers"),
    (["-workers", "many"], "workers"),
    (["-jobs", "0"], "jobs"),
    (["-jobs=-1"], "jobs"),
    (["-port", "70000"], "port"),
    (["-workers"], "workers"),
    (["-worker", "3"], "unknown option"),
])
def test_bad_mqgo_flags_refuse_to_start(run_sluiced, args, mention):
    r = run_sluiced("--storage", "memory", *args)
    assert r.returncode == 2, r
    assert mention in r.stderr, r


def start_stuck(start_sluice, receivers, workers, jobs):
    """A server with -workers/-jobs whose MQ Go receiver holds one worker (it never answers) while
    message "m2" waits in the queue. Returns (server, stuck receiver, sender id)."""
    srv = start_sluice(*BASE, "-workers", workers, "-jobs", jobs)
    stuck = receivers()
    stuck.hang()
    a = mqgo_connect(srv, "receive", stuck.url("/stuck"))
    sid = mqgo_connect(srv, "send", "")
    mqgo_send(srv, sid, "m1")
    stuck.wait_for(1)  # one worker is now held for 30 s
    assert sub_info(srv, f"mqgo-{a}")["in_flight"] == 1
    return srv, stuck, sid


@pytest.mark.parametrize("workers,jobs", [(1, 1), (1, 2), (2, 1)])
def test_workers_and_jobs_bound_deliveries(start_sluice, receivers, workers, jobs):
    srv, stuck, sid = start_stuck(start_sluice, receivers, workers, jobs)
    mqgo_send(srv, sid, "m2")
    # two subscriptions that find m2 waiting when they start
    b_rec, c_rec = receivers(), receivers()
    b = subscribe(srv, "mqgo", b_rec.url("/b"), **{"from": "earliest"})["id"]
    c = subscribe(srv, "mqgo", c_rec.url("/c"), **{"from": "earliest"})["id"]

    def leased():
        return sub_info(srv, b)["in_flight"] + sub_info(srv, c)["in_flight"]

    if workers == 1:
        # the only worker is stuck: nothing reaches b or c, and only `jobs` deliveries are
        # leased ahead of it (the rest wait in the queue)
        wait_for(lambda: leased() == min(jobs, 2), what=f"{min(jobs, 2)} deliveries leased ahead")
        b_rec.quiet_for(0.4)
        assert (b_rec.count(), c_rec.count()) == (0, 0)
        assert leased() == min(jobs, 2)
    else:
        # a second worker is free: both get the messages although the first one is stuck
        b_rec.wait_ok(2)
        c_rec.wait_ok(2)
        assert b_rec.bodies() == c_rec.bodies() == [b"m1", b"m2"]
    assert stuck.count() == 1
    stuck.release()


def test_jobs_bounds_deliveries_leased_for_idle_receivers_too(start_sluice, receivers):
    srv, stuck, sid = start_stuck(start_sluice, receivers, 1, 1)
    # two receivers connected while idle (their leases wait for a message), then one message
    b_rec, c_rec = receivers(), receivers()
    b = mqgo_connect(srv, "receive", b_rec.url("/b"))
    c = mqgo_connect(srv, "receive", c_rec.url("/c"))
    mqgo_send(srv, sid, "m2")
    wait_for(lambda: sub_info(srv, f"mqgo-{b}")["lag"] == 1, what="m2 published")
    b_rec.quiet_for(0.4)
    leased = sub_info(srv, f"mqgo-{b}")["in_flight"] + sub_info(srv, f"mqgo-{c}")["in_flight"]
    assert leased <= 1, f"{leased} deliveries leased ahead of the workers with -jobs 1"
    stuck.release()
