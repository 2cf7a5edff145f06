/*
 * engine.c — the queue engine.
 *
 * Design
 * ======
 * The engine owns every queue, group, lease and timer, and runs on one thread (the event loop),
 * so nothing here takes a lock. It does no I/O: storage backends journal what it does, the HTTP
 * layer calls it. Time comes from a clock function so that tests can drive it.
 *
 * Messages and the visible sequence. A queue hands out ids 1, 2, 3... at publish. A message
 * published with a delay waits in the queue's delay heap; every other message, and a delayed one
 * once due, is appended to the queue's *visible sequence*: a ring of message pointers indexed by
 * a 64-bit position (vseq). The ring is the single order in which groups meet messages. A slot
 * becomes NULL when its message leaves the queue; the ring's start advances past NULL slots, so
 * the slot at the start is always the oldest live visible message, which is what retention
 * drops.
 *
 * Groups and the one invariant. Each group has a cursor into the ring: every live message at or
 * after the cursor is implicitly "ready, never delivered" for that group and costs the group
 * nothing. Passing a message creates, for that group, a delivery record (dlv) in one of four
 * states: LEASED (a consumer holds it; lease timer armed), RETRY (visible again, on the group's
 * retry list), DELAYED (released with a delay; timer armed) or KEYWAIT (held behind an earlier
 * message with the same ordering key). An ack frees the dlv. Hence:
 *
 *     group g is finished with message m  <=>  m.vseq < g.cursor  and  g has no dlv for m
 *
 * Every operation keeps this true, and everything else follows from it: a message's `pending`
 * counts the groups not finished with it, and it leaves the queue when that reaches zero;
 * dropping a message (retention, TTL, purge) finds each group's claim in O(1) — either "ahead of
 * the cursor" or "has a dlv" — and a new group from the earliest message simply starts its cursor
 * at the start of the ring.
 *
 * Choosing the next message for a group: first the retry list (redeliveries go before new
 * messages, as a requeue does in RabbitMQ and NSQ), then ready key lanes, then the cursor. A
 * message with an ordering key belongs to the group's lane for that key; a lane counts its
 * messages that are in progress (LEASED, RETRY, DELAYED) and, while that count is at
 * max_in_flight_per_key or earlier same-key messages are waiting, the cursor parks further
 * same-key messages in the lane (KEYWAIT) and moves on, so other keys proceed. When a lane
 * drains below its limit it joins the group's ready-lane list. Each message passes each cursor
 * once, so choosing costs amortised O(1) per message.
 *
 * Timers. Lease expiry, release delays and long-poll deadlines are nodes in one global heap,
 * embedded in their objects. A queue keeps its delayed messages and its expiring messages in
 * two heaps of its own (so purge, delete and peek can find them without a global scan) and puts
 * one node in the global heap at the earliest of its own deadlines (delays, TTLs, max_age,
 * idempotency expiry). Every timer event is O(log n); nothing scans all messages.
 *
 * Waking long-polls. Making messages available to a group moves as many of its parked waiters as
 * messages appeared onto the engine's woken list (not all of them: no thundering herd). The
 * callbacks run at the end of the public call, when the invariants hold, and usually lease right
 * away; a waiter that finds nothing (another took it, or its key is blocked) parks again.
 *
 * Alternatives rejected:
 * - A per-group FIFO of message pointers filled at publish: 8 bytes per message per group, and a
 *   group that falls behind would pin dropped messages in memory. The cursor costs nothing for
 *   messages not yet reached.
 * - Tombstone-free ordered structures (skip lists, trees by id) for the visible sequence: O(log n)
 *   on every publish and lease for an order that arrives sorted anyway.
 * - Putting delayed messages in the ring at publish and skipping them at the cursor: each group
 *   would then need a record per delayed message; the delay heap needs none.
 * - A timer wheel: O(1) but with a granularity and a horizon; the heap is exact and, at the
 *   counts this server holds, its log n is not what limits it.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"
#include "dur.h"
#include "err.h"
#include "hmap.h"
#include "log.h"
#include "mem.h"

enum tmr_kind { TK_DLV = 1, TK_QUEUE, TK_WAIT };

enum dlv_state { DLV_LEASED, DLV_RETRY, DLV_DELAYED, DLV_KEYWAIT };

enum hist_event { EV_LEASE_EXPIRED, EV_RELEASED, EV_RETURNED /* journal only: not a failure */ };
static const char *const hist_event_names[] = {"lease_expired", "released"};

struct hist {
    int64_t at;
    uint8_t event;
    char error[128]; /* cut; the full last error is kept in the dlv */
};

typedef struct queue queue_t;
typedef struct group group_t;
typedef struct lane lane_t;

typedef struct dlv {
    msg_t *msg; /* one reference */
    group_t *g;
    lane_t *lane; /* NULL without an ordering key */
    uint64_t lease_no;
    heap_node_t tmr; /* lease expiry (LEASED) or end of a release delay (DELAYED) */
    list_t link;     /* retry list (RETRY) or lane's waiting list (KEYWAIT) */
    uint32_t attempts;
    uint8_t state;
    bool preacked;     /* its finish is already in the journal (engine_ack_prepare) */
    uint8_t nhist;     /* entries in hist */
    char *last_error;  /* NULL or an sl_malloc'd string */
    struct hist *hist; /* NULL until the first failure; ring of ENGINE_HISTORY_MAX */
} dlv_t;

struct lane {
    list_t waiting;    /* KEYWAIT dlvs in publish order */
    list_t ready_link; /* on the group's ready_lanes while it may deliver */
    uint32_t inflight; /* its dlvs in LEASED, RETRY or DELAYED */
    uint32_t nwaiting; /* its dlvs in KEYWAIT */
    uint8_t key_len;
    char key[];
};

struct group {
    char *name;
    uint32_t gid;
    queue_t *q;
    uint64_t cursor;   /* next vseq never passed */
    uint64_t start_id; /* messages with a smaller id are not this group's */
    hmap_t dlvs;       /* msg id -> dlv */
    hmap_t ahead;      /* msg id -> ahead_t: restored state of messages past the cursor */
    hmap_t lanes;      /* key -> lane */
    list_t retry;
    list_t ready_lanes;
    list_t waiters;
    uint64_t pending, in_flight, delayed, keywait, nwaiting;
    uint64_t progress; /* dlvs in LEASED, RETRY or DELAYED: what max_in_flight bounds */
    uint32_t max_in_flight, max_attempts; /* engine_group_opts_t; 0 = none, the queue's */
    char *meta;                           /* NULL or the opts' meta, copied */
    uint64_t delivered, acked, dead_lettered;
    int64_t created_at;
};

/* The state of a message at or after a group's cursor, known only after a restore: the group
 * finished it out of order, or it failed before and carries its attempts. Empty in a server that
 * never restored, and drained as the cursor passes. */
typedef struct ahead {
    uint64_t id;
    bool finished;
    uint32_t attempts;
    int64_t visible_at;
    char *last_error;
    uint8_t nhist;
    struct hist *hist;
} ahead_t;

typedef struct idem {
    list_t link;
    int64_t expires;
    uint64_t id;
    uint16_t len;
    char key[];
} idem_t;

struct queue {
    char *name;
    void *jdata;          /* the journal's per-queue state */
    uint64_t restored_id; /* the last id restored (they must increase) */
    engine_settings_t set;
    bool dlq_auto; /* dead-letter queue derived from the name, not set by the user */
    uint64_t last_id;
    /* the visible sequence, positions base .. end: see "The visible sequence" below */
    msg_t ***blocks;
    size_t bcap;
    uint64_t base, end;
    heap_t delayq;   /* MSG_DELAYED messages by deliver time */
    heap_t ttlq;     /* visible messages with an expiry, by expiry */
    heap_node_t tmr; /* in the engine heap at the earliest of this queue's deadlines */
    group_t **groups;
    uint32_t ngroups, groups_cap;
    uint64_t next_gid; /* above every group id the queue (or its log) ever used; past
                        * UINT32_MAX when they are used up (only a damaged log does that) */
    hmap_t group_map;
    hmap_t idem;
    list_t idem_fifo;
    uint64_t messages, bytes, delayed;
    uint64_t published, acked, expired, dropped, dead_lettered;
    uint64_t nahead; /* entries in its groups' `ahead` tables: 0 unless restored */
    int64_t created_at;
};

struct engine {
    engine_config_t cfg;
    hmap_t queues;
    heap_t timers;
    list_t woken;
    bool flushing;
    bool journaling; /* jn is set and we are not restoring */
    engine_journal_t jn;
    int64_t now;
    uint64_t lease_seq;
};

/* ---------------------------------------------------------------- helpers */

static int eq_name_queue(const void *val, const void *key, size_t len)
{
    const queue_t *q = val;
    return strlen(q->name) == len && memcmp(q->name, key, len) == 0;
}

static int eq_name_group(const void *val, const void *key, size_t len)
{
    const group_t *g = val;
    return strlen(g->name) == len && memcmp(g->name, key, len) == 0;
}

static int eq_dlv(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const dlv_t *)val)->msg->id == *(const uint64_t *)key;
}

static int eq_lane(const void *val, const void *key, size_t len)
{
    const lane_t *l = val;
    return l->key_len == len && memcmp(l->key, key, len) == 0;
}

static int eq_ahead(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const ahead_t *)val)->id == *(const uint64_t *)key;
}

static int eq_idem(const void *val, const void *key, size_t len)
{
    const idem_t *i = val;
    return i->len == len && memcmp(i->key, key, len) == 0;
}

/* Reports a change to the journal, if there is one and we are not restoring. */
#define JOURNAL(e, q, hook, ...)                                 \
    do {                                                         \
        if ((e)->journaling && (e)->jn.hook)                     \
            (e)->jn.hook((e)->jn.ctx, &(q)->jdata, __VA_ARGS__); \
    } while (0)

static void engine_begin(engine_t *e)
{
    e->now = e->cfg.clock(e->cfg.clock_ctx);
}

/* Runs the wake callbacks of woken waiters. Nested calls (a callback calling the engine) return
 * at once; the outermost loop picks up whatever they add. */
static void engine_flush(engine_t *e)
{
    if (e->flushing)
        return;
    e->flushing = true;
    list_t *n;
    while ((n = list_shift(&e->woken)) != NULL) {
        engine_waiter_t *w = list_entry(n, engine_waiter_t, link);
        w->wake(w);
    }
    e->flushing = false;
}

static queue_t *queue_find(engine_t *e, const char *name)
{
    return hmap_find(&e->queues, name, strlen(name));
}

static bool queue_is_fanout(const engine_t *e, const queue_t *q)
{
    return e->cfg.fanout_queue && strcmp(q->name, e->cfg.fanout_queue) == 0;
}

static group_t *group_find(queue_t *q, const char *name)
{
    return hmap_find(&q->group_map, name, strlen(name));
}

/* Whether message m is one that group g receives at all. */
static bool group_wants(const group_t *g, const msg_t *m)
{
    uint32_t only = msg_only_group(m);
    return m->id >= g->start_id && (only == 0 || only == g->gid);
}

/* ---------------------------------------------------------------- the visible sequence */

/*
 * The ring is a deque of blocks of RING_BLOCK message pointers: position v lives in block
 * v >> RING_SHIFT, at index v & (RING_BLOCK - 1), and the block table is indexed by the block
 * number modulo its power-of-two size, which only has to exceed the number of live blocks. A
 * block is allocated when the end reaches it and freed when the start passes it, so a queue
 * costs 8 bytes per visible message plus at most two part-filled blocks, an empty queue
 * nothing, and growing never copies the message pointers (only the small block table): no
 * pause at a doubling, and no half-empty doubled array, as a big backlog builds up.
 */
