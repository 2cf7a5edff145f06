/*
 * deliver.c — push delivery; see deliver.h for what a subscription is.
 *
 * Flow. Each subscription leases from its group through the storage interface, one lease
 * request at a time, parked (long-poll) while the group has nothing. Leased messages become
 * jobs in one buffer shared by every subscription, `jobs` deep; up to `workers` jobs are sent at
 * once. A lease takes at most the room the buffer has when it is made, and a parked one takes
 * nothing when it wakes (wake_only): the subscription leases again with the room there is then.
 * So idle subscriptions hold no room, and `jobs` bounds the buffer however many there are (the
 * engine-backed storages answer a lease's immediate part inline, before another can start).
 *
 * A 2xx acks the message; anything else (a status, a refused connection, a timeout) releases it
 * with a backoff delay, and the engine counts the attempt and dead-letters the message when the
 * group's max_attempts is used up, with the error we give it as its last error.
 *
 * Order. A subscription's group carries its max_in_flight, so the engine itself never lets more
 * than that many messages be in progress (leased, or failed and waiting out their backoff):
 * with 1, a message that fails holds back the ones behind it until it is delivered or
 * dead-lettered, across restarts too. This module only decides how many to lease now.
 *
 * Keeping one bad endpoint from hurting the others.
 * - Window: a subscription may have up to `window` deliveries in progress; it grows by one per
 *   success up to max_in_flight and falls to 1 on any failure, so a receiver that is down or
 *   hangs holds one worker at a time, not max_in_flight of them.
 * - Circuit breaker: after circuit_failures failures in a row the subscription stops leasing
 *   for a pause (its messages wait in the queue, their attempts untouched); then one probe goes
 *   out; a success closes the circuit, a failure doubles the pause, up to retry_max (a first
 *   pause longer than that is kept, never shortened).
 * - Every request has a timeout; nothing blocks the loop; publishing never waits on delivery.
 *
 * Re-entrancy. The memory backend answers store requests before store_submit() returns, so a
 * lease completes inside the call that made it. To keep that from recursing (lease, send,
 * lease...), subscriptions that may lease are put on a run list and pumped by one loop, which
 * calls added during the loop only extend.
 */
#include "deliver.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "b64.h"
#include "dur.h"
#include "err.h"
#include "hmap.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "pool.h"

#define DELIVER_WAIT_MS 30000       /* a parked lease is renewed this often */
#define DELIVER_STORE_RETRY_MS 1000 /* after the storage refused a lease */

enum circuit { CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };
static const char *const circuit_names[] = {"closed", "open", "half_open"};

typedef struct sub sub_t;

/* One leased message on its way to a receiver, then its ack or release on its way to the
 * store. */
typedef struct job {
    sub_t *s;
    engine_lease_t lease; /* the message (a reference), its receipt and attempt number */
    webhook_req_t wr;
    char *body; /* what is sent when it is not the message's body (MQ Go's JSON form) */
    pool_t pool;
    store_req_t sreq; /* the ack or release */
    const char *receipts[1];
    list_t link; /* d->buffer while waiting for a worker, d->sending while sent */
} job_t;

struct sub {
    char id[ENGINE_NAME_MAX + 1]; /* the group's name */
    char queue[ENGINE_NAME_MAX + 1];
    deliver_settings_t set;
    uint32_t max_in_flight, max_attempts;
    int64_t created_at;
    deliver_t *d;
    uint32_t window; /* see the header comment */
    uint32_t held;   /* leased and not answered yet */
    uint32_t alive;  /* jobs not freed yet: held, plus acks and releases with the store */
    bool leasing;    /* lreq is with the store */
    bool removed;
    store_req_t lreq;
    pool_t lpool;
    int circuit;
    uint32_t fails_in_row;
    int64_t pause_ms;
    int64_t circuit_until;
    uv_timer_t timer;    /* end of a circuit pause, or a retry after a storage error */
    list_t link;         /* d->subs */
    list_t run_link;     /* d->run: may lease */
    list_t starved_link; /* d->starved: would lease but the buffer is full */
    uint64_t delivered, failed;
    long last_status;
    char last_error[WEBHOOK_ERROR_MAX + 1];
    int64_t last_attempt_at, last_success_at;
};

