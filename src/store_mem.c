/*
 * store_mem.c — the `memory` backend: the queue engine, with its timers on the event loop.
 *
 * Everything completes inline except a lease that has to wait: it parks an engine waiter, whose
 * wake callback leases again and completes the request (or parks again when another consumer
 * was faster). One libuv timer follows the engine's next deadline; it is re-armed after every
 * request, which costs one comparison when the deadline did not move.
 *
 * Messages live only in memory: the `stored` field of a publish says "memory", and a restart
 * loses everything (GMQ's memory mode, and the fastest Sluice can be).
 */
#include "store.h"

#include "dur.h"
#include "log.h"
#include "mem.h"

typedef struct store_mem {
    store_t base;
    engine_t *engine;
    uv_loop_t *loop;
    uv_timer_t timer;
    int64_t armed_at; /* the deadline the timer is set for; INT64_MAX when stopped */
    size_t parked;
} store_mem_t;

/* A lease waiting for messages. */
typedef struct mem_wait {
    engine_waiter_t w;
    store_mem_t *s;
    store_req_t *req;
    int64_t deadline;
} mem_wait_t;

static void mem_rearm(store_mem_t *s);

static void mem_on_timer(uv_timer_t *t)
{
    store_mem_t *s = t->data;
    s->armed_at = INT64_MAX;
    engine_run_timers(s->engine);
    mem_rearm(s);
}