#define RING_SHIFT 7
#define RING_BLOCK (1u << RING_SHIFT)

static msg_t **ring_slot(queue_t *q, uint64_t vseq)
{
    return &q->blocks[(vseq >> RING_SHIFT) & (q->bcap - 1)][vseq & (RING_BLOCK - 1)];
}

static msg_t *ring_get(queue_t *q, uint64_t vseq)
{
    if (vseq < q->base || vseq >= q->end)
        return NULL;
    return *ring_slot(q, vseq);
}

static void ring_push(queue_t *q, msg_t *m)
{
    uint64_t v = q->end;
    if (q->base == q->end || (v & (RING_BLOCK - 1)) == 0) { /* v needs a block of its own */
        uint64_t first = q->base >> RING_SHIFT, span = (v >> RING_SHIFT) - first + 1;
        if (span > q->bcap) {
            size_t cap = q->bcap ? q->bcap : 4;
            while (cap < span)
                cap *= 2;
            msg_t ***t = sl_malloc(cap * sizeof *t);
            for (uint64_t b = first; q->base < q->end && b < (v >> RING_SHIFT); b++)
                t[b & (cap - 1)] = q->blocks[b & (q->bcap - 1)];
            sl_free(q->blocks);
            q->blocks = t;
            q->bcap = cap;
        }
        q->blocks[(v >> RING_SHIFT) & (q->bcap - 1)] = sl_malloc(RING_BLOCK * sizeof(msg_t *));
    }
    m->vseq = q->end++;
    *ring_slot(q, m->vseq) = m;
}

/* Frees the blocks from the one holding position from up to (not including) block upto. */
static void ring_free_blocks(queue_t *q, uint64_t from, uint64_t upto)
{
    for (uint64_t b = from >> RING_SHIFT; b < upto; b++)
        sl_free(q->blocks[b & (q->bcap - 1)]);
}

/* Empties m's slot and moves the start of the ring past empty slots, freeing the blocks it
 * leaves behind (all of them, and the table, when the ring is empty). */
static void ring_clear(queue_t *q, msg_t *m)
{
    *ring_slot(q, m->vseq) = NULL;
    uint64_t old = q->base;
    while (q->base < q->end && *ring_slot(q, q->base) == NULL)
        q->base++;
    if (q->base < q->end) {
        ring_free_blocks(q, old, q->base >> RING_SHIFT);
        return;
    }
    ring_free_blocks(q, old, ((q->end - 1) >> RING_SHIFT) + 1);
    sl_free(q->blocks);
    q->blocks = NULL;
    q->bcap = 0;
}

/* ---------------------------------------------------------------- queue timers */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Re-arms the queue's node in the engine heap at its earliest deadline. */
static void queue_rearm(engine_t *e, queue_t *q)
{
    int64_t at = INT64_MAX;
    heap_node_t *n;
    if ((n = heap_top(&q->delayq)) != NULL)
        at = min64(at, n->at);
    if ((n = heap_top(&q->ttlq)) != NULL)
        at = min64(at, n->at);
    if (q->set.max_age_ms > 0 && q->base < q->end)
        at = min64(at, ring_get(q, q->base)->published_at + q->set.max_age_ms);
    if (!list_empty(&q->idem_fifo))
        at = min64(at, list_entry(q->idem_fifo.next, idem_t, link)->expires);
    if (at == INT64_MAX)
        heap_remove(&e->timers, &q->tmr);
    else if (!heap_armed(&q->tmr) || q->tmr.at != at)
        heap_set(&e->timers, &q->tmr, at);
}

/* ---------------------------------------------------------------- waiters */

/* Wakes up to n waiters of g: messages may be available to it. */
static void group_signal(engine_t *e, group_t *g, uint64_t n)
{
    while (n-- > 0 && !list_empty(&g->waiters)) {
        engine_waiter_t *w = list_entry(list_shift(&g->waiters), engine_waiter_t, link);
        heap_remove(&e->timers, &w->tmr);
        g->nwaiting--;
        w->status = 0;
        list_push(&e->woken, &w->link);
    }
}

static void group_wake_all(engine_t *e, group_t *g, int status)
{
    list_t *n;
    while ((n = list_shift(&g->waiters)) != NULL) {
        engine_waiter_t *w = list_entry(n, engine_waiter_t, link);
        heap_remove(&e->timers, &w->tmr);
        w->status = status;
        list_push(&e->woken, &w->link);
    }
    g->nwaiting = 0;
}

/* ---------------------------------------------------------------- leaving the queue */

static void ahead_free(ahead_t *a)
{
    sl_free(a->last_error);
    sl_free(a->hist);
    sl_free(a);
}

/* Records a, the restored state of a message past g's cursor (g's table takes it). */
static void ahead_put(group_t *g, ahead_t *a)
{
    hmap_add(&g->ahead, &a->id, sizeof a->id, a);
    g->q->nahead++;
}

/* Removes and returns g's restored state of m (the caller frees it with ahead_free()), or NULL
 * when g has none. */
static ahead_t *ahead_take(group_t *g, const msg_t *m)
{
    ahead_t *a = g->ahead.len ? hmap_remove(&g->ahead, &m->id, sizeof m->id) : NULL;
    if (a)
        g->q->nahead--;
    return a;
}

/* Takes m out of q for good: ring slot or delay heap, expiry heap, counters; drops the queue's
 * reference. Every group must already be finished with it. */
static void msg_remove(engine_t *e, queue_t *q, msg_t *m)
{
    sl_assert(!(m->flags & MSG_GONE));
    if (m->flags & MSG_DELAYED) {
        heap_remove(&q->delayq, &msg_ext(m)->tmr);
        q->delayed--;
    } else {
        if (m->flags & MSG_EXT)
            heap_remove(&q->ttlq, &msg_ext(m)->tmr);
        /* A group that finished m out of order before a restart says so in `ahead` until its
         * cursor gets there; m leaving first (the other groups finished it, or it was dropped)
         * takes those entries with it, or they would outlive m and trip group_destroy(). Only
         * finished entries can be left: any other state still counts in m->pending. The
         * counter keeps this loop out of a server that never restored. */
        for (uint32_t i = 0; q->nahead > 0 && i < q->ngroups; i++) {
            ahead_t *a = m->vseq >= q->groups[i]->cursor ? ahead_take(q->groups[i], m) : NULL;
            if (a) {
                sl_assert(a->finished);
                ahead_free(a);
            }
        }
        ring_clear(q, m);
    }
    m->flags |= MSG_GONE;
    q->messages--;
    q->bytes -= m->len;
    queue_rearm(e, q);
    JOURNAL(e, q, gone, m->id);
    msg_unref(m);
}

/* Group g is done with m (acked, dead-lettered): the last group to finish removes it. */
static void group_finish(engine_t *e, group_t *g, msg_t *m)
{
    sl_assert(g->pending > 0 && m->pending > 0);
    g->pending--;
    if (--m->pending == 0)
        msg_remove(e, g->q, m);
}

/* ---------------------------------------------------------------- lanes */

static uint32_t lane_limit(const group_t *g)
{
    return g->q->set.max_in_flight_per_key;
}

static lane_t *lane_get(group_t *g, const msg_t *m)
{
    lane_t *l = hmap_find(&g->lanes, msg_key(m), m->key_len);
    if (l)
        return l;
    l = sl_malloc(sizeof *l + m->key_len);
    list_init(&l->waiting);
    list_init(&l->ready_link);
    l->inflight = 0;
    l->nwaiting = 0;
    l->key_len = m->key_len;
    memcpy(l->key, msg_key(m), m->key_len);
    hmap_add(&g->lanes, l->key, l->key_len, l);
    return l;
}

/* Called when a lane's in-flight count dropped or its waiting list changed: puts it on the
 * ready list when it may deliver, frees it when it holds nothing. */
static void lane_update(engine_t *e, group_t *g, lane_t *l)
{
    bool can = !list_empty(&l->waiting) && l->inflight < lane_limit(g);
    if (can && !list_linked(&l->ready_link)) {
        list_push(&g->ready_lanes, &l->ready_link);
        group_signal(e, g, 1);
    } else if (!can && list_linked(&l->ready_link)) {
        list_remove(&l->ready_link);
    }
    if (l->inflight == 0 && list_empty(&l->waiting)) {
        hmap_remove(&g->lanes, l->key, l->key_len);
        sl_free(l);
    }
}

/* ---------------------------------------------------------------- deliveries */

static dlv_t *dlv_new(group_t *g, msg_t *m, lane_t *lane, int state)
{
    dlv_t *d = sl_calloc(1, sizeof *d);
    d->msg = msg_ref(m);
    d->g = g;
    d->lane = lane;
    d->state = (uint8_t)state;
    heap_node_init(&d->tmr, TK_DLV);
    list_init(&d->link);
    hmap_add(&g->dlvs, &m->id, sizeof m->id, d);
    if (state == DLV_KEYWAIT) {
        g->keywait++;
    } else {
        g->progress++;
        if (lane)
            lane->inflight++;
    }
    return d;
}

/* Moves d out of its current state's structures and counters. */
static void dlv_leave_state(engine_t *e, dlv_t *d)
{
    group_t *g = d->g;
    heap_remove(&e->timers, &d->tmr);
    list_remove(&d->link);
    switch (d->state) {
    case DLV_LEASED:
        g->in_flight--;
        break;
    case DLV_DELAYED:
        g->delayed--;
        break;
    case DLV_KEYWAIT:
        g->keywait--;
        d->lane->nwaiting--;
        break;
    }
}

/* Frees d; the group is then finished with d->msg unless the caller re-creates a claim. */
static void dlv_free(engine_t *e, dlv_t *d)
{
    group_t *g = d->g;
    dlv_leave_state(e, d);
    hmap_remove(&g->dlvs, &d->msg->id, sizeof d->msg->id);
    if (d->state != DLV_KEYWAIT) {
        g->progress--;
        if (g->max_in_flight && g->progress + 1 == g->max_in_flight)
            group_signal(e, g, 1); /* room again under the group's limit */
        if (d->lane)
            d->lane->inflight--;
    }
    if (d->lane)
        lane_update(e, g, d->lane);
    msg_unref(d->msg);
    sl_free(d->last_error);
    sl_free(d->hist);
    sl_free(d);
}

static void dlv_to_retry(engine_t *e, dlv_t *d, bool first)
{
    dlv_leave_state(e, d);
    d->state = DLV_RETRY;
    if (first)
        list_unshift(&d->g->retry, &d->link);
    else
        list_push(&d->g->retry, &d->link);
    group_signal(e, d->g, 1);
}

static void dlv_record(dlv_t *d, int64_t at, int event, const char *error)
{
    if (d->hist == NULL)
        d->hist = sl_calloc(ENGINE_HISTORY_MAX, sizeof *d->hist);
    /* the ring keeps the newest ENGINE_HISTORY_MAX failures; nhist saturates at the max */
    struct hist *h = &d->hist[(d->attempts - 1) % ENGINE_HISTORY_MAX];
    h->at = at;
    h->event = (uint8_t)event;
    snprintf(h->error, sizeof h->error, "%s", error ? error : "");
    if (d->nhist < ENGINE_HISTORY_MAX)
        d->nhist++;
    if (error) {
        sl_free(d->last_error);
        d->last_error = sl_strndup(error, ENGINE_ERROR_MAX);
    }
}

static void receipt_format(const dlv_t *d, char *buf)
{
    snprintf(buf, ENGINE_RECEIPT_LEN, "%x-%llx-%llx", (unsigned)d->g->gid,
             (unsigned long long)d->msg->id, (unsigned long long)d->lease_no);
}