struct deliver {
    uv_loop_t *loop;
    store_t *store;
    deliver_config_t cfg;
    webhook_client_t *http;
    hmap_t by_id;
    list_t subs;
    list_t buffer; /* jobs waiting for a worker */
    size_t nbuffer;
    list_t sending; /* jobs being sent */
    size_t nsending;
    size_t finishing; /* acks and releases with the store */
    list_t run, starved;
    bool running, draining;
    uint64_t rng;
};

static int eq_sub(const void *val, const void *key, size_t len)
{
    const sub_t *s = val;
    return strlen(s->id) == len && memcmp(s->id, key, len) == 0;
}

/* ---------------------------------------------------------------- meta */

void deliver_meta_format(const deliver_settings_t *s, char *out)
{
    json_t *o = json_pack("{s:s,s:s,s:I}", "url", s->url, "secret", s->secret, "timeout_ms",
                          (json_int_t)s->timeout_ms);
    if (s->mqgo)
        json_object_set_new(o, "mqgo", json_true());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    sl_assert(text != NULL && strlen(text) <= ENGINE_META_MAX);
    memcpy(out, text, strlen(text) + 1);
    sl_free(text);
}

int deliver_meta_parse(const char *meta, deliver_settings_t *s)
{
    json_t *o = meta ? json_loads(meta, 0, NULL) : NULL;
    json_t *url = json_object_get(o, "url"), *secret = json_object_get(o, "secret");
    json_t *timeout = json_object_get(o, "timeout_ms");
    int err = SL_EPARAM;
    if (!json_is_string(url) || !json_is_string(secret) || !json_is_integer(timeout) ||
        json_string_length(url) >= sizeof s->url ||
        json_string_length(secret) >= sizeof s->secret || json_integer_value(timeout) <= 0)
        goto out;
    memset(s, 0, sizeof *s);
    memcpy(s->url, json_string_value(url), json_string_length(url) + 1);
    memcpy(s->secret, json_string_value(secret), json_string_length(secret) + 1);
    s->timeout_ms = json_integer_value(timeout);
    s->mqgo = json_is_true(json_object_get(o, "mqgo"));
    err = 0;
out:
    json_decref(o);
    return err;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t rnd(deliver_t *d)
{
    /* xorshift64*: jitter needs to be spread, not unpredictable */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return d->rng * UINT64_C(2685821657736338717);
}

/* The delay before redelivering a message whose attempt-th delivery failed: retry_min doubled
 * per attempt, capped at retry_max, then "equal jitter" (half fixed, half random) so that the
 * retries of many messages that failed together spread out. */
static int64_t backoff(deliver_t *d, uint32_t attempt)
{
    int64_t base = d->cfg.retry_min_ms;
    for (uint32_t i = 1; i < attempt && base < d->cfg.retry_max_ms; i++)
        base *= 2;
    if (base > d->cfg.retry_max_ms)
        base = d->cfg.retry_max_ms;
    int64_t half = base / 2;
    return base - half + (int64_t)(rnd(d) % (uint64_t)(half + 1));
}

/* How long a delivery's lease lasts: its own timeout, plus the time it may wait in the buffer
 * (jobs / workers rounds of timeouts at worst), plus a margin. A lease that still runs out
 * means the message is delivered again: at-least-once, never lost. */
static int64_t lease_ms(const deliver_t *d, const sub_t *s)
{
    uint32_t rounds = (d->cfg.jobs + d->cfg.workers - 1) / d->cfg.workers;
    return s->set.timeout_ms * (1 + (int64_t)rounds) + 10000;
}

static bool visible_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* ---------------------------------------------------------------- subscriptions */

static void kick(sub_t *s);
static void schedule(deliver_t *d);

static void on_sub_closed(uv_handle_t *h)
{
    sl_free(h->data);
}

/* Frees a removed subscription once nothing refers to it any more. */
static void sub_maybe_free(sub_t *s)
{
    if (!s->removed || s->alive > 0 || s->leasing)
        return;
    pool_cleanup(&s->lpool);
    uv_close((uv_handle_t *)&s->timer, on_sub_closed);
}

static void job_free(job_t *j)
{
    sub_t *s = j->s;
    webhook_req_cleanup(&j->wr);
    msg_unref(j->lease.msg);
    sl_free(j->body);
    pool_cleanup(&j->pool);
    sl_free(j);
    s->alive--;
    sub_maybe_free(s);
}

/* Withdraws a parked lease (circuit opened, removal, shutdown). */
static void sub_unpark(sub_t *s)
{
    if (s->leasing && store_cancel(s->d->store, &s->lreq) == 0) {
        s->leasing = false;
        store_req_cleanup(&s->lreq);
    }
}

/* Stops s for good: out of the registry, buffered jobs dropped (their leases end with the group
 * or expire), freed when its last job is. */
static void sub_remove(sub_t *s)
{
    deliver_t *d = s->d;
    s->removed = true;
    hmap_remove(&d->by_id, s->id, strlen(s->id));
    list_remove(&s->link);
    list_remove(&s->run_link);
    list_remove(&s->starved_link);
    uv_timer_stop(&s->timer);
    sub_unpark(s);
    for (list_t *n = d->buffer.next, *next; n != &d->buffer; n = next) {
        next = n->next;
        job_t *j = list_entry(n, job_t, link);
        if (j->s != s)
            continue;
        list_remove(&j->link);
        d->nbuffer--;
        s->held--;
        job_free(j);
    }
    sub_maybe_free(s);
    schedule(d); /* room in the buffer for the others */
}

/* The end of a circuit pause (a probe may go) or of the wait after a storage error. */
static void on_sub_timer(uv_timer_t *t)
{
    sub_t *s = t->data;
    if (s->circuit == CIRCUIT_OPEN) {
        s->circuit = CIRCUIT_HALF_OPEN;
        s->circuit_until = 0;
    }
    kick(s);
}

static void circuit_open(sub_t *s, int64_t pause)
{
    s->circuit = CIRCUIT_OPEN;
    s->pause_ms = pause;
    s->circuit_until = dur_now_ms() + pause;
    char buf[DUR_LEN];
    log_msg(LOG_WARN,
            "Subscription %s: %u failure(s) in a row at %s (last: %s); pausing delivery for %s.",
            s->id, s->fails_in_row, s->set.url, s->last_error, dur_format(pause, buf));
    list_remove(&s->run_link);
    list_remove(&s->starved_link);
    sub_unpark(s);
    uv_timer_start(&s->timer, on_sub_timer, (uint64_t)pause, 0);
}

/* ---------------------------------------------------------------- leasing */

static void on_leased(store_req_t *req);

/* Leases what s may take now, if anything. */
static void sub_lease(sub_t *s)
{
    deliver_t *d = s->d;
    if (s->removed || d->draining || s->leasing || s->circuit == CIRCUIT_OPEN)
        return;
    uint32_t limit = s->circuit == CIRCUIT_HALF_OPEN ? 1 : s->window;
    if (s->held >= limit)
        return;
    if (d->nbuffer >= d->cfg.jobs) {
        if (!list_linked(&s->starved_link))
            list_push(&d->starved, &s->starved_link);
        return;
    }
    size_t max = limit - s->held, room = d->cfg.jobs - d->nbuffer;
    store_req_init(&s->lreq, STORE_LEASE, on_leased, s, &s->lpool);
    s->lreq.queue = s->queue;
    s->lreq.group = s->id;
    s->lreq.u.lease.max = max < room ? max : room;
    s->lreq.u.lease.visibility_ms = lease_ms(d, s);
    s->lreq.u.lease.wait_ms = DELIVER_WAIT_MS;
    s->lreq.u.lease.wake_only = true; /* an idle subscription holds no room in the buffer */
    s->leasing = true;
    store_submit(d->store, &s->lreq);
}

/* Puts s on the run list and, unless a run is in progress further up the stack, runs it. */
static void kick(sub_t *s)
{
    deliver_t *d = s->d;
    if (!s->removed && !list_linked(&s->run_link))
        list_push(&d->run, &s->run_link);
    if (d->running)
        return;
    d->running = true;
    list_t *n;
    while ((n = list_shift(&d->run)) != NULL)
        sub_lease(list_entry(n, sub_t, run_link));
    d->running = false;
}

static void on_leased(store_req_t *req)
{
    sub_t *s = req->data;
    deliver_t *d = s->d;
    s->leasing = false;
    int st = req->status;
    for (size_t i = 0; st == 0 && !s->removed && i < req->u.lease.n; i++) {
        job_t *j = sl_calloc(1, sizeof *j);
        j->s = s;
        j->lease = req->u.lease.out[i];
        msg_ref(j->lease.msg);
        pool_init(&j->pool);
        webhook_req_init(&j->wr);
        list_push(&d->buffer, &j->link);
        d->nbuffer++;
        s->held++;
        s->alive++;
    }
    store_req_cleanup(req);
    pool_cleanup(&s->lpool);
    pool_init(&s->lpool);
    if (s->removed) {
        sub_maybe_free(s);
        return;
    }
    if (st == SL_ENOQUEUE || st == SL_ENOGROUP) {
        log_msg(LOG_INFO, "Subscription %s: queue '%s' or its group is gone; it ends.", s->id,
                s->queue);
        sub_remove(s);
        return;
    }
    if (st != 0) {
        log_msg(LOG_WARN, "Subscription %s: cannot lease from '%s' (%s); retrying in %d ms.", s->id,
                s->queue, err_text(st), DELIVER_STORE_RETRY_MS);
        uv_timer_start(&s->timer, on_sub_timer, DELIVER_STORE_RETRY_MS, 0);
        return;
    }
    schedule(d);
    kick(s); /* more, or park again after a wait that ended empty */
}

/* ---------------------------------------------------------------- sending */

static void on_sent(webhook_req_t *wr);

/* The body to send for j and its content type. */
static const char *job_body(job_t *j, const void **body, size_t *len)
{
    const msg_t *m = j->lease.msg;
    *body = msg_body(m);
    *len = m->len;
    if (!j->s->set.mqgo) {
        size_t ctlen;
        const char *ct = msg_attr_find(m, "content-type", &ctlen);
        return ct && visible_ascii(ct, ctlen) ? pool_strndup(&j->pool, ct, ctlen)
                                              : "application/octet-stream";
    }
    if (j->s->d->cfg.mqgo_raw)
        return "text/plain"; /* what MQ Go's code sent */
    /* MQ Go's README: {"body": "<text>"}; a body that is not UTF-8 (published through the v1
     * API) cannot be a JSON string and goes as base64 with "encoding" saying so */
    json_t *o, *text = json_stringn((const char *)msg_body(m), m->len);
    if (text) {
        o = json_pack("{s:o}", "body", text);
    } else {
        char *b = sl_malloc(B64_ENCODED_LEN(m->len) + 1);
        b64_encode(msg_body(m), m->len, b);
        o = json_pack("{s:s,s:s}", "body", b, "encoding", "base64");
        sl_free(b);
    }
    j->body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *body = j->body;
    *len = strlen(j->body);
    return "application/json";
}

/* Sets the request's headers: the Standard Webhooks trio, Sluice's own, the publisher's
 * traceparent and attributes (only those that are visible ASCII: a header cannot carry more). */
static void job_headers(job_t *j, const char *ctype, const void *body, size_t len)
{
    sub_t *s = j->s;
    const msg_t *m = j->lease.msg;
    webhook_req_t *wr = &j->wr;
    char wid[ENGINE_NAME_MAX + 32], ts[24], sig[WEBHOOK_SIG_MAX], num[24];
    snprintf(wid, sizeof wid, "%s:%" PRIu64, s->queue, m->id);
    int64_t now = dur_now_ms() / 1000;
    snprintf(ts, sizeof ts, "%" PRId64, now);
    if (webhook_sign(s->set.secret, wid, now, body, len, sig) != 0)
        sig[0] = '\0'; /* refused when the subscription was made; never here */
    webhook_req_header(wr, "Content-Type", ctype);
    webhook_req_header(wr, "webhook-id", wid);
    webhook_req_header(wr, "webhook-timestamp", ts);
    webhook_req_header(wr, "webhook-signature", sig);
    webhook_req_header(wr, "Sluice-Subscription", s->id);
    webhook_req_header(wr, "Sluice-Queue", s->queue);
    snprintf(num, sizeof num, "%" PRIu64, m->id);
    webhook_req_header(wr, "Sluice-Id", num);
    snprintf(num, sizeof num, "%" PRIu32, j->lease.attempts);
    webhook_req_header(wr, "Sluice-Attempt", num);
    if (m->key_len && visible_ascii(msg_key(m), m->key_len))
        webhook_req_header(wr, "Sluice-Key", pool_strndup(&j->pool, msg_key(m), m->key_len));
    size_t pos = 0, nlen, vlen;
    const char *n, *v;
    while (msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen)) {
        if (!visible_ascii(v, vlen) || (nlen == 12 && !memcmp(n, "content-type", 12)) ||
            (nlen >= 7 && !memcmp(n, "sluice-", 7)))
            continue;
        char *val = pool_strndup(&j->pool, v, vlen);
        if (nlen == 11 && !memcmp(n, "traceparent", 11))
            webhook_req_header(wr, "traceparent", val);
        else
            webhook_req_header(wr, pool_printf(&j->pool, "Sluice-Attr-%.*s", (int)nlen, n), val);
    }
}

