/*
 * fuzz_engine.c — libFuzzer harness for the queue engine (src/engine.h).
 *
 * The input is a program: a 4-byte header sets the engine's defaults, then each operation is one
 * opcode byte followed by its argument bytes (see the OP_ list and the op_* functions). The names
 * come from small tables (8 queues including dead-letter queues and names at the length limits,
 * 4 groups, 4 ordering keys, 4 idempotency keys), so a few hundred bytes reach deep states:
 * several groups with leases, key lanes, expiries, retention drops, dead letters and redrives.
 * Time is a fake clock (engine_config_t.clock) that only the ADVANCE operation moves.
 *
 * After every operation the harness checks, through the public API only:
 *
 *   - every queue's counters: delayed <= messages, bytes == 0 without messages, in_flight is the
 *     sum over groups, each group's in_flight, ready <= lag <= visible messages, the long-poll
 *     count equals the waiters the harness has parked, monotonic totals, queue count <= max;
 *   - for the queues the operation touched, a full peek of every group agrees with the counters
 *     (lag, in_flight, ready, messages, delayed and bytes recomputed from the items), no ordering
 *     key has more messages in progress than max_in_flight_per_key, and no long-poll is parked
 *     while its group has a message it could lease (a lost wakeup);
 *   - receipts: each lease gets a new, larger lease number; a receipt that was acked, released,
 *     undone, refused once, or whose queue or group was deleted or purged never works again;
 *     a lease that nothing can have ended (not expired, no retention, no purge) always works;
 *     garbage receipts (mutated real ones) never work unless they name a live lease;
 *   - publish: idempotency keys are modelled and duplicates must match the model; ids grow;
 *   - lease: at most max messages, the max_bytes cut, never an expired message, never a delayed
 *     message before its time;
 *   - waiters: wake is called once per registration, never after engine_wait_cancel() or during
 *     engine_free(), with a status that fits (timeouts only after the deadline, SL_ESHUTDOWN only
 *     from engine_wake_all()); a woken waiter leases at once from inside the callback like the
 *     HTTP API does, and parks again when it finds nothing.
 *
 * At the end everything is freed (engine_free, then every leased message unreferenced) so that
 * LeakSanitizer sees any leak. getrandom() is replaced here with a constant so that the hash
 * seed and the first lease number, and so every run, are reproducible.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dur.h"
#include "engine.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "fuzz_input.h"

#define FUZZ_NAME "fuzz_engine"
#define FUZZ_ON_FAIL() fprintf(stderr, "fuzz_engine: at op %d\n", S.op_no)
#include "fuzz_check.h"

#define NQ 8
#define NG 4
#define NKEYS 4
#define NIDEM 4
#define NWAIT 6
#define MAX_OPS 1500
#define MAX_LEASES 1024
#define MAX_SERIALS 1024
#define T0 1795000000000LL /* 2026-11-18, an ordinary wall-clock time */
#define FAR_FUTURE 253402300799000LL

/* ---------------------------------------------------------------- names */

#define L124                                                                                   \
    "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL" \
    "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
/* q0..q2 get the automatic dead-letter queues Q.dlq; "dlq" is a shared one settable with
 * queue_put; L124 is the longest name whose automatic DLQ name (L124.dlq, 128 bytes) still fits,
 * and L125 is one letter too long to get one. */
static const char *const qnames[NQ] = {"q0", "q1", "q2", "q0.dlq", "q1.dlq", "dlq", L124, L124 "L"};
static const char *const gnames[NG] = {ENGINE_DEFAULT_GROUP, "g1", "g2", "g3"};
static const char key128[] = L124 "KKKK";
static const char *const keys[NKEYS] = {"a", "b", "c", key128};
static const char *const idem_keys[NIDEM] = {"i0", "i1", "i2", "i3"};

/* ---------------------------------------------------------------- harness state */

typedef struct {
    int qi, gi;
    uint32_t gen;
    char receipt[ENGINE_RECEIPT_LEN];
    msg_t *msg; /* the caller's reference, unreferenced at the end */
    uint64_t gid, id, lno;
    int64_t expires; /* lease expiry */
    bool dead;       /* ended for sure: must never work again */
    bool certain;    /* nothing can have ended it: must work */
} lease_rec_t;

typedef struct {
    engine_waiter_t w;
    bool parked;
    int qi, gi;
    uint32_t gen;
    int64_t deadline;
} fwait_t;

typedef struct {
    bool valid;
    uint64_t id;
    int64_t expires;
} idem_rec_t;

typedef struct {
    uint32_t gen;     /* bumped by each successful delete */
    bool lowered;     /* max_in_flight_per_key was lowered in this generation */
    uint64_t max_id;  /* largest id publish returned in this generation */
    bool have_prev;   /* prev_* hold the totals seen last */
    uint64_t prev[5]; /* published, acked, expired, dropped, dead_lettered */
    int64_t created_at;
    idem_rec_t idem[NIDEM];
} qmodel_t;

typedef struct {
    int qi;
    uint32_t gen;
    uint64_t id;
    int64_t deliver_at;
} serial_t;

static struct {
    engine_t *e;
    engine_config_t cfg;
    int64_t now;
    int op_no;
    lease_rec_t *leases;
    size_t nleases;
    uint64_t last_lno;
    fwait_t waiters[NWAIT];
    qmodel_t q[NQ];
    serial_t serials[MAX_SERIALS];
    uint32_t nserials;
    uint8_t cb_mode;
    bool saturated; /* a lease could not be recorded: checks needing all of them are off */
    bool freeing, waking_all;
    unsigned dirty; /* table queues to deep-check; bit NQ: every queue */
} S;

/* Replaces libc's getrandom (engine.c and hmap.c call it for the lease counter and the hash
 * seed) so that runs are reproducible. */
ssize_t getrandom(void *buf, size_t len, unsigned int flags);
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    (void)flags;
    memset(buf, 0x5a, len);
    return (ssize_t)len;
}

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return S.now;
}

/* ---------------------------------------------------------------- input */

/* rd_t, u8, un, take: fuzz_input.h */

/* ---------------------------------------------------------------- helpers */

static bool trace; /* FUZZ_ENGINE_TRACE is set */

static bool queue_exists(int qi)
{
    pool_t pool;
    engine_queue_info_t info;
    pool_init(&pool);
    int r = engine_queue_info(S.e, qnames[qi], &pool, &info);
    pool_cleanup(&pool);
    CHECK(r == 0 || r == SL_ENOQUEUE, "engine_queue_info(%s) = %d", qnames[qi], r);
    return r == 0;
}

/* Fills *s with the queue's settings, or the defaults it would be created with, and groups (when
 * not NULL) with which of the table's groups it has. Returns whether it exists. */
static bool queue_settings(int qi, engine_settings_t *s, bool groups[NG])
{
    pool_t pool;
    engine_queue_info_t info;
    pool_init(&pool);
    int r = engine_queue_info(S.e, qnames[qi], &pool, &info);
    if (groups)
        memset(groups, 0, NG * sizeof *groups);
    if (r == 0) {
        *s = info.settings;
        for (size_t i = 0; i < info.ngroups && groups; i++)
            for (int g = 0; g < NG; g++)
                if (strcmp(info.groups[i].name, gnames[g]) == 0)
                    groups[g] = true;
    } else {
        *s = S.cfg.defaults;
    }
    pool_cleanup(&pool);
    return r == 0;
}

static int key_index(const msg_t *m)
{
    for (int k = 0; k < NKEYS; k++)
        if (m->key_len == strlen(keys[k]) && memcmp(msg_key(m), keys[k], m->key_len) == 0)
            return k;
    return m->key_len == 0 ? -1 : -2;
}

/* Parses a receipt the way the engine documents it: three lowercase hex numbers of 1 to 16
 * digits joined by '-'. */
static bool receipt_parse(const char *s, uint64_t v[3])
{
    for (int k = 0; k < 3; k++) {
        int n = 0;
        v[k] = 0;
        for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++, n++) {
            if (n == 16)
                return false;
            v[k] = v[k] << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
        }
        if (n == 0 || (k < 2 && *s++ != '-'))
            return false;
    }
    return *s == '\0';
}