static int hexnum(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    for (; *s; s++, n++) {
        int c = *s, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            break;
        if (n == 16)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    if (n == 0)
        return -1;
    *out = v;
    *p = s;
    return 0;
}

/* Finds the LEASED dlv named by receipt in q. */
static dlv_t *receipt_find(queue_t *q, const char *receipt)
{
    uint64_t gid, id, lease_no;
    const char *p = receipt;
    if (hexnum(&p, &gid) || *p++ != '-' || hexnum(&p, &id) || *p++ != '-' ||
        hexnum(&p, &lease_no) || *p != '\0')
        return NULL;
    for (uint32_t i = 0; i < q->ngroups; i++) {
        group_t *g = q->groups[i];
        if (g->gid != gid)
            continue;
        dlv_t *d = hmap_find(&g->dlvs, &id, sizeof id);
        if (d && d->state == DLV_LEASED && d->lease_no == lease_no)
            return d;
        return NULL;
    }
    return NULL;
}

/* ---------------------------------------------------------------- queues */

static void settings_default_dlq(engine_settings_t *s, const char *name)
{
    size_t len = strlen(name);
    s->dlq[0] = '\0';
    if (len >= 4 && strcmp(name + len - 4, ".dlq") == 0)
        return;
    if (len + 4 > ENGINE_NAME_MAX)
        return;
    snprintf(s->dlq, sizeof s->dlq, "%s.dlq", name);
}

static group_t *group_create(engine_t *e, queue_t *q, const char *name,
                             const engine_group_opts_t *o);
static void queue_fill(queue_t *q, pool_t *pool, engine_queue_info_t *o, bool groups);
static void group_fill(group_t *g, pool_t *pool, engine_group_info_t *o);

static void journal_queue(engine_t *e, queue_t *q)
{
    if (!e->journaling || !e->jn.queue)
        return;
    pool_t pool;
    engine_queue_info_t info;
    pool_init(&pool);
    queue_fill(q, &pool, &info, false);
    e->jn.queue(e->jn.ctx, &q->jdata, &info);
    pool_cleanup(&pool);
}

static void journal_group(engine_t *e, group_t *g)
{
    if (!e->journaling || !e->jn.group)
        return;
    pool_t pool;
    engine_group_info_t info;
    pool_init(&pool);
    group_fill(g, &pool, &info);
    e->jn.group(e->jn.ctx, &g->q->jdata, &info);
    pool_cleanup(&pool);
}

/* A new, empty queue called name, registered in e; its settings are the caller's to set. */
static queue_t *queue_new(engine_t *e, const char *name)
{
    queue_t *q = sl_calloc(1, sizeof *q);
    q->name = sl_strdup(name);
    heap_init(&q->delayq);
    heap_init(&q->ttlq);
    heap_node_init(&q->tmr, TK_QUEUE);
    hmap_init(&q->group_map, eq_name_group);
    hmap_init(&q->idem, eq_idem);
    list_init(&q->idem_fifo);
    q->next_gid = 1;
    q->base = q->end = 1;
    hmap_add(&e->queues, q->name, strlen(q->name), q);
    return q;
}

/* Returns the queue called name, creating it with the default settings when absent; NULL with
 * *err set to SL_ETOOMANY when there is no room for another queue. */
static queue_t *queue_get(engine_t *e, const char *name, bool *created, int *err)
{
    queue_t *q = queue_find(e, name);
    if (created)
        *created = q == NULL;
    if (q)
        return q;
    if (e->queues.len >= e->cfg.max_queues) {
        *err = SL_ETOOMANY;
        return NULL;
    }
    q = queue_new(e, name);
    q->set = e->cfg.defaults;
    q->dlq_auto = true;
    settings_default_dlq(&q->set, name);
    q->created_at = e->now;
    journal_queue(e, q);
    if (!queue_is_fanout(e, q))
        group_create(e, q, ENGINE_DEFAULT_GROUP, NULL);
    log_msg(LOG_DEBUG, "Queue '%s' created.", name);
    return q;
}

static struct hist *hist_restore(const engine_gstate_t *st, uint8_t *nhist, bool *damaged);
static int64_t restore_time(int64_t t, bool *damaged);

/* A restored state for message id: finished when st is NULL, else its attempts and history.
 * *damaged is set when st had to be mended (see engine_restore_message()). */
static ahead_t *ahead_new(uint64_t id, const engine_gstate_t *st, bool *damaged)
{
    ahead_t *a = sl_calloc(1, sizeof *a);
    a->id = id;
    a->finished = st == NULL;
    if (st) {
        a->attempts = st->attempts;
        a->visible_at = restore_time(st->visible_at, damaged);
        a->last_error = st->last_error ? sl_strndup(st->last_error, ENGINE_ERROR_MAX) : NULL;
        a->hist = hist_restore(st, &a->nhist, damaged);
    }
    return a;
}

/* Removes m from q whatever the groups think (retention, expiry, purge, redrive): each group's
 * claim is dropped first. counter is incremented (may be NULL). reason (enum
 * engine_drop_reason) is journaled, unless it is -1 (the caller journals a purge instead). */
static void msg_drop(engine_t *e, queue_t *q, msg_t *m, uint64_t *counter, int reason,
                     bool after_move)
{
    if (reason >= 0)
        JOURNAL(e, q, drop, m->id, reason, after_move);
    if (!(m->flags & MSG_DELAYED)) {
        for (uint32_t i = 0; i < q->ngroups && m->pending > 0; i++) {
            group_t *g = q->groups[i];
            if (!group_wants(g, m))
                continue;
            if (m->vseq >= g->cursor) {
                ahead_t *a = ahead_take(g, m);
                bool finished = a && a->finished;
                if (a)
                    ahead_free(a);
                if (!finished) {
                    g->pending--;
                    m->pending--;
                }
                continue;
            }
            dlv_t *d = hmap_find(&g->dlvs, &m->id, sizeof m->id);
            if (d) {
                dlv_free(e, d);
                g->pending--;
                m->pending--;
            }
        }
        sl_assert(m->pending == 0);
    }
    if (counter)
        (*counter)++;
    msg_remove(e, q, m);
}

static bool msg_expired(const engine_t *e, const msg_t *m)
{
    int64_t at = msg_expires_at(m);
    return at != 0 && at <= e->now;
}

/* Applies max_messages and max_bytes by dropping the oldest visible messages. */
static void queue_retain(engine_t *e, queue_t *q)
{
    while (((q->set.max_messages && q->messages > q->set.max_messages) ||
            (q->set.max_bytes && q->bytes > q->set.max_bytes)) &&
           q->base < q->end)
        msg_drop(e, q, ring_get(q, q->base), &q->dropped, ENGINE_DROP_RETENTION, false);
}

/* Makes m visible: it joins the ring and every group that wants it. */
static void msg_activate(engine_t *e, queue_t *q, msg_t *m)
{
    m->flags &= (uint8_t)~MSG_DELAYED;
    ring_push(q, m);
    m->pending = 0;
    for (uint32_t i = 0; i < q->ngroups; i++) {
        group_t *g = q->groups[i];
        if (!group_wants(g, m))
            continue;
        m->pending++;
        g->pending++;
        group_signal(e, g, 1);
    }
    if (m->pending == 0) { /* its one group is gone */
        msg_remove(e, q, m);
        return;
    }
    if (msg_expires_at(m))
        heap_set(&q->ttlq, &msg_ext(m)->tmr, msg_expires_at(m));
    queue_retain(e, q);
}

/* Whether q can hand out n more message ids. Ids are never reused (a log may still name an
 * old one), so a queue whose ids reached ENGINE_ID_MAX (only a log damaged or made by hand gets
 * anywhere near it) takes no more messages. */
static bool queue_ids_left(const queue_t *q, uint64_t n)
{
    return q->last_id < ENGINE_ID_MAX && ENGINE_ID_MAX - q->last_id >= n;
}

/* Stores m (the caller's reference is taken) as the next message of q; queue_ids_left() said
 * there is an id for it. idem (may be NULL) is only recorded in the journal. */
static uint64_t queue_append(engine_t *e, queue_t *q, msg_t *m, int64_t deliver_at, int64_t ttl,
                             const char *idem, size_t idem_len)
{
    sl_assert(queue_ids_left(q, 1));
    m->id = ++q->last_id;
    m->published_at = e->now;
    if (ttl > 0 || deliver_at > e->now) /* they need the extension: a copy, if it has none */
        m = msg_with_ext(m);
    if (ttl > 0)
        msg_ext(m)->expires_at = e->now + ttl;
    m->flags &= MSG_EXT; /* a fresh start for the engine's own flags */
    q->messages++;
    q->bytes += m->len;
    q->published++;
    /* journaled before it becomes visible: retention may drop it at once, and that drop must
     * come after it in the log */
    JOURNAL(e, q, publish, m, deliver_at > e->now ? deliver_at : 0, idem, idem_len);
    if (deliver_at > e->now) {
        m->flags |= MSG_DELAYED;
        q->delayed++;
        heap_set(&q->delayq, &msg_ext(m)->tmr, deliver_at);
    } else {
        msg_activate(e, q, m);
    }
    queue_rearm(e, q);
    return q->last_id;
}

static void idem_expire(queue_t *q, int64_t now)
{
    while (!list_empty(&q->idem_fifo)) {
        idem_t *i = list_entry(q->idem_fifo.next, idem_t, link);
        if (i->expires > now)
            break;
        list_remove(&i->link);
        hmap_remove(&q->idem, i->key, i->len);
        sl_free(i);
    }
}

static int cmp_due(const void *a, const void *b)
{
    const msg_t *x = *(msg_t *const *)a, *y = *(msg_t *const *)b;
    int64_t tx = msg_ext(x)->tmr.at, ty = msg_ext(y)->tmr.at;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Runs the due deadlines of one queue. */
static void queue_timers(engine_t *e, queue_t *q)
{
    heap_node_t *n;
    /* The heap does not order equal deadlines: collect what is due and activate it in
     * (deadline, id) order, so messages delayed to the same time keep their publish order. */
    size_t ndue = 0, cap = 0;
    msg_t **due = NULL;
    while ((n = heap_top(&q->delayq)) != NULL && n->at <= e->now) {
        msg_t *m = msg_of_tmr(n);
        if (msg_expired(e, m)) { /* its time to live ended before it was ever visible */
            q->expired++;
            JOURNAL(e, q, drop, m->id, ENGINE_DROP_EXPIRED, false);
            msg_remove(e, q, m);
            continue;
        }
        heap_remove(&q->delayq, n); /* keeps n->at, which the sort reads */
        if (ndue == cap) {
            cap = cap ? cap * 2 : 16;
            due = sl_realloc(due, cap * sizeof *due);
        }
        due[ndue++] = m;
    }
    if (ndue > 1)
        qsort(due, ndue, sizeof *due, cmp_due);
    for (size_t i = 0; i < ndue; i++) {
        q->delayed--;
        msg_activate(e, q, due[i]);
    }
    sl_free(due);
    while ((n = heap_top(&q->ttlq)) != NULL && n->at <= e->now)
        msg_drop(e, q, msg_of_tmr(n), &q->expired, ENGINE_DROP_EXPIRED, false);
    while (q->set.max_age_ms > 0 && q->base < q->end &&
           ring_get(q, q->base)->published_at + q->set.max_age_ms <= e->now)
        msg_drop(e, q, ring_get(q, q->base), &q->dropped, ENGINE_DROP_RETENTION, false);
    idem_expire(q, e->now);
    queue_rearm(e, q);
}

/* ---------------------------------------------------------------- groups */

/* Creates group name on q with o (NULL: the defaults) and journals it. */
static group_t *group_create(engine_t *e, queue_t *q, const char *name,
                             const engine_group_opts_t *o)
{
    static const engine_group_opts_t defaults = {0};
    if (o == NULL)
        o = &defaults;
    bool from_latest = o->from_latest;
    group_t *g = sl_calloc(1, sizeof *g);
    g->name = sl_strdup(name);
    g->max_in_flight = o->max_in_flight;
    g->max_attempts = o->max_attempts;
    g->meta = o->meta ? sl_strdup(o->meta) : NULL;
    sl_assert(q->next_gid <= UINT32_MAX);
    g->gid = (uint32_t)q->next_gid++;
    g->q = q;
    hmap_init(&g->dlvs, eq_dlv);
    hmap_init(&g->ahead, eq_ahead);
    hmap_init(&g->lanes, eq_lane);
    list_init(&g->retry);
    list_init(&g->ready_lanes);
    list_init(&g->waiters);
    g->created_at = e->now;
    if (from_latest) {
        g->cursor = q->end;
        /* saturating: only a damaged log restores a last id of UINT64_MAX (new ids stop at
         * ENGINE_ID_MAX, and a message with that id is not restored), and wrapping to 0 would
         * make every message this group's after a restart */
        g->start_id = q->last_id < UINT64_MAX ? q->last_id + 1 : UINT64_MAX;
    } else {
        g->cursor = q->base;
        for (uint64_t v = q->base; v < q->end; v++) {
            msg_t *m = ring_get(q, v);
            if (m && msg_only_group(m) == 0) {
                m->pending++;
                g->pending++;
            }
        }
    }
    if (q->ngroups == q->groups_cap) {
        q->groups_cap = q->groups_cap ? q->groups_cap * 2 : 4;
        q->groups = sl_realloc(q->groups, q->groups_cap * sizeof *q->groups);
    }
    q->groups[q->ngroups++] = g;
    hmap_add(&q->group_map, g->name, strlen(g->name), g);
    journal_group(e, g);
    return g;
}

/* Frees g: its claims on messages are dropped (messages no group wants leave the queue), its
 * waiters are woken with status. */
static void group_destroy(engine_t *e, group_t *g, int status)
{
    queue_t *q = g->q;
    group_wake_all(e, g, status);
    uint32_t pos = 0;
    dlv_t *d;
    /* Collect first: freeing dlvs changes the table being iterated. */
    size_t nd = g->dlvs.len, k = 0;
    dlv_t **all = sl_malloc((nd ? nd : 1) * sizeof *all);
    while ((d = hmap_next(&g->dlvs, &pos)) != NULL)
        all[k++] = d;
    for (size_t i = 0; i < k; i++) {
        msg_t *m = msg_ref(all[i]->msg);
        dlv_free(e, all[i]);
        group_finish(e, g, m);
        msg_unref(m);
    }
    sl_free(all);
    for (uint64_t v = g->cursor > q->base ? g->cursor : q->base; v < q->end; v++) {
        msg_t *m = ring_get(q, v);
        if (m == NULL || !group_wants(g, m))
            continue;
        ahead_t *a = ahead_take(g, m);
        bool finished = a && a->finished;
        if (a)
            ahead_free(a);
        if (!finished)
            group_finish(e, g, m);
    }
    sl_assert(g->pending == 0 && g->lanes.len == 0 && g->ahead.len == 0);
    /* Messages published after g existed but still delayed would count g when they activate:
     * removing g from the array first means they will not. */
    hmap_remove(&q->group_map, g->name, strlen(g->name));
    for (uint32_t i = 0; i < q->ngroups; i++) {
        if (q->groups[i] == g) {
            memmove(&q->groups[i], &q->groups[i + 1], (q->ngroups - i - 1) * sizeof *q->groups);
            q->ngroups--;
            break;
        }
    }
    hmap_cleanup(&g->dlvs);
    hmap_cleanup(&g->ahead);
    hmap_cleanup(&g->lanes);
    sl_free(g->meta);
    sl_free(g->name);
    sl_free(g);
}

/* Gives d the attempts, failure history and delay that a restore put in a (then freed). */
static void dlv_adopt(engine_t *e, dlv_t *d, ahead_t *a)
{
    d->attempts = a->attempts;
    d->last_error = a->last_error;
    d->hist = a->hist;
    d->nhist = a->nhist;
    if (a->visible_at > e->now && d->state != DLV_KEYWAIT) {
        d->state = DLV_DELAYED;
        d->g->delayed++;
        heap_set(&e->timers, &d->tmr, a->visible_at);
    }
    sl_free(a);
}

/* Whether g has as many messages in progress as its max_in_flight allows. */
static bool group_full(const group_t *g)
{
    return g->max_in_flight && g->progress >= g->max_in_flight;
}

/* Chooses the next message for g: redeliveries, then ready key lanes, then the cursor. Returns
 * its dlv (not yet LEASED), or NULL when g has nothing it may take now. */
static dlv_t *group_next(engine_t *e, group_t *g)
{
    queue_t *q = g->q;
    /* A message whose time to live ended may not have met its timer yet: it is dropped here,
     * wherever it waits, and never delivered. */
    while (!list_empty(&g->retry)) {
        dlv_t *d = list_entry(g->retry.next, dlv_t, link);
        if (!msg_expired(e, d->msg))
            return d;
        msg_drop(e, q, d->msg, &q->expired, ENGINE_DROP_EXPIRED, false);
    }
    if (group_full(g))
        return NULL;
    while (!list_empty(&g->ready_lanes)) {
        lane_t *l = list_entry(g->ready_lanes.next, lane_t, ready_link);
        dlv_t *d = list_entry(l->waiting.next, dlv_t, link);
        if (msg_expired(e, d->msg)) {
            msg_drop(e, q, d->msg, &q->expired, ENGINE_DROP_EXPIRED, false); /* may free the lane */
            continue;
        }
        dlv_leave_state(e, d); /* KEYWAIT -> in progress */
        l->inflight++;
        g->progress++;
        d->state = DLV_RETRY; /* transitional; the caller leases it at once */
        if (l->inflight >= lane_limit(g) || list_empty(&l->waiting))
            list_remove(&l->ready_link);
        return d;
    }
    if (g->cursor < q->base)
        g->cursor = q->base;
    while (g->cursor < q->end && !group_full(g)) {
        msg_t *m = ring_get(q, g->cursor);
        if (m == NULL || !group_wants(g, m)) {
            g->cursor++;
            continue;
        }
        if (msg_expired(e, m)) { /* its timer has not run yet: drop it now, never deliver it */
            msg_drop(e, q, m, &q->expired, ENGINE_DROP_EXPIRED, false);
            continue;
        }
        ahead_t *a = ahead_take(g, m);
        g->cursor++;
        if (a && a->finished) { /* done before a restart, out of order */
            ahead_free(a);
            continue;
        }
        dlv_t *d;
        lane_t *l = m->key_len ? lane_get(g, m) : NULL;
        if (l && (l->inflight >= lane_limit(g) || !list_empty(&l->waiting))) {
            d = dlv_new(g, m, l, DLV_KEYWAIT);
            list_push(&l->waiting, &d->link);
            l->nwaiting++;
        } else {
            d = dlv_new(g, m, l, DLV_RETRY);
        }
        if (a) { /* it failed before a restart: keep its attempts, history and delay */
            dlv_adopt(e, d, a);
            if (d->state == DLV_DELAYED)
                continue;
        }
        if (d->state != DLV_KEYWAIT)
            return d;
    }
    return NULL;
}

static void dlv_lease(engine_t *e, dlv_t *d, int64_t visibility)
{
    group_t *g = d->g;
    dlv_leave_state(e, d);
    d->state = DLV_LEASED;
    d->attempts++;
    d->lease_no = ++e->lease_seq;
    g->in_flight++;
    g->delivered++;
    heap_set(&e->timers, &d->tmr, e->now + visibility);
}

/* ---------------------------------------------------------------- dead letters */

static void attrs_copy_user(msg_attrs_buf_t *b, const msg_t *m)
{
    size_t pos = 0, nlen, vlen;
    const char *n, *v;
    while (msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen))
        if (!(nlen >= 7 && memcmp(n, "sluice-", 7) == 0))
            msg_attrs_add(b, n, nlen, v, vlen);
}

/* Adds one of the server's own attributes: they are added first, to an empty builder, and each
 * is bounded (names of 128, errors of ENGINE_ERROR_MAX, history within a value), so they fit. */
static void attrs_add_str(msg_attrs_buf_t *b, const char *name, const char *value)
{
    int err = msg_attrs_add(b, name, strlen(name), value, strlen(value));
    sl_assert(err == 0);
}

static void attrs_add_num(msg_attrs_buf_t *b, const char *name, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    attrs_add_str(b, name, buf);
}

/* Writes d's failure history, oldest first, as lines "MS EVENT[ ERROR]" into out, keeping as
 * many of the newest as fit in cap bytes (NUL included). */
static void history_format(const dlv_t *d, char *out, size_t cap)
{
    char lines[ENGINE_HISTORY_MAX][200];
    size_t total = 0, len = 0;
    unsigned keep = 0, first = d->attempts - d->nhist; /* attempt index of the oldest entry */
    for (unsigned k = d->nhist; k-- > 0;) {            /* newest first */
        const struct hist *h = &d->hist[(first + k) % ENGINE_HISTORY_MAX];
        int n = snprintf(lines[k], sizeof lines[k], "%lld %s%s%s", (long long)h->at,
                         hist_event_names[h->event], h->error[0] ? " " : "", h->error);
        if (n < 0)
            break;
        size_t need = strlen(lines[k]) + (keep ? 1 : 0);
        if (total + need + 1 > cap)
            break;
        for (char *c = lines[k]; *c; c++) /* one line per failure, whatever the error said */
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        total += need;
        keep++;
    }
    out[0] = '\0';
    for (unsigned k = d->nhist - keep; k < d->nhist; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "\n" : "", lines[k]);
}

/* Moves d's message to the dead-letter queue of its queue. Returns false when that queue cannot
 * be created (then nothing changed). */
static bool dlv_dead_letter(engine_t *e, dlv_t *d, int event)
{
    group_t *g = d->g;
    queue_t *q = g->q;
    int err = 0;
    queue_t *dq = queue_get(e, q->set.dlq, NULL, &err);
    if (dq == NULL) {
        log_msg(LOG_WARN, "Cannot create dead-letter queue '%s' for '%s': %s; redelivering.",
                q->set.dlq, q->name, err_text(err));
        return false;
    }
    if (!queue_ids_left(dq, 1)) {
        log_msg(LOG_WARN, "Dead-letter queue '%s' of '%s' has used every message id; redelivering.",
                dq->name, q->name);
        return false;
    }
    if (dq == q) {
        /* queue_put refuses this; only a damaged log restores it. Appending to q could drop
         * (retention) the very message being moved, and its delivery with it. */
        log_msg(LOG_WARN, "Queue '%s' names itself as its dead-letter queue; redelivering.",
                q->name);
        return false;
    }
    msg_t *m = d->msg;
    msg_attrs_buf_t b;
    char hist[MSG_ATTR_VALUE_MAX + 1], at[24];
    /* The reserved attributes first: if the publisher's own do not all fit after them (they
     * can, within the API's limits), it is theirs that are left out. */
    msg_attrs_init(&b);
    snprintf(at, sizeof at, "%lld", (long long)e->now);
    attrs_add_str(&b, "sluice-origin-queue", q->name);
    attrs_add_str(&b, "sluice-origin-group", g->name);
    attrs_add_num(&b, "sluice-origin-id", m->id);
    attrs_add_num(&b, "sluice-attempts", d->attempts);
    attrs_add_str(&b, "sluice-reason", hist_event_names[event]);
    attrs_add_str(&b, "sluice-dead-lettered-at", at);
    if (d->last_error)
        attrs_add_str(&b, "sluice-last-error", d->last_error);
    history_format(d, hist, sizeof hist);
    attrs_add_str(&b, "sluice-history", hist);
    attrs_copy_user(&b, m);
    msg_t *dm = msg_new(msg_body(m), m->len, msg_key(m), m->key_len, b.buf, b.len);
    msg_attrs_cleanup(&b);
    q->dead_lettered++;
    g->dead_lettered++;
    /* The dead letter is published before the source lets go of the message, here and in the
     * journal (after_move), so a crash between the two duplicates it rather than losing it. */
    queue_append(e, dq, dm, 0, 0, NULL, 0);
    JOURNAL(e, q, finish, g->gid, m->id, true);
    msg_ref(m);
    dlv_free(e, d);
    group_finish(e, g, m);
    msg_unref(m);
    return true;
}

/* A delivery ended without an ack (lease expired or released): record it, then dead-letter,
 * delay or requeue. */
static void dlv_fail(engine_t *e, dlv_t *d, int event, const char *error, int64_t delay)
{
    queue_t *q = d->g->q;
    d->preacked = false; /* the record written below (fail or dead letter) supersedes it */
    dlv_record(d, e->now, event, error);
    uint32_t max_attempts = d->g->max_attempts ? d->g->max_attempts : q->set.max_attempts;
    if (max_attempts && d->attempts >= max_attempts && q->set.dlq[0] &&
        dlv_dead_letter(e, d, event))
        return;
    JOURNAL(e, q, fail, d->g->gid, d->msg->id, d->attempts, delay > 0 ? e->now + delay : 0, e->now,
            event, error);
    if (delay > 0) {
        dlv_leave_state(e, d);
        d->state = DLV_DELAYED;
        d->g->delayed++;
        heap_set(&e->timers, &d->tmr, e->now + delay);
    } else {
        dlv_to_retry(e, d, false);
    }
}

/* ---------------------------------------------------------------- public API */

static int64_t engine_clock_default(void *ctx)
{
    (void)ctx;
    return dur_now_ms();
}

engine_t *engine_new(const engine_config_t *cfg)
{
    if (cfg->defaults.max_in_flight_per_key == 0 || cfg->max_queues == 0)
        return NULL;
    engine_t *e = sl_calloc(1, sizeof *e);
    e->cfg = *cfg;
    if (e->cfg.clock == NULL)
        e->cfg.clock = engine_clock_default;
    hmap_init(&e->queues, eq_name_queue);
    heap_init(&e->timers);
    list_init(&e->woken);
    /* Receipts from before a restart must not name new leases: start the lease counter at a
     * random point. */
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (uint32_t)dur_now_ms();
    e->lease_seq = r;
    e->now = e->cfg.clock(e->cfg.clock_ctx);
    return e;
}

static void queue_destroy(engine_t *e, queue_t *q)
{
    while (q->ngroups > 0)
        group_destroy(e, q->groups[q->ngroups - 1], SL_ENOQUEUE);
    sl_assert(q->base == q->end);
    heap_node_t *n;
    while ((n = heap_top(&q->delayq)) != NULL)
        msg_remove(e, q, msg_of_tmr(n));
    list_t *l;
    while ((l = list_shift(&q->idem_fifo)) != NULL)
        sl_free(list_entry(l, idem_t, link));
    heap_remove(&e->timers, &q->tmr);
    hmap_remove(&e->queues, q->name, strlen(q->name));
    heap_cleanup(&q->delayq);
    heap_cleanup(&q->ttlq);
    hmap_cleanup(&q->group_map);
    hmap_cleanup(&q->idem);
    sl_free(q->groups);
    if (q->base < q->end)
        ring_free_blocks(q, q->base, ((q->end - 1) >> RING_SHIFT) + 1);
    sl_free(q->blocks);
    sl_free(q->name);
    sl_free(q);
}

void engine_free(engine_t *e)
{
    if (e == NULL)
        return;
    queue_t *q;
    uint32_t pos = 0;
    e->journaling = false; /* freeing memory is not a change of state */
    while ((q = hmap_next(&e->queues, &pos)) != NULL) {
        queue_destroy(e, q);
        pos = 0;
    }
    list_init(&e->woken);
    heap_cleanup(&e->timers);
    hmap_cleanup(&e->queues);
    sl_free(e);
}

int engine_publish(engine_t *e, const char *queue, engine_pub_t *items, size_t n)
{
    int err = 0;
    if (!engine_name_valid(queue, strlen(queue)))
        return SL_ENAME;
    engine_begin(e);
    queue_t *q = queue_get(e, queue, NULL, &err);
    if (q == NULL)
        return err;
    if (!queue_ids_left(q, n)) /* all or nothing: duplicates are counted too */
        return SL_EIDS;
    idem_expire(q, e->now);
    for (size_t i = 0; i < n; i++) {
        engine_pub_t *p = &items[i];
        p->duplicate = false;
        if (p->idem_key && q->set.dedup_ms > 0) {
            idem_t *d = hmap_find(&q->idem, p->idem_key, p->idem_len);
            if (d && d->expires <= e->now) {
                /* expired, but not yet reached by idem_expire(), which walks in publish order:
                 * after the window was shortened, later entries may expire first */
                list_remove(&d->link);
                hmap_remove(&q->idem, d->key, d->len);
                sl_free(d);
                d = NULL;
            }
            if (d) {
                p->id = d->id;
                p->duplicate = true;
                msg_unref(p->msg);
                p->msg = NULL;
                continue;
            }
        }
        p->id = queue_append(e, q, p->msg, p->deliver_at, p->ttl_ms, p->idem_key, p->idem_len);
        p->msg = NULL; /* the queue's now: a later failure to make it durable must not free it */
        if (p->idem_key && q->set.dedup_ms > 0) {
            size_t len = p->idem_len > ENGINE_IDEM_KEY_MAX ? ENGINE_IDEM_KEY_MAX : p->idem_len;
            idem_t *d = sl_malloc(sizeof *d + len);
            d->expires = e->now + q->set.dedup_ms;
            d->id = p->id;
            d->len = (uint16_t)len;
            memcpy(d->key, p->idem_key, len);
            list_push(&q->idem_fifo, &d->link);
            hmap_add(&q->idem, d->key, len, d);
        }
    }
    queue_rearm(e, q);
    engine_flush(e);
    return 0;
}

static int find_qg(engine_t *e, const char *queue, const char *group, queue_t **q, group_t **g)
{
    *q = queue_find(e, queue);
    if (*q == NULL)
        return SL_ENOQUEUE;
    *g = group_find(*q, group ? group : ENGINE_DEFAULT_GROUP);
    return *g ? 0 : SL_ENOGROUP;
}

int engine_lease(engine_t *e, const char *queue, const char *group, size_t max, size_t max_bytes,
                 int64_t visibility_ms, engine_lease_t *out, size_t *n)
{
    size_t bytes = 0;
    queue_t *q;
    group_t *g;
    *n = 0;
    int err = find_qg(e, queue, group, &q, &g);
    if (err)
        return err;
    engine_begin(e);
    if (visibility_ms < 0)
        visibility_ms = q->set.visibility_ms;
    while (*n < max) {
        dlv_t *d = group_next(e, g);
        if (d == NULL)
            break;
        if (*n > 0 && max_bytes && bytes + d->msg->len > max_bytes) {
            dlv_to_retry(e, d, true); /* it does not fit: first in line next time */
            break;
        }
        dlv_lease(e, d, visibility_ms);
        out[*n].msg = msg_ref(d->msg);
        out[*n].attempts = d->attempts;
        receipt_format(d, out[*n].receipt);
        bytes += d->msg->len;
        (*n)++;
    }
    engine_flush(e);
    return 0;
}

/* Finds the live lease named by receipt in queue, for ack, release and undo. */
static int lease_find(engine_t *e, const char *queue, const char *receipt, dlv_t **d)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    *d = receipt_find(q, receipt);
    if (*d == NULL)
        return SL_ENORECEIPT;
    engine_begin(e);
    return 0;
}