static void job_start(job_t *j)
{
    deliver_t *d = j->s->d;
    const void *body;
    size_t len;
    const char *ctype = job_body(j, &body, &len);
    job_headers(j, ctype, body, len);
    j->wr.url = j->s->set.url;
    j->wr.body = body;
    j->wr.body_len = len;
    j->wr.timeout_ms = j->s->set.timeout_ms;
    j->wr.cb = on_sent;
    j->wr.data = j;
    j->s->last_attempt_at = dur_now_ms();
    list_push(&d->sending, &j->link);
    d->nsending++;
    if (webhook_post(d->http, &j->wr) != 0)
        on_sent(&j->wr); /* refused before it started: a failed attempt like any other */
}

/* Starts buffered jobs while workers are free, then lets starved subscriptions lease. */
static void schedule(deliver_t *d)
{
    while (d->nsending < d->cfg.workers && !list_empty(&d->buffer)) {
        job_t *j = list_entry(list_shift(&d->buffer), job_t, link);
        d->nbuffer--;
        job_start(j);
    }
    while (d->nbuffer < d->cfg.jobs && !list_empty(&d->starved)) {
        sub_t *s = list_entry(list_shift(&d->starved), sub_t, starved_link);
        kick(s);
    }
}

static void on_finished(store_req_t *req)
{
    job_t *j = req->data;
    deliver_t *d = j->s->d;
    d->finishing--;
    int st = req->status ? req->status : req->u.ack.results[0];
    if (st == SL_ENORECEIPT)
        log_msg(LOG_DEBUG,
                "Subscription %s: the lease of message %" PRIu64
                " ended before its answer came; it will be delivered again.",
                j->s->id, j->lease.msg->id);
    else if (st != 0 && st != SL_ENOQUEUE && st != SL_ENOGROUP)
        log_msg(LOG_WARN, "Subscription %s: cannot %s message %" PRIu64 " (%s).", j->s->id,
                req->op == STORE_ACK ? "ack" : "release", j->lease.msg->id, err_text(st));
    job_free(j);
}

