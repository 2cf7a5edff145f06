/*
 * engine.h — the queue engine: named queues, consumer groups, leases, delays, retention and
 * dead letters, entirely in memory, single-threaded, with no I/O and no HTTP.
 *
 * Every public function reads the engine's clock once and runs to completion. Long-poll waiters
 * registered with engine_wait() are woken through their callback, which runs just before the
 * public function that made messages available returns, when every invariant holds again; a
 * callback may call back into the engine.
 *
 * Strings returned inside result structs are borrowed from the engine and stay valid until the
 * next call that changes the engine, unless a pool is given (then they live in the pool).
 */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "list.h"
#include "msg.h"
#include "pool.h"

#define ENGINE_NAME_MAX 128
#define ENGINE_RECEIPT_LEN 64
#define ENGINE_HISTORY_MAX 10
#define ENGINE_ERROR_MAX 512
#define ENGINE_IDEM_KEY_MAX 256
#define ENGINE_DEFAULT_GROUP "default"
#define ENGINE_META_MAX 8192
#define ENGINE_GROUPS_MAX 65536 /* per queue (a message counts its pending groups in 24 bits) */
/* The largest message id a queue hands out; UINT64_MAX stays free to mean "every id" (as
 * engine_export()'s max_id). A queue that reached it refuses publishes with SL_EIDS. */
#define ENGINE_ID_MAX (UINT64_MAX - 1)

typedef struct engine engine_t;

/* Returns the current time in ms since the epoch. Tests pass a fake clock. */
typedef int64_t (*engine_clock_fn)(void *ctx);

/* Which fields of engine_settings_t a change sets. */
enum engine_setting_bit {
    ENGINE_SET_VISIBILITY = 1 << 0,
    ENGINE_SET_MAX_ATTEMPTS = 1 << 1,
    ENGINE_SET_DLQ = 1 << 2,
    ENGINE_SET_MAX_MESSAGES = 1 << 3,
    ENGINE_SET_MAX_BYTES = 1 << 4,
    ENGINE_SET_MAX_AGE = 1 << 5,
    ENGINE_SET_DEDUP = 1 << 6,
    ENGINE_SET_KEY_IN_FLIGHT = 1 << 7,
};

typedef struct engine_settings {
    int64_t visibility_ms;          /* default lease length */
    uint32_t max_attempts;          /* deliveries per group before dead-lettering; 0 = no limit */
    uint32_t max_in_flight_per_key; /* >= 1 */
    uint64_t max_messages;          /* retention; 0 = no limit */
    uint64_t max_bytes;             /* retention; 0 = no limit */
    int64_t max_age_ms;             /* retention; 0 = no limit */
    int64_t dedup_ms;               /* idempotency window */
    /* Dead-letter queue; "" = none. In the defaults it is ignored: a new queue Q gets "Q.dlq",
     * or none when Q ends in ".dlq" or Q.dlq would be too long a name. */
    char dlq[ENGINE_NAME_MAX + 1];
} engine_settings_t;

typedef struct engine_config {
    engine_settings_t defaults;
    uint32_t max_queues;
    /* NULL, or the name of the one queue that has no `default` group (MQ Go's): its messages
     * are kept only for the groups that exist, and dropped at once when there are none. */
    const char *fanout_queue;
    engine_clock_fn clock;
    void *clock_ctx;
} engine_config_t;

/* One message to publish. */
typedef struct engine_pub {
    msg_t *msg;           /* in: the caller's reference; taken over on success (set to NULL) */
    int64_t deliver_at;   /* in: not visible before this time; 0 = now */
    int64_t ttl_ms;       /* in: deleted undelivered this long after publish; 0 = never */
    const char *idem_key; /* in: idempotency key or NULL */
    size_t idem_len;      /* in */
    uint64_t id;          /* out: the message id (the original one for a duplicate) */
    bool duplicate;       /* out */
} engine_pub_t;

/* One leased message. */
typedef struct engine_lease {
    msg_t *msg; /* a reference owned by the caller: msg_unref() it */
    char receipt[ENGINE_RECEIPT_LEN];
    uint32_t attempts;
} engine_lease_t;

/* States of a message as one group sees it (peek). */
enum engine_state {
    ENGINE_READY,
    ENGINE_DELAYED,     /* published with a delay; until = visible at */
    ENGINE_LEASED,      /* until = lease expiry */
    ENGINE_RETRY,       /* released or lease expired, waiting for redelivery */
    ENGINE_RETRY_DELAY, /* released with a delay; until = visible again at */
    ENGINE_WAITING_KEY, /* behind an earlier message with the same ordering key */
    ENGINE_ACKED,       /* done for this group, kept for others */
};