static void mem_rearm(store_mem_t *s)
{
    int64_t next = engine_next_deadline(s->engine);
    if (next == s->armed_at)
        return;
    s->armed_at = next;
    if (next == INT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    int64_t delay = next - dur_now_ms();
    uv_timer_start(&s->timer, mem_on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

static void mem_complete(store_req_t *req, int status)
{
    req->status = status;
    req->cb(req);
}

static int mem_lease_now(store_mem_t *s, store_req_t *req)
{
    if (req->u.lease.out == NULL)
        req->u.lease.out = pool_calloc(req->pool, req->u.lease.max, sizeof *req->u.lease.out);
    return engine_lease(s->engine, req->queue, req->group, req->u.lease.max, req->u.lease.max_bytes,
                        req->u.lease.visibility_ms, req->u.lease.out, &req->u.lease.n);
}

static void mem_wake(engine_waiter_t *w)
{
    mem_wait_t *mw = SL_CONTAINER_OF(w, mem_wait_t, w);
    store_mem_t *s = mw->s;
    store_req_t *req = mw->req;
    int status = w->status;

    if (status == 0) {
        status = mem_lease_now(s, req);
        if (status == 0 && req->u.lease.n == 0 && dur_now_ms() < mw->deadline &&
            engine_wait(s->engine, req->queue, req->group, &mw->w, mw->deadline) == 0)
            return; /* someone else was faster: keep waiting */
    } else if (status == SL_ETIMEDOUT || status == SL_ESHUTDOWN) {
        status = 0; /* an empty answer */
    }
    s->parked--;
    req->priv = NULL;
    sl_free(mw);
    mem_complete(req, status);
}

static int mem_ack_each(store_mem_t *s, store_req_t *req)
{
    req->u.ack.results = pool_calloc(req->pool, req->u.ack.n ? req->u.ack.n : 1, sizeof(int));
    req->u.ack.done = 0;
    for (size_t i = 0; i < req->u.ack.n; i++) {
        const char *receipt = req->u.ack.receipts[i];
        int r;
        if (req->op == STORE_ACK)
            r = engine_ack(s->engine, req->queue, receipt);
        else if (req->op == STORE_RELEASE)
            r = engine_release(s->engine, req->queue, receipt, req->u.ack.delay_ms,
                               req->u.ack.error);
        else
            r = engine_undo(s->engine, req->queue, receipt);
        if (r == SL_ENOQUEUE)
            return r;
        req->u.ack.results[i] = r;
        if (r == 0)
            req->u.ack.done++;
    }
    return 0;
}

static void mem_submit(store_t *base, store_req_t *req)
{
    store_mem_t *s = (store_mem_t *)base;
    engine_t *e = s->engine;
    int r = 0;

    switch (req->op) {
    case STORE_PUBLISH:
        req->u.publish.stored = "memory";
        r = engine_publish(e, req->queue, req->u.publish.items, req->u.publish.n);
        break;
    case STORE_LEASE:
        r = mem_lease_now(s, req);
        if (r == 0 && req->u.lease.n == 0 && req->u.lease.wait_ms > 0) {
            mem_wait_t *mw = sl_calloc(1, sizeof *mw);
            mw->s = s;
            mw->req = req;
            mw->deadline = dur_now_ms() + req->u.lease.wait_ms;
            mw->w.wake = mem_wake;
            r = engine_wait(e, req->queue, req->group, &mw->w, mw->deadline);
            if (r == 0) {
                req->priv = mw;
                s->parked++;
                mem_rearm(s);
                return;
            }
            sl_free(mw);
        }
        break;
    case STORE_ACK:
    case STORE_RELEASE:
    case STORE_UNDO:
        r = mem_ack_each(s, req);
        break;
    case STORE_PEEK:
        req->u.peek.out = pool_calloc(req->pool, req->u.peek.limit ? req->u.peek.limit : 1,
                                      sizeof *req->u.peek.out);
        r = engine_peek(e, req->queue, req->group, req->u.peek.after, req->u.peek.limit,
                        req->u.peek.out, &req->u.peek.n, &req->u.peek.more);
        break;
    case STORE_REDRIVE:
        req->u.redrive.not_found =
            pool_calloc(req->pool, req->u.redrive.n ? req->u.redrive.n : 1, sizeof(uint64_t));
        r = engine_redrive(e, req->queue, req->u.redrive.ids, req->u.redrive.n,
                           &req->u.redrive.moved, req->u.redrive.not_found, &req->u.redrive.nnot);
        break;
    case STORE_QUEUE_PUT:
        r = engine_queue_put(e, req->queue, &req->u.queue_put.set, req->u.queue_put.mask,
                             &req->u.queue_put.created);
        break;
    case STORE_QUEUE_INFO:
        r = engine_queue_info(e, req->queue, req->pool, &req->u.queue_info);
        break;
    case STORE_QUEUE_LIST:
        engine_queue_list(e, req->pool, &req->u.queue_list.queues, &req->u.queue_list.n);
        break;
    case STORE_QUEUE_DELETE:
        r = engine_queue_delete(e, req->queue);
        break;
    case STORE_QUEUE_PURGE:
        r = engine_queue_purge(e, req->queue, &req->u.purged);
        break;
    case STORE_GROUP_PUT:
        r = engine_group_put(e, req->queue, req->group, req->u.group.from_latest,
                             &req->u.group.created);
        if (r == 0)
            r = engine_group_info(e, req->queue, req->group, req->pool, &req->u.group.info);
        break;
    case STORE_GROUP_INFO:
        r = engine_group_info(e, req->queue, req->group, req->pool, &req->u.group.info);
        break;
    case STORE_GROUP_DELETE:
        r = engine_group_delete(e, req->queue, req->group);
        break;
    default:
        r = SL_EINTERNAL;
        break;
    }
    mem_rearm(s);
    mem_complete(req, r);
}

static int mem_cancel(store_t *base, store_req_t *req)
{
    store_mem_t *s = (store_mem_t *)base;
    mem_wait_t *mw = req->priv;
    if (mw == NULL)
        return SL_ENOENT;
    engine_wait_cancel(s->engine, &mw->w);
    req->priv = NULL;
    s->parked--;
    sl_free(mw);
    return 0;
}

static void mem_drain(store_t *base)
{
    store_mem_t *s = (store_mem_t *)base;
    engine_wake_all(s->engine);
    mem_rearm(s);
}

static int mem_ready(store_t *base)
{
    (void)base;
    return 0;
}

static void mem_close_cb(uv_handle_t *h)
{
    sl_free(h->data);
}

static void mem_close(store_t *base)
{
    store_mem_t *s = (store_mem_t *)base;
    sl_assert(s->parked == 0);
    engine_free(s->engine);
    uv_close((uv_handle_t *)&s->timer, mem_close_cb);
}

static int mem_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out)
{
    engine_t *e = engine_new(&cfg->engine);
    if (e == NULL) {
        log_msg(LOG_ERROR, "Invalid engine settings for the memory storage.");
        return SL_EPARAM;
    }
    store_mem_t *s = sl_calloc(1, sizeof *s);
    s->base.ops = &store_mem_ops;
    s->engine = e;
    s->loop = loop;
    s->armed_at = INT64_MAX;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    *out = &s->base;
    return 0;
}

const struct store_ops store_mem_ops = {
    .version = STORE_OPS_VERSION,
    .name = "memory",
    .open = mem_open,
    .submit = mem_submit,
    .cancel = mem_cancel,
    .drain = mem_drain,
    .ready = mem_ready,
    .close = mem_close,
};
