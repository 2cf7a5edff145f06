/*
 * store_mem.c — the `memory` backend: the queue engine alone (store_eng.c serves the requests).
 *
 * Messages live only in memory: the `stored` field of a publish says "memory", and a restart
 * loses everything (GMQ's memory mode, and the fastest Sluice can be).
 */
#include "store.h"

#include "log.h"
#include "mem.h"
#include "store_eng.h"

typedef struct store_mem {
    store_t base;
    store_eng_t se;
} store_mem_t;

static void mem_done(store_eng_t *se, store_req_t *req)
{
    (void)se;
    if (req->op == STORE_PUBLISH)
        req->u.publish.stored = "memory";
    req->cb(req);
}

static void mem_submit(store_t *base, store_req_t *req)
{
    store_eng_submit(&((store_mem_t *)base)->se, req);
}

static int mem_cancel(store_t *base, store_req_t *req)
{
    return store_eng_cancel(&((store_mem_t *)base)->se, req);
}

static void mem_drain(store_t *base)
{
    store_eng_drain(&((store_mem_t *)base)->se);
}

static int mem_ready(store_t *base)
{
    (void)base;
    return 0;
}

static void mem_closed(store_eng_t *se)
{
    sl_free(SL_CONTAINER_OF(se, store_mem_t, se));
}

static void mem_close(store_t *base)
{
    store_mem_t *s = (store_mem_t *)base;
    s->se.on_closed = mem_closed;
    store_eng_close(&s->se);
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
    store_eng_init(&s->se, e, loop, mem_done);
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