int engine_ack(engine_t *e, const char *queue, const char *receipt)
{
    dlv_t *d;
    int err = lease_find(e, queue, receipt, &d);
    if (err)
        return err;
    group_t *g = d->g;
    msg_t *m = msg_ref(d->msg);
    g->acked++;
    g->q->acked++;
    if (!d->preacked)
        JOURNAL(e, g->q, finish, g->gid, m->id, false);
    dlv_free(e, d);
    group_finish(e, g, m);
    msg_unref(m);
    engine_flush(e);
    return 0;
}

int engine_release(engine_t *e, const char *queue, const char *receipt, int64_t delay_ms,
                   const char *error)
{
    dlv_t *d;
    int err = lease_find(e, queue, receipt, &d);
    if (err)
        return err;
    dlv_fail(e, d, EV_RELEASED, error, delay_ms);
    engine_flush(e);
    return 0;
}

int engine_ack_prepare(engine_t *e, const char *queue, const char *receipt)
{
    dlv_t *d;
    int err = lease_find(e, queue, receipt, &d);
    if (err)
        return err;
    if (!d->preacked)
        JOURNAL(e, d->g->q, finish, d->g->gid, d->msg->id, false);
    d->preacked = true;
    return 0;
}

int engine_undo(engine_t *e, const char *queue, const char *receipt)
{
    dlv_t *d;
    int err = lease_find(e, queue, receipt, &d);
    if (err)
        return err;
    d->attempts--;
    d->g->delivered--;
    if (d->preacked) { /* its finish is on disk: say it is back */
        JOURNAL(e, d->g->q, fail, d->g->gid, d->msg->id, d->attempts, 0, e->now, EV_RETURNED, NULL);
        d->preacked = false;
    }
    dlv_to_retry(e, d, true);
    engine_flush(e);
    return 0;
}

