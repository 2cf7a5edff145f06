/*
 * store.h — the storage interface: every queue operation the API needs, asynchronous, behind a
 * versioned table of functions (STYLE rule 8).
 *
 * A backend is the whole of queue state for its kind of storage: `memory` is the queue engine
 * alone; `file` (issue 4) will be the engine plus a durable log; `postgres` and `mysql` will run
 * the same operations as SQL for several nodes sharing one database. The HTTP layer and the
 * contract test suite see only this interface, so a backend plugs in without touching them.
 *
 * Requests. The caller owns a store_req_t, fills op-specific inputs, and submits it with one of
 * the store_* wrappers. The backend calls req->cb exactly once when the request is done —
 * possibly before the wrapper returns (the memory backend always does), so a caller can answer
 * at once, without suspending anything, when the request completed inline. Results that need
 * memory are allocated from req->pool; message references in results belong to the caller, who
 * releases them with store_req_cleanup().
 *
 * A lease with wait_ms > 0 may stay pending (parked) until messages arrive or the wait ends;
 * store_cancel() withdraws it (for a client that went away). With wake_only, a lease that had to
 * park leases nothing when messages arrive: it completes empty, and the caller leases again with
 * what it can take by then (push delivery, whose buffer must not be promised to idle leases).
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine.h"
#include "pool.h"

#define STORE_OPS_VERSION 1

enum store_op {
    STORE_PUBLISH,
    STORE_LEASE,
    STORE_ACK,
    STORE_RELEASE,
    STORE_UNDO,
    STORE_ACK_PREPARE, /* engine_ack_prepare: the ack of a pop, durable before its reply */
    STORE_PEEK,
    STORE_REDRIVE,
    STORE_QUEUE_PUT,
    STORE_QUEUE_INFO,
    STORE_QUEUE_LIST,
    STORE_QUEUE_DELETE,
    STORE_QUEUE_PURGE,
    STORE_GROUP_PUT,
    STORE_GROUP_INFO,
    STORE_GROUP_DELETE,
};

typedef struct store store_t;
typedef struct store_req store_req_t;
typedef void (*store_cb)(store_req_t *req);

struct store_req {
    int op;
    int status; /* out: 0 or an SL_E* code */
    store_cb cb;
    void *data;   /* the caller's */
    pool_t *pool; /* results are allocated here */
    const char *queue;
    const char *group; /* NULL = default */
    union {
        struct {
            engine_pub_t *items; /* in/out, n of them */
            size_t n;
            const char *stored; /* out: "memory", "os" or "fsync" (static) */
        } publish;
        struct {
            size_t max;
            size_t max_bytes;
            int64_t visibility_ms; /* < 0: the queue's */
            int64_t wait_ms;
            bool wake_only;      /* see above */
            engine_lease_t *out; /* out: in the pool */
            size_t n;
        } lease;
        struct {
            const char **receipts; /* ack, release, undo, ack_prepare */
            size_t n;
            int *results; /* out: in the pool, 0 or SL_ENORECEIPT per receipt */
            size_t done;  /* out: how many succeeded */
            int64_t delay_ms;
            const char *error;
        } ack;
        struct {
            uint64_t after;
            size_t limit;
            engine_peek_item_t *out; /* out: in the pool */
            size_t n;
            bool more;
        } peek;
        struct {
            const uint64_t *ids; /* NULL = all */
            size_t n;
            uint64_t moved;
            uint64_t *not_found; /* out: in the pool */
            size_t nnot;
        } redrive;
        struct {
            engine_settings_t set;
            unsigned mask;
            bool created;
        } queue_put;
        engine_queue_info_t queue_info;
        struct {
            engine_queue_info_t *queues;
            size_t n;
        } queue_list;
        uint64_t purged;
        struct {
            bool from_latest;       /* group put: engine_group_opts_t */
            uint32_t max_in_flight; /* " */
            uint32_t max_attempts;  /* " */
            const char *meta;       /* " */
            unsigned mask;          /* enum engine_group_bit: what a put changes if it exists */
            bool created;
            engine_group_info_t info;
        } group;
    } u;
    /* out, STORE_QUEUE_INFO: damaged ranges the backend found in the queue's files at start
     * (in the pool) */
    struct store_damage {
        uint64_t segment; /* the segment file's number */
        uint64_t offset, bytes;
    } * damage;
    size_t ndamage;
    void *priv; /* the backend's while the request is pending */
};

typedef struct store_config {
    const char *name;     /* "memory", ... */
    const char *data_dir; /* for durable backends */
    const char *fsync;    /* file: "always", "interval" or "never" */
    int64_t fsync_interval_ms;
    uint64_t segment_bytes;
    engine_config_t engine;
} store_config_t;

struct store_ops {
    int version; /* STORE_OPS_VERSION */
    const char *name;
    /* Opens the backend on loop. Returns 0 with *out set, or an SL_E* code (and logs why). */
    int (*open)(const store_config_t *cfg, uv_loop_t *loop, store_t **out);
    /* Starts req (req->op says which); calls req->cb exactly once. */
    void (*submit)(store_t *s, store_req_t *req);
    /* Withdraws a pending request (a parked lease, or a change waiting to be durable): 0 when it
     * was pending (its cb will not be called), SL_ENOENT when it is not. */
    int (*cancel)(store_t *s, store_req_t *req);
    /* Answers every parked request (empty results): the server is shutting down. */
    void (*drain)(store_t *s);
    /* 0 when the backend can serve, else SL_ESTORAGE. */
    int (*ready)(store_t *s);
    /* Closes the backend. No request may be pending. */
    void (*close)(store_t *s);
};

/* The backends, registered by name in store.c. */
extern const struct store_ops store_mem_ops;
extern const struct store_ops store_file_ops;

/* Every backend's handle begins with this. */
struct store {
    const struct store_ops *ops;
};

/* Opens the backend named in cfg->name. Returns 0, SL_EPARAM for an unknown name or SL_ENOTYET
 * for a documented backend that is not built yet (both logged), or the backend's error. */
int store_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out);

/* Returns the NULL-terminated list of backend names that can be opened. */
const char *const *store_names(void);

/* Prepares req for op with callback cb and result pool. */
void store_req_init(store_req_t *req, int op, store_cb cb, void *data, pool_t *pool);

/* Releases the message references held in req's results. */
void store_req_cleanup(store_req_t *req);

static inline void store_submit(store_t *s, store_req_t *req)
{
    s->ops->submit(s, req);
}

static inline int store_cancel(store_t *s, store_req_t *req)
{
    return s->ops->cancel(s, req);
}

static inline void store_drain(store_t *s)
{
    s->ops->drain(s);
}

static inline int store_ready(store_t *s)
{
    return s->ops->ready(s);
}

static inline void store_close(store_t *s)
{
    if (s)
        s->ops->close(s);
}

#endif
