/*
 * store_eng.c — the request dispatch shared by the engine-backed storages; see store_eng.h.
 *
 * A lease that has to wait parks an engine waiter, whose wake callback leases again and
 * completes the request (or parks again when another consumer was faster); a wake_only lease
 * completes empty instead. One libuv timer
 * follows the engine's next deadline; it is re-armed after every request, which costs one
 * comparison when the deadline did not move.
 */
#include "store_eng.h"

#include "dur.h"
#include "log.h"
#include "mem.h"

/* A lease waiting for messages. */
typedef struct eng_wait {
    engine_waiter_t w;
    store_eng_t *se;
    store_req_t *req;
    int64_t deadline;
} eng_wait_t;

static void eng_on_timer(uv_timer_t *t)
{
    store_eng_t *se = t->data;
    se->armed_at = INT64_MAX;
    engine_run_timers(se->engine);
    store_eng_rearm(se);
}

void store_eng_rearm(store_eng_t *se)
{
    int64_t next = engine_next_deadline(se->engine);
    if (next == se->armed_at)
        return;
    se->armed_at = next;
    if (next == INT64_MAX) {
        uv_timer_stop(&se->timer);
        return;
    }
    int64_t delay = next - dur_now_ms();
    uv_timer_start(&se->timer, eng_on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

static void eng_complete(store_eng_t *se, store_req_t *req, int status)
{
    req->status = status;
    se->done(se, req);
}

static int eng_lease_now(store_eng_t *se, store_req_t *req)
{
    if (req->u.lease.out == NULL)
        req->u.lease.out = pool_calloc(req->pool, req->u.lease.max, sizeof *req->u.lease.out);
    return engine_lease(se->engine, req->queue, req->group, req->u.lease.max,
                        req->u.lease.max_bytes, req->u.lease.visibility_ms, req->u.lease.out,
                        &req->u.lease.n);
}

static void eng_wake(engine_waiter_t *w)
{
    eng_wait_t *ew = SL_CONTAINER_OF(w, eng_wait_t, w);
    store_eng_t *se = ew->se;
    store_req_t *req = ew->req;
    int status = w->status;

    if (status == 0 && !req->u.lease.wake_only) {
        status = eng_lease_now(se, req);
        if (status == 0 && req->u.lease.n == 0 && dur_now_ms() < ew->deadline &&
            engine_wait(se->engine, req->queue, req->group, &ew->w, ew->deadline) == 0)
            return; /* someone else was faster: keep waiting */
    } else if (status == SL_ETIMEDOUT || status == SL_ESHUTDOWN) {
        status = 0; /* an empty answer */
    }
    se->parked--;
    req->priv = NULL;
    sl_free(ew);
    eng_complete(se, req, status);
}

static int eng_ack_each(store_eng_t *se, store_req_t *req)
{
    req->u.ack.results = pool_calloc(req->pool, req->u.ack.n ? req->u.ack.n : 1, sizeof(int));
    req->u.ack.done = 0;
    for (size_t i = 0; i < req->u.ack.n; i++) {
        const char *receipt = req->u.ack.receipts[i];
        int r;
        if (req->op == STORE_ACK)
            r = engine_ack(se->engine, req->queue, receipt);
        else if (req->op == STORE_RELEASE)
            r = engine_release(se->engine, req->queue, receipt, req->u.ack.delay_ms,
                               req->u.ack.error);
        else if (req->op == STORE_ACK_PREPARE)
            r = engine_ack_prepare(se->engine, req->queue, receipt);
        else
            r = engine_undo(se->engine, req->queue, receipt);
        if (r == SL_ENOQUEUE)
            return r;
        req->u.ack.results[i] = r;
        if (r == 0)
            req->u.ack.done++;
    }
    return 0;
}

bool store_eng_writes(int op)
{
    return op != STORE_LEASE && op != STORE_UNDO && op != STORE_PEEK && op != STORE_QUEUE_INFO &&
           op != STORE_QUEUE_LIST && op != STORE_GROUP_INFO;
}

void store_eng_submit(store_eng_t *se, store_req_t *req)
{
    engine_t *e = se->engine;
    int r = 0;

    switch (req->op) {
    case STORE_PUBLISH:
        r = engine_publish(e, req->queue, req->u.publish.items, req->u.publish.n);
        break;
    case STORE_LEASE:
        r = eng_lease_now(se, req);
        if (r == 0 && req->u.lease.n == 0 && req->u.lease.wait_ms > 0) {
            eng_wait_t *ew = sl_calloc(1, sizeof *ew);
            ew->se = se;
            ew->req = req;
            ew->deadline = dur_now_ms() + req->u.lease.wait_ms;
            ew->w.wake = eng_wake;
            r = engine_wait(e, req->queue, req->group, &ew->w, ew->deadline);
            if (r == 0) {
                req->priv = ew;
                se->parked++;
                store_eng_rearm(se);
                return;
            }
            sl_free(ew);
        }
        break;
    case STORE_ACK:
    case STORE_RELEASE:
    case STORE_UNDO:
    case STORE_ACK_PREPARE:
        r = eng_ack_each(se, req);
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
    case STORE_GROUP_PUT: {
        engine_group_opts_t o = {req->u.group.from_latest, req->u.group.max_in_flight,
                                 req->u.group.max_attempts, req->u.group.meta};
        r = engine_group_put(e, req->queue, req->group, &o, req->u.group.mask,
                             &req->u.group.created);
        if (r == 0)
            r = engine_group_info(e, req->queue, req->group, req->pool, &req->u.group.info);
        break;
    }
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
    store_eng_rearm(se);
    eng_complete(se, req, r);
}

int store_eng_cancel(store_eng_t *se, store_req_t *req)
{
    eng_wait_t *ew = req->priv;
    if (ew == NULL)
        return SL_ENOENT;
    engine_wait_cancel(se->engine, &ew->w);
    req->priv = NULL;
    se->parked--;
    sl_free(ew);
    return 0;
}

void store_eng_drain(store_eng_t *se)
{
    engine_wake_all(se->engine);
    store_eng_rearm(se);
}

static void eng_timer_closed(uv_handle_t *h)
{
    store_eng_t *se = h->data;
    if (se->on_closed)
        se->on_closed(se);
}

void store_eng_init(store_eng_t *se, engine_t *engine, uv_loop_t *loop, store_eng_done_fn done)
{
    se->engine = engine;
    se->loop = loop;
    se->armed_at = INT64_MAX;
    se->parked = 0;
    se->done = done;
    se->on_closed = NULL;
    uv_timer_init(loop, &se->timer);
    se->timer.data = se;
}

void store_eng_close(store_eng_t *se)
{
    sl_assert(se->parked == 0);
    engine_free(se->engine);
    se->engine = NULL;
    uv_close((uv_handle_t *)&se->timer, eng_timer_closed);
}