static void mark_dirty(int qi)
{
    S.dirty |= qi < 0 ? 1u << NQ : 1u << qi;
}

/* Leases can end without the harness saying so once time reaches their expiry or their
 * message's expiry. */
static void leases_clock_moved(void)
{
    for (size_t i = 0; i < S.nleases; i++) {
        lease_rec_t *l = &S.leases[i];
        if (!l->dead && l->certain &&
            (S.now >= l->expires || (msg_expires_at(l->msg) && S.now >= msg_expires_at(l->msg))))
            l->certain = false;
    }
}

static void leases_uncertain(int qi, int gi)
{
    for (size_t i = 0; i < S.nleases; i++) {
        lease_rec_t *l = &S.leases[i];
        if ((qi < 0 || l->qi == qi) && (gi < 0 || l->gi == gi))
            l->certain = false;
    }
}

static void leases_dead(int qi, int gi)
{
    for (size_t i = 0; i < S.nleases; i++) {
        lease_rec_t *l = &S.leases[i];
        if (l->qi == qi && (gi < 0 || l->gi == gi))
            l->dead = true;
    }
}

/* Records the leases out[0..n) of queue qi, group gi, leased for vis (< 0: the queue's). */
static void record_leases(int qi, int gi, engine_lease_t *out, size_t n, size_t max,
                          size_t max_bytes, int64_t vis)
{
    engine_settings_t set;
    queue_settings(qi, &set, NULL);
    if (vis < 0)
        vis = set.visibility_ms;
    bool retention = set.max_messages || set.max_bytes || set.max_age_ms;
    size_t bytes = 0;
    CHECK(n <= max, "leased %zu of at most %zu", n, max);
    for (size_t i = 0; i < n; i++) {
        msg_t *m = out[i].msg;
        uint64_t v[3];
        bytes += m->len;
        CHECK(i == 0 || max_bytes == 0 || bytes <= max_bytes,
              "lease took %zu messages, %zu bytes, past max_bytes %zu", i + 1, bytes, max_bytes);
        CHECK(out[i].attempts >= 1, "attempts %u", out[i].attempts);
        CHECK(receipt_parse(out[i].receipt, v), "malformed receipt '%s'", out[i].receipt);
        CHECK(v[1] == m->id, "receipt '%s' for message %llu", out[i].receipt,
              (unsigned long long)m->id);
        CHECK(v[2] > S.last_lno, "receipt '%s' does not follow lease number %llu", out[i].receipt,
              (unsigned long long)S.last_lno);
        S.last_lno = v[2];
        if (trace)
            fprintf(stderr, "  leased %s/%s id %llu attempts %u receipt %s expires_at %lld\n",
                    qnames[qi], gnames[gi], (unsigned long long)m->id, out[i].attempts,
                    out[i].receipt, (long long)msg_expires_at(m));
        /* Wherever the message waited (cursor, retry list, key lane), even if its timer has not
         * run yet. */
        CHECK(msg_expires_at(m) == 0 || msg_expires_at(m) > S.now,
              "leased message %llu expired at %lld, now %lld", (unsigned long long)m->id,
              (long long)msg_expires_at(m), (long long)S.now);
        CHECK(m->published_at <= S.now, "message from the future");
        if (m->len >= 8 && memcmp(msg_body(m), "SLFZ", 4) == 0) {
            uint32_t s;
            memcpy(&s, msg_body(m) + 4, 4);
            if (s < S.nserials && S.serials[s].qi == qi && S.serials[s].gen == S.q[qi].gen &&
                S.serials[s].id == m->id)
                CHECK(S.now >= S.serials[s].deliver_at,
                      "message %llu of %s leased at %lld before its delivery time %lld",
                      (unsigned long long)m->id, qnames[qi], (long long)S.now,
                      (long long)S.serials[s].deliver_at);
        }
        if (S.nleases == MAX_LEASES) {
            S.saturated = true;
            msg_unref(m);
            continue;
        }
        lease_rec_t *l = &S.leases[S.nleases++];
        memset(l, 0, sizeof *l);
        l->qi = qi;
        l->gi = gi;
        l->gen = S.q[qi].gen;
        memcpy(l->receipt, out[i].receipt, sizeof l->receipt);
        l->msg = m;
        l->gid = v[0];
        l->id = v[1];
        l->lno = v[2];
        l->expires = S.now + vis;
        l->certain = !retention && vis > 0 && (msg_expires_at(m) == 0 || msg_expires_at(m) > S.now);
    }
}

/* ---------------------------------------------------------------- waiters */

static const int64_t cb_vis[4] = {-1, 1000, 30000, 5};

static void on_wake(engine_waiter_t *w)
{
    fwait_t *f = w->data;
    int st = w->status;
    CHECK(!S.freeing, "a waiter was woken by engine_free");
    CHECK(f->parked, "waiter %d woken while not parked", (int)(f - S.waiters));
    f->parked = false;
    CHECK(st == 0 || st == SL_ETIMEDOUT || st == SL_ENOQUEUE || st == SL_ENOGROUP ||
              st == SL_ESHUTDOWN,
          "wake status %d", st);
    CHECK(st != SL_ESHUTDOWN || S.waking_all, "SL_ESHUTDOWN outside engine_wake_all");
    CHECK(st != SL_ETIMEDOUT || S.now >= f->deadline, "timed out at %lld before %lld",
          (long long)S.now, (long long)f->deadline);
    if (st != 0)
        return;
    /* As the HTTP API does: lease at once, park again when there is nothing. */
    engine_lease_t out[2];
    size_t n = 0, max = 1 + (S.cb_mode & 1);
    int64_t vis = cb_vis[(S.cb_mode >> 2) & 3];
    int r = engine_lease(S.e, qnames[f->qi], gnames[f->gi], max, 0, vis, out, &n);
    CHECK(r == 0 || r == SL_ENOQUEUE || r == SL_ENOGROUP, "lease from wake = %d", r);
    if (r != 0)
        return;
    if (n == 0) {
        r = engine_wait(S.e, qnames[f->qi], gnames[f->gi], &f->w, f->deadline);
        CHECK(r == 0, "engine_wait from wake = %d", r);
        f->parked = true;
        return;
    }
    size_t first = S.nleases;
    record_leases(f->qi, f->gi, out, n, max, 0, vis);
    if (S.cb_mode & 2) {
        /* The client went away before the reply: undo, as api.c does. */
        for (size_t i = first; i < S.nleases; i++) {
            lease_rec_t *l = &S.leases[i];
            r = engine_undo(S.e, qnames[l->qi], l->receipt);
            CHECK(r == 0, "undo of fresh lease '%s' = %d", l->receipt, r);
            l->dead = true;
        }
    }
}

/* ---------------------------------------------------------------- checks */

static void check_monotonic(int qi, const engine_queue_info_t *in)
{
    qmodel_t *m = &S.q[qi];
    uint64_t now[5] = {in->published, in->acked, in->expired, in->dropped, in->dead_lettered};
    if (m->have_prev) {
        CHECK(in->created_at == m->created_at, "%s: created_at changed", qnames[qi]);
        for (int k = 0; k < 5; k++)
            CHECK(now[k] >= m->prev[k], "%s: total %d went from %llu to %llu", qnames[qi], k,
                  (unsigned long long)m->prev[k], (unsigned long long)now[k]);
    }
    memcpy(m->prev, now, sizeof now);
    m->created_at = in->created_at;
    m->have_prev = true;
}

static int table_index(const char *name)
{
    for (int i = 0; i < NQ; i++)
        if (strcmp(qnames[i], name) == 0)
            return i;
    return -1;
}

typedef struct {
    uint64_t id;
    uint32_t len;
} idlen_t;