/* Hands j's outcome to the store: op STORE_ACK, or STORE_RELEASE after delay with error. */
static void job_finish(job_t *j, int op, int64_t delay, const char *error)
{
    deliver_t *d = j->s->d;
    store_req_init(&j->sreq, op, on_finished, j, &j->pool);
    j->sreq.queue = j->s->queue;
    j->sreq.group = j->s->id;
    j->receipts[0] = j->lease.receipt;
    j->sreq.u.ack.receipts = j->receipts;
    j->sreq.u.ack.n = 1;
    j->sreq.u.ack.delay_ms = delay;
    j->sreq.u.ack.error = error;
    d->finishing++;
    store_submit(d->store, &j->sreq);
}

static void on_sent(webhook_req_t *wr)
{
    job_t *j = wr->data;
    sub_t *s = j->s;
    deliver_t *d = s->d;
    list_remove(&j->link);
    d->nsending--;
    s->held--;
    if (s->removed) {
        job_free(j);
        schedule(d);
        return;
    }
    s->last_status = wr->status;
    if (wr->status >= 200 && wr->status < 300) {
        s->delivered++;
        s->last_success_at = dur_now_ms();
        s->fails_in_row = 0;
        if (s->window < s->max_in_flight)
            s->window++;
        if (s->circuit != CIRCUIT_CLOSED) {
            log_msg(LOG_INFO, "Subscription %s: %s answers again; delivery resumes.", s->id,
                    s->set.url);
            s->circuit = CIRCUIT_CLOSED;
            s->circuit_until = 0;
        }
        job_finish(j, STORE_ACK, 0, NULL);
    } else {
        s->failed++;
        s->fails_in_row++;
        s->window = 1;
        snprintf(s->last_error, sizeof s->last_error, "%s", wr->error);
        log_msg(LOG_DEBUG, "Subscription %s: message %" PRIu64 " attempt %" PRIu32 " failed: %s.",
                s->id, j->lease.msg->id, j->lease.attempts, wr->error);
        if (s->circuit == CIRCUIT_HALF_OPEN) /* doubled up to retry_max, never shortened */
            circuit_open(s, s->pause_ms >= d->cfg.retry_max_ms      ? s->pause_ms
                            : s->pause_ms * 2 < d->cfg.retry_max_ms ? s->pause_ms * 2
                                                                    : d->cfg.retry_max_ms);
        else if (s->circuit == CIRCUIT_CLOSED && s->fails_in_row >= d->cfg.circuit_failures)
            circuit_open(s, d->cfg.circuit_pause_ms);
        /* the engine dead-letters it if this was its last attempt and the queue has somewhere
         * to put it; otherwise it comes back after the backoff */
        job_finish(j, STORE_RELEASE, backoff(d, j->lease.attempts), wr->error);
    }
    schedule(d);
    kick(s);
}