/* Returns the API name of a state ("ready", "leased", ...). */
const char *engine_state_name(int state);

typedef struct engine_peek_item {
    msg_t *msg; /* a reference owned by the caller */
    int state;
    uint32_t attempts;
    int64_t until; /* see enum engine_state; 0 when it has no time */
} engine_peek_item_t;

typedef struct engine_group_info {
    const char *name;   /* in the pool */
    uint32_t gid;       /* the group\'s number within its queue (in receipts and the log) */
    uint64_t start_id;  /* messages with a smaller id are not this group\'s */
    uint64_t lag;       /* messages not yet acked by this group */
    uint64_t in_flight; /* leased now */
    uint64_t ready;     /* could be leased now */
    uint64_t retrying;  /* failed, waiting out a release delay before redelivery */
    uint64_t delivered; /* leases handed out, redeliveries included */
    uint64_t acked;
    uint64_t dead_lettered; /* since the server started */
    uint64_t waiting;       /* parked long-polls */
    int64_t created_at;
    uint32_t max_in_flight; /* see engine_group_opts_t */
    uint32_t max_attempts;
    const char *meta; /* NULL or in the pool */
} engine_group_info_t;

typedef struct engine_queue_info {
    const char *name; /* in the pool */
    engine_settings_t settings;
    bool dlq_auto;    /* the dead-letter queue is derived from the name */
    uint64_t last_id; /* the last id handed out */
    uint64_t messages, bytes, delayed, in_flight;
    uint64_t published, acked, expired, dropped, dead_lettered;
    int64_t created_at;
    size_t ngroups;
    engine_group_info_t *groups; /* in the pool, ngroups entries, in creation order */
} engine_queue_info_t;

/* A parked long-poll. The caller owns the struct and keeps it alive while it is registered. */
typedef struct engine_waiter {
    list_t link;
    heap_node_t tmr;
    int status; /* set before wake(): 0 = messages may be available, SL_ETIMEDOUT, SL_ENOQUEUE,
                   SL_ENOGROUP, SL_ESHUTDOWN */
    void (*wake)(struct engine_waiter *w);
    void *data;   /* the caller's */
    void *group_; /* the engine's */
} engine_waiter_t;

/* ---------------------------------------------------------------- journal */

/* Why messages were dropped for every group (DROP records). */
enum engine_drop_reason { ENGINE_DROP_RETENTION = 0, ENGINE_DROP_EXPIRED, ENGINE_DROP_MOVED };

/* Where the engine reports each durable change of its state, as it happens, for a storage
 * backend that keeps a log. Every call states an absolute fact that the engine's state already
 * reflects. qdata points to one slot per queue that the backend may use for its own state (NULL
 * until it sets it; the engine never reads it). Any hook may be NULL. Hooks must not call back
 * into the engine. */
typedef struct engine_journal {
    void *ctx;
    /* The queue was created, or its settings changed (info has no groups). */
    void (*queue)(void *ctx, void **qdata, const engine_queue_info_t *info);
    /* The queue is being deleted; the backend releases what qdata holds. */
    void (*queue_delete)(void *ctx, void **qdata, const char *queue);
    void (*group)(void *ctx, void **qdata, const engine_group_info_t *g);
    void (*group_delete)(void *ctx, void **qdata, uint32_t gid);
    /* A message was stored; deliver_at is 0 when it is visible at once. */
    void (*publish)(void *ctx, void **qdata, const msg_t *m, int64_t deliver_at, const char *idem,
                    size_t idem_len);
    /* Group gid is done with message id. after_move: the message was just published elsewhere
     * (dead-lettered): the backend must not make this durable before that publish. */
    void (*finish)(void *ctx, void **qdata, uint32_t gid, uint64_t id, bool after_move);
    /* A delivery to group gid failed: the message has had `attempts` deliveries and is visible
     * again at visible_at (0: at once). */
    void (*fail)(void *ctx, void **qdata, uint32_t gid, uint64_t id, uint32_t attempts,
                 int64_t visible_at, int64_t at, int event, const char *error);
    /* Message id was removed for every group (enum engine_drop_reason); after_move as finish. */
    void (*drop)(void *ctx, void **qdata, uint64_t id, int reason, bool after_move);
    /* Every message with an id up to up_to was removed. */
    void (*purge)(void *ctx, void **qdata, uint64_t up_to);
    /* Message id left the queue, for whatever reason (no log record: for space accounting). */
    void (*gone)(void *ctx, void **qdata, uint64_t id);
} engine_journal_t;

