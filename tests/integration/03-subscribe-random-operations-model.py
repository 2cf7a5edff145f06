"""A seeded random mix of publish, batch, lease, ack, release, pop, purge and peek on two groups,
checked after every step against a small model of the docs: every message goes to each group,
a group never gets a message it holds or has acked, ack/release answer exactly for live
receipts, and the queue and group counters (messages, published, lag, in_flight, ready) agree."""

import random

import pytest

from sluice_harness import unb64

GROUPS = ("default", "g2")


class Model:
    def __init__(self):
        self.published = 0
        self.msgs = {}   # body -> {group: "ready" | "leased" | "acked"}
        self.receipts = {}  # receipt -> (group, body), live leases only

    def publish(self, body):
        self.published += 1
        self.msgs[body] = {g: "ready" for g in GROUPS}

    def ready(self, g):
        return {b for b, st in self.msgs.items() if st[g] == "ready"}

    def settle(self):
        for b in [b for b, st in self.msgs.items() if all(s == "acked" for s in st.values())]:
            del self.msgs[b]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_agree_with_the_model(sluice, seed):
    rnd = random.Random(seed)
    sluice.put_queue("m", status=201)
    sluice.put_group("m", "g2", status=201)
    model = Model()
    n = 0
    for step in range(250):
        op = rnd.choices(["publish", "batch", "lease", "ack", "release", "pop", "stale", "purge"],
                         weights=[25, 5, 25, 15, 10, 10, 5, 1])[0]
        g = rnd.choice(GROUPS)
        where = f"seed {seed} step {step} {op} {g}"
        if op == "publish":
            body = b"m%d" % n
            n += 1
            sluice.publish("m", body)
            model.publish(body)
        elif op == "batch":
            bodies = [b"m%d" % (n + i) for i in range(rnd.randint(1, 5))]
            n += len(bodies)
            sluice.batch("m", [{"text": b.decode()} for b in bodies])
            for b in bodies:
                model.publish(b)
        elif op == "lease":
            k = rnd.randint(1, 4)
            ready = model.ready(g)
            got = sluice.lease("m", group=g, max=k)
            bodies = [unb64(x["body"]) for x in got]
            assert len(bodies) == min(k, len(ready)), where
            assert set(bodies) <= ready, where
            for x, b in zip(got, bodies):
                model.msgs[b][g] = "leased"
                model.receipts[x["receipt"]] = (g, b)
        elif op in ("ack", "release") and model.receipts:
            picked = rnd.sample(sorted(model.receipts), rnd.randint(1, min(3, len(model.receipts))))
            out = (sluice.ack("m", picked) if op == "ack" else sluice.release("m", picked))
            assert out[{"ack": "acked", "release": "released"}[op]] == len(picked), where
            assert out["not_found"] == [], where
            for r in picked:
                grp, b = model.receipts.pop(r)
                model.msgs[b][grp] = "acked" if op == "ack" else "ready"
        elif op == "pop":
            ready = model.ready(g)
            m = sluice.pop("m", group=g)
            if not ready:
                assert m is None, where
            else:
                b = unb64(m["body"])
                assert b in ready, where
                model.msgs[b][g] = "acked"
        elif op == "stale" and model.receipts:
            # A receipt that was already used is dead, for ack and release alike.
            r = rnd.choice(sorted(model.receipts))
            grp, b = model.receipts.pop(r)
            assert sluice.ack("m", [r])["acked"] == 1
            model.msgs[b][grp] = "acked"
            assert sluice.release("m", [r]) == {"released": 0, "not_found": [r]}, where
        elif op == "purge":
            assert sluice.post("/v1/queues/m/purge").json() == {"purged": len(model.msgs)}, where
            model.msgs.clear()
            model.receipts.clear()
        model.settle()

        q = sluice.queue("m")
        assert q["messages"] == len(model.msgs), where
        assert q["published"] == model.published, where
        for grp in GROUPS:
            st = sluice.group("m", grp)
            leased = sum(1 for s in model.msgs.values() if s[grp] == "leased")
            lag = sum(1 for s in model.msgs.values() if s[grp] != "acked")
            assert st["in_flight"] == leased, (where, grp, st)
            assert st["lag"] == lag, (where, grp, st)
            assert st["ready"] == lag - leased, (where, grp, st)