int engine_wait(engine_t *e, const char *queue, const char *group, engine_waiter_t *w,
                int64_t deadline)
{
    queue_t *q;
    group_t *g;
    int err = find_qg(e, queue, group, &q, &g);
    if (err)
        return err;
    w->status = 0;
    w->group_ = g;
    heap_node_init(&w->tmr, TK_WAIT);
    heap_set(&e->timers, &w->tmr, deadline);
    list_push(&g->waiters, &w->link);
    g->nwaiting++;
    return 0;
}

void engine_wait_cancel(engine_t *e, engine_waiter_t *w)
{
    if (heap_armed(&w->tmr)) { /* still parked on its group */
        heap_remove(&e->timers, &w->tmr);
        ((group_t *)w->group_)->nwaiting--;
    }
    if (list_linked(&w->link))
        list_remove(&w->link);
}

void engine_wake_all(engine_t *e)
{
    queue_t *q;
    uint32_t pos = 0;
    while ((q = hmap_next(&e->queues, &pos)) != NULL)
        for (uint32_t i = 0; i < q->ngroups; i++)
            group_wake_all(e, q->groups[i], SL_ESHUTDOWN);
    engine_flush(e);
}

int64_t engine_next_deadline(const engine_t *e)
{
    heap_node_t *n = heap_top(&e->timers);
    return n ? n->at : INT64_MAX;
}