/* Starts reporting changes to j (copied), or stops when j is NULL. */
void engine_set_journal(engine_t *e, const engine_journal_t *j);

/* ---------------------------------------------------------------- restore and export */

/* One failed delivery, as kept for the dead-letter history. */
typedef struct engine_failure {
    int64_t at;
    int event;         /* 0 lease expired, 1 released */
    const char *error; /* "" when none; borrowed */
} engine_failure_t;

/* Where one message stands for one group. A group without an entry has it ready, never
 * delivered. */
typedef struct engine_gstate {
    uint32_t gid;
    bool finished;
    uint32_t attempts;      /* deliveries that failed so far */
    int64_t visible_at;     /* 0: visible at once */
    const char *last_error; /* NULL when none; borrowed */
    size_t nfail;
    engine_failure_t fail[ENGINE_HISTORY_MAX]; /* the newest failures, oldest first */
} engine_gstate_t;

/* Restoring from a log. These rebuild state without reporting it to the journal: a queue first
 * (created without groups, or updated), then its groups, then engine_restore_done(), then its
 * messages in increasing id order. Strings are copied. A damaged log must not make the engine
 * misbehave, so what it hands over is checked, and mended with a warning in the log: times are
 * brought into 0..the end of year 9999, duration settings into 0..DUR_MAX_MS, a
 * max_in_flight_per_key of 0 becomes 1, and a failure whose event is unknown ends a message's
 * failure history (it and older failures are left out). */

/* Creates queue, or updates its settings, counters and creation time; its last id is never
 * lowered. Returns 0 or SL_ENAME. */
int engine_restore_queue(engine_t *e, const char *queue, const engine_queue_info_t *info);

/* Creates group g->gid of queue unless it exists, with g's name, start, creation time and
 * settings; before any message is restored. Returns 0, SL_ENOQUEUE or SL_ENAME. */
int engine_restore_group(engine_t *e, const char *queue, const engine_group_info_t *g);

/* Deletes group gid of queue if it exists. */
void engine_restore_group_delete(engine_t *e, const char *queue, uint32_t gid);

/* Marks group ids up to gid of queue as used: a group created later (by a request, or by
 * engine_restore_done()) gets a higher one. For ids that records in the log still name although no
 * group restored has them (a deleted group's, or one whose GROUP record was lost): a new group
 * with such an id would take those records for its own at the next restart. When gid is
 * UINT32_MAX the queue's group ids are used up: creating a group then fails with
 * SL_ETOOMANYGROUPS. */
void engine_restore_gid(engine_t *e, const char *queue, uint32_t gid);

/* engine_restore_message() did not keep the message: no group restored still needs it. */
#define ENGINE_RESTORE_GONE 1

/* Adds message m (id, published_at, expires_at and only_group set by the caller; the reference is
 * taken) with its state in the groups gs[0..n). Returns 0; ENGINE_RESTORE_GONE when no group
 * restored still needs it (every one that receives it is done, or none receives it), so it is
 * not kept: the caller records that, or a group created later from=earliest would take it for
 * its own at the next restart; SL_ENOQUEUE; SL_ECONFLICT when its id is not above every id
 * restored before; or SL_EPARAM when its attributes do not parse or its id is past ENGINE_ID_MAX
 * (it is left out with a warning, but its id counts as used). m is released on every error. */
int engine_restore_message(engine_t *e, const char *queue, msg_t *m, int64_t deliver_at,
                           const engine_gstate_t *gs, size_t n);

/* Remembers idempotency key[0..len) of message id, published at published_at, if it is still
 * within the queue's dedup window. Keys come in publish order. Returns 0 or SL_ENOQUEUE. */
int engine_restore_idem(engine_t *e, const char *queue, const char *key, size_t len, uint64_t id,
                        int64_t published_at);

/* Calls fn for every idempotency key of queue still in its window whose message id is at most
 * max_id (key borrowed during the call). For carrying keys over when log segments go. */
void engine_idem_each(engine_t *e, const char *queue, uint64_t max_id,
                      void (*fn)(void *ctx, uint64_t id, int64_t published_at, const char *key,
                                 size_t len),
                      void *ctx);

/* Returns the journal slot of queue (the qdata its hooks receive), or NULL when there is no such
 * queue: a backend sets it for queues it restored. */
void **engine_queue_jdata(engine_t *e, const char *queue);