/* ---------------------------------------------------------------- registry */

int deliver_add(deliver_t *d, const char *queue, const engine_group_info_t *g)
{
    deliver_settings_t set;
    if (deliver_meta_parse(g->meta, &set) != 0)
        return SL_EPARAM;
    if (d->http == NULL) { /* the first subscription: libcurl is loaded now (webhook.c) */
        d->http = webhook_client_new(d->loop, d->cfg.user_agent);
        if (d->http == NULL) {
            log_msg(LOG_ERROR, "Queue '%s': subscription %s cannot be delivered: no HTTP client.",
                    queue, g->name);
            return SL_EUNAVAILABLE;
        }
    }
    if (hmap_find(&d->by_id, g->name, strlen(g->name))) {
        log_msg(LOG_WARN,
                "Queue '%s': subscription %s has the name of another subscription; it is not "
                "delivered (delete one of them).",
                queue, g->name);
        return SL_ECONFLICT;
    }
    sub_t *s = sl_calloc(1, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", g->name);
    snprintf(s->queue, sizeof s->queue, "%s", queue);
    s->set = set;
    s->max_in_flight = g->max_in_flight ? g->max_in_flight : UINT32_MAX;
    s->max_attempts = g->max_attempts;
    s->created_at = g->created_at;
    s->d = d;
    s->window = 1;
    pool_init(&s->lpool);
    uv_timer_init(d->loop, &s->timer);
    s->timer.data = s;
    list_init(&s->run_link);
    list_init(&s->starved_link);
    list_push(&d->subs, &s->link);
    hmap_add(&d->by_id, s->id, strlen(s->id), s);
    kick(s);
    return 0;
}

int deliver_remove(deliver_t *d, const char *id)
{
    sub_t *s = hmap_find(&d->by_id, id, strlen(id));
    if (s == NULL)
        return SL_ENOSUB;
    sub_remove(s);
    return 0;
}

void deliver_remove_queue(deliver_t *d, const char *queue)
{
    for (list_t *n = d->subs.next, *next; n != &d->subs; n = next) {
        next = n->next;
        sub_t *s = list_entry(n, sub_t, link);
        if (strcmp(s->queue, queue) == 0)
            sub_remove(s);
    }
}

static void info_fill(const sub_t *s, deliver_info_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = s->id;
    o->queue = s->queue;
    o->settings = &s->set;
    o->max_in_flight = s->max_in_flight == UINT32_MAX ? 0 : s->max_in_flight;
    o->max_attempts = s->max_attempts;
    o->created_at = s->created_at;
    o->circuit = circuit_names[s->circuit];
    o->circuit_until = s->circuit_until;
    o->in_flight = s->alive; /* until its ack or release is stored */
    o->delivered = s->delivered;
    o->failed = s->failed;
    o->last_status = s->last_status;
    o->last_error = s->last_error;
    o->last_attempt_at = s->last_attempt_at;
    o->last_success_at = s->last_success_at;
}

int deliver_info(deliver_t *d, const char *id, deliver_info_t *out)
{
    const sub_t *s = hmap_find(&d->by_id, id, strlen(id));
    if (s == NULL)
        return SL_ENOSUB;
    info_fill(s, out);
    return 0;
}

void deliver_each(deliver_t *d, void (*fn)(void *ctx, const deliver_info_t *i), void *ctx)
{
    deliver_info_t info;
    for (list_t *n = d->subs.next; n != &d->subs; n = n->next) {
        info_fill(list_entry(n, sub_t, link), &info);
        fn(ctx, &info);
    }
}

/* ---------------------------------------------------------------- loading at start */

typedef struct loader {
    deliver_t *d;
    void (*done)(void *ctx, int err);
    void *ctx;
    pool_t list_pool, info_pool;
    store_req_t req;
    engine_queue_info_t *queues;
    size_t n, i;
    bool in_submit, answered;
} loader_t;

static void load_step(loader_t *l);

static void on_loaded(store_req_t *req)
{
    loader_t *l = req->data;
    l->answered = true;
    if (!l->in_submit) /* answered later: carry on from here */
        load_step(l);
}

/* Whether queue q has a group besides `default` (MQ Go's queue has no `default`). */
static bool may_have_subs(const deliver_t *d, const engine_queue_info_t *q)
{
    bool fanout = d->cfg.mqgo_queue && strcmp(q->name, d->cfg.mqgo_queue) == 0;
    return q->ngroups > (fanout ? 0 : 1);
}

/* Takes the answer to l->req, then submits the next request; loops while answers come inline,
 * so that thousands of queues do not make thousands of nested calls. */
static void load_step(loader_t *l)
{
    for (;;) {
        store_req_t *req = &l->req;
        int err = req->status;
        if (err == 0 && req->op == STORE_QUEUE_LIST) {
            l->queues = req->u.queue_list.queues;
            l->n = req->u.queue_list.n;
        } else if (err == 0) {
            const engine_queue_info_t *q = &req->u.queue_info;
            for (size_t g = 0; g < q->ngroups; g++)
                if (q->groups[g].meta && deliver_add(l->d, q->name, &q->groups[g]) == SL_EPARAM)
                    log_msg(LOG_WARN,
                            "Queue '%s': group '%s' has settings that are not a subscription's; "
                            "it is not delivered.",
                            q->name, q->groups[g].name);
            pool_cleanup(&l->info_pool);
            pool_init(&l->info_pool);
        } else if (err != SL_ENOQUEUE) { /* a queue deleted meanwhile is fine */
            log_msg(LOG_ERROR, "Cannot load the subscriptions: %s.", err_text(err));
            l->done(l->ctx, err);
            goto out;
        }
        while (l->i < l->n && !may_have_subs(l->d, &l->queues[l->i]))
            l->i++;
        if (l->i == l->n) {
            l->done(l->ctx, 0);
            goto out;
        }
        store_req_init(req, STORE_QUEUE_INFO, on_loaded, l, &l->info_pool);
        req->queue = l->queues[l->i++].name;
        l->answered = false;
        l->in_submit = true;
        store_submit(l->d->store, req);
        l->in_submit = false;
        if (!l->answered)
            return; /* on_loaded resumes */
    }
out:
    pool_cleanup(&l->info_pool);
    pool_cleanup(&l->list_pool);
    sl_free(l);
}

void deliver_start(deliver_t *d, void (*done)(void *ctx, int err), void *ctx)
{
    loader_t *l = sl_calloc(1, sizeof *l);
    l->d = d;
    l->done = done;
    l->ctx = ctx;
    pool_init(&l->list_pool);
    pool_init(&l->info_pool);
    store_req_init(&l->req, STORE_QUEUE_LIST, on_loaded, l, &l->list_pool);
    l->in_submit = true;
    store_submit(d->store, &l->req);
    l->in_submit = false;
    if (l->answered)
        load_step(l);
}

/* ---------------------------------------------------------------- lifetime */

deliver_t *deliver_new(uv_loop_t *loop, store_t *store, const deliver_config_t *cfg)
{
    deliver_t *d = sl_calloc(1, sizeof *d);
    d->loop = loop;
    d->store = store;
    d->cfg = *cfg;
    hmap_init(&d->by_id, eq_sub);
    list_init(&d->subs);
    list_init(&d->buffer);
    list_init(&d->sending);
    list_init(&d->run);
    list_init(&d->starved);
    if (getrandom(&d->rng, sizeof d->rng, GRND_NONBLOCK) != sizeof d->rng || d->rng == 0)
        d->rng = (uint64_t)dur_now_ms() | 1;
    return d;
}

void deliver_drain(deliver_t *d)
{
    d->draining = true;
    for (list_t *n = d->subs.next; n != &d->subs; n = n->next) {
        sub_t *s = list_entry(n, sub_t, link);
        uv_timer_stop(&s->timer);
        sub_unpark(s);
    }
    list_init(&d->run);
    list_init(&d->starved);
    /* jobs not started stay leased until their lease ends (or the process does) */
    while (!list_empty(&d->buffer)) {
        job_t *j = list_entry(list_shift(&d->buffer), job_t, link);
        d->nbuffer--;
        j->s->held--;
        job_free(j);
    }
}

size_t deliver_active(const deliver_t *d)
{
    return d->nsending + d->finishing;
}

void deliver_free(deliver_t *d)
{
    if (d == NULL)
        return;
    deliver_drain(d);
    webhook_client_free(d->http); /* aborts what is being sent; no callbacks; NULL: none */
    while (!list_empty(&d->sending)) {
        job_t *j = list_entry(list_shift(&d->sending), job_t, link);
        d->nsending--;
        j->s->held--;
        job_free(j);
    }
    while (!list_empty(&d->subs))
        sub_remove(list_entry(d->subs.next, sub_t, link));
    hmap_cleanup(&d->by_id);
    sl_free(d);
}