int64_t engine_run_timers(engine_t *e)
{
    heap_node_t *n;
    engine_begin(e);
    while ((n = heap_top(&e->timers)) != NULL && n->at <= e->now) {
        heap_remove(&e->timers, n);
        switch (n->kind) {
        case TK_DLV: {
            dlv_t *d = SL_CONTAINER_OF(n, dlv_t, tmr);
            if (d->state == DLV_LEASED)
                dlv_fail(e, d, EV_LEASE_EXPIRED, NULL, 0);
            else
                dlv_to_retry(e, d, false);
            break;
        }
        case TK_QUEUE:
            queue_timers(e, SL_CONTAINER_OF(n, queue_t, tmr));
            break;
        case TK_WAIT: {
            engine_waiter_t *w = SL_CONTAINER_OF(n, engine_waiter_t, tmr);
            ((group_t *)w->group_)->nwaiting--;
            list_remove(&w->link);
            w->status = SL_ETIMEDOUT;
            list_push(&e->woken, &w->link);
            break;
        }
        default:
            sl_assert(!"unknown timer kind");
        }
    }
    engine_flush(e);
    return engine_next_deadline(e);
}

const char *engine_state_name(int state)
{
    static const char *const names[] = {"ready", "delayed",     "leased", "retry",
                                        "retry", "waiting_key", "acked"};
    return state >= 0 && (size_t)state < SL_ARRAY_LEN(names) ? names[state] : "unknown";
}

/* Whether a KEYWAIT delivery would be leased now: its lane may deliver and it is among the
 * first (limit - in flight) waiting. */
static bool keywait_turn_came(group_t *g, const dlv_t *d)
{
    const lane_t *l = d->lane;
    if (!list_linked(&l->ready_link))
        return false;
    uint32_t room = lane_limit(g) - l->inflight, k = 0;
    for (const list_t *n = l->waiting.next; n != &l->waiting && k < room; n = n->next, k++)
        if (n == &d->link)
            return true;
    return false;
}

/* Keeps the limit+1 items with the smallest ids, sorted, in sel (room for limit+1). Messages
 * arrive mostly in id order, so most candidates are rejected or appended in O(1). */
static void peek_offer(engine_peek_item_t *sel, size_t *nsel, size_t cap,
                       const engine_peek_item_t *it)
{
    size_t i = *nsel;
    if (i == cap) {
        if (sel[cap - 1].msg->id < it->msg->id)
            return;
        i = cap - 1;
    } else {
        (*nsel)++;
    }
    while (i > 0 && sel[i - 1].msg->id > it->msg->id) {
        sel[i] = sel[i - 1];
        i--;
    }
    sel[i] = *it;
}

int engine_peek(engine_t *e, const char *queue, const char *group, uint64_t after, size_t limit,
                engine_peek_item_t *out, size_t *n, bool *more)
{
    queue_t *q;
    group_t *g;
    *n = 0;
    *more = false;
    int err = find_qg(e, queue, group, &q, &g);
    if (err || limit == 0)
        return err;
    engine_begin(e);
    engine_peek_item_t *sel = sl_malloc((limit + 1) * sizeof *sel);
    size_t nsel = 0;
    for (uint64_t v = q->base; v < q->end; v++) {
        msg_t *m = ring_get(q, v);
        if (m == NULL || m->id <= after || !group_wants(g, m))
            continue;
        engine_peek_item_t it = {m, ENGINE_READY, 0, 0};
        ahead_t *a =
            v >= g->cursor && g->ahead.len ? hmap_find(&g->ahead, &m->id, sizeof m->id) : NULL;
        if (a) { /* restored: done out of order, or failed before */
            it.state = a->finished              ? ENGINE_ACKED
                       : a->visible_at > e->now ? ENGINE_RETRY_DELAY
                                                : ENGINE_RETRY;
            it.attempts = a->attempts;
            it.until = a->visible_at > e->now ? a->visible_at : 0;
        } else if (v >= g->cursor && m->key_len) {
            /* not reached yet, but the cursor would park it behind its key */
            lane_t *l = hmap_find(&g->lanes, msg_key(m), m->key_len);
            if (l && (l->inflight >= lane_limit(g) || !list_empty(&l->waiting)))
                it.state = ENGINE_WAITING_KEY;
        } else if (v < g->cursor) {
            dlv_t *d = hmap_find(&g->dlvs, &m->id, sizeof m->id);
            if (d == NULL) {
                it.state = ENGINE_ACKED;
            } else {
                static const int map[] = {[DLV_LEASED] = ENGINE_LEASED,
                                          [DLV_RETRY] = ENGINE_RETRY,
                                          [DLV_DELAYED] = ENGINE_RETRY_DELAY,
                                          [DLV_KEYWAIT] = ENGINE_WAITING_KEY};
                it.state = map[d->state];
                if (d->state == DLV_KEYWAIT && keywait_turn_came(g, d))
                    it.state = ENGINE_READY;
                it.attempts = d->attempts;
                it.until = heap_armed(&d->tmr) ? d->tmr.at : 0;
            }
        }
        peek_offer(sel, &nsel, limit + 1, &it);
    }
    for (uint32_t i = 0; i < q->delayq.len; i++) {
        msg_t *m = msg_of_tmr(q->delayq.v[i]);
        if (m->id <= after || !group_wants(g, m))
            continue;
        engine_peek_item_t it = {m, ENGINE_DELAYED, 0, msg_ext(m)->tmr.at};
        peek_offer(sel, &nsel, limit + 1, &it);
    }
    *more = nsel > limit;
    *n = nsel > limit ? limit : nsel;
    for (size_t i = 0; i < *n; i++) {
        out[i] = sel[i];
        msg_ref(out[i].msg);
    }
    sl_free(sel);
    return 0;
}

int engine_queue_put(engine_t *e, const char *queue, const engine_settings_t *s, unsigned mask,
                     bool *created)
{
    int err = 0;
    if (!engine_name_valid(queue, strlen(queue)))
        return SL_ENAME;
    if ((mask & ENGINE_SET_DLQ) && s->dlq[0] &&
        (!engine_name_valid(s->dlq, strlen(s->dlq)) || strcmp(s->dlq, queue) == 0))
        return SL_EPARAM;
    if ((mask & ENGINE_SET_KEY_IN_FLIGHT) && s->max_in_flight_per_key == 0)
        return SL_EPARAM;
    engine_begin(e);
    queue_t *q = queue_get(e, queue, created, &err);
    if (q == NULL)
        return err;
    if (mask & ENGINE_SET_VISIBILITY)
        q->set.visibility_ms = s->visibility_ms;
    if (mask & ENGINE_SET_MAX_ATTEMPTS)
        q->set.max_attempts = s->max_attempts;
    if (mask & ENGINE_SET_DLQ) {
        memcpy(q->set.dlq, s->dlq, sizeof q->set.dlq);
        q->dlq_auto = false;
    }
    if (mask & ENGINE_SET_MAX_MESSAGES)
        q->set.max_messages = s->max_messages;
    if (mask & ENGINE_SET_MAX_BYTES)
        q->set.max_bytes = s->max_bytes;
    if (mask & ENGINE_SET_MAX_AGE)
        q->set.max_age_ms = s->max_age_ms;
    if (mask & ENGINE_SET_DEDUP)
        q->set.dedup_ms = s->dedup_ms;
    if (mask & ENGINE_SET_KEY_IN_FLIGHT) {
        q->set.max_in_flight_per_key = s->max_in_flight_per_key;
        /* A higher limit may let waiting lanes deliver. */
        for (uint32_t i = 0; i < q->ngroups; i++) {
            group_t *g = q->groups[i];
            size_t nl = g->lanes.len, k = 0;
            lane_t **ls = sl_malloc((nl ? nl : 1) * sizeof *ls), *l;
            uint32_t pos = 0;
            while ((l = hmap_next(&g->lanes, &pos)) != NULL)
                ls[k++] = l;
            for (size_t j = 0; j < k; j++)
                lane_update(e, g, ls[j]);
            sl_free(ls);
        }
    }
    if (mask) /* a creation was journaled by queue_get() */
        journal_queue(e, q);
    queue_retain(e, q);
    queue_timers(e, q); /* a shorter max_age may apply at once */
    engine_flush(e);
    return 0;
}

static void group_fill(group_t *g, pool_t *pool, engine_group_info_t *o)
{
    o->name = pool_strndup(pool, g->name, strlen(g->name));
    o->gid = g->gid;
    o->start_id = g->start_id;
    o->lag = g->pending;
    o->in_flight = g->in_flight;
    o->ready = g->pending - g->in_flight - g->delayed - g->keywait;
    /* a lane on the ready list may deliver its first waiting messages now */
    for (list_t *n = g->ready_lanes.next; n != &g->ready_lanes; n = n->next) {
        const lane_t *l = list_entry(n, lane_t, ready_link);
        uint32_t room = lane_limit(g) - l->inflight;
        o->ready += l->nwaiting < room ? l->nwaiting : room;
    }
    if (g->max_in_flight) { /* redeliveries go at once; new messages only while there is room */
        uint64_t nretry = g->progress - g->in_flight - g->delayed;
        uint64_t room = g->max_in_flight > g->progress ? g->max_in_flight - g->progress : 0;
        o->ready = nretry + (o->ready - nretry < room ? o->ready - nretry : room);
    }
    o->retrying = g->delayed;
    o->delivered = g->delivered;
    o->acked = g->acked;
    o->dead_lettered = g->dead_lettered;
    o->waiting = g->nwaiting;
    o->created_at = g->created_at;
    o->max_in_flight = g->max_in_flight;
    o->max_attempts = g->max_attempts;
    o->meta = g->meta ? pool_strndup(pool, g->meta, strlen(g->meta)) : NULL;
}

static void queue_fill(queue_t *q, pool_t *pool, engine_queue_info_t *o, bool groups)
{
    memset(o, 0, sizeof *o);
    o->name = pool_strndup(pool, q->name, strlen(q->name));
    o->settings = q->set;
    o->dlq_auto = q->dlq_auto;
    o->last_id = q->last_id;
    o->messages = q->messages;
    o->bytes = q->bytes;
    o->delayed = q->delayed;
    for (uint32_t i = 0; i < q->ngroups; i++)
        o->in_flight += q->groups[i]->in_flight;
    o->published = q->published;
    o->acked = q->acked;
    o->expired = q->expired;
    o->dropped = q->dropped;
    o->dead_lettered = q->dead_lettered;
    o->created_at = q->created_at;
    o->ngroups = q->ngroups;
    if (!groups)
        return;
    o->groups = pool_calloc(pool, q->ngroups, sizeof *o->groups);
    for (uint32_t i = 0; i < q->ngroups; i++)
        group_fill(q->groups[i], pool, &o->groups[i]);
}

int engine_queue_info(engine_t *e, const char *queue, pool_t *pool, engine_queue_info_t *out)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    queue_fill(q, pool, out, true);
    return 0;
}

static int cmp_queue_name(const void *a, const void *b)
{
    return strcmp((*(queue_t *const *)a)->name, (*(queue_t *const *)b)->name);
}

void engine_queue_list(engine_t *e, pool_t *pool, engine_queue_info_t **out, size_t *n)
{
    size_t count = e->queues.len, k = 0;
    queue_t **all = sl_malloc((count ? count : 1) * sizeof *all), *q;
    uint32_t pos = 0;
    while ((q = hmap_next(&e->queues, &pos)) != NULL)
        all[k++] = q;
    qsort(all, k, sizeof *all, cmp_queue_name);
    *out = pool_calloc(pool, k ? k : 1, sizeof **out);
    for (size_t i = 0; i < k; i++)
        queue_fill(all[i], pool, &(*out)[i], false);
    *n = k;
    sl_free(all);
}

int engine_queue_delete(engine_t *e, const char *queue)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    engine_begin(e);
    JOURNAL(e, q, queue_delete, q->name);
    queue_destroy(e, q);
    engine_flush(e);
    return 0;
}