/* Ends the restore of queue's groups: gives it its default group if the log had none (a damaged
 * log), so that the messages restored next are not orphans, with an id above every id restored or
 * marked used (when they are used up, the lowest id no group has). The new group is not
 * journaled: the backend logs it itself, or it would get another id at each restart. */
void engine_restore_done(engine_t *e, const char *queue);

/* Calls fn for every message of queue with an id up to max_id, with its state in each group that
 * receives it (gs valid during the call), in no particular order. For compaction. Returns 0 or
 * SL_ENOQUEUE. */
int engine_export(engine_t *e, const char *queue, uint64_t max_id,
                  void (*fn)(void *ctx, const msg_t *m, int64_t deliver_at,
                             const engine_gstate_t *gs, size_t n),
                  void *ctx);

/* Returns a new engine, or NULL when cfg is invalid (max_in_flight_per_key 0). Free with
 * engine_free(). */
engine_t *engine_new(const engine_config_t *cfg);

/* Frees every queue and message. Registered waiters are forgotten without a callback. */
void engine_free(engine_t *e);

/* Returns whether name[0..len) matches [A-Za-z0-9][A-Za-z0-9._-]{0,127}. Inline so that the
 * CLI (sluice inspect) checks names by the same grammar without linking the engine. */
static inline bool engine_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > ENGINE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* Publishes n messages to queue, creating it if needed, all or nothing: on an error nothing is
 * stored and the caller keeps its references. Returns 0, SL_ENAME, SL_ETOOMANY when creating
 * the queue would pass max_queues, or SL_EIDS when the queue has fewer than n ids left below
 * ENGINE_ID_MAX (ids are never reused). */
int engine_publish(engine_t *e, const char *queue, engine_pub_t *items, size_t n);

/* Leases up to max messages of group for visibility_ms (< 0: the queue's setting), writing them
 * to out (room for max) and their number to *n. It takes no message that would bring the bodies
 * leased past max_bytes (0 = no limit), except the first: one available message is always
 * leased, however large.
 * Returns 0, SL_ENOQUEUE or SL_ENOGROUP. */
int engine_lease(engine_t *e, const char *queue, const char *group, size_t max, size_t max_bytes,
                 int64_t visibility_ms, engine_lease_t *out, size_t *n);

/* Acks the lease named by receipt. Returns 0, SL_ENOQUEUE, or SL_ENORECEIPT when the receipt is
 * malformed, unknown, or its lease already ended. */
int engine_ack(engine_t *e, const char *queue, const char *receipt);

/* Ends a lease early: the message is visible again after delay_ms (0: at once), or dead-lettered
 * when its attempts are used up. error (may be NULL; cut at ENGINE_ERROR_MAX) is recorded as the
 * delivery's last error. Returns 0, SL_ENOQUEUE or SL_ENORECEIPT. */
int engine_release(engine_t *e, const char *queue, const char *receipt, int64_t delay_ms,
                   const char *error);

/* Makes the ack of a live lease durable in advance, without ending the lease: the journal gets
 * its finish record now, and a later engine_ack() ends the lease without writing it again, or
 * engine_undo() writes that the message is back. For pop, which must be at-most-once across a
 * crash (the ack is on disk before the reply is sent) and still give the message back when the
 * reply never left. Returns 0, SL_ENOQUEUE or SL_ENORECEIPT. */
int engine_ack_prepare(engine_t *e, const char *queue, const char *receipt);

/* Undoes a lease whose reply never reached the consumer: the message is visible again at once,
 * first in line, and the attempt is not counted. Returns 0, SL_ENOQUEUE or SL_ENORECEIPT. */
int engine_undo(engine_t *e, const char *queue, const char *receipt);

/* Parks w on group until messages may be available or until deadline. w->wake is called exactly
 * once unless engine_wait_cancel() comes first. Returns 0, SL_ENOQUEUE or SL_ENOGROUP (then w is
 * not registered). */
int engine_wait(engine_t *e, const char *queue, const char *group, engine_waiter_t *w,
                int64_t deadline);

/* Unregisters w if it is registered; its wake will not be called. */
void engine_wait_cancel(engine_t *e, engine_waiter_t *w);

/* Wakes every waiter with SL_ESHUTDOWN (graceful shutdown). */
void engine_wake_all(engine_t *e);

/* Runs every timer that is due. Returns the time of the next one, or INT64_MAX when none. */
int64_t engine_run_timers(engine_t *e);

/* Returns the time of the next timer without running anything, or INT64_MAX. */
int64_t engine_next_deadline(const engine_t *e);