static int cmp_idlen(const void *a, const void *b)
{
    uint64_t x = ((const idlen_t *)a)->id, y = ((const idlen_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* Checks one queue's counters against each other and, when deep, against a full peek. */
static void check_queue(const char *name, bool deep)
{
    pool_t pool;
    engine_queue_info_t in;
    int qi = table_index(name);
    pool_init(&pool);
    CHECK(engine_queue_info(S.e, name, &pool, &in) == 0, "listed queue %s has no info", name);
    CHECK(in.delayed <= in.messages, "%s: delayed %llu > messages %llu", name,
          (unsigned long long)in.delayed, (unsigned long long)in.messages);
    CHECK(in.messages > 0 || in.bytes == 0, "%s: %llu bytes in no messages", name,
          (unsigned long long)in.bytes);
    CHECK(in.settings.max_in_flight_per_key >= 1, "%s: max_in_flight_per_key 0", name);
    CHECK(in.settings.dlq[0] == '\0' ||
              (engine_name_valid(in.settings.dlq, strlen(in.settings.dlq)) &&
               strcmp(in.settings.dlq, name) != 0),
          "%s: dead-letter queue '%s'", name, in.settings.dlq);
    CHECK(in.ngroups >= 1 && strcmp(in.groups[0].name, ENGINE_DEFAULT_GROUP) == 0,
          "%s: the default group is not first", name);
    uint64_t visible = in.messages - in.delayed, inflight = 0;
    for (size_t i = 0; i < in.ngroups; i++) {
        engine_group_info_t *g = &in.groups[i];
        inflight += g->in_flight;
        CHECK(g->lag <= visible, "%s/%s: lag %llu > visible messages %llu", name, g->name,
              (unsigned long long)g->lag, (unsigned long long)visible);
        CHECK(g->in_flight <= g->lag && g->ready <= g->lag,
              "%s/%s: lag %llu in_flight %llu ready %llu", name, g->name,
              (unsigned long long)g->lag, (unsigned long long)g->in_flight,
              (unsigned long long)g->ready);
        CHECK(g->acked <= in.acked, "%s/%s: acked", name, g->name);
        engine_group_info_t one;
        CHECK(engine_group_info(S.e, name, g->name, &pool, &one) == 0 && one.lag == g->lag &&
                  one.ready == g->ready && one.in_flight == g->in_flight &&
                  one.waiting == g->waiting && one.delivered == g->delivered,
              "%s/%s: group_info differs from queue_info", name, g->name);
        if (qi >= 0) {
            uint64_t parked = 0;
            for (int w = 0; w < NWAIT; w++)
                parked += S.waiters[w].parked && S.waiters[w].qi == qi &&
                          !strcmp(gnames[S.waiters[w].gi], g->name);
            CHECK(g->waiting == parked, "%s/%s: %llu waiting, %llu parked", name, g->name,
                  (unsigned long long)g->waiting, (unsigned long long)parked);
        }
    }
    CHECK(inflight == in.in_flight, "%s: in_flight %llu, groups sum to %llu", name,
          (unsigned long long)in.in_flight, (unsigned long long)inflight);
    if (qi >= 0)
        check_monotonic(qi, &in);
    if (!deep) {
        pool_cleanup(&pool);
        return;
    }

    /* Deep: peek every group and recompute. */
    size_t cap = (size_t)in.messages + 1;
    engine_peek_item_t *items = malloc(cap * sizeof *items);
    idlen_t *ids = malloc(cap * in.ngroups * sizeof *ids);
    size_t nids = 0;
    uint64_t bytes_union = 0, bytes_delayed = 0, ndelayed = 0;
    for (size_t gi = 0; gi < in.ngroups; gi++) {
        engine_group_info_t *g = &in.groups[gi];
        size_t n = 0;
        bool more = true;
        int r = engine_peek(S.e, name, g->name, 0, cap, items, &n, &more);
        CHECK(r == 0, "peek %s/%s = %d", name, g->name, r);
        CHECK(!more && n <= in.messages, "%s/%s: peek gave %zu (more %d) of %llu messages", name,
              g->name, n, more, (unsigned long long)in.messages);
        uint64_t lag = 0, leased = 0, ready = 0, retry = 0, retry_delay = 0;
        uint32_t inprog[NKEYS] = {0}, waiting[NKEYS] = {0}, readyk[NKEYS] = {0};
        bool avail = false, avail_new = false; /* a redelivery / a new message could be leased */
        for (size_t i = 0; i < n; i++) {
            engine_peek_item_t *it = &items[i];
            msg_t *m = it->msg;
            int k = key_index(m);
            CHECK(k != -2, "%s: message %llu with an unknown key", name, (unsigned long long)m->id);
            CHECK(i == 0 || items[i - 1].msg->id < m->id, "%s/%s: peek out of order", name,
                  g->name);
            CHECK(it->state >= ENGINE_READY && it->state <= ENGINE_ACKED, "state %d", it->state);
            bool live = msg_expires_at(m) == 0 || msg_expires_at(m) > S.now;
            switch (it->state) {
            case ENGINE_DELAYED:
                if (gi == 0) {
                    ndelayed++;
                    bytes_delayed += m->len;
                }
                continue;
            case ENGINE_READY:
                ready++;
                avail_new |= live;
                if (k >= 0)
                    readyk[k]++;
                break;
            case ENGINE_LEASED:
                leased++;
                CHECK(it->attempts >= 1 && it->until > 0, "leased item");
                if (k >= 0)
                    inprog[k]++;
                break;
            case ENGINE_RETRY:
                ready++;
                retry++;
                avail |= live; /* an expired one is dropped, not leased */
                if (k >= 0)
                    inprog[k]++;
                break;
            case ENGINE_RETRY_DELAY:
                retry_delay++;
                CHECK(it->until > 0, "retry_delay without a time");
                if (k >= 0)
                    inprog[k]++;
                break;
            case ENGINE_WAITING_KEY:
                CHECK(k >= 0, "%s/%s: message %llu waits for a key it has not", name, g->name,
                      (unsigned long long)m->id);
                waiting[k]++;
                break;
            case ENGINE_ACKED:
                break;
            }
            ids[nids++] = (idlen_t){m->id, m->len};
            if (it->state != ENGINE_ACKED)
                lag++;
        }
        uint32_t limit = in.settings.max_in_flight_per_key;
        for (int k = 0; k < NKEYS; k++) {
            CHECK(qi < 0 || S.q[qi].lowered || inprog[k] <= limit,
                  "%s/%s: %u messages of key %d in progress, limit %u", name, g->name, inprog[k], k,
                  limit);
            /* A key with room and messages waiting must let the first of them go. */
            CHECK(!(inprog[k] < limit && waiting[k] && readyk[k] == 0),
                  "%s/%s: key %d has %u in progress of %u and %u waiting, none ready", name,
                  g->name, k, inprog[k], limit, waiting[k]);
        }
        CHECK(lag == g->lag, "%s/%s: lag %llu, peek finds %llu", name, g->name,
              (unsigned long long)g->lag, (unsigned long long)lag);
        CHECK(leased == g->in_flight, "%s/%s: in_flight %llu, peek finds %llu leased", name,
              g->name, (unsigned long long)g->in_flight, (unsigned long long)leased);
        /* The group's own limit: messages in progress (leased, or released and waiting for
         * redelivery) never pass it (the fuzzer only ever raises or lifts a limit), and new
         * messages are only available while there is room. */
        uint64_t progress = leased + retry + retry_delay;
        CHECK(g->max_in_flight == 0 || progress <= g->max_in_flight,
              "%s/%s: %llu in progress, max_in_flight %u", name, g->name,
              (unsigned long long)progress, g->max_in_flight);
        if (g->max_in_flight == 0 || progress < g->max_in_flight)
            avail |= avail_new;
        /* Documented approximation (docs/api.md, group `ready`): "a keyed message the group has
         * not reached yet counts as ready until it is reached", even when peek shows it waiting
         * behind its ordering key and a lease would not return it. So ready may exceed what peek
         * finds by up to the waiting_key messages. */
        uint64_t nwaitkey = 0;
        for (int k = 0; k < NKEYS; k++)
            nwaitkey += waiting[k];
        uint64_t lo = ready, hi = ready + nwaitkey;
        if (g->max_in_flight) { /* new messages only count up to the room under the limit */
            uint64_t room = progress < g->max_in_flight ? g->max_in_flight - progress : 0;
            lo = retry + (lo - retry < room ? lo - retry : room);
            hi = retry + (hi - retry < room ? hi - retry : room);
        }
        CHECK(lo <= g->ready && g->ready <= hi,
              "%s/%s: ready %llu, peek finds %llu (and %llu waiting for their key)", name, g->name,
              (unsigned long long)g->ready, (unsigned long long)ready,
              (unsigned long long)nwaitkey);
        if (qi >= 0 && !S.saturated) {
            for (int w = 0; w < NWAIT; w++) {
                fwait_t *f = &S.waiters[w];
                CHECK(!(f->parked && f->qi == qi && !strcmp(gnames[f->gi], g->name) && avail),
                      "%s/%s: waiter %d is parked while a message is available (lost wakeup)", name,
                      g->name, w);
            }
        }
        for (size_t i = 0; i < n; i++)
            msg_unref(items[i].msg);
    }
    /* Every visible message is some group's (the default group's at least, unless it was sent
     * to one group only), and every delayed one is the default group's. */
    qsort(ids, nids, sizeof *ids, cmp_idlen);
    size_t uniq = 0;
    for (size_t i = 0; i < nids; i++) {
        if (i > 0 && ids[i].id == ids[i - 1].id)
            continue;
        uniq++;
        bytes_union += ids[i].len;
    }
    CHECK(ndelayed == in.delayed, "%s: delayed %llu, default group peeks %llu", name,
          (unsigned long long)in.delayed, (unsigned long long)ndelayed);
    CHECK(uniq == visible, "%s: %llu visible messages, groups peek %zu", name,
          (unsigned long long)visible, uniq);
    CHECK(bytes_union + bytes_delayed == in.bytes, "%s: bytes %llu, peek sums %llu", name,
          (unsigned long long)in.bytes, (unsigned long long)(bytes_union + bytes_delayed));
    free(ids);
    free(items);
    pool_cleanup(&pool);
}

static void check_all(void)
{
    pool_t pool;
    engine_queue_info_t *list;
    size_t n;
    pool_init(&pool);
    engine_queue_list(S.e, &pool, &list, &n);
    CHECK(n == engine_queue_count(S.e), "queue_list %zu, queue_count %zu", n,
          engine_queue_count(S.e));
    CHECK(n <= S.cfg.max_queues, "%zu queues, max %u", n, S.cfg.max_queues);
    for (size_t i = 0; i < n; i++) {
        CHECK(i == 0 || strcmp(list[i - 1].name, list[i].name) < 0, "queue_list not sorted");
        int qi = table_index(list[i].name);
        bool deep = (S.dirty >> NQ) & 1 || (qi >= 0 && ((S.dirty >> qi) & 1)) || qi < 0;
        check_queue(list[i].name, deep);
    }
    /* Table queues that do not exist: nothing may be parked on them or leased from them. */
    for (int qi = 0; qi < NQ; qi++) {
        if (queue_exists(qi))
            continue;
        for (int w = 0; w < NWAIT; w++)
            CHECK(!(S.waiters[w].parked && S.waiters[w].qi == qi),
                  "waiter %d parked on deleted queue %s", w, qnames[qi]);
    }
    pool_cleanup(&pool);
    S.dirty = 0;
}

/* ---------------------------------------------------------------- operations */

static const int64_t deltas[16] = {0,    1,    2,    5,     10,    50,     100,     500,
                                   1000, 2000, 5000, 30000, 60000, 600000, 3600000, 2 * 86400000LL};

/* Builds one message to publish from the input; returns its serial (written at the start of
 * its body) or -1 when it is too short to carry one. */
static int read_item(rd_t *r, int qi, engine_pub_t *p)
{
    static const size_t sizes[8] = {8, 8, 9, 16, 64, 100, 1000, 0};
    uint8_t f = u8(r), b = u8(r);
    size_t len = sizes[b & 7];
    const char *key = NULL;
    size_t klen = 0;
    memset(p, 0, sizeof *p);
    if (f & 1) {
        static const int64_t delays[8] = {1, 10, 100, 1000, 30000, -1, 0, DUR_MAX_MS};
        uint8_t d = u8(r);
        p->deliver_at = (d & 0x80) ? FAR_FUTURE : S.now + delays[d & 7];
    }
    if (f & 2) {
        static const int64_t ttls[8] = {1, 10, 100, 1000, 5000, 60000, DUR_MAX_MS, 0};
        p->ttl_ms = ttls[u8(r) & 7];
    }
    if (f & 4) {
        key = keys[(b >> 3) & 3];
        klen = strlen(key);
    }
    if (f & 8) {
        p->idem_key = idem_keys[(b >> 5) & 3];
        p->idem_len = strlen(p->idem_key);
    }
    msg_attrs_buf_t a;
    msg_attrs_init(&a);
    if (f & 16) {
        /* Up to the API's 16 attributes; odd counts get values of the largest size. */
        static char big[MSG_ATTR_VALUE_MAX];
        unsigned na = u8(r) % (MSG_ATTR_COUNT_MAX + 1);
        memset(big, 'v', sizeof big);
        for (unsigned i = 0; i < na; i++) {
            char nm[8];
            int nl = snprintf(nm, sizeof nm, "a%u", i);
            CHECK(msg_attrs_add(&a, nm, (size_t)nl, big, na & 1 ? sizeof big : 2) == 0, "attrs");
        }
    }
    p->msg = msg_new(NULL, len, key, klen, a.buf, a.len);
    msg_attrs_cleanup(&a);
    memset(msg_body(p->msg), 'x', len);
    if (len < 8 || S.nserials == MAX_SERIALS)
        return -1;
    uint32_t s = S.nserials++;
    memcpy(msg_body(p->msg), "SLFZ", 4);
    memcpy(msg_body(p->msg) + 4, &s, 4);
    S.serials[s] = (serial_t){qi, S.q[qi].gen, 0, p->deliver_at};
    return (int)s;
}

static void op_publish(rd_t *r, size_t n)
{
    int qi = u8(r) % NQ;
    engine_settings_t set;
    bool existed = queue_settings(qi, &set, NULL);
    engine_pub_t items[4];
    int serial[4];
    uint32_t first_serial = S.nserials;
    for (size_t i = 0; i < n; i++)
        serial[i] = read_item(r, qi, &items[i]);
    int rc = engine_publish(S.e, qnames[qi], items, n);
    mark_dirty(qi);
    CHECK(rc == 0 || (rc == SL_ETOOMANY && !existed), "publish to %s = %d", qnames[qi], rc);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            msg_unref(items[i].msg);
        S.nserials = first_serial;
        return;
    }
    qmodel_t *m = &S.q[qi];
    for (size_t i = 0; i < n; i++) {
        engine_pub_t *p = &items[i];
        int k = -1;
        for (int j = 0; j < NIDEM; j++)
            if (p->idem_key == idem_keys[j])
                k = j;
        bool expect_dup =
            k >= 0 && set.dedup_ms > 0 && m->idem[k].valid && m->idem[k].expires > S.now;
        CHECK(p->duplicate == expect_dup, "%s: item %zu duplicate %d, model says %d", qnames[qi], i,
              p->duplicate, expect_dup);
        serial_t *t = serial[i] >= 0 ? &S.serials[serial[i]] : NULL;
        if (p->duplicate) {
            CHECK(p->id == m->idem[k].id, "%s: duplicate of %llu, model says %llu", qnames[qi],
                  (unsigned long long)p->id, (unsigned long long)m->idem[k].id);
            if (t)
                t->id = 0; /* never stored */
        } else {
            CHECK(p->id > m->max_id, "%s: id %llu after %llu", qnames[qi],
                  (unsigned long long)p->id, (unsigned long long)m->max_id);
            m->max_id = p->id;
            if (t)
                t->id = p->id;
            if (k >= 0 && set.dedup_ms > 0)
                m->idem[k] = (idem_rec_t){true, p->id, S.now + set.dedup_ms};
        }
    }
}

static void op_lease(rd_t *r)
{
    static const size_t maxes[8] = {1, 1, 2, 3, 5, 8, 16, 64};
    static const size_t max_bytes[4] = {0, 0, 1, 200};
    static const int64_t vis[8] = {-1, -1, 0, 1, 100, 1000, 30000, DUR_MAX_MS};
    uint8_t a = u8(r), b = u8(r);
    int qi = a & 7, gi = (a >> 3) & 3;
    size_t max = maxes[a >> 5];
    bool groups[NG];
    engine_settings_t set;
    bool exists = queue_settings(qi, &set, groups);
    engine_lease_t out[64];
    size_t n = 99;
    int rc = engine_lease(S.e, qnames[qi], gnames[gi], max, max_bytes[b & 3], vis[(b >> 2) & 7],
                          out, &n);
    mark_dirty(-1); /* expired messages met on the way are dropped */
    if (!exists) {
        CHECK(rc == SL_ENOQUEUE && n == 0, "lease from missing %s = %d", qnames[qi], rc);
        return;
    }
    if (!groups[gi]) {
        CHECK(rc == SL_ENOGROUP && n == 0, "lease from missing %s/%s = %d", qnames[qi], gnames[gi],
              rc);
        return;
    }
    CHECK(rc == 0, "lease %s/%s = %d", qnames[qi], gnames[gi], rc);
    record_leases(qi, gi, out, n, max, max_bytes[b & 3], vis[(b >> 2) & 7]);
}

static lease_rec_t *pick_lease(rd_t *r)
{
    uint8_t x = u8(r);
    if (S.nleases == 0)
        return NULL;
    return &S.leases[S.nleases - 1 - x % S.nleases];
}

/* Checks the result of ack, release or undo with lease l's receipt. */
static void settle_result(lease_rec_t *l, int rc, const char *what)
{
    CHECK(rc == 0 || rc == SL_ENORECEIPT || rc == SL_ENOQUEUE, "%s = %d", what, rc);
    CHECK(rc != SL_ENOQUEUE || !queue_exists(l->qi), "%s: ENOQUEUE for an existing queue", what);
    CHECK(!(l->dead && rc == 0), "%s worked with ended receipt '%s' of %s", what, l->receipt,
          qnames[l->qi]);
    CHECK(!(l->certain && !l->dead && rc != 0), "%s failed (%d) with live receipt '%s' of %s", what,
          rc, l->receipt, qnames[l->qi]);
    l->dead = true;
}

static const int64_t release_delays[8] = {0, 0, 1, 100, 1000, 60000, DUR_MAX_MS, 5};

static const char *release_error(uint8_t x)
{
    static char big[700];
    if (!big[0]) {
        memset(big, 'e', sizeof big - 1);
        big[100] = '\n';
        big[300] = '\r';
    }
    switch (x & 3) {
    case 1:
        return "boom";
    case 2:
        return big;
    default:
        return NULL;
    }
}

static void op_settle(rd_t *r, int kind)
{
    lease_rec_t *l = pick_lease(r);
    uint8_t x = kind == 1 ? u8(r) : 0;
    if (l == NULL)
        return;
    int rc;
    if (kind == 0)
        rc = engine_ack(S.e, qnames[l->qi], l->receipt);
    else if (kind == 1)
        rc = engine_release(S.e, qnames[l->qi], l->receipt, release_delays[x & 7],
                            release_error(x >> 3));
    else
        rc = engine_undo(S.e, qnames[l->qi], l->receipt);
    mark_dirty(-1); /* release may dead-letter into any queue */
    settle_result(l, rc, kind == 0 ? "ack" : kind == 1 ? "release" : "undo");
}

/* Uses a receipt made from a real one by a mutation. */
static void op_garbage(rd_t *r)
{
    uint8_t a = u8(r);
    lease_rec_t *l = pick_lease(r);
    char g[ENGINE_RECEIPT_LEN + 32];
    int qi = l ? l->qi : a % NQ;
    const char *base = l ? l->receipt : "1-1-1";
    switch ((a >> 2) % 12) {
    case 0: /* another group */
        snprintf(g, sizeof g, "%llx%s", (unsigned long long)(l ? l->gid + 1 : 2),
                 strchr(base, '-'));
        break;
    case 1: /* another message */
        snprintf(g, sizeof g, "%llx-%llx-%llx", (unsigned long long)(l ? l->gid : 1),
                 (unsigned long long)(l ? l->id + 1 : 2), (unsigned long long)(l ? l->lno : 1));
        break;
    case 2: /* another lease number */
        snprintf(g, sizeof g, "%llx-%llx-%llx", (unsigned long long)(l ? l->gid : 1),
                 (unsigned long long)(l ? l->id : 1), (unsigned long long)(l ? l->lno - 1 : 0));
        break;
    case 3:
        snprintf(g, sizeof g, "%s0", base);
        break;
    case 4:
        snprintf(g, sizeof g, "0%s", base);
        break;
    case 5:
        snprintf(g, sizeof g, "%s", base);
        for (char *p = g; *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 32);
        break;
    case 6:
        g[0] = '\0';
        break;
    case 7:
        snprintf(g, sizeof g, "1-1-12345678901234567");
        break;
    case 8:
        snprintf(g, sizeof g, "%s-", base);
        break;
    case 9:
        snprintf(g, sizeof g, "-%s", base);
        break;
    case 10: /* the right receipt in another queue */
        snprintf(g, sizeof g, "%s", base);
        qi = (qi + 1 + (a >> 6)) % NQ;
        break;
    default: { /* bytes from the input */
        size_t k = 0, n = u8(r) % 24;
        for (; k < n; k++) {
            g[k] = (char)u8(r);
            if (g[k] == '\0')
                break;
        }
        g[k] = '\0';
        break;
    }
    }
    /* Which tracked live lease, if any, the garbage names. */
    uint64_t v[3];
    lease_rec_t *named = NULL;
    if (receipt_parse(g, v))
        for (size_t i = 0; i < S.nleases; i++) {
            lease_rec_t *x = &S.leases[i];
            if (!x->dead && x->qi == qi && x->gen == S.q[qi].gen && x->gid == v[0] &&
                x->id == v[1] && x->lno == v[2])
                named = x;
        }
    int rc;
    switch (a & 3) {
    case 0:
        rc = engine_ack(S.e, qnames[qi], g);
        break;
    case 1:
        rc = engine_release(S.e, qnames[qi], g, 0, NULL);
        break;
    default:
        rc = engine_undo(S.e, qnames[qi], g);
        break;
    }
    mark_dirty(-1);
    CHECK(rc == 0 || rc == SL_ENORECEIPT || rc == SL_ENOQUEUE, "garbage receipt = %d", rc);
    if (named) {
        named->dead = true;
        return;
    }
    CHECK(rc != 0 || S.saturated, "garbage receipt '%s' worked on %s", g, qnames[qi]);
}

static void op_advance(rd_t *r)
{
    uint8_t a = u8(r);
    S.now += deltas[a & 15];
    leases_clock_moved();
    if (a & 16) {
        int64_t next = engine_run_timers(S.e);
        CHECK(next == engine_next_deadline(S.e), "run_timers returned %lld, next is %lld",
              (long long)next, (long long)engine_next_deadline(S.e));
    }
    mark_dirty(-1);
}

static void op_run_timers(void)
{
    int64_t next = engine_run_timers(S.e);
    CHECK(next == engine_next_deadline(S.e), "run_timers returned %lld, next is %lld",
          (long long)next, (long long)engine_next_deadline(S.e));
    mark_dirty(-1);
}

static void op_group_put(rd_t *r)
{
    uint8_t a = u8(r);
    int qi = a & 7, gi = (a >> 3) & 3;
    bool groups[NG], created = false;
    engine_settings_t set;
    bool exists = queue_settings(qi, &set, groups);
    /* Limits: a new group may get max_in_flight 1..3 (or none) and max_attempts 1..3 (or the
     * queue's); a group that exists may have its limit lifted or raised, never lowered, so that
     * "in progress <= max_in_flight" stays an invariant the checks can hold it to. */
    uint8_t b = u8(r);
    engine_group_opts_t o = {
        .from_latest = a >> 7, .max_in_flight = b & 3, .max_attempts = (b >> 2) & 3};
    unsigned mask = 0;
    if (exists && groups[gi] && (b & 0x10)) {
        pool_t pool;
        engine_group_info_t cur;
        pool_init(&pool);
        CHECK(engine_group_info(S.e, qnames[qi], gnames[gi], &pool, &cur) == 0, "group_info");
        o.max_in_flight = cur.max_in_flight && (b & 0x20) ? cur.max_in_flight + 1 : 0;
        mask = ENGINE_GSET_MAX_IN_FLIGHT | ((b & 0x40) ? ENGINE_GSET_MAX_ATTEMPTS : 0);
        pool_cleanup(&pool);
    }
    int rc = engine_group_put(S.e, qnames[qi], gnames[gi], &o, mask, &created);
    mark_dirty(qi);
    if (!exists) {
        CHECK(rc == SL_ENOQUEUE, "group_put on missing %s = %d", qnames[qi], rc);
        return;
    }
    CHECK(rc == 0 && created == !groups[gi], "group_put %s/%s = %d created %d", qnames[qi],
          gnames[gi], rc, created);
}

static void op_group_delete(rd_t *r)
{
    uint8_t a = u8(r);
    int qi = a & 7, gi = (a >> 3) & 3;
    bool groups[NG];
    engine_settings_t set;
    bool exists = queue_settings(qi, &set, groups);
    int rc = engine_group_delete(S.e, qnames[qi], gnames[gi]);
    mark_dirty(-1);
    if (!exists)
        CHECK(rc == SL_ENOQUEUE, "group_delete on missing %s = %d", qnames[qi], rc);
    else if (!groups[gi])
        CHECK(rc == SL_ENOGROUP, "group_delete of missing %s/%s = %d", qnames[qi], gnames[gi], rc);
    else if (gi == 0)
        CHECK(rc == SL_ECONFLICT, "deleting the default group of %s = %d", qnames[qi], rc);
    else
        CHECK(rc == 0, "group_delete %s/%s = %d", qnames[qi], gnames[gi], rc);
    if (rc == 0) {
        leases_dead(qi, gi);
        for (int w = 0; w < NWAIT; w++)
            CHECK(!(S.waiters[w].parked && S.waiters[w].qi == qi && S.waiters[w].gi == gi),
                  "waiter %d still parked on deleted group %s/%s", w, qnames[qi], gnames[gi]);
    }
}

static void op_queue_put(rd_t *r)
{
    static const char *const dlqs[8] = {"",         "dlq",       "q1",     "self",
                                        "bad name", L124 ".dlq", "q2.dlq", ".x"};
    uint8_t a = u8(r), mask = u8(r);
    int qi = a & 7;
    engine_settings_t s, old;
    bool exists = queue_settings(qi, &old, NULL), expect_param = false;
    memset(&s, 0, sizeof s);
    if (mask & ENGINE_SET_VISIBILITY) {
        static const int64_t v[4] = {0, 5, 1000, DUR_MAX_MS};
        s.visibility_ms = v[u8(r) & 3];
    }
    if (mask & ENGINE_SET_MAX_ATTEMPTS) {
        uint8_t x = u8(r);
        s.max_attempts = x == 255 ? UINT32_MAX : x % 5;
    }
    if (mask & ENGINE_SET_DLQ) {
        const char *d = dlqs[u8(r) & 7];
        snprintf(s.dlq, sizeof s.dlq, "%s", strcmp(d, "self") ? d : qnames[qi]);
        expect_param |= s.dlq[0] && (!engine_name_valid(s.dlq, strlen(s.dlq)) ||
                                     strcmp(s.dlq, qnames[qi]) == 0);
    }
    if (mask & ENGINE_SET_MAX_MESSAGES)
        s.max_messages = u8(r) % 6;
    if (mask & ENGINE_SET_MAX_BYTES) {
        static const uint64_t v[4] = {0, 1, 100, 2000};
        s.max_bytes = v[u8(r) & 3];
    }
    if (mask & ENGINE_SET_MAX_AGE) {
        static const int64_t v[4] = {0, 1, 1000, 60000};
        s.max_age_ms = v[u8(r) & 3];
    }
    if (mask & ENGINE_SET_DEDUP) {
        static const int64_t v[4] = {0, 1, 1000, DUR_MAX_MS};
        s.dedup_ms = v[u8(r) & 3];
    }
    if (mask & ENGINE_SET_KEY_IN_FLIGHT) {
        uint8_t x = u8(r);
        s.max_in_flight_per_key = x == 255 ? UINT32_MAX : x % 4;
        expect_param |= s.max_in_flight_per_key == 0;
    }
    bool created = !exists;
    int rc = engine_queue_put(S.e, qnames[qi], &s, mask, &created);
    mark_dirty(-1);
    if (expect_param) {
        CHECK(rc == SL_EPARAM, "queue_put %s with bad settings = %d", qnames[qi], rc);
        return;
    }
    CHECK(rc == 0 || (rc == SL_ETOOMANY && !exists), "queue_put %s = %d", qnames[qi], rc);
    if (rc != 0)
        return;
    CHECK(created == !exists, "queue_put %s: created %d, existed %d", qnames[qi], created, exists);
    if ((mask & ENGINE_SET_KEY_IN_FLIGHT) &&
        s.max_in_flight_per_key <
            (exists ? old.max_in_flight_per_key : S.cfg.defaults.max_in_flight_per_key))
        S.q[qi].lowered = true;
    leases_uncertain(qi, -1); /* retention may drop leased messages */
    engine_settings_t now;
    queue_settings(qi, &now, NULL);
    if (mask & ENGINE_SET_VISIBILITY)
        CHECK(now.visibility_ms == s.visibility_ms, "visibility not set");
    if (mask & ENGINE_SET_DLQ)
        CHECK(strcmp(now.dlq, s.dlq) == 0, "dlq not set");
    if (mask & ENGINE_SET_KEY_IN_FLIGHT)
        CHECK(now.max_in_flight_per_key == s.max_in_flight_per_key, "key limit not set");
}

static void op_purge(rd_t *r)
{
    int qi = u8(r) % NQ;
    pool_t pool;
    engine_queue_info_t in;
    pool_init(&pool);
    bool exists = engine_queue_info(S.e, qnames[qi], &pool, &in) == 0;
    uint64_t count = 12345;
    int rc = engine_queue_purge(S.e, qnames[qi], &count);
    mark_dirty(qi);
    if (!exists) {
        CHECK(rc == SL_ENOQUEUE, "purge of missing %s = %d", qnames[qi], rc);
    } else {
        CHECK(rc == 0 && count == in.messages, "purge %s = %d, count %llu of %llu", qnames[qi], rc,
              (unsigned long long)count, (unsigned long long)in.messages);
        pool_cleanup(&pool);
        pool_init(&pool);
        CHECK(engine_queue_info(S.e, qnames[qi], &pool, &in) == 0, "info after purge");
        CHECK(in.messages == 0 && in.bytes == 0 && in.delayed == 0 && in.in_flight == 0,
              "%s after purge: %llu messages, %llu bytes", qnames[qi],
              (unsigned long long)in.messages, (unsigned long long)in.bytes);
        for (size_t i = 0; i < in.ngroups; i++)
            CHECK(in.groups[i].lag == 0, "%s/%s: lag after purge", qnames[qi], in.groups[i].name);
        leases_dead(qi, -1);
    }
    pool_cleanup(&pool);
}

static void op_delete(rd_t *r)
{
    int qi = u8(r) % NQ;
    bool exists = queue_exists(qi);
    int rc = engine_queue_delete(S.e, qnames[qi]);
    mark_dirty(qi);
    CHECK(rc == (exists ? 0 : SL_ENOQUEUE), "delete %s = %d", qnames[qi], rc);
    if (rc != 0)
        return;
    CHECK(!queue_exists(qi), "%s exists after delete", qnames[qi]);
    leases_dead(qi, -1);
    for (int w = 0; w < NWAIT; w++)
        CHECK(!(S.waiters[w].parked && S.waiters[w].qi == qi),
              "waiter %d still parked on deleted queue %s", w, qnames[qi]);
    qmodel_t *m = &S.q[qi];
    uint32_t gen = m->gen + 1;
    memset(m, 0, sizeof *m);
    m->gen = gen;
}

static void op_redrive(rd_t *r)
{
    uint8_t a = u8(r);
    int qi = a & 7;
    uint64_t ids[6], not_found[6], moved = 99;
    size_t n = 0, nnot = 99;
    bool exists = queue_exists(qi);
    if (a & 8) {
        /* Some ids of the queue itself or of its dead-letter queue, and one that is not. */
        engine_settings_t set;
        queue_settings(qi, &set, NULL);
        const char *src = (a & 16) && set.dlq[0] ? set.dlq : qnames[qi];
        engine_peek_item_t it[5];
        size_t np = 0;
        bool more;
        engine_peek(S.e, src, NULL, 0, 5, it, &np, &more);
        for (size_t i = 0; i < np; i++) {
            if ((a >> (5 + i % 3)) & 1 || i == 0)
                ids[n++] = it[i].msg->id;
            msg_unref(it[i].msg);
        }
        ids[n++] = 1000000 + a;
    }
    int rc = engine_redrive(S.e, qnames[qi], (a & 8) ? ids : NULL, n, &moved, not_found, &nnot);
    mark_dirty(-1);
    leases_uncertain(-1, -1);
    if (!exists) {
        CHECK(rc == SL_ENOQUEUE && moved == 0 && nnot == 0, "redrive of missing %s = %d",
              qnames[qi], rc);
        return;
    }
    CHECK(rc == 0 || rc == SL_ETOOMANY, "redrive %s = %d", qnames[qi], rc);
    CHECK(nnot <= n, "redrive: %zu not found of %zu", nnot, n);
    if (a & 8) {
        CHECK(rc != 0 || moved + nnot == n, "redrive %s: %llu moved + %zu not found != %zu ids",
              qnames[qi], (unsigned long long)moved, nnot, n);
        for (size_t i = 0; i < nnot; i++) {
            bool asked = false;
            for (size_t k = 0; k < n; k++)
                asked |= ids[k] == not_found[i];
            CHECK(asked, "redrive reports id %llu it was not asked for",
                  (unsigned long long)not_found[i]);
        }
    }
}

static void op_peek(rd_t *r)
{
    static const size_t limits[4] = {0, 1, 3, 100};
    uint8_t a = u8(r), b = u8(r);
    int qi = a & 7, gi = (a >> 3) & 3;
    uint64_t after = b >> 2;
    size_t limit = limits[b & 3];
    engine_peek_item_t it[100];
    size_t n = 99;
    bool more = true;
    int rc = engine_peek(S.e, qnames[qi], gnames[gi], after, limit, it, &n, &more);
    CHECK(rc == 0 || rc == SL_ENOQUEUE || rc == SL_ENOGROUP, "peek = %d", rc);
    CHECK(rc == 0 || (n == 0 && !more), "failed peek returned items");
    CHECK(n <= limit, "peek gave %zu of %zu", n, limit);
    for (size_t i = 0; i < n; i++) {
        CHECK(it[i].msg->id > after && (i == 0 || it[i - 1].msg->id < it[i].msg->id),
              "peek after %llu: id %llu", (unsigned long long)after,
              (unsigned long long)it[i].msg->id);
        CHECK(strcmp(engine_state_name(it[i].state), "unknown") != 0, "state %d has no name",
              it[i].state);
        msg_unref(it[i].msg);
    }
}

static void op_wait(rd_t *r)
{
    static const int64_t d[4] = {0, 100, 5000, 60000};
    uint8_t a = u8(r), b = u8(r);
    fwait_t *f = &S.waiters[b % NWAIT];
    int qi = a & 7, gi = (a >> 3) & 3;
    if (f->parked)
        return;
    /* As the HTTP API does: lease first, and park only when there is nothing. */
    engine_lease_t out[1];
    size_t n = 0;
    int64_t vis = cb_vis[(S.cb_mode >> 2) & 3];
    int rc = engine_lease(S.e, qnames[qi], gnames[gi], 1, 0, vis, out, &n);
    mark_dirty(-1);
    CHECK(rc == 0 || rc == SL_ENOQUEUE || rc == SL_ENOGROUP, "lease before wait = %d", rc);
    if (rc == 0 && n > 0) {
        record_leases(qi, gi, out, n, 1, 0, vis);
        return;
    }
    f->qi = qi;
    f->gi = gi;
    f->gen = S.q[qi].gen;
    f->deadline = S.now + d[(b >> 4) & 3];
    rc = engine_wait(S.e, qnames[qi], gnames[gi], &f->w, f->deadline);
    CHECK(rc == 0 || rc == SL_ENOQUEUE || rc == SL_ENOGROUP, "wait = %d", rc);
    f->parked = rc == 0;
}

static void op_wait_cancel(rd_t *r)
{
    fwait_t *f = &S.waiters[u8(r) % NWAIT];
    engine_wait_cancel(S.e, &f->w);
    f->parked = false;
    mark_dirty(f->qi);
}

static void op_wake_all(void)
{
    S.waking_all = true;
    engine_wake_all(S.e);
    S.waking_all = false;
    for (int w = 0; w < NWAIT; w++)
        CHECK(!S.waiters[w].parked, "waiter %d still parked after wake_all", w);
    mark_dirty(-1);
}

/* Calls that must fail, and edge cases of the arguments. */
static void op_invalid(rd_t *r)
{
    uint8_t a = u8(r);
    int qi = (a >> 4) & 7, rc;
    bool created;
    switch (a & 15) {
    case 0:
    case 1: {
        engine_pub_t p = {.msg = msg_new("x", 1, NULL, 0, NULL, 0)};
        rc = engine_publish(S.e, (a & 15) ? L124 "12345" : "bad name", &p, 1);
        CHECK(rc == SL_ENAME, "publish to a bad name = %d", rc);
        msg_unref(p.msg);
        break;
    }
    case 2: {
        engine_lease_t out[1];
        size_t n;
        rc = engine_lease(S.e, qnames[qi], "nope", 1, 0, -1, out, &n);
        CHECK(rc == (queue_exists(qi) ? SL_ENOGROUP : SL_ENOQUEUE), "lease from nope = %d", rc);
        break;
    }
    case 3: {
        engine_settings_t s = {.max_in_flight_per_key = 0};
        rc = engine_queue_put(S.e, qnames[qi], &s, ENGINE_SET_KEY_IN_FLIGHT, &created);
        CHECK(rc == SL_EPARAM, "key limit 0 = %d", rc);
        break;
    }
    case 4:
        rc = engine_group_put(S.e, qnames[qi], ".x", NULL, 0, &created);
        CHECK(rc == SL_ENAME, "group_put .x = %d", rc);
        break;
    case 5:
        rc = engine_ack(S.e, "zzz", "1-1-1");
        CHECK(rc == SL_ENOQUEUE, "ack on a missing queue = %d", rc);
        break;
    case 6: {
        engine_peek_item_t it[1];
        size_t n = 9;
        bool more = true;
        rc = engine_peek(S.e, qnames[qi], NULL, 0, 0, it, &n, &more);
        CHECK(n == 0 && !more, "peek with limit 0");
        break;
    }
    case 7: {
        /* Publishing nothing still creates the queue. */
        rc = engine_publish(S.e, qnames[qi], NULL, 0);
        CHECK(rc == 0 || rc == SL_ETOOMANY, "publish of nothing = %d", rc);
        mark_dirty(qi);
        break;
    }
    case 8: {
        engine_waiter_t w;
        memset(&w, 0, sizeof w);
        rc = engine_wait(S.e, qnames[qi], "nope", &w, S.now + 1);
        CHECK(rc == SL_ENOQUEUE || rc == SL_ENOGROUP, "wait on nope = %d", rc);
        break;
    }
    case 9: {
        engine_settings_t s = {.max_in_flight_per_key = 1};
        rc = engine_queue_put(S.e, "-bad", &s, 0, &created);
        CHECK(rc == SL_ENAME, "queue_put -bad = %d", rc);
        break;
    }
    case 10:
        /* NULL names the default group, which every queue has. */
        rc = engine_group_put(S.e, qnames[qi], NULL, NULL, 0, &created);
        CHECK(rc == (queue_exists(qi) ? 0 : SL_ENOQUEUE) && (rc || !created), "group_put NULL = %d",
              rc);
        break;
    case 11: {
        engine_config_t bad = S.cfg;
        bad.defaults.max_in_flight_per_key = 0;
        CHECK(engine_new(&bad) == NULL, "engine_new with max_in_flight_per_key 0");
        bad = S.cfg;
        bad.max_queues = 0;
        CHECK(engine_new(&bad) == NULL, "engine_new with max_queues 0");
        break;
    }
    default: {
        pool_t pool;
        engine_group_info_t gi;
        pool_init(&pool);
        rc = engine_group_info(S.e, qnames[qi], gnames[a & 3], &pool, &gi);
        CHECK(rc == 0 || rc == SL_ENOQUEUE || rc == SL_ENOGROUP, "group_info = %d", rc);
        CHECK(rc || strcmp(gi.name, gnames[a & 3]) == 0, "group_info name");
        pool_cleanup(&pool);
        break;
    }
    }
}

enum {
    OP_PUBLISH,
    OP_PUBLISH2,
    OP_BATCH,
    OP_LEASE,
    OP_LEASE2,
    OP_ACK,
    OP_ACK2,
    OP_RELEASE,
    OP_UNDO,
    OP_GARBAGE,
    OP_ADVANCE,
    OP_ADVANCE2,
    OP_RUN_TIMERS,
    OP_GROUP_PUT,
    OP_GROUP_DELETE,
    OP_QUEUE_PUT,
    OP_PURGE,
    OP_DELETE,
    OP_REDRIVE,
    OP_PEEK,
    OP_WAIT,
    OP_WAIT_CANCEL,
    OP_WAKE_ALL,
    OP_CB_MODE,
    OP_INVALID,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "publish",      "publish",   "batch",   "lease",   "lease",   "ack",        "ack",
    "release",      "undo",      "garbage", "advance", "advance", "run_timers", "group_put",
    "group_delete", "queue_put", "purge",   "delete",  "redrive", "peek",       "wait",
    "wait_cancel",  "wake_all",  "cb_mode", "invalid"};

/* With FUZZ_ENGINE_TRACE set, prints each operation and the queues after it (for reading a
 * reproducer). */
static void trace_op(int op)
{
    pool_t pool;
    engine_queue_info_t *list;
    size_t n;
    if (!trace)
        return;
    fprintf(stderr, "op %d %s: now +%lld, %zu leases\n", S.op_no, op_names[op],
            (long long)(S.now - T0), S.nleases);
    pool_init(&pool);
    engine_queue_list(S.e, &pool, &list, &n);
    for (size_t i = 0; i < n; i++) {
        engine_queue_info_t in;
        engine_queue_info(S.e, list[i].name, &pool, &in);
        fprintf(stderr,
                "  %.20s: messages %llu delayed %llu in_flight %llu bytes %llu dlq '%.20s'\n",
                in.name, (unsigned long long)in.messages, (unsigned long long)in.delayed,
                (unsigned long long)in.in_flight, (unsigned long long)in.bytes, in.settings.dlq);
        for (size_t g = 0; g < in.ngroups; g++)
            fprintf(stderr, "    %s: lag %llu in_flight %llu ready %llu waiting %llu\n",
                    in.groups[g].name, (unsigned long long)in.groups[g].lag,
                    (unsigned long long)in.groups[g].in_flight,
                    (unsigned long long)in.groups[g].ready,
                    (unsigned long long)in.groups[g].waiting);
    }
    pool_cleanup(&pool);
}

static void run_op(rd_t *r)
{
    uint8_t op = u8(r) % OP_COUNT;
    if (trace)
        fprintf(stderr, "op %d %s ...\n", S.op_no, op_names[op]);
    switch (op) {
    case OP_PUBLISH:
    case OP_PUBLISH2:
        op_publish(r, 1);
        break;
    case OP_BATCH:
        op_publish(r, 2 + (u8(r) & 1));
        break;
    case OP_LEASE:
    case OP_LEASE2:
        op_lease(r);
        break;
    case OP_ACK:
    case OP_ACK2:
        op_settle(r, 0);
        break;
    case OP_RELEASE:
        op_settle(r, 1);
        break;
    case OP_UNDO:
        op_settle(r, 2);
        break;
    case OP_GARBAGE:
        op_garbage(r);
        break;
    case OP_ADVANCE:
    case OP_ADVANCE2:
        op_advance(r);
        break;
    case OP_RUN_TIMERS:
        op_run_timers();
        break;
    case OP_GROUP_PUT:
        op_group_put(r);
        break;
    case OP_GROUP_DELETE:
        op_group_delete(r);
        break;
    case OP_QUEUE_PUT:
        op_queue_put(r);
        break;
    case OP_PURGE:
        op_purge(r);
        break;
    case OP_DELETE:
        op_delete(r);
        break;
    case OP_REDRIVE:
        op_redrive(r);
        break;
    case OP_PEEK:
        op_peek(r);
        break;
    case OP_WAIT:
        op_wait(r);
        break;
    case OP_WAIT_CANCEL:
        op_wait_cancel(r);
        break;
    case OP_WAKE_ALL:
        op_wake_all();
        break;
    case OP_CB_MODE:
        S.cb_mode = u8(r);
        break;
    case OP_INVALID:
        op_invalid(r);
        break;
    }
    trace_op(op);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(LOG_ERROR, LOG_TEXT); /* dead-letter warnings would flood the output */
    trace = getenv("FUZZ_ENGINE_TRACE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_t r = {data, size};
    uint8_t h0 = u8(&r), h1 = u8(&r), h2 = u8(&r), h3 = u8(&r);
    static const int64_t dedups[4] = {0, 1000, 60000, 300000};
    static const int64_t ages[4] = {0, 0, 0, 60000};
    static const int64_t vis[4] = {30000, 1000, 5, 0};

    memset(&S, 0, sizeof S);
    S.now = T0;
    S.cfg.max_queues = (h0 & 0x80) ? 1000 : 1 + (h0 & 7);
    S.cfg.defaults.max_attempts = h1 & 3;
    S.cfg.defaults.max_in_flight_per_key = 1 + ((h1 >> 2) & 3) % 3;
    S.cfg.defaults.dedup_ms = dedups[h2 & 3];
    S.cfg.defaults.max_age_ms = ages[(h2 >> 2) & 3];
    S.cfg.defaults.max_messages = (h2 & 0x10) ? 4 : 0;
    S.cfg.defaults.visibility_ms = vis[h3 & 3];
    S.cfg.clock = fake_clock;
    S.e = engine_new(&S.cfg);
    CHECK(S.e != NULL, "engine_new");
    S.leases = malloc(MAX_LEASES * sizeof *S.leases);
    for (int w = 0; w < NWAIT; w++) {
        S.waiters[w].w.wake = on_wake;
        S.waiters[w].w.data = &S.waiters[w];
        heap_node_init(&S.waiters[w].w.tmr, 0);
        list_init(&S.waiters[w].w.link);
    }

    for (S.op_no = 0; r.n > 0 && S.op_no < MAX_OPS; S.op_no++) {
        run_op(&r);
        check_all();
    }

    S.freeing = true;
    engine_free(S.e);
    for (size_t i = 0; i < S.nleases; i++)
        msg_unref(S.leases[i].msg);
    free(S.leases);
    memset(&S, 0, sizeof S);
    return 0;
}