int engine_queue_purge(engine_t *e, const char *queue, uint64_t *count)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    engine_begin(e);
    *count = q->messages;
    JOURNAL(e, q, purge, q->last_id);
    for (uint64_t v = q->base, end = q->end; v < end; v++) {
        msg_t *m = ring_get(q, v);
        if (m)
            msg_drop(e, q, m, NULL, -1, false);
    }
    heap_node_t *n;
    while ((n = heap_top(&q->delayq)) != NULL)
        msg_remove(e, q, msg_of_tmr(n));
    engine_flush(e);
    return 0;
}

int engine_group_put(engine_t *e, const char *queue, const char *group,
                     const engine_group_opts_t *o, unsigned mask, bool *created)
{
    if (group == NULL)
        group = ENGINE_DEFAULT_GROUP;
    if (!engine_name_valid(group, strlen(group)))
        return SL_ENAME;
    if (o && o->meta && strlen(o->meta) > ENGINE_META_MAX)
        return SL_EPARAM;
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    engine_begin(e);
    group_t *g = group_find(q, group);
    *created = g == NULL;
    if (g == NULL && (q->ngroups >= ENGINE_GROUPS_MAX || q->next_gid > UINT32_MAX)) {
        *created = false;
        return SL_ETOOMANYGROUPS;
    }
    if (g == NULL) {
        group_create(e, q, group, o);
        return 0;
    }
    if (o == NULL || mask == 0)
        return 0;
    if (mask & ENGINE_GSET_MAX_IN_FLIGHT) {
        bool more =
            o->max_in_flight == 0 || (g->max_in_flight && o->max_in_flight > g->max_in_flight);
        g->max_in_flight = o->max_in_flight;
        if (more)
            group_signal(e, g, UINT64_MAX); /* waiters held back by the old limit */
    }
    if (mask & ENGINE_GSET_MAX_ATTEMPTS)
        g->max_attempts = o->max_attempts;
    journal_group(e, g);
    engine_flush(e);
    return 0;
}

int engine_group_info(engine_t *e, const char *queue, const char *group, pool_t *pool,
                      engine_group_info_t *out)
{
    queue_t *q;
    group_t *g;
    int err = find_qg(e, queue, group, &q, &g);
    if (err)
        return err;
    group_fill(g, pool, out);
    return 0;
}

int engine_group_delete(engine_t *e, const char *queue, const char *group)
{
    queue_t *q;
    group_t *g;
    int err = find_qg(e, queue, group, &q, &g);
    if (err)
        return err;
    if (strcmp(g->name, ENGINE_DEFAULT_GROUP) == 0)
        return SL_ECONFLICT;
    engine_begin(e);
    JOURNAL(e, q, group_delete, g->gid);
    group_destroy(e, g, SL_ENOGROUP);
    engine_flush(e);
    return 0;
}

static bool has_origin(const msg_t *m)
{
    size_t len;
    return msg_attr_find(m, "sluice-origin-queue", &len) != NULL;
}

int engine_redrive(engine_t *e, const char *queue, const uint64_t *ids, size_t n, uint64_t *moved,
                   uint64_t *not_found, size_t *nnot)
{
    queue_t *src = queue_find(e, queue), *filter = NULL;
    *moved = 0;
    *nnot = 0;
    if (src == NULL)
        return SL_ENOQUEUE;
    engine_begin(e);
    bool is_dlq = false;
    for (uint64_t v = src->base; v < src->end && !is_dlq; v++) {
        msg_t *m = ring_get(src, v);
        is_dlq = m && has_origin(m);
    }
    if (!is_dlq) {
        filter = src;
        src = src->set.dlq[0] ? queue_find(e, src->set.dlq) : NULL;
    }
    bool *found = sl_calloc(n ? n : 1, sizeof *found);
    int err = 0;
    for (uint64_t v = src ? src->base : 0, end = src ? src->end : 0; v < end; v++) {
        msg_t *m = ring_get(src, v);
        size_t qlen, glen;
        const char *oq_name = m ? msg_attr_find(m, "sluice-origin-queue", &qlen) : NULL;
        if (oq_name == NULL || qlen > ENGINE_NAME_MAX)
            continue;
        if (filter && (strlen(filter->name) != qlen || memcmp(filter->name, oq_name, qlen)))
            continue;
        size_t k = 0;
        if (ids) {
            while (k < n && ids[k] != m->id)
                k++;
            if (k == n)
                continue;
        }
        char name[ENGINE_NAME_MAX + 1], gname[ENGINE_NAME_MAX + 1] = "";
        memcpy(name, oq_name, qlen);
        name[qlen] = '\0';
        const char *og_name = msg_attr_find(m, "sluice-origin-group", &glen);
        if (og_name && glen <= ENGINE_NAME_MAX) {
            memcpy(gname, og_name, glen);
            gname[glen] = '\0';
        }
        queue_t *oq = queue_get(e, name, NULL, &err);
        if (oq == NULL)
            break;
        if (oq == src)
            continue;
        if (!queue_ids_left(oq, 1)) { /* it stays a dead letter */
            err = SL_EIDS;
            break;
        }
        group_t *og = group_find(oq, gname);
        msg_attrs_buf_t b;
        msg_attrs_init(&b);
        attrs_copy_user(&b, m);
        msg_t *nm = og ? msg_new_ext(msg_body(m), m->len, msg_key(m), m->key_len, b.buf, b.len)
                       : msg_new(msg_body(m), m->len, msg_key(m), m->key_len, b.buf, b.len);
        msg_attrs_cleanup(&b);
        if (og)
            msg_ext(nm)->only_group = og->gid;
        queue_append(e, oq, nm, 0, 0, NULL, 0);
        if (ids)
            found[k] = true;
        msg_drop(e, src, m, NULL, ENGINE_DROP_MOVED, true);
        (*moved)++;
    }
    for (size_t k = 0; ids && k < n; k++)
        if (!found[k])
            not_found[(*nnot)++] = ids[k];
    sl_free(found);
    engine_flush(e);
    return err;
}

/* ---------------------------------------------------------------- restore and export */

void engine_set_journal(engine_t *e, const engine_journal_t *j)
{
    if (j)
        e->jn = *j;
    e->journaling = j != NULL;
}

/* The latest time a restore keeps: the end of year 9999, the last that dur_format_time() writes
 * in four digits. Times in 0..ENGINE_TIME_MAX plus durations of at most DUR_MAX_MS cannot
 * overflow, which is all the engine's arithmetic on them needs. */
#define ENGINE_TIME_MAX 253402300799999LL

/* A value read from a log, brought into 0..max; *damaged is set when it changes. Durations go
 * into 0..DUR_MAX_MS, the range the API and the configuration accept. */
static int64_t restore_clamp(int64_t v, int64_t max, bool *damaged)
{
    int64_t c = v < 0 ? 0 : v > max ? max : v;
    if (c != v)
        *damaged = true;
    return c;
}

/* A time read from a log, brought into 0..ENGINE_TIME_MAX. Only damage or a clock far off writes
 * anything else. A time before the epoch becomes 0, which for a deadline (delay, expiry, retry)
 * means none: a damaged deadline may deliver a message early, never lose it. */
static int64_t restore_time(int64_t t, bool *damaged)
{
    return restore_clamp(t, ENGINE_TIME_MAX, damaged);
}

int engine_restore_queue(engine_t *e, const char *queue, const engine_queue_info_t *info)
{
    if (!engine_name_valid(queue, strlen(queue)))
        return SL_ENAME;
    engine_begin(e);
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        q = queue_new(e, queue);
    bool damaged = false;
    q->set = info->settings;
    q->set.visibility_ms = restore_clamp(q->set.visibility_ms, DUR_MAX_MS, &damaged);
    q->set.max_age_ms = restore_clamp(q->set.max_age_ms, DUR_MAX_MS, &damaged);
    q->set.dedup_ms = restore_clamp(q->set.dedup_ms, DUR_MAX_MS, &damaged);
    if (q->set.max_in_flight_per_key == 0) { /* refused by the API: no keyed message would go */
        q->set.max_in_flight_per_key = 1;
        damaged = true;
    }
    q->dlq_auto = info->dlq_auto;
    /* The API refuses a dead-letter queue that is not a queue name; a damaged log may still
     * name one, which dead-lettering would then create (and the next start skip as no queue). */
    if (!q->dlq_auto && q->set.dlq[0] &&
        !engine_name_valid(q->set.dlq, strnlen(q->set.dlq, sizeof q->set.dlq))) {
        q->dlq_auto = true;
        damaged = true;
    }
    if (q->dlq_auto)
        settings_default_dlq(&q->set, q->name);
    q->created_at = restore_time(info->created_at, &damaged);
    if (damaged)
        log_msg(LOG_WARN,
                "Queue '%s': settings or times out of range in its log were brought into range.",
                q->name);
    if (info->last_id > q->last_id)
        q->last_id = info->last_id;
    q->published = info->published;
    q->acked = info->acked;
    q->expired = info->expired;
    q->dropped = info->dropped;
    q->dead_lettered = info->dead_lettered;
    return 0;
}

/* Whether a group of q has id gid. */
static bool gid_taken(const queue_t *q, uint32_t gid)
{
    for (uint32_t i = 0; i < q->ngroups; i++)
        if (q->groups[i]->gid == gid)
            return true;
    return false;
}

int engine_restore_group(engine_t *e, const char *queue, const engine_group_info_t *gi)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    if (!engine_name_valid(gi->name, strlen(gi->name)))
        return SL_ENAME;
    if (gid_taken(q, gi->gid))
        return 0;
    if (group_find(q, gi->name))
        return 0; /* a name reused after a delete whose record was lost: keep the first */
    engine_begin(e);
    bool journaling = e->journaling;
    e->journaling = false;
    engine_group_opts_t o = {false, gi->max_in_flight, gi->max_attempts, gi->meta};
    uint64_t next_gid = q->next_gid;
    q->next_gid = 1; /* group_create numbers it; the number is replaced just below */
    group_t *g = group_create(e, q, gi->name, &o);
    e->journaling = journaling;
    /* put its identity and start back as they were (no message is restored yet, so nothing was
     * counted) */
    sl_assert(q->base == q->end);
    g->gid = gi->gid;
    q->next_gid = next_gid > (uint64_t)gi->gid + 1 ? next_gid : (uint64_t)gi->gid + 1;
    g->start_id = gi->start_id;
    bool damaged = false;
    g->created_at = restore_time(gi->created_at, &damaged);
    if (damaged)
        log_msg(LOG_WARN, "Queue '%s': group '%s' has a creation time out of range in its log.",
                q->name, g->name);
    return 0;
}

void engine_restore_group_delete(engine_t *e, const char *queue, uint32_t gid)
{
    queue_t *q = queue_find(e, queue);
    for (uint32_t i = 0; q && i < q->ngroups; i++) {
        if (q->groups[i]->gid == gid) {
            bool journaling = e->journaling;
            e->journaling = false;
            group_destroy(e, q->groups[i], SL_ENOGROUP);
            e->journaling = journaling;
            return;
        }
    }
}

void engine_restore_gid(engine_t *e, const char *queue, uint32_t gid)
{
    queue_t *q = queue_find(e, queue);
    if (q && q->next_gid <= gid)
        q->next_gid = (uint64_t)gid + 1;
}

/* Builds the failure-history ring of a restored state, indexed as dlv_record() indexes it. The
 * history is a run of the newest failures, so a failure whose event is not one of
 * hist_event_names (only damage writes one) ends it: it and the older ones are left out, and
 * *damaged is set. */
