/*
 * store.c — the backend registry and the request helpers shared by every backend.
 *
 * Backends register here by name (optional ones under #ifdef HAVE_* once they exist). Names that
 * the documentation promises but that are not built yet are refused with a clear "not yet"
 * rather than "unknown", so a user can tell a typo from a missing feature.
 */
#include "store.h"

#include <string.h>

#include "log.h"

static const struct store_ops *const store_backends[] = {&store_mem_ops, &store_file_ops};
static const char *const store_backend_names[] = {"memory", "file", NULL};
static const char *const store_planned[] = {"postgres", "mysql"};

int store_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(store_backends); i++) {
        const struct store_ops *ops = store_backends[i];
        if (strcmp(ops->name, cfg->name) != 0)
            continue;
        sl_assert(ops->version == STORE_OPS_VERSION);
        return ops->open(cfg, loop, out);
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(store_planned); i++) {
        if (strcmp(store_planned[i], cfg->name) == 0) {
            log_msg(LOG_ERROR,
                    "Storage '%s' is not available yet in this version; use "
                    "storage = memory.",
                    cfg->name);
            return SL_ENOTYET;
        }
    }
    log_msg(LOG_ERROR, "Unknown storage '%s' (expected memory, file, postgres or mysql).",
            cfg->name);
    return SL_EPARAM;
}

const char *const *store_names(void)
{
    return store_backend_names;
}

void store_req_init(store_req_t *req, int op, store_cb cb, void *data, pool_t *pool)
{
    memset(req, 0, sizeof *req);
    req->op = op;
    req->cb = cb;
    req->data = data;
    req->pool = pool;
}

void store_req_cleanup(store_req_t *req)
{
    switch (req->op) {
    case STORE_LEASE:
        for (size_t i = 0; i < req->u.lease.n; i++)
            msg_unref(req->u.lease.out[i].msg);
        req->u.lease.n = 0;
        break;
    case STORE_PEEK:
        for (size_t i = 0; i < req->u.peek.n; i++)
            msg_unref(req->u.peek.out[i].msg);
        req->u.peek.n = 0;
        break;
    default:
        break;
    }
}