/* Lists up to limit messages of queue with id > after, in id order, as group sees them, into out
 * (room for limit); *more tells whether more follow. Returns 0, SL_ENOQUEUE or SL_ENOGROUP. */
int engine_peek(engine_t *e, const char *queue, const char *group, uint64_t after, size_t limit,
                engine_peek_item_t *out, size_t *n, bool *more);

/* Creates queue with the defaults changed by the fields of s named in mask, or changes those
 * fields of an existing queue. *created tells which. Returns 0, SL_ENAME, SL_EPARAM (a dead-letter
 * queue name that is invalid or the queue itself) or SL_ETOOMANY. */
int engine_queue_put(engine_t *e, const char *queue, const engine_settings_t *s, unsigned mask,
                     bool *created);

/* Fills *out with queue's settings and statistics, names and group array in pool. Returns 0 or
 * SL_ENOQUEUE. */
int engine_queue_info(engine_t *e, const char *queue, pool_t *pool, engine_queue_info_t *out);

/* Fills *out with an array (in pool) of every queue, sorted by name, and *n. Group arrays are
 * left empty (ngroups set). */
void engine_queue_list(engine_t *e, pool_t *pool, engine_queue_info_t **out, size_t *n);

/* Deletes queue and all its messages; its waiters are woken with SL_ENOQUEUE. Returns 0 or
 * SL_ENOQUEUE. */
int engine_queue_delete(engine_t *e, const char *queue);

/* Deletes every message of queue (leases included), keeping the queue, its groups and settings.
 * *count gets the number deleted. Returns 0 or SL_ENOQUEUE. */
int engine_queue_purge(engine_t *e, const char *queue, uint64_t *count);

/* Which fields of engine_group_opts_t a change to an existing group sets. */
enum engine_group_bit {
    ENGINE_GSET_MAX_IN_FLIGHT = 1 << 0,
    ENGINE_GSET_MAX_ATTEMPTS = 1 << 1,
};

/* A group's own settings. */
typedef struct engine_group_opts {
    bool from_latest; /* a new group starts at the next message published, else at the oldest */
    /* Messages of the group in progress at once (leased, or failed and waiting to be
     * redelivered); 0 = no limit. 1 delivers in strict publish order, retries included: a push
     * subscription with max_in_flight 1. */
    uint32_t max_in_flight;
    uint32_t max_attempts; /* deliveries before dead-lettering; 0 = the queue's setting */
    /* NULL, or a string of at most ENGINE_META_MAX bytes that the engine keeps and journals with
     * the group without reading it (a push subscription's settings). Set at creation only. */
    const char *meta;
} engine_group_opts_t;

/* Creates group on queue with o (NULL: from the oldest message, no limits), or, when it exists,
 * changes the settings of o named in mask (none: it is left unchanged). *created tells which.
 * Returns 0, SL_ENOQUEUE, SL_ENAME, SL_EPARAM for a meta string over ENGINE_META_MAX, or
 * SL_ETOOMANYGROUPS when the queue has ENGINE_GROUPS_MAX groups already or its group ids are used
 * up (engine_restore_gid()). */
int engine_group_put(engine_t *e, const char *queue, const char *group,
                     const engine_group_opts_t *o, unsigned mask, bool *created);

/* Fills *out for one group (name in pool). Returns 0, SL_ENOQUEUE or SL_ENOGROUP. */
int engine_group_info(engine_t *e, const char *queue, const char *group, pool_t *pool,
                      engine_group_info_t *out);

/* Deletes group, its leases and its claim on messages. Returns 0, SL_ENOQUEUE, SL_ENOGROUP, or
 * SL_ECONFLICT for the default group. */
int engine_group_delete(engine_t *e, const char *queue, const char *group);

/* Moves dead letters back to their origin queues. queue is a dead-letter queue, or a source queue
 * whose dead-letter queue is then used (only messages that came from it move). ids (n of them)
 * selects messages by id; ids NULL moves all. *moved gets the count; ids not found are written to
 * not_found (room for n) and counted in *nnot. Returns 0, SL_ENOQUEUE, SL_ETOOMANY when an
 * origin queue must be re-created and cannot be, or SL_EIDS when an origin queue has used every
 * id (the messages not moved yet stay). */
int engine_redrive(engine_t *e, const char *queue, const uint64_t *ids, size_t n, uint64_t *moved,
                   uint64_t *not_found, size_t *nnot);

/* Returns the number of queues. */
size_t engine_queue_count(const engine_t *e);

#endif