static struct hist *hist_restore(const engine_gstate_t *st, uint8_t *nhist, bool *damaged)
{
    *nhist = 0;
    size_t nfail = st->nfail > ENGINE_HISTORY_MAX ? ENGINE_HISTORY_MAX : st->nfail;
    size_t n = nfail > st->attempts ? st->attempts : nfail;
    for (size_t k = 0; k < n; k++) {
        int ev = st->fail[nfail - 1 - k].event;
        if (ev < 0 || ev >= (int)SL_ARRAY_LEN(hist_event_names)) {
            *damaged = true;
            n = k;
        }
    }
    if (n == 0)
        return NULL;
    struct hist *h = sl_calloc(ENGINE_HISTORY_MAX, sizeof *h);
    for (size_t k = 0; k < n; k++) {
        const engine_failure_t *f = &st->fail[nfail - n + k];
        uint32_t attempt = st->attempts - (uint32_t)n + 1 + (uint32_t)k;
        struct hist *x = &h[(attempt - 1) % ENGINE_HISTORY_MAX];
        x->at = restore_time(f->at, damaged);
        x->event = (uint8_t)f->event;
        snprintf(x->error, sizeof x->error, "%s", f->error ? f->error : "");
    }
    *nhist = (uint8_t)n;
    return h;
}

int engine_restore_message(engine_t *e, const char *queue, msg_t *m, int64_t deliver_at,
                           const engine_gstate_t *gs, size_t n)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL) {
        msg_unref(m);
        return SL_ENOQUEUE;
    }
    if (m->id <= q->restored_id) {
        msg_unref(m);
        return SL_ECONFLICT;
    }
    engine_begin(e);
    q->restored_id = m->id;
    if (m->id > q->last_id) /* even a message refused below: its id stays used */
        q->last_id = m->id;
    /* Damaged attributes would trip msg_attrs_next() when dead-lettering or formatting it. No
     * server hands out an id past ENGINE_ID_MAX: a group made from=latest now starts at
     * UINT64_MAX, and would take such a message for its own. */
    const char *bad = !msg_attrs_valid(m)     ? "damaged attributes"
                      : m->id > ENGINE_ID_MAX ? "an id out of range"
                                              : NULL;
    if (bad) {
        log_msg(LOG_WARN, "Queue '%s': message %llu has %s in its log; it is left out.", q->name,
                (unsigned long long)m->id, bad);
        msg_unref(m);
        return SL_EPARAM;
    }
    bool damaged = false;
    int ret = 0;
    uint64_t id = m->id; /* m may be gone at the end */
    if (m->published_at < 0) {
        m->published_at = 0;
        damaged = true;
    }
    if (msg_ext(m))
        msg_ext(m)->expires_at = restore_time(msg_ext(m)->expires_at, &damaged);
    deliver_at = restore_time(deliver_at, &damaged);
    if (deliver_at > e->now)
        m = msg_with_ext(m); /* the caller normally built it with one */
    m->flags &= MSG_EXT;
    q->messages++;
    q->bytes += m->len;
    if (deliver_at > e->now) { /* not visible yet: no group can have seen it */
        m->flags |= MSG_DELAYED;
        q->delayed++;
        heap_set(&q->delayq, &msg_ext(m)->tmr, deliver_at);
        queue_rearm(e, q);
        goto out;
    }
    ring_push(q, m);
    m->pending = 0;
    for (uint32_t i = 0; i < q->ngroups; i++) {
        group_t *g = q->groups[i];
        if (!group_wants(g, m))
            continue;
        const engine_gstate_t *st = NULL;
        for (size_t k = 0; k < n && !st; k++)
            if (gs[k].gid == g->gid)
                st = &gs[k];
        /* The cursor moves over a contiguous run of messages the group is done with or that
         * failed before; the first message it must still deliver stops it, and what follows
         * that one waits in `ahead` until the cursor gets there. Positions the group does not
         * receive (older than a group made from=latest, another group's message) or that are
         * empty already do not stop it, as in group_next(). */
        while (g->ahead.len == 0 && g->cursor < m->vseq) {
            const msg_t *o = ring_get(q, g->cursor);
            if (o && group_wants(g, o))
                break;
            g->cursor++;
        }
        bool at_cursor = g->cursor == m->vseq && g->ahead.len == 0;
        if (st && st->finished) {
            if (at_cursor)
                g->cursor++;
            else
                ahead_put(g, ahead_new(m->id, NULL, &damaged));
            continue;
        }
        m->pending++;
        g->pending++;
        if (st == NULL || st->attempts == 0)
            continue;
        ahead_t *a = ahead_new(m->id, st, &damaged);
        if (at_cursor) {
            g->cursor++;
            lane_t *l = m->key_len ? lane_get(g, m) : NULL;
            dlv_t *d = dlv_new(g, m, l, DLV_RETRY);
            dlv_adopt(e, d, a);
            if (d->state == DLV_RETRY)
                list_push(&g->retry, &d->link);
        } else {
            ahead_put(g, a);
        }
    }
    if (m->pending == 0) { /* no group needs it: done by all, or received by none */
        msg_remove(e, q, m);
        ret = ENGINE_RESTORE_GONE;
        goto out;
    }
    if (msg_expires_at(m))
        heap_set(&q->ttlq, &msg_ext(m)->tmr, msg_expires_at(m));
    queue_rearm(e, q);
out:
    if (damaged)
        log_msg(LOG_WARN,
                "Queue '%s': message %llu has times or a failure history out of range in its "
                "log; they were brought into range.",
                q->name, (unsigned long long)id);
    return ret;
}

int engine_restore_idem(engine_t *e, const char *queue, const char *key, size_t len, uint64_t id,
                        int64_t published_at)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    engine_begin(e);
    bool damaged = false;
    published_at = restore_time(published_at, &damaged);
    if (damaged)
        log_msg(LOG_WARN,
                "Queue '%s': the idempotency key of message %llu has a time out of range.", q->name,
                (unsigned long long)id);
    if (len == 0 || len > ENGINE_IDEM_KEY_MAX || q->set.dedup_ms <= 0 ||
        published_at + q->set.dedup_ms <= e->now)
        return 0;
    idem_t *d = hmap_remove(&q->idem, key, len);
    if (d) {
        list_remove(&d->link);
        sl_free(d);
    }
    d = sl_malloc(sizeof *d + len);
    d->expires = published_at + q->set.dedup_ms;
    d->id = id;
    d->len = (uint16_t)len;
    memcpy(d->key, key, len);
    list_push(&q->idem_fifo, &d->link);
    hmap_add(&q->idem, d->key, len, d);
    queue_rearm(e, q);
    return 0;
}

void engine_idem_each(engine_t *e, const char *queue, uint64_t max_id,
                      void (*fn)(void *ctx, uint64_t id, int64_t published_at, const char *key,
                                 size_t len),
                      void *ctx)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return;
    engine_begin(e);
    for (list_t *l = q->idem_fifo.next; l != &q->idem_fifo; l = l->next) {
        idem_t *d = list_entry(l, idem_t, link);
        if (d->id <= max_id && d->expires > e->now)
            fn(ctx, d->id, d->expires - q->set.dedup_ms, d->key, d->len);
    }
}

void **engine_queue_jdata(engine_t *e, const char *queue)
{
    queue_t *q = queue_find(e, queue);
    return q ? &q->jdata : NULL;
}

void engine_restore_done(engine_t *e, const char *queue)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return;
    group_t *g = group_find(q, ENGINE_DEFAULT_GROUP);
    if (queue_is_fanout(e, q) && g) { /* it became the fan-out queue since it was stored */
        engine_begin(e);
        JOURNAL(e, q, group_delete, g->gid);
        group_destroy(e, g, SL_ENOGROUP);
    } else if (!queue_is_fanout(e, q) && g == NULL) {
        engine_begin(e);
        uint64_t next_gid = q->next_gid;
        if (next_gid > UINT32_MAX) {
            /* The log names every id (damage). Without a group its messages would be orphans,
             * gone now and back once the record is: it takes the lowest id no group has. */
            log_msg(LOG_WARN,
                    "Queue '%s': its log names every group id; its default group takes one "
                    "that a record may name.",
                    q->name);
            q->next_gid = 1;
            while (gid_taken(q, (uint32_t)q->next_gid))
                q->next_gid++;
        }
        group_create(e, q, ENGINE_DEFAULT_GROUP, NULL);
        if (next_gid > UINT32_MAX)
            q->next_gid = next_gid;
    }
}

/* The state of message m for group g, as engine_export reports it; false when g does not
 * receive m. */
static bool gstate_of(engine_t *e, group_t *g, msg_t *m, engine_gstate_t *st)
{
    memset(st, 0, sizeof *st);
    st->gid = g->gid;
    if (!group_wants(g, m))
        return false;
    const struct hist *hist = NULL;
    uint8_t nhist = 0;
    if (m->flags & MSG_DELAYED) {
        return true; /* ready, never delivered */
    } else if (m->vseq < g->cursor) {
        dlv_t *d = hmap_find(&g->dlvs, &m->id, sizeof m->id);
        if (d == NULL) {
            st->finished = true;
            return true;
        }
        /* a lease in progress is not durable state: it counts as the attempts before it */
        st->attempts = d->state == DLV_LEASED ? d->attempts - 1 : d->attempts;
        st->visible_at = d->state == DLV_DELAYED ? d->tmr.at : 0;
        st->last_error = d->last_error;
        hist = d->hist;
        nhist = d->nhist;
    } else {
        ahead_t *a = g->ahead.len ? hmap_find(&g->ahead, &m->id, sizeof m->id) : NULL;
        if (a == NULL)
            return true;
        st->finished = a->finished;
        st->attempts = a->attempts;
        st->visible_at = a->visible_at;
        st->last_error = a->last_error;
        hist = a->hist;
        nhist = a->nhist;
    }
    (void)e;
    if (st->attempts < nhist) /* the history of a lease in progress: not yet a failure */
        nhist = (uint8_t)st->attempts;
    for (unsigned k = 0; k < nhist; k++) {
        uint32_t attempt = st->attempts - nhist + 1 + k;
        const struct hist *h = &hist[(attempt - 1) % ENGINE_HISTORY_MAX];
        st->fail[k].at = h->at;
        st->fail[k].event = h->event;
        st->fail[k].error = h->error;
    }
    st->nfail = nhist;
    return true;
}

int engine_export(engine_t *e, const char *queue, uint64_t max_id,
                  void (*fn)(void *ctx, const msg_t *m, int64_t deliver_at,
                             const engine_gstate_t *gs, size_t n),
                  void *ctx)
{
    queue_t *q = queue_find(e, queue);
    if (q == NULL)
        return SL_ENOQUEUE;
    engine_gstate_t *gs = sl_malloc((q->ngroups ? q->ngroups : 1) * sizeof *gs);
    for (int pass = 0; pass < 2; pass++) {
        size_t count = pass == 0 ? (size_t)(q->end - q->base) : q->delayq.len;
        for (size_t i = 0; i < count; i++) {
            msg_t *m = pass == 0 ? ring_get(q, q->base + i) : msg_of_tmr(q->delayq.v[i]);
            if (m == NULL || m->id > max_id)
                continue;
            size_t n = 0;
            for (uint32_t k = 0; k < q->ngroups; k++)
                if (gstate_of(e, q->groups[k], m, &gs[n]))
                    n++;
            fn(ctx, m, pass == 0 ? 0 : msg_ext(m)->tmr.at, gs, n);
        }
    }
    sl_free(gs);
    return 0;
}

size_t engine_queue_count(const engine_t *e)
{
    return e->queues.len;
}
