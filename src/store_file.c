/*
 * store_file.c — the `file` backend: the queue engine in memory, made durable by an append-only
 * log per queue, written with group commit on a thread of its own.
 *
 * Design
 * ======
 * State lives in the engine, as with `memory`; the log is how it survives a restart. The engine
 * reports every durable change through its journal hooks; each hook encodes one record (qlog.c)
 * into the queue's pending buffer. Nothing here blocks the event loop: once per loop iteration
 * (a uv_prepare, i.e. after every event of that iteration was handled) the pending buffers of all
 * queues become one *batch*, handed to the storage thread, which writes each queue's records to
 * its active segment and, under fsync = always, fdatasyncs every file it wrote. That is group
 * commit: however many publishes arrived while the previous batch was being synced share the next
 * fdatasync. A request that changed state waits until the batch holding its records is written
 * (fsync = interval or never: "stored": "os") or synced (always: "fsync"), then it is answered.
 *
 * Ordering. Batches are written strictly one after the other, so the log's order is the order
 * of the changes. A record that must not become durable before another one in a different queue
 * (the source side of a dead-letter move or a redrive, whose publish went to the other queue) is
 * held back until the batch after that publish's: a crash in between duplicates a message, never
 * loses one.
 *
 * Segments. A queue's log is a run of segment files. Each begins with a checkpoint (the queue's
 * settings and counters, and its groups), so any suffix of the run is a complete log. When the
 * active segment passes segment_bytes, the next records start a new one. A message belongs to
 * the segment its publish record is in; segments keep a count of their live messages, and a
 * prefix of segments whose messages are all gone is deleted. When old segments are pinned by a
 * few live messages, they are compacted: the live messages' current state is written as records
 * to a new file that atomically replaces the last of them (rename), and the others are deleted.
 * Every record states an absolute fact, so replaying the old segments before the compacted one,
 * or records written after the compaction's snapshot again, changes nothing. Segment numbers never
 * wrap (the next file must sort after every other): ffffffffffffffff.seg is never rotated away
 * from, and when it cannot be appended to at start it is moved aside (top_segment_free()).
 *
 * The zero tail. Records go into zero bytes written ahead of them (seg_append()), so that an
 * fdatasync finds the file's size unchanged and writes the data alone, not the inode as well: one
 * disk write of three per sync on ext4 without a journal, a journal commit with one. The tail grows
 * when a write reaches past it, and is cut off at rotation and at a clean stop (tail_cut()); the
 * scanner reads zeros at the end as the end of the records (qlog.c).
 *
 * Failure. A write or fdatasync that fails (disk full, I/O error) fails its whole batch: every
 * file of the batch is cut back to its size before it (so no half-written record stays), the
 * requests waiting on it get 503 storage_unavailable, and so do those waiting for the batch after
 * it (which is not built while the failed one is retried). The store turns *degraded*: requests
 * that would change state are refused at once, reads and leases go on, and the failed batch is
 * retried every half second until it goes through, which ends the degraded state by itself.
 * What a failed request did in memory stays (written by the retry or the batch after it): a publish
 * answered 503 may still be delivered — at least once — but one answered 201 is never lost.
 *
 * Recovery. At start every segment is scanned: checksums verified, a torn tail at the end of
 * the last segment cut off, damage elsewhere reported (file, offset, length: in the log and in
 * the queue's info) with every readable record kept. The records are folded into a per-queue
 * picture (settings, groups, and per message its state in each group), which is then restored
 * into the engine in id order. Leases held at the crash are not in the log: those messages come
 * back visible, with the attempts counted by earlier failures only. Ids are never handed out
 * twice: every message id a record names (a PURGE's up_to too) counts as handed out, so new
 * messages never get an id that a record about an older one names; every group id a record names
 * counts as used (a deleted group's records stay in the log, and a new group with its id would
 * take them for its own). A default group that recovery has to re-create is logged at once, in a
 * checkpoint appended to the active segment, so it keeps its id at the next start; the same is
 * done when the active segment has no whole checkpoint of its own or the log has damage, so that
 * the groups and settings never live only in segments that are deleted later.
 *
 * Alternatives rejected:
 * - fallocate() instead of zeros for the tail: the first write into an unwritten extent changes
 *   the extent tree, so the inode is written at the sync all the same.
 * - One log for all queues: simpler to sync, but GMQ's "one file per queue" is what operators
 *   expect to find, a queue's space can then be freed by deleting its files, and compaction
 *   stays per queue.
 * - Making a message visible only once durable: safer on a failing disk, but adds an fsync to
 *   every delivery's latency; failures are rare and at-least-once covers them.
 * - Snapshots of the whole state: a queue's live messages are already the only thing a
 *   compacted segment holds, and only old segments need it.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dur.h"
#include "err.h"
#include "fault.h"
#include "hmap.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "qlog.h"
#include "store_eng.h"

#define FILE_RETRY_MS 500
#define FILE_NONE ((size_t)-1)
/* the zero tail written ahead of a segment's records (seg_append) */
#define FILE_AHEAD_MIN ((off_t)16 * 1024)
#define FILE_AHEAD_MAX ((off_t)1024 * 1024)

typedef struct store_file store_file_t;

/* One segment, as the loop sees it. */
typedef struct fseg {
    uint64_t seq;
    uint64_t last_id;   /* the highest message id published in it (or before it) */
    uint64_t published; /* messages published in it */
    uint64_t live;      /* of those, still in the queue */
    uint64_t bytes;
} fseg_t;

/* A damaged range found at start, reported in the queue's info. */
typedef struct fdamage {
    uint64_t seq;
    uint64_t offset, len;
} fdamage_t;

/* A queue's log. */
typedef struct fq {
    list_t link;       /* the store's queues */
    list_t dirty_link; /* linked while it has something for the next batch */
    store_file_t *s;
    char name[ENGINE_NAME_MAX + 1];
    char *dir;
    fseg_t *segs;  /* oldest first; the last is the active one */
    uint32_t salt; /* of its segments' checksums (qlog.c) */
    size_t nsegs, segcap;
    qlog_buf_t buf;       /* records for the next batch */
    size_t rotate_at;     /* offset in buf where a new segment starts, or FILE_NONE */
    qlog_buf_t later;     /* records held back until the batch after `later_after` */
    uint64_t later_after; /* the batch that holds what they depend on */
    uint64_t *unlink;     /* segments to delete with the next batch */
    uint64_t carry_idem;  /* idempotency keys of messages up to this id go to the next batch */
    size_t nunlink, unlinkcap;
    bool fresh;   /* its directory and first segment are still to be made */
    bool deleted; /* deleted: its files go with the next batch */
    fdamage_t *damage;
    size_t ndamage;
    /* What the records that will follow the next checkpoint in the file count, so that the
     * checkpoint's counters (taken later, when the batch is built) leave them out: after_ck
     * for records in buf past the checkpoint's place, in_later for held-back ones. */
    struct fcount {
        uint64_t published, acked, dead_lettered, expired, dropped;
    } after_ck, in_later;
    uint32_t refs; /* the store's list + batches holding it */
    /* owned by the storage thread once started */
    int fd;
    uint64_t fd_seq;
    off_t fd_size;     /* where the records end: the next append goes there */
    off_t fd_alloc;    /* the file's size: fd_size plus its zero tail */
    off_t ahead;       /* the zero tail's length at the last extension */
    uint64_t ahead_at; /* when that was (ms, monotonic) */
} fq_t;

/* One queue's part of a batch. */
typedef struct fjob {
    fq_t *q;
    qlog_buf_t data;
    size_t rotate_at; /* FILE_NONE, or where a new segment starts in data */
    uint64_t new_seq;
    bool create, remove;
    qlog_buf_t compact; /* a compacted segment replacing segment compact_seq, or empty */
    uint64_t compact_seq;
    uint64_t *unlink;
    size_t nunlink;
    /* undo information, kept by the thread */
    int old_fd;
    uint64_t old_seq;
    off_t old_size;
    bool opened_new;
} fjob_t;

typedef struct fbatch {
    uint64_t seq;
    fjob_t *jobs;
    size_t njobs;
    bool sync;
    int err; /* errno of the first failure, 0 when it all went through */
} fbatch_t;

/* A request waiting for its batch. */
typedef struct fwait {
    list_t link;
    store_req_t *req;
    uint64_t batch;
} fwait_t;

enum fsync_policy { FSYNC_ALWAYS, FSYNC_INTERVAL, FSYNC_NEVER };

struct store_file {
    store_t base;
    store_eng_t se;
    store_config_t cfg;
    engine_t *engine; /* se.engine */
    uv_loop_t *loop;
    char *dir;
    int lock_fd;
    int policy;
    int64_t interval_ms;
    uint64_t segment_bytes;
    uv_prepare_t flush;  /* builds a batch once per loop iteration */
    uv_timer_t retry;    /* retries a failed batch */
    uv_timer_t interval; /* fsync = interval */
    uv_async_t done;     /* the thread finished a batch */
    list_t queues, dirty;
    hmap_t qmap;          /* name -> fq (live queues only) */
    list_t waits;         /* fwait_t, in batch order */
    uint64_t appended;    /* records appended so far (to tell ops that logged nothing) */
    uint64_t op_appended; /* `appended` when the request being served began */
    uint64_t open_seq;    /* the batch records go into now */
    uint64_t written_seq, synced_seq;
    fbatch_t *inflight; /* handed to the thread */
    fbatch_t *failed;   /* to retry */
    bool degraded;
    bool unsynced; /* written since the last fdatasync (interval policy) */
    /* the thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fbatch_t *todo; /* set by the loop, taken by the thread */
    bool stop;
    int closing_handles;
};

static int eq_fq(const void *val, const void *key, size_t len)
{
    const fq_t *q = val;
    return strlen(q->name) == len && memcmp(q->name, key, len) == 0;
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = sl_malloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static char *seg_path(const fq_t *q, uint64_t seq, const char *suffix)
{
    char name[48];
    snprintf(name, sizeof name, "%016llx.seg%s", (unsigned long long)seq, suffix);
    return path_join(q->dir, name);
}

/* ---------------------------------------------------------------- queues' logs (loop side) */

static fq_t *fq_new(store_file_t *s, const char *name)
{
    fq_t *q = sl_calloc(1, sizeof *q);
    q->s = s;
    snprintf(q->name, sizeof q->name, "%s", name);
    char *queues = path_join(s->dir, "queues");
    q->dir = path_join(queues, name);
    sl_free(queues);
    qlog_buf_init(&q->buf);
    qlog_buf_init(&q->later);
    if (getrandom(&q->salt, sizeof q->salt, GRND_NONBLOCK) != sizeof q->salt)
        q->salt = (uint32_t)dur_now_ms() ^ (uint32_t)(uintptr_t)q;
    q->buf.salt = q->later.salt = q->salt;
    q->rotate_at = FILE_NONE;
    q->fd = -1;
    q->refs = 1;
    list_init(&q->dirty_link);
    list_push(&s->queues, &q->link);
    hmap_add(&s->qmap, q->name, strlen(q->name), q);
    return q;
}

static void fq_unref(fq_t *q)
{
    if (q == NULL || --q->refs > 0)
        return;
    qlog_buf_cleanup(&q->buf);
    qlog_buf_cleanup(&q->later);
    sl_free(q->segs);
    sl_free(q->unlink);
    sl_free(q->damage);
    sl_free(q->dir);
    sl_free(q);
}

static fseg_t *seg_push(fq_t *q, uint64_t seq)
{
    if (q->nsegs == q->segcap) {
        q->segcap = q->segcap ? q->segcap * 2 : 8;
        q->segs = sl_realloc(q->segs, q->segcap * sizeof *q->segs);
    }
    fseg_t *g = &q->segs[q->nsegs++];
    memset(g, 0, sizeof *g);
    g->seq = seq;
    g->last_id = q->nsegs > 1 ? q->segs[q->nsegs - 2].last_id : 0;
    return g;
}

static void mark_dirty(fq_t *q)
{
    if (!list_linked(&q->dirty_link))
        list_push(&q->s->dirty, &q->dirty_link);
}

/* The fq of a journal hook; NULL for a queue being deleted (its gone() calls come after). */
static fq_t *fq_of(store_file_t *s, void **qdata)
{
    (void)s;
    return *qdata;
}

/* The buffer a record goes to: `later` for records that must follow a publish elsewhere. */
static qlog_buf_t *rec_buf(fq_t *q, bool after_move)
{
    store_file_t *s = q->s;
    s->appended++;
    mark_dirty(q);
    if (!after_move)
        return &q->buf;
    q->later_after = s->open_seq;
    return &q->later;
}

/* Where the counts of a record appended now go: held back, or after a checkpoint still to be
 * written in this batch (a fresh queue's or a rotation's), or nowhere. */
static struct fcount *count_of(fq_t *q, bool after_move)
{
    static struct fcount sink;
    if (after_move)
        return &q->in_later;
    if (q->fresh || q->rotate_at != FILE_NONE)
        return &q->after_ck;
    return &sink;
}

static void j_queue(void *ctx, void **qdata, const engine_queue_info_t *info)
{
    store_file_t *s = ctx;
    fq_t *q = fq_of(s, qdata);
    if (q == NULL) { /* a new queue: its checkpoint goes at the head of its first segment */
        q = fq_new(s, info->name);
        *qdata = q;
        q->fresh = true;
        seg_push(q, 1);
        s->appended++;
        mark_dirty(q);
        return;
    }
    qlog_queue_t r = {.created_at = info->created_at,
                      .last_id = info->last_id,
                      .settings = info->settings,
                      .dlq_auto = info->dlq_auto,
                      .published = info->published,
                      .acked = info->acked,
                      .expired = info->expired,
                      .dropped = info->dropped,
                      .dead_lettered = info->dead_lettered};
    qlog_put_queue(rec_buf(q, false), &r);
}

static void j_queue_delete(void *ctx, void **qdata, const char *name)
{
    store_file_t *s = ctx;
    fq_t *q = fq_of(s, qdata);
    (void)name;
    if (q == NULL)
        return;
    hmap_remove(&s->qmap, q->name, strlen(q->name));
    q->deleted = true;
    qlog_buf_reset(&q->buf);
    qlog_buf_reset(&q->later);
    s->appended++;
    mark_dirty(q);
    *qdata = NULL; /* the gone() calls of its messages that follow find nothing */
}

/* Appends the GROUP record of g to b. */
static void put_group(qlog_buf_t *b, const engine_group_info_t *g)
{
    qlog_group_t r = {.gid = g->gid,
                      .start_id = g->start_id,
                      .created_at = g->created_at,
                      .name = g->name,
                      .name_len = strlen(g->name),
                      .max_in_flight = g->max_in_flight,
                      .max_attempts = g->max_attempts,
                      .meta = g->meta,
                      .meta_len = g->meta ? strlen(g->meta) : 0};
    qlog_put_group(b, &r);
}

static void j_group(void *ctx, void **qdata, const engine_group_info_t *g)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q == NULL || q->fresh) /* a fresh queue's checkpoint will list it */
        return;
    put_group(rec_buf(q, false), g);
}

static void j_group_delete(void *ctx, void **qdata, uint32_t gid)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q)
        qlog_put_group_del(rec_buf(q, false), gid);
}

static void j_publish(void *ctx, void **qdata, const msg_t *m, int64_t deliver_at, const char *idem,
                      size_t idem_len)
{
    store_file_t *s = ctx;
    fq_t *q = fq_of(s, qdata);
    if (q == NULL)
        return;
    fseg_t *seg = &q->segs[q->nsegs - 1];
    /* the last possible segment number is never rotated away from (numbers never wrap: the
     * next file would sort first); that segment just grows */
    if (q->rotate_at == FILE_NONE && !q->fresh && seg->bytes + q->buf.len >= s->segment_bytes &&
        seg->published > 0 && seg->seq != UINT64_MAX) {
        /* start a new segment with this record; its header and checkpoint go in at the flush */
        q->rotate_at = q->buf.len;
        seg = seg_push(q, seg->seq + 1);
    }
    qlog_publish_t p = {.id = m->id,
                        .published_at = m->published_at,
                        .deliver_at = deliver_at,
                        .expires_at = msg_expires_at(m),
                        .only_group = msg_only_group(m),
                        .key = msg_key(m),
                        .key_len = m->key_len,
                        .idem = idem,
                        .idem_len = idem ? idem_len : 0,
                        .attrs = msg_attrs(m),
                        .attrs_len = m->attrs_len,
                        .body = msg_body((msg_t *)m),
                        .body_len = m->len};
    qlog_put_publish(rec_buf(q, false), &p);
    count_of(q, false)->published++;
    seg->published++;
    seg->live++;
    seg->last_id = m->id;
}

static void j_finish(void *ctx, void **qdata, uint32_t gid, uint64_t id, bool after_move)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q == NULL)
        return;
    /* the engine moves a message out of a group without an ack only to dead-letter it */
    qlog_ids_t ids = {.gid = gid, .reason = after_move ? 1 : 0, .n = 1};
    qlog_put_ids(rec_buf(q, after_move), QLOG_FINISH, &ids, &id);
    if (after_move)
        count_of(q, true)->dead_lettered++;
    else
        count_of(q, false)->acked++;
}

static void j_fail(void *ctx, void **qdata, uint32_t gid, uint64_t id, uint32_t attempts,
                   int64_t visible_at, int64_t at, int event, const char *error)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q == NULL)
        return;
    qlog_fail_t f = {gid,
                     id,
                     attempts,
                     visible_at,
                     at,
                     (uint8_t)event,
                     error ? error : "",
                     error ? strlen(error) : 0};
    qlog_put_fail(rec_buf(q, false), &f);
}

static void j_drop(void *ctx, void **qdata, uint64_t id, int reason, bool after_move)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q == NULL)
        return;
    qlog_ids_t ids = {.reason = (uint8_t)reason, .n = 1};
    qlog_put_ids(rec_buf(q, after_move), QLOG_DROP, &ids, &id);
    if (reason == ENGINE_DROP_EXPIRED)
        count_of(q, after_move)->expired++;
    else if (reason == ENGINE_DROP_RETENTION)
        count_of(q, after_move)->dropped++;
}

static void j_purge(void *ctx, void **qdata, uint64_t up_to)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q)
        qlog_put_purge(rec_buf(q, false), up_to);
}

/* Segments whose messages are all gone are deleted, oldest first (a segment's records only
 * concern messages of itself and of segments before it, so only a prefix can go). The
 * idempotency keys still in their window that they held are written again, with the next batch
 * (the engine cannot be asked from inside its hook). */
static void drop_dead_segments(fq_t *q)
{
    size_t n = 0;
    while (n + 1 < q->nsegs && q->segs[n].live == 0)
        n++;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (q->nunlink == q->unlinkcap) {
            q->unlinkcap = q->unlinkcap ? q->unlinkcap * 2 : 8;
            q->unlink = sl_realloc(q->unlink, q->unlinkcap * sizeof *q->unlink);
        }
        q->unlink[q->nunlink++] = q->segs[i].seq;
    }
    if (q->segs[n - 1].last_id > q->carry_idem)
        q->carry_idem = q->segs[n - 1].last_id;
    memmove(q->segs, q->segs + n, (q->nsegs - n) * sizeof *q->segs);
    q->nsegs -= n;
    mark_dirty(q);
}

static void j_gone(void *ctx, void **qdata, uint64_t id)
{
    fq_t *q = fq_of(ctx, qdata);
    if (q == NULL)
        return;
    /* the segment holding it: the first whose last id reaches it */
    size_t lo = 0, hi = q->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (q->segs[mid].last_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == q->nsegs || q->segs[lo].live == 0)
        return;
    q->segs[lo].live--;
    if (lo == 0 && q->segs[0].live == 0)
        drop_dead_segments(q);
}

/* ---------------------------------------------------------------- batches (loop side) */

/* Appends the checkpoint of queue q (settings, counters, groups) to b. */
static void put_checkpoint(store_file_t *s, fq_t *q, qlog_buf_t *b)
{
    pool_t pool;
    engine_queue_info_t info;
    pool_init(&pool);
    if (engine_queue_info(s->engine, q->name, &pool, &info) == 0) {
        /* the counters of the records that will follow this checkpoint are left out: replay
         * adds them back */
        const struct fcount *a = &q->after_ck, *l = &q->in_later;
        qlog_queue_t r = {.created_at = info.created_at,
                          .last_id = info.last_id,
                          .settings = info.settings,
                          .dlq_auto = info.dlq_auto,
                          .published = info.published - a->published - l->published,
                          .acked = info.acked - a->acked - l->acked,
                          .expired = info.expired - a->expired - l->expired,
                          .dropped = info.dropped - a->dropped - l->dropped,
                          .dead_lettered =
                              info.dead_lettered - a->dead_lettered - l->dead_lettered};
        qlog_put_queue(b, &r);
        for (size_t i = 0; i < info.ngroups; i++) {
            put_group(b, &info.groups[i]);
        }
    }
    pool_cleanup(&pool);
}

/* engine_idem_each callback: a key carried over into the buffer ctx. */
static void put_idem(void *ctx, uint64_t id, int64_t published_at, const char *key, size_t len)
{
    qlog_put_idem(ctx, id, published_at, key, len);
}

/* engine_export callback: one live message as records of a compacted segment. */
static void export_one(void *ctx, const msg_t *m, int64_t deliver_at, const engine_gstate_t *gs,
                       size_t n)
{
    qlog_buf_t *b = ctx;
    qlog_publish_t p = {.id = m->id,
                        .published_at = m->published_at,
                        .deliver_at = deliver_at,
                        .expires_at = msg_expires_at(m),
                        .only_group = msg_only_group(m),
                        .key = msg_key(m),
                        .key_len = m->key_len,
                        .attrs = msg_attrs(m),
                        .attrs_len = m->attrs_len,
                        .body = msg_body((msg_t *)m),
                        .body_len = m->len};
    qlog_put_publish(b, &p);
    for (size_t i = 0; i < n; i++) {
        const engine_gstate_t *st = &gs[i];
        if (st->finished) {
            qlog_ids_t ids = {.gid = st->gid, .n = 1};
            qlog_put_ids(b, QLOG_FINISH, &ids, &m->id);
            continue;
        }
        /* one FAIL record per remembered failure, so the dead-letter history comes back */
        for (size_t k = 0; k < st->nfail; k++) {
            const engine_failure_t *f = &st->fail[k];
            bool last = k + 1 == st->nfail;
            const char *err = last && st->last_error ? st->last_error : f->error;
            qlog_fail_t fr = {st->gid,
                              m->id,
                              st->attempts - (uint32_t)(st->nfail - 1 - k),
                              last ? st->visible_at : 0,
                              f->at,
                              (uint8_t)f->event,
                              err ? err : "",
                              err ? strlen(err) : 0};
            qlog_put_fail(b, &fr);
        }
    }
}

/* When old segments hold few live messages, rewrites them as one: the live messages' state
 * replaces the last old segment, the others are deleted. Only segments before the active one. */
static void maybe_compact(store_file_t *s, fq_t *q, fjob_t *job)
{
    if (q->nsegs < 3 || q->rotate_at != FILE_NONE)
        return;
    uint64_t published = 0, live = 0, bytes = 0;
    size_t n = q->nsegs - 1; /* every segment but the active one */
    for (size_t i = 0; i < n; i++) {
        published += q->segs[i].published;
        live += q->segs[i].live;
        bytes += q->segs[i].bytes;
    }
    if (live * 4 > published || bytes < s->segment_bytes)
        return;
    fseg_t *last = &q->segs[n - 1];
    qlog_buf_init(&job->compact);
    qlog_put_header(&job->compact, last->seq, q->salt);
    put_checkpoint(s, q, &job->compact);
    engine_export(s->engine, q->name, last->last_id, export_one, &job->compact);
    engine_idem_each(s->engine, q->name, last->last_id, put_idem, &job->compact);
    job->compact_seq = last->seq;
    for (size_t i = 0; i + 1 < n; i++) {
        if (q->nunlink == q->unlinkcap) {
            q->unlinkcap = q->unlinkcap ? q->unlinkcap * 2 : 8;
            q->unlink = sl_realloc(q->unlink, q->unlinkcap * sizeof *q->unlink);
        }
        q->unlink[q->nunlink++] = q->segs[i].seq;
    }
    last->published = last->live = live;
    last->bytes = job->compact.len;
    memmove(q->segs, q->segs + n - 1, (q->nsegs - n + 1) * sizeof *q->segs);
    q->nsegs -= n - 1;
    log_msg(LOG_INFO, "Queue '%s': compacting %zu segments (%llu live of %llu messages).", q->name,
            n, (unsigned long long)live, (unsigned long long)published);
}

static void buf_append(qlog_buf_t *b, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->data = sl_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Moves what q has for the next batch into job: records for the active segment, then, when a
 * new segment starts, its header, a checkpoint and the records after the rotation point. */
static void job_fill(store_file_t *s, fq_t *q, fjob_t *job)
{
    memset(job, 0, sizeof *job);
    job->q = q;
    q->refs++;
    job->rotate_at = FILE_NONE;
    qlog_buf_init(&job->data);
    qlog_buf_init(&job->compact);
    if (q->deleted) {
        job->remove = true;
        return;
    }
    qlog_buf_t *d = &job->data;
    d->salt = q->salt;
    fseg_t *active = &q->segs[q->nsegs - 1];
    if (q->fresh) {
        job->create = true;
        job->new_seq = active->seq;
        qlog_put_header(d, active->seq, q->salt);
        put_checkpoint(s, q, d);
        q->fresh = false;
    }
    if (q->rotate_at == FILE_NONE) {
        if (job->create || q->buf.len == 0) {
            buf_append(d, q->buf.data, q->buf.len);
        } else if (d->len == 0) { /* the common case: hand the buffer over without copying */
            qlog_buf_t t = *d;
            *d = q->buf;
            q->buf = t;
            q->buf.salt = q->salt;
        } else {
            buf_append(d, q->buf.data, q->buf.len);
        }
    } else {
        buf_append(d, q->buf.data, q->rotate_at);
        /* the segment rotated away from is gone when its last message went in this same loop
         * iteration (retention, an expiry): its records are still written, to a file deleted
         * with this batch, and there is no count to keep */
        if (q->nsegs > 1)
            q->segs[q->nsegs - 2].bytes += d->len;
        job->rotate_at = d->len;
        job->new_seq = active->seq;
        qlog_put_header(d, active->seq, q->salt);
        put_checkpoint(s, q, d);
        buf_append(d, q->buf.data + q->rotate_at, q->buf.len - q->rotate_at);
        q->rotate_at = FILE_NONE;
    }
    if (q->later.len && q->later_after < s->open_seq) {
        buf_append(d, q->later.data, q->later.len);
        qlog_buf_reset(&q->later);
        memset(&q->in_later, 0, sizeof q->in_later);
    }
    qlog_buf_reset(&q->buf);
    memset(&q->after_ck, 0, sizeof q->after_ck);
    if (q->carry_idem) {
        engine_idem_each(s->engine, q->name, q->carry_idem, put_idem, d);
        q->carry_idem = 0;
    }
    active->bytes += job->rotate_at == FILE_NONE ? d->len : d->len - job->rotate_at;
    maybe_compact(s, q, job);
    if (q->nunlink) {
        job->unlink = q->unlink;
        job->nunlink = q->nunlink;
        q->unlink = NULL;
        q->nunlink = q->unlinkcap = 0;
    }
}

static void batch_free(fbatch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->njobs; i++) {
        qlog_buf_cleanup(&b->jobs[i].data);
        qlog_buf_cleanup(&b->jobs[i].compact);
        sl_free(b->jobs[i].unlink);
        fq_unref(b->jobs[i].q);
    }
    sl_free(b->jobs);
    sl_free(b);
}

static void thread_submit(store_file_t *s, fbatch_t *b)
{
    s->inflight = b;
    pthread_mutex_lock(&s->mu);
    s->todo = b;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Makes everything appended since the last batch the next batch. */
static fbatch_t *batch_build(store_file_t *s)
{
    fbatch_t *b = sl_calloc(1, sizeof *b);
    b->seq = s->open_seq++;
    size_t n = 0;
    for (list_t *l = s->dirty.next; l != &s->dirty; l = l->next)
        n++;
    b->jobs = sl_calloc(n, sizeof *b->jobs);
    list_t keep;
    list_init(&keep);
    list_t *l;
    while ((l = list_shift(&s->dirty)) != NULL) {
        fq_t *q = list_entry(l, fq_t, dirty_link);
        job_fill(s, q, &b->jobs[b->njobs++]);
        if (q->later.len) /* held back for a later batch */
            list_push(&keep, &q->dirty_link);
    }
    while ((l = list_shift(&keep)) != NULL)
        list_push(&s->dirty, l);
    b->sync = s->policy == FSYNC_ALWAYS;
    return b;
}

/* Once per loop iteration: if the thread is free, what was appended becomes a batch. While it is
 * busy, records pile up and go together next time: group commit. */
static void on_flush(uv_prepare_t *h)
{
    store_file_t *s = h->data;
    if (s->inflight || s->failed || list_empty(&s->dirty))
        return;
    thread_submit(s, batch_build(s));
}

/* ---------------------------------------------------------------- the storage thread */

/* Opens a new segment file of q for appending. Returns the fd or -1 (errno set). */
static int seg_create(fq_t *q, uint64_t seq)
{
    char *path = seg_path(q, seq, "");
    /* O_EXCL: a segment is never reopened by accident; a failed earlier attempt was unlinked.
     * No O_APPEND: appends go at fd_size, inside the zero tail; read by tail_cut(). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    sl_free(path);
    return fd;
}

/* Opens j's new segment and makes it its queue's file to append to; job_undo() closes it if the
 * batch fails, and the batch's end closes the one it replaced. Returns 0 or -1 (errno set). */
static int seg_switch(fjob_t *j)
{
    fq_t *q = j->q;
    int fd = seg_create(q, j->new_seq);
    if (fd < 0)
        return -1;
    j->opened_new = true;
    q->fd = fd;
    q->fd_seq = j->new_seq;
    q->fd_size = q->fd_alloc = 0;
    return 0;
}

/* Writes zeros over [from, to) of fd. Returns 0 or -1 (errno). */
static int zero_fill(int fd, off_t from, off_t to)
{
    static unsigned char zeros[64 * 1024]; /* only read: never takes memory of its own */
    while (from < to) {
        size_t n = to - from < (off_t)sizeof zeros ? (size_t)(to - from) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, from);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        from += w;
    }
    return 0;
}

/* Cuts the zero tail off q's active segment if the file still ends with it: bytes someone else
 * put there are never cut. */
static void tail_cut(fq_t *q)
{
    unsigned char buf[4096];
    struct stat st;
    if (q->fd_alloc <= q->fd_size || fstat(q->fd, &st) < 0 || st.st_size != q->fd_alloc)
        return;
    for (off_t at = q->fd_size; at < q->fd_alloc;) {
        size_t n = q->fd_alloc - at < (off_t)sizeof buf ? (size_t)(q->fd_alloc - at) : sizeof buf;
        ssize_t r = pread(q->fd, buf, n, at);
        if (r <= 0)
            return;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i])
                return;
        at += r;
    }
    if (ftruncate(q->fd, q->fd_size) == 0)
        q->fd_alloc = q->fd_size;
}

/* Appends n bytes to q's active segment where its records end. When they reach past the zero
 * tail (qlog.c), the file's size changes anyway, so this is when a new tail is written after
 * them: the fdatasync that has to write the inode for this append does it for the tail too, and
 * the appends that go into the tail afterwards leave the inode alone. A queue that keeps writing
 * gets a tail twice as long each time (up to FILE_AHEAD_MAX), one that writes rarely a short one;
 * the tail stops at segment_bytes, where the segment rotates. A tail that cannot be written (disk
 * full) is given up: the file is cut back to its records and appends just grow it. Returns 0 or
 * -1 (errno) when the records themselves could not be written. */
static int seg_append(store_file_t *s, fq_t *q, const unsigned char *p, size_t n)
{
    if (fault_write_all(q->fd, p, n, q->fd_size) < 0)
        return -1;
    q->fd_size += (off_t)n;
    if (q->fd_size <= q->fd_alloc)
        return 0;
    uint64_t now = uv_hrtime() / 1000000; /* ms; monotonic, and needs no loop */
    q->ahead = now - q->ahead_at < 1000 && q->ahead ? q->ahead * 2 : FILE_AHEAD_MIN;
    if (q->ahead > FILE_AHEAD_MAX)
        q->ahead = FILE_AHEAD_MAX;
    q->ahead_at = now;
    off_t end = (q->fd_size + q->ahead + 4095) / 4096 * 4096;
    if ((uint64_t)end > s->segment_bytes)
        end = (off_t)s->segment_bytes;
    q->fd_alloc = q->fd_size;
    if (end > q->fd_size) {
        if (zero_fill(q->fd, q->fd_size, end) == 0)
            q->fd_alloc = end;
        else if (ftruncate(q->fd, q->fd_size) < 0) {
            /* zeros left after the records are a zero tail all the same */
        }
    }
    return 0;
}

/* Makes directory entries durable: a new file, a rename or an unlink in dir survives a crash
 * only once the directory itself is synced. */
static int dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Writes one job. On failure leaves the undo information in the job and returns -1 (errno). */
static int job_run(store_file_t *s, fjob_t *j)
{
    fq_t *q = j->q;
    j->old_fd = q->fd;
    j->old_seq = q->fd_seq;
    j->old_size = q->fd_size;
    if (j->remove) {
        if (q->fd >= 0)
            close(q->fd);
        q->fd = j->old_fd = -1;
        /* rename first: a crash halfway through deleting files must not leave half a queue */
        char *trash = path_join(s->dir, "trash"), name[ENGINE_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s.%llu", q->name, (unsigned long long)dur_now_ms());
        char *to = path_join(trash, name);
        int r = rename(q->dir, to);
        if (r == 0) {
            DIR *dh = opendir(to);
            struct dirent *de;
            while (dh && (de = readdir(dh)) != NULL) {
                if (de->d_name[0] == '.')
                    continue;
                char *f = path_join(to, de->d_name);
                unlink(f);
                sl_free(f);
            }
            if (dh)
                closedir(dh);
            rmdir(to);
        }
        sl_free(trash);
        sl_free(to);
        return r == 0 || errno == ENOENT ? 0 : -1;
    }
    const unsigned char *p = j->data.data;
    size_t n = j->data.len, first = j->rotate_at == FILE_NONE ? n : j->rotate_at;
    if (j->create) {
        if (mkdir(q->dir, 0755) < 0 && errno != EEXIST)
            return -1;
        if (seg_switch(j) < 0)
            return -1;
    }
    if (first > 0 && seg_append(s, q, p, first) < 0)
        return -1;
    if (j->rotate_at != FILE_NONE) {
        /* the old segment is complete: sync it before the new one takes over. Its zero tail is
         * cut (a crash that loses the cut leaves zeros the scanner reads as the end anyway). */
        if (fault_fdatasync(q->fd) < 0)
            return -1;
        tail_cut(q);
        if (seg_switch(j) < 0 || seg_append(s, q, p + first, n - first) < 0)
            return -1;
    }
    if (j->compact.len) {
        /* written beside, synced, then renamed over the segment it replaces: at any crash the
         * directory holds either the old segment or the whole new one */
        char *tmp = seg_path(q, j->compact_seq, ".tmp"), *dst = seg_path(q, j->compact_seq, "");
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int r = fd < 0 ? -1 : fault_write_all(fd, j->compact.data, j->compact.len, 0);
        if (r == 0)
            r = fault_fdatasync(fd);
        if (fd >= 0)
            close(fd);
        if (r == 0)
            r = rename(tmp, dst);
        if (r < 0)
            unlink(tmp);
        sl_free(tmp);
        sl_free(dst);
        if (r < 0)
            return -1;
        j->compact.len = 0; /* done: a retry of the batch does not redo it */
    }
    return 0;
}

/* Puts a failed job's files back as they were before it. */
static void job_undo(fjob_t *j)
{
    fq_t *q = j->q;
    if (j->remove)
        return;
    if (j->opened_new) {
        close(q->fd);
        char *path = seg_path(q, q->fd_seq, "");
        unlink(path); /* ENOENT is fine */
        sl_free(path);
        j->opened_new = false;
    }
    q->fd = j->old_fd;
    q->fd_seq = j->old_seq;
    q->fd_size = q->fd_alloc = j->old_size; /* the cut takes the zero tail too */
    if (q->fd >= 0 && ftruncate(q->fd, q->fd_size) < 0)
        log_errno(LOG_ERROR, "Queue '%s': cannot cut segment %llu back after a failed write",
                  q->name, (unsigned long long)q->fd_seq);
}

static void batch_run(store_file_t *s, fbatch_t *b)
{
    size_t i;
    b->err = 0;
    for (i = 0; i < b->njobs; i++) {
        if (job_run(s, &b->jobs[i]) < 0) {
            b->err = errno ? errno : EIO;
            break;
        }
    }
    if (b->err == 0 && b->sync) {
        for (size_t k = 0; k < b->njobs && b->err == 0; k++) {
            fjob_t *j = &b->jobs[k];
            if (j->remove || j->q->fd < 0)
                continue;
            if (fault_fdatasync(j->q->fd) < 0)
                b->err = errno ? errno : EIO;
            else if ((j->create || j->rotate_at != FILE_NONE || j->compact_seq) &&
                     dir_sync(j->q->dir) < 0)
                b->err = errno ? errno : EIO;
        }
    }
    if (b->err) {
        /* every file of the batch goes back to its size before it; the batch will be retried */
        for (size_t k = 0; k < b->njobs && k <= i; k++)
            job_undo(&b->jobs[k]);
        return;
    }
    /* Segments whose messages are all gone go last, once what replaced them (carried-over
     * idempotency keys, a compacted segment) is on disk. Losing an unlink in a crash only
     * wastes space: replaying a dead segment changes nothing. */
    for (size_t k = 0; k < b->njobs; k++) {
        fjob_t *j = &b->jobs[k];
        if (j->opened_new && j->old_fd >= 0) /* the segment it rotated away from is complete */
            close(j->old_fd);
        j->opened_new = false;
        j->old_fd = -1;
        for (size_t u = 0; u < j->nunlink; u++) {
            char *path = seg_path(j->q, j->unlink[u], "");
            unlink(path);
            sl_free(path);
        }
        j->nunlink = 0;
    }
}

static void *thread_main(void *arg)
{
    store_file_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->todo == NULL && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->todo == NULL && s->stop)
            break;
        fbatch_t *b = s->todo;
        s->todo = NULL;
        pthread_mutex_unlock(&s->mu);
        batch_run(s, b);
        uv_async_send(&s->done);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---------------------------------------------------------------- completion (loop side) */

static const char *stored_name(const store_file_t *s)
{
    return s->policy == FSYNC_ALWAYS ? "fsync" : "os";
}

/* Answers the waiting requests whose batch is done (or failed with err). */
static void waits_settle(store_file_t *s, uint64_t upto, int err)
{
    list_t *l;
    while ((l = s->waits.next) != &s->waits) {
        fwait_t *w = list_entry(l, fwait_t, link);
        if (w->batch > upto)
            break;
        list_remove(l);
        store_req_t *req = w->req;
        sl_free(w);
        if (err) {
            if (req->op == STORE_PUBLISH)
                req->u.publish.stored = "memory";
            req->status = SL_ESTORAGE;
        } else if (req->op == STORE_PUBLISH) {
            req->u.publish.stored = stored_name(s);
        }
        req->cb(req);
    }
}

static void on_retry(uv_timer_t *t)
{
    store_file_t *s = t->data;
    if (s->failed && !s->inflight) {
        fbatch_t *b = s->failed;
        s->failed = NULL;
        thread_submit(s, b);
    }
}

static void on_done(uv_async_t *h)
{
    store_file_t *s = h->data;
    fbatch_t *b = s->inflight;
    if (b == NULL)
        return;
    s->inflight = NULL;
    if (b->err) {
        if (!s->degraded)
            log_msg(LOG_ERROR,
                    "Storage write failed in %s: %s; refusing changes until it "
                    "works again.",
                    s->dir, strerror(b->err));
        s->degraded = true;
        /* every waiting change is answered now, those of later batches too: no batch is built
         * while this one is retried, however long the failure lasts. What they did in memory
         * stays and is written once storage works again, as for the failed batch's own. */
        waits_settle(s, UINT64_MAX, SL_ESTORAGE);
        s->failed = b;
        uv_timer_start(&s->retry, on_retry, FILE_RETRY_MS, 0);
        return;
    }
    if (s->degraded) {
        log_msg(LOG_INFO, "Storage in %s works again.", s->dir);
        s->degraded = false;
    }
    s->written_seq = b->seq;
    if (b->sync)
        s->synced_seq = b->seq;
    else
        s->unsynced = true;
    for (size_t i = 0; i < b->njobs; i++) {
        fq_t *q = b->jobs[i].q;
        if (b->jobs[i].remove && list_linked(&q->link)) { /* its files are gone: forget it */
            list_remove(&q->link);
            fq_unref(q);
        }
    }
    batch_free(b);
    waits_settle(s, s->policy == FSYNC_ALWAYS ? s->synced_seq : s->written_seq, 0);
}

/* fsync = interval: syncs what was written since the last sync, as a batch of empty jobs. */
static void on_interval(uv_timer_t *t)
{
    store_file_t *s = t->data;
    if (!s->unsynced || s->inflight || s->failed)
        return;
    size_t n = 0;
    for (list_t *l = s->queues.next; l != &s->queues; l = l->next)
        n++;
    fbatch_t *b = sl_calloc(1, sizeof *b);
    b->seq = s->written_seq; /* it writes nothing: no request waits on it */
    b->sync = true;
    b->jobs = sl_calloc(n ? n : 1, sizeof *b->jobs);
    for (list_t *l = s->queues.next; l != &s->queues; l = l->next) {
        fjob_t *j = &b->jobs[b->njobs++];
        memset(j, 0, sizeof *j);
        j->q = list_entry(l, fq_t, link);
        j->q->refs++;
        j->rotate_at = FILE_NONE;
    }
    s->unsynced = false;
    thread_submit(s, b);
}

/* ---------------------------------------------------------------- requests */

static void file_done(store_eng_t *se, store_req_t *req)
{
    store_file_t *s = SL_CONTAINER_OF(se, store_file_t, se);
    if (req->op == STORE_QUEUE_INFO && req->status == 0) {
        fq_t *q = hmap_find(&s->qmap, req->queue, strlen(req->queue));
        if (q && q->ndamage) {
            req->damage = pool_alloc(req->pool, q->ndamage * sizeof *req->damage);
            for (size_t i = 0; i < q->ndamage; i++)
                req->damage[i] =
                    (struct store_damage){q->damage[i].seq, q->damage[i].offset, q->damage[i].len};
            req->ndamage = q->ndamage;
        }
    }
    if (req->status == 0 && store_eng_writes(req->op) && s->appended != s->op_appended) {
        /* it changed durable state: answer once its batch is on disk */
        fwait_t *w = sl_malloc(sizeof *w);
        w->req = req;
        w->batch = s->open_seq;
        list_push(&s->waits, &w->link);
        return;
    }
    if (req->op == STORE_PUBLISH)
        req->u.publish.stored = stored_name(s);
    req->cb(req);
}

static void file_submit(store_t *base, store_req_t *req)
{
    store_file_t *s = (store_file_t *)base;
    if (s->degraded && store_eng_writes(req->op)) {
        if (req->op == STORE_PUBLISH)
            req->u.publish.stored = "memory";
        req->status = SL_ESTORAGE;
        req->cb(req);
        return;
    }
    s->op_appended = s->appended;
    store_eng_submit(&s->se, req);
}

/* Withdraws a parked lease, or a change waiting for its batch (its client left: the change stays,
 * only the answer is dropped). */
static int file_cancel(store_t *base, store_req_t *req)
{
    store_file_t *s = (store_file_t *)base;
    for (list_t *l = s->waits.next; l != &s->waits; l = l->next) {
        fwait_t *w = list_entry(l, fwait_t, link);
        if (w->req == req) {
            list_remove(l);
            sl_free(w);
            return 0;
        }
    }
    return store_eng_cancel(&s->se, req);
}

static void file_drain(store_t *base)
{
    store_eng_drain(&((store_file_t *)base)->se);
}

static int file_ready(store_t *base)
{
    return ((store_file_t *)base)->degraded ? SL_ESTORAGE : 0;
}

/* ---------------------------------------------------------------- recovery */

/* One group's state of one message, as the records say so far. */
typedef struct rstate {
    uint32_t gid;
    bool finished;
    uint32_t attempts;
    int64_t visible_at;
    char *last_error;
    uint8_t nfail, first; /* ring of the newest failures */
    struct {
        int64_t at;
        uint8_t event;
        char *error;
    } fail[ENGINE_HISTORY_MAX];
} rstate_t;

/* What replaying a queue's records builds. Messages are msg_t in `msgs` (keyed by id; the
 * deliver time is kept in the extension's timer until restore); per-group states only exist for
 * messages some group finished or failed, in `states`. */
typedef struct rq {
    fq_t *fq;
    qlog_queue_t qrec;
    bool have_qrec;
    uint64_t qrec_seq; /* the segment of the newest readable QUEUE record, when have_qrec */
    uint64_t max_id, purge_up_to;
    uint32_t max_gid; /* the highest group id a record names, when any_gid */
    bool any_gid;
    hmap_t msgs;                  /* id -> msg_t */
    hmap_t states;                /* id -> rstates_t */
    struct rgroup {               /* the newest GROUP record of each group */
        engine_group_info_t info; /* name and meta point into the two fields below */
        char name[ENGINE_NAME_MAX + 1];
        char *meta;   /* NULL or sl_malloc'd */
        uint64_t seq; /* the segment of that record */
        bool deleted;
    } * groups;
    size_t ngroups, gcap;
    struct ridem {
        uint64_t id;
        int64_t published_at;
        char *key;
        size_t len;
    } * idem;
    size_t nidem, idemcap;
    uint64_t seg_seq; /* the segment being scanned */
    const char *file; /* its path, for messages */
} rq_t;

typedef struct rstates {
    uint64_t id;
    rstate_t *s;
    uint32_t n;
} rstates_t;

static int eq_msg_id(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const msg_t *)val)->id == *(const uint64_t *)key;
}

static int eq_rstates(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const rstates_t *)val)->id == *(const uint64_t *)key;
}

static void rstates_free(rstates_t *rs)
{
    if (rs == NULL)
        return;
    for (uint32_t i = 0; i < rs->n; i++) {
        sl_free(rs->s[i].last_error);
        for (int k = 0; k < ENGINE_HISTORY_MAX; k++)
            sl_free(rs->s[i].fail[k].error);
    }
    sl_free(rs->s);
    sl_free(rs);
}

static void rq_forget(rq_t *r, uint64_t id)
{
    msg_t *m = hmap_remove(&r->msgs, &id, sizeof id);
    msg_unref(m);
    rstates_free(hmap_remove(&r->states, &id, sizeof id));
}

static rstate_t *rq_state(rq_t *r, uint64_t id, uint32_t gid)
{
    rstates_t *rs = hmap_find(&r->states, &id, sizeof id);
    if (rs == NULL) {
        rs = sl_calloc(1, sizeof *rs);
        rs->id = id;
        hmap_add(&r->states, &rs->id, sizeof rs->id, rs);
    }
    for (uint32_t i = 0; i < rs->n; i++)
        if (rs->s[i].gid == gid)
            return &rs->s[i];
    rs->s = sl_realloc(rs->s, (rs->n + 1) * sizeof *rs->s);
    rstate_t *st = &rs->s[rs->n++];
    memset(st, 0, sizeof *st);
    st->gid = gid;
    return st;
}

static bool rq_group_wants(const rq_t *r, size_t gi, const msg_t *m)
{
    uint32_t only = msg_only_group(m);
    const engine_group_info_t *g = &r->groups[gi].info;
    return !r->groups[gi].deleted && m->id >= g->start_id && (only == 0 || only == g->gid);
}

/* Frees message id when every live group that receives it has finished it. */
static void rq_maybe_gone(rq_t *r, uint64_t id)
{
    msg_t *m = hmap_find(&r->msgs, &id, sizeof id);
    rstates_t *rs = hmap_find(&r->states, &id, sizeof id);
    if (m == NULL)
        return;
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        if (!rq_group_wants(r, gi, m))
            continue;
        bool done = false;
        for (uint32_t k = 0; rs && k < rs->n && !done; k++)
            done = rs->s[k].gid == r->groups[gi].info.gid && rs->s[k].finished;
        if (!done)
            return;
    }
    rq_forget(r, id);
}

/* After a group's deletion: forgets the messages that no live group needs any more, as the
 * engine removed them when the group went. Kept, a group created later from=earliest would find
 * them in the log at the next start and take them: acked messages back. */
static void rq_sweep(rq_t *r)
{
    uint64_t *ids = sl_malloc((r->msgs.len ? r->msgs.len : 1) * sizeof *ids);
    size_t n = 0;
    uint32_t pos = 0;
    msg_t *m;
    while ((m = hmap_next(&r->msgs, &pos)) != NULL)
        ids[n++] = m->id;
    for (size_t i = 0; i < n; i++)
        rq_maybe_gone(r, ids[i]);
    sl_free(ids);
}

/* Notes message id as handed out: new ids go above every id a record names (a PURGE's up_to too:
 * a new message with a purged id would be dropped as purged at the next start). */
static void rq_id(rq_t *r, uint64_t id)
{
    if (id > r->max_id)
        r->max_id = id;
}

/* Notes group id gid as used: no new group may take it while a record names it. */
static void rq_gid(rq_t *r, uint32_t gid)
{
    if (!r->any_gid || gid > r->max_gid)
        r->max_gid = gid;
    r->any_gid = true;
}

/* Whether a live (not deleted) group of the fold has id gid. */
static bool rq_group_live(const rq_t *r, uint32_t gid)
{
    for (size_t gi = 0; gi < r->ngroups; gi++)
        if (r->groups[gi].info.gid == gid && !r->groups[gi].deleted)
            return true;
    return false;
}

/* Forgets the states of deleted group gid: a group that got its id later (logs written before
 * group ids were kept unique across restarts) starts afresh, not with the deleted one's acks. */
static void rq_forget_group(rq_t *r, uint32_t gid)
{
    rstates_t *rs;
    uint32_t pos = 0;
    while ((rs = hmap_next(&r->states, &pos)) != NULL) {
        for (uint32_t i = 0; i < rs->n; i++) {
            if (rs->s[i].gid != gid)
                continue;
            rstate_t *st = &rs->s[i];
            sl_free(st->last_error);
            for (int k = 0; k < ENGINE_HISTORY_MAX; k++)
                sl_free(st->fail[k].error);
            rs->s[i] = rs->s[--rs->n];
            break;
        }
    }
}

static char *dup_n(const char *p, size_t n)
{
    return sl_strndup(p ? p : "", n);
}

static int rq_record(void *ctx, const qlog_rec_t *rec)
{
    rq_t *r = ctx;
    fq_t *q = r->fq;
    fseg_t *seg = &q->segs[q->nsegs - 1];
    int err = 0;
    switch (rec->type) {
    case QLOG_PUBLISH: {
        qlog_publish_t p;
        if ((err = qlog_get_publish(rec, &p)))
            break;
        rq_id(r, p.id);
        if (p.id > seg->last_id)
            seg->last_id = p.id;
        seg->published++;
        if (p.id <= r->purge_up_to)
            break; /* purged */
        /* Seen already: a compacted copy of the same message, or (only damage makes this) another
         * message with its id. The later record wins, as it would once the earlier one's segment
         * is deleted: keeping the first would bring the other back then. The states the
         * groups have of that id stay. */
        msg_t *earlier = hmap_remove(&r->msgs, &p.id, sizeof p.id);
        bool seen = earlier != NULL;
        msg_unref(earlier);
        if (p.only_group) /* a message for one group names it: no new group may take its id */
            rq_gid(r, p.only_group);
        bool ext = p.expires_at || p.only_group || p.deliver_at;
        msg_t *m = (ext ? msg_new_ext : msg_new)(p.body, p.body_len, p.key, p.key_len, p.attrs,
                                                 p.attrs_len);
        m->id = p.id;
        m->published_at = p.published_at;
        if (ext) {
            msg_ext(m)->expires_at = p.expires_at;
            msg_ext(m)->only_group = p.only_group;
            msg_ext(m)->tmr.at = p.deliver_at; /* kept here until restore */
        }
        hmap_add(&r->msgs, &m->id, sizeof m->id, m);
        if (seen)
            break; /* counted, with its idempotency key, the first time */
        if (p.idem_len) {
            if (r->nidem == r->idemcap) {
                r->idemcap = r->idemcap ? r->idemcap * 2 : 16;
                r->idem = sl_realloc(r->idem, r->idemcap * sizeof *r->idem);
            }
            r->idem[r->nidem++] =
                (struct ridem){p.id, p.published_at, dup_n(p.idem, p.idem_len), p.idem_len};
        }
        r->qrec.published++;
        break;
    }
    case QLOG_FINISH: {
        qlog_ids_t ids;
        if ((err = qlog_get_ids(rec, &ids)))
            break;
        rq_gid(r, ids.gid);
        for (uint32_t i = 0; i < ids.n; i++) {
            uint64_t id = qlog_id(&ids, i);
            rq_id(r, id);
            /* counted even when the message's own record went with a deleted segment */
            if (ids.reason == 1)
                r->qrec.dead_lettered++;
            else
                r->qrec.acked++;
            if (!hmap_find(&r->msgs, &id, sizeof id))
                continue;
            rstate_t *st = rq_state(r, id, ids.gid);
            st->finished = true;
            rq_maybe_gone(r, id);
        }
        break;
    }
    case QLOG_FAIL: {
        qlog_fail_t f;
        if ((err = qlog_get_fail(rec, &f)))
            break;
        rq_gid(r, f.gid);
        rq_id(r, f.id);
        if (!hmap_find(&r->msgs, &f.id, sizeof f.id))
            break;
        rstate_t *st = rq_state(r, f.id, f.gid);
        st->finished = false; /* a failed (or returned) delivery: the group has it again */
        st->attempts = f.attempts;
        st->visible_at = f.visible_at;
        if (f.event == 2) /* returned: the reply of a pop never left; not a failure */
            break;
        sl_free(st->last_error);
        st->last_error = f.error_len ? dup_n(f.error, f.error_len) : NULL;
        uint8_t slot = (uint8_t)((st->first + st->nfail) % ENGINE_HISTORY_MAX);
        if (st->nfail == ENGINE_HISTORY_MAX) { /* full: the oldest makes room */
            slot = st->first;
            st->first = (uint8_t)((st->first + 1) % ENGINE_HISTORY_MAX);
        } else {
            st->nfail++;
        }
        sl_free(st->fail[slot].error);
        st->fail[slot].at = f.at;
        st->fail[slot].event = f.event;
        st->fail[slot].error = dup_n(f.error, f.error_len);
        break;
    }
    case QLOG_DROP: {
        qlog_ids_t ids;
        if ((err = qlog_get_ids(rec, &ids)))
            break;
        for (uint32_t i = 0; i < ids.n; i++) {
            uint64_t id = qlog_id(&ids, i);
            rq_id(r, id);
            if (ids.reason == ENGINE_DROP_EXPIRED)
                r->qrec.expired++;
            else if (ids.reason == ENGINE_DROP_RETENTION)
                r->qrec.dropped++;
            rq_forget(r, id);
        }
        break;
    }
    case QLOG_QUEUE: {
        qlog_queue_t qr;
        if ((err = qlog_get_queue(rec, &qr)))
            break;
        uint64_t max_id = r->max_id > qr.last_id ? r->max_id : qr.last_id;
        r->qrec = qr; /* counters restart from the checkpoint; later records add to them */
        r->qrec.last_id = max_id;
        r->have_qrec = true;
        r->qrec_seq = r->seg_seq;
        break;
    }
    case QLOG_GROUP: {
        qlog_group_t g;
        if ((err = qlog_get_group(rec, &g)) || g.name_len > ENGINE_NAME_MAX)
            break;
        rq_gid(r, g.gid);
        if (!engine_name_valid(g.name, g.name_len))
            break; /* the engine refuses it (only damage writes one): no group, as for it */
        size_t gi = 0;
        while (gi < r->ngroups && r->groups[gi].info.gid != g.gid)
            gi++;
        if (gi == r->ngroups) {
            if (r->ngroups == r->gcap) {
                r->gcap = r->gcap ? r->gcap * 2 : 4;
                r->groups = sl_realloc(r->groups, r->gcap * sizeof *r->groups);
                for (size_t j = 0; j < r->ngroups; j++) /* the names moved with the array */
                    r->groups[j].info.name = r->groups[j].name;
            }
            r->ngroups++;
            r->groups[gi].meta = NULL;
        }
        struct rgroup *rg = &r->groups[gi];
        memcpy(rg->name, g.name, g.name_len);
        rg->name[g.name_len] = '\0';
        sl_free(rg->meta);
        rg->meta = g.meta_len ? sl_strndup(g.meta, g.meta_len) : NULL;
        rg->deleted = false;
        rg->seq = r->seg_seq;
        rg->info = (engine_group_info_t){.name = rg->name,
                                         .gid = g.gid,
                                         .start_id = g.start_id,
                                         .created_at = g.created_at,
                                         .max_in_flight = g.max_in_flight,
                                         .max_attempts = g.max_attempts,
                                         .meta = rg->meta};
        break;
    }
    case QLOG_GROUP_DEL: {
        uint32_t gid;
        if ((err = qlog_get_u32(rec, &gid)))
            break;
        rq_gid(r, gid); /* its id is never handed out again */
        for (size_t gi = 0; gi < r->ngroups; gi++)
            if (r->groups[gi].info.gid == gid)
                r->groups[gi].deleted = true;
        rq_forget_group(r, gid);
        rq_sweep(r);
        break;
    }
    case QLOG_IDEM: {
        uint64_t id;
        int64_t at;
        const char *key;
        size_t len;
        if ((err = qlog_get_idem(rec, &id, &at, &key, &len)))
            break;
        rq_id(r, id);
        if (r->nidem == r->idemcap) {
            r->idemcap = r->idemcap ? r->idemcap * 2 : 16;
            r->idem = sl_realloc(r->idem, r->idemcap * sizeof *r->idem);
        }
        r->idem[r->nidem++] = (struct ridem){id, at, dup_n(key, len), len};
        break;
    }
    case QLOG_PURGE: {
        uint64_t up_to, id;
        if ((err = qlog_get_u64(rec, &up_to)))
            break;
        rq_id(r, up_to);
        if (up_to > r->purge_up_to)
            r->purge_up_to = up_to;
        uint32_t pos = 0;
        msg_t *m;
        /* collect first: forgetting changes the table */
        size_t n = 0, cap = r->msgs.len;
        uint64_t *ids = sl_malloc((cap ? cap : 1) * sizeof *ids);
        while ((m = hmap_next(&r->msgs, &pos)) != NULL)
            if (m->id <= up_to)
                ids[n++] = m->id;
        for (size_t i = 0; i < n; i++) {
            id = ids[i];
            rq_forget(r, id);
        }
        sl_free(ids);
        break;
    }
    default:
        err = SL_EIO;
        break;
    }
    if (err)
        log_msg(LOG_WARN,
                "%s: record at offset %zu (type %d) has a payload this version cannot "
                "read; skipped.",
                r->file, rec->offset, rec->type);
    return 0;
}

static void rq_damaged(void *ctx, size_t offset, size_t len)
{
    rq_t *r = ctx;
    fq_t *q = r->fq;
    log_msg(LOG_ERROR, "%s: %zu damaged bytes at offset %zu; the records around them are kept.",
            r->file, len, offset);
    q->damage = sl_realloc(q->damage, (q->ndamage + 1) * sizeof *q->damage);
    q->damage[q->ndamage++] = (fdamage_t){r->seg_seq, offset, len};
}

static int cmp_msg_id(const void *a, const void *b)
{
    uint64_t x = (*(msg_t *const *)a)->id, y = (*(msg_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* engine_export callback: counts a live message in the segment that holds it. */
static void count_live(void *ctx, const msg_t *m, int64_t deliver_at, const engine_gstate_t *gs,
                       size_t n)
{
    fq_t *q = ctx;
    (void)deliver_at;
    (void)gs;
    (void)n;
    for (size_t i = 0; i < q->nsegs; i++) {
        if (q->segs[i].last_id >= m->id) {
            q->segs[i].live++;
            return;
        }
    }
    q->segs[q->nsegs - 1].live++;
}

/* Puts what replay found into the engine. */
static void rq_restore(store_file_t *s, rq_t *r)
{
    fq_t *q = r->fq;
    engine_queue_info_t info;
    memset(&info, 0, sizeof info);
    if (r->have_qrec) {
        info.settings = r->qrec.settings;
        info.dlq_auto = r->qrec.dlq_auto;
        info.created_at = r->qrec.created_at;
        info.published = r->qrec.published;
        info.acked = r->qrec.acked;
        info.expired = r->qrec.expired;
        info.dropped = r->qrec.dropped;
        info.dead_lettered = r->qrec.dead_lettered;
    } else { /* its checkpoints were damaged: the defaults, and say so */
        log_msg(LOG_WARN, "Queue '%s': no readable settings in its log; using the defaults.",
                q->name);
        info.settings = s->cfg.engine.defaults;
        info.dlq_auto = true;
        info.created_at = dur_now_ms();
    }
    info.last_id = r->max_id > r->qrec.last_id ? r->max_id : r->qrec.last_id;
    engine_restore_queue(s->engine, q->name, &info);
    bool had_default = false;
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        if (r->groups[gi].deleted)
            continue;
        engine_restore_group(s->engine, q->name, &r->groups[gi].info);
        had_default = had_default || strcmp(r->groups[gi].name, ENGINE_DEFAULT_GROUP) == 0;
    }
    /* Ids of deleted groups, and ids that FINISH and FAIL records name without a GROUP record,
     * stay used: a new group with one would take those records for its own at the next start. */
    if (r->any_gid)
        engine_restore_gid(s->engine, q->name, r->max_gid);
    engine_restore_done(s->engine, q->name); /* a default group even if the log lost it */
    *engine_queue_jdata(s->engine, q->name) = q;
    /* A default group made just now, or settings taken from the defaults, must be the same at the
     * next start (acks name the group's id). And when the active segment has no readable
     * checkpoint of its own, whole (damage, or a crash that cut its first write after the
     * header), the groups or settings are only in older segments, which are deleted once their
     * messages are gone: the log would lose them. A checkpoint in the active segment keeps them (a
     * fresh queue's first segment starts with one anyway). */
    uint64_t active = q->segs[q->nsegs - 1].seq;
    bool own_ck = r->have_qrec && r->qrec_seq == active;
    for (size_t gi = 0; gi < r->ngroups && own_ck; gi++)
        own_ck = r->groups[gi].deleted || r->groups[gi].seq == active;
    if (!q->fresh && (!had_default || !own_ck || q->ndamage > 0)) {
        if (!had_default)
            log_msg(LOG_WARN, "Queue '%s': its log has no default group.", q->name);
        put_checkpoint(s, q, rec_buf(q, false));
    }
    size_t n = 0;
    msg_t **all = sl_malloc((r->msgs.len ? r->msgs.len : 1) * sizeof *all), *m;
    uint32_t pos = 0;
    while ((m = hmap_next(&r->msgs, &pos)) != NULL)
        all[n++] = m;
    qsort(all, n, sizeof *all, cmp_msg_id);
    engine_gstate_t *gs = sl_malloc((r->ngroups ? r->ngroups : 1) * sizeof *gs);
    for (size_t i = 0; i < n; i++) {
        m = all[i];
        rstates_t *rs = hmap_find(&r->states, &m->id, sizeof m->id);
        size_t ng = 0;
        for (uint32_t k = 0; rs && k < rs->n && ng < r->ngroups; k++) {
            rstate_t *st = &rs->s[k];
            /* only the states of live groups: one of a group the log does not know (deleted, or
             * named by a damaged record) would take the place of a live group's */
            if (!rq_group_live(r, st->gid))
                continue;
            engine_gstate_t *g = &gs[ng++];
            memset(g, 0, sizeof *g);
            g->gid = st->gid;
            g->finished = st->finished;
            g->attempts = st->attempts;
            g->visible_at = st->visible_at;
            g->last_error = st->last_error;
            g->nfail = st->nfail;
            for (uint8_t f = 0; f < st->nfail; f++) {
                int slot = (st->first + f) % ENGINE_HISTORY_MAX;
                g->fail[f].at = st->fail[slot].at;
                g->fail[f].event = st->fail[slot].event;
                g->fail[f].error = st->fail[slot].error;
            }
        }
        int64_t deliver_at = 0;
        if (msg_ext(m)) {
            deliver_at = msg_ext(m)->tmr.at;
            heap_node_init(&msg_ext(m)->tmr, 0);
        }
        msg_ref(m); /* the restore takes one reference; the table keeps its own until freed */
        uint64_t id = m->id;
        if (engine_restore_message(s->engine, q->name, m, deliver_at, gs, ng) ==
            ENGINE_RESTORE_GONE) {
            /* The log keeps it for no group the engine has (its groups were lost or changed by
             * damage, say): recorded as gone, uncounted, or a group created from=earliest now
             * would find it in the log at the next start and take it */
            qlog_ids_t ids = {.reason = ENGINE_DROP_MOVED, .n = 1};
            qlog_put_ids(rec_buf(q, false), QLOG_DROP, &ids, &id);
        }
    }
    sl_free(gs);
    sl_free(all);
    for (size_t i = 0; i < r->nidem; i++)
        engine_restore_idem(s->engine, q->name, r->idem[i].key, r->idem[i].len, r->idem[i].id,
                            r->idem[i].published_at);
    engine_export(s->engine, q->name, UINT64_MAX, count_live, q);
}

static void rq_cleanup(rq_t *r)
{
    msg_t *m;
    rstates_t *rs;
    uint32_t pos = 0;
    while ((m = hmap_next(&r->msgs, &pos)) != NULL)
        msg_unref(m);
    pos = 0;
    while ((rs = hmap_next(&r->states, &pos)) != NULL)
        rstates_free(rs);
    hmap_cleanup(&r->msgs);
    hmap_cleanup(&r->states);
    for (size_t i = 0; i < r->nidem; i++)
        sl_free(r->idem[i].key);
    sl_free(r->idem);
    for (size_t gi = 0; gi < r->ngroups; gi++)
        sl_free(r->groups[gi].meta);
    sl_free(r->groups);
}

/* Reads one segment file of q into r. last: it is the newest (a torn tail is cut off). Returns
 * 0, or -1 when the file cannot be used at all (reported). */
static int scan_segment(rq_t *r, uint64_t seq, bool last)
{
    fq_t *q = r->fq;
    char *path = seg_path(q, seq, "");
    /* if this is the active segment, records are appended where what is read here ends (after
     * the cut, when a torn tail is cut off), into its zero tail */
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    int rc = -1;
    if (fd < 0 || fstat(fd, &st) < 0) {
        log_errno(LOG_ERROR, "Cannot open %s", path);
        goto out;
    }
    if (st.st_size < QLOG_HEADER_SIZE && last) {
        /* a segment whose creation a crash cut short: nothing was ever acknowledged from it */
        log_msg(LOG_WARN, "%s: incomplete segment (%lld bytes) removed.", path,
                (long long)st.st_size);
        unlink(path);
        goto out;
    }
    void *map = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (st.st_size && map == MAP_FAILED) {
        log_errno(LOG_ERROR, "Cannot map %s", path);
        goto out;
    }
    fseg_t *seg = seg_push(q, seq);
    seg->bytes = (uint64_t)st.st_size;
    r->seg_seq = seq;
    r->file = path;
    qlog_scan_cb_t cb = {r, rq_record, rq_damaged};
    qlog_scan_result_t res;
    if (qlog_scan(map, (size_t)st.st_size, &cb, &res) != 0) {
        log_msg(LOG_ERROR,
                "%s: not a segment of this version (bad header); its %lld bytes are "
                "left untouched and ignored.",
                path, (long long)st.st_size);
        rq_damaged(r, 0, (size_t)st.st_size);
        q->nsegs--;
        munmap(map, (size_t)st.st_size);
        goto out;
    }
    if (st.st_size)
        munmap(map, (size_t)st.st_size);
    if (res.seq != seq)
        log_msg(LOG_WARN, "%s: its header says segment %llu; read in the order of file names.",
                path, (unsigned long long)res.seq);
    q->salt = q->buf.salt = q->later.salt = res.salt; /* appends continue with it */
    off_t size = st.st_size;
    seg->bytes = (uint64_t)st.st_size - res.zeros; /* the zero tail holds nothing */
    if (res.tail_bad && res.tail_whole) {
        /* a whole record that fails its checksum: damage, kept (appends go after it) */
        rq_damaged(r, res.valid_end, res.tail_bad);
    } else if (res.tail_bad && last) {
        /* the torn tail of the last write before a crash: nothing in it was acknowledged */
        log_msg(LOG_WARN, "%s: cut a torn tail of %zu bytes at offset %zu.", path, res.tail_bad,
                res.valid_end);
        if (ftruncate(fd, (off_t)res.valid_end) < 0 || fdatasync(fd) < 0)
            log_errno(LOG_ERROR, "Cannot cut %s", path);
        seg->bytes = res.valid_end;
        size = (off_t)res.valid_end;
    } else if (res.tail_bad) {
        rq_damaged(r, res.valid_end, res.tail_bad);
    }
    if (last) { /* the active segment: appends continue where its valid records end */
        q->fd = fd;
        q->fd_seq = seq;
        q->fd_size = (off_t)seg->bytes;
        q->fd_alloc = size;
        fd = -1;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    r->file = NULL;
    sl_free(path);
    return rc;
}

/* Whether name[0..n) is a segment's name without suffix: 16 lowercase hex digits + ".seg". */
static bool seg_name_n(const char *name, size_t n, uint64_t *seq)
{
    if (n != 20 || strncmp(name + 16, ".seg", 4) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return true;
}

static bool seg_name(const char *name, uint64_t *seq)
{
    return seg_name_n(name, strlen(name), seq);
}

/* Segment numbers never wrap: a new segment must sort after every other one, and after
 * ffffffffffffffff.seg there is no such name. When that newest segment cannot be appended to, it
 * is moved aside under a name that is not a segment's (its bytes are kept for the operator), so
 * that the new segment can take its number. Returns that number; if the move fails (logged), the
 * new segment's creation fails with EEXIST and the store stays degraded until the file is moved
 * by hand. */
static uint64_t top_segment_free(fq_t *q)
{
    char *path = seg_path(q, UINT64_MAX, ""), *aside = seg_path(q, UINT64_MAX, ".unusable");
    /* one atomic rename: a crash leaves the file under one of its two names. NOREPLACE: a file
     * moved aside earlier is never overwritten (then nothing moves, and the store degrades). */
    if (renameat2(AT_FDCWD, path, AT_FDCWD, aside, RENAME_NOREPLACE) == 0) {
        log_msg(LOG_ERROR,
                "%s: the last possible segment number cannot be appended to; moved aside to %s "
                "so that a new segment can take its number.",
                path, aside);
        (void)dir_sync(q->dir);   /* best effort: the new segment's creation syncs it again */
    } else if (errno != ENOENT) { /* ENOENT: recovery removed it (an incomplete segment) */
        log_errno(LOG_ERROR,
                  "%s is the last possible segment number and cannot be appended to, nor moved "
                  "aside to %s; the queue cannot be written until it is moved away",
                  path, aside);
    }
    sl_free(path);
    sl_free(aside);
    return UINT64_MAX;
}

/* Replays the log of the queue in directory q->dir and restores it into the engine. */
static void recover_queue(store_file_t *s, fq_t *q)
{
    DIR *dh = opendir(q->dir);
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        uint64_t seq;
        size_t len = strlen(de->d_name);
        if (len == 24 && seg_name_n(de->d_name, 20, &seq) && strcmp(de->d_name + 20, ".tmp") == 0) {
            char *p = path_join(q->dir, de->d_name); /* an unfinished compaction */
            unlink(p);
            sl_free(p);
            continue;
        }
        if (!seg_name(de->d_name, &seq))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            seqs = sl_realloc(seqs, cap * sizeof *seqs);
        }
        seqs[n++] = seq;
    }
    if (dh)
        closedir(dh);
    if (n > 1) /* seqs is NULL when a failed first write left the directory without a segment */
        qsort(seqs, n, sizeof *seqs, cmp_seq);

    rq_t r;
    memset(&r, 0, sizeof r);
    r.fq = q;
    hmap_init(&r.msgs, eq_msg_id);
    hmap_init(&r.states, eq_rstates);
    for (size_t i = 0; i < n; i++)
        scan_segment(&r, seqs[i], i + 1 == n);
    if (q->fd < 0) { /* no usable segment to append to: start a new one */
        uint64_t seq = n ? seqs[n - 1] + 1 : 1;
        if (n && seqs[n - 1] == UINT64_MAX)
            seq = top_segment_free(q);
        seg_push(q, seq);
        q->fresh = true;
        mark_dirty(q);
    }
    rq_restore(s, &r);
    rq_cleanup(&r);
    sl_free(seqs);
}

static int lock_dir(store_file_t *s)
{
    char *path = path_join(s->dir, "LOCK");
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int r = 0;
    if (s->lock_fd < 0) {
        log_errno(LOG_ERROR, "Cannot open %s", path);
        r = SL_EIO;
    } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        log_msg(LOG_ERROR, "The data directory %s is in use by another sluiced.", s->dir);
        r = SL_EIO;
    }
    sl_free(path);
    return r;
}

static void empty_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = path_join(dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            empty_dir(p);
            rmdir(p);
        } else {
            unlink(p);
        }
        sl_free(p);
    }
    if (dh)
        closedir(dh);
}

static int recover(store_file_t *s)
{
    char *queues = path_join(s->dir, "queues"), *trash = path_join(s->dir, "trash");
    int r = 0;
    if ((mkdir(s->dir, 0755) < 0 && errno != EEXIST) ||
        (mkdir(queues, 0755) < 0 && errno != EEXIST) ||
        (mkdir(trash, 0755) < 0 && errno != EEXIST)) {
        log_errno(LOG_ERROR, "Cannot create the data directory %s", s->dir);
        r = SL_EIO;
        goto out;
    }
    if ((r = lock_dir(s)) != 0)
        goto out;
    empty_dir(trash); /* queues whose deletion a crash interrupted */
    int64_t t0 = dur_now_ms();
    size_t nq = 0;
    DIR *dh = opendir(queues);
    struct dirent *de;
    while (dh && (de = readdir(dh)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (!engine_name_valid(de->d_name, strlen(de->d_name))) {
            log_msg(LOG_WARN, "Ignoring %s/%s: not a queue name.", queues, de->d_name);
            continue;
        }
        char *path = path_join(queues, de->d_name);
        struct stat st;
        bool dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        sl_free(path);
        if (!dir) { /* a stray file: taking it for a queue would block every write */
            log_msg(LOG_WARN, "Ignoring %s/%s: not a directory.", queues, de->d_name);
            continue;
        }
        recover_queue(s, fq_new(s, de->d_name));
        nq++;
    }
    if (dh)
        closedir(dh);
    log_msg(LOG_INFO, "Recovered %zu queue(s) from %s in %lld ms.", nq, s->dir,
            (long long)(dur_now_ms() - t0));
out:
    sl_free(queues);
    sl_free(trash);
    return r;
}

/* ---------------------------------------------------------------- open and close */

static void file_free_now(store_file_t *s);

static const engine_journal_t file_journal = {
    .queue = j_queue,
    .queue_delete = j_queue_delete,
    .group = j_group,
    .group_delete = j_group_delete,
    .publish = j_publish,
    .finish = j_finish,
    .fail = j_fail,
    .drop = j_drop,
    .purge = j_purge,
    .gone = j_gone,
};

static int file_open(const store_config_t *cfg, uv_loop_t *loop, store_t **out)
{
    static const char *const policies[] = {"always", "interval", "never"};
    engine_t *e = engine_new(&cfg->engine);
    if (e == NULL) {
        log_msg(LOG_ERROR, "Invalid engine settings for the file storage.");
        return SL_EPARAM;
    }
    store_file_t *s = sl_calloc(1, sizeof *s);
    s->base.ops = &store_file_ops;
    s->cfg = *cfg;
    s->engine = e;
    s->loop = loop;
    s->dir = sl_strdup(cfg->data_dir && *cfg->data_dir ? cfg->data_dir : ".");
    s->lock_fd = -1;
    s->policy = FSYNC_ALWAYS;
    for (int i = 0; i < 3; i++)
        if (cfg->fsync && strcmp(cfg->fsync, policies[i]) == 0)
            s->policy = i;
    s->interval_ms = cfg->fsync_interval_ms > 0 ? cfg->fsync_interval_ms : 10;
    s->segment_bytes = cfg->segment_bytes ? cfg->segment_bytes : 64u << 20;
    s->open_seq = 1;
    list_init(&s->queues);
    list_init(&s->dirty);
    list_init(&s->waits);
    hmap_init(&s->qmap, eq_fq);
    fault_init();
    store_eng_init(&s->se, e, loop, file_done);
    int err = recover(s);
    if (err) {
        s->se.on_closed = NULL;
        file_free_now(s);
        return err;
    }
    engine_journal_t j = file_journal;
    j.ctx = s;
    engine_set_journal(e, &j);
    store_eng_rearm(&s->se);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    uv_async_init(loop, &s->done, on_done);
    uv_prepare_init(loop, &s->flush);
    uv_timer_init(loop, &s->retry);
    uv_timer_init(loop, &s->interval);
    s->done.data = s->flush.data = s->retry.data = s->interval.data = s;
    uv_prepare_start(&s->flush, on_flush);
    if (s->policy == FSYNC_INTERVAL)
        uv_timer_start(&s->interval, on_interval, (uint64_t)s->interval_ms,
                       (uint64_t)s->interval_ms);
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        log_errno(LOG_ERROR, "Cannot start the storage thread");
        abort();
    }
    *out = &s->base;
    return 0;
}

/* Frees what a store that never started its thread holds. */
static void file_free_now(store_file_t *s)
{
    list_t *l;
    while ((l = list_shift(&s->queues)) != NULL) {
        fq_t *q = list_entry(l, fq_t, link);
        if (q->fd >= 0)
            close(q->fd);
        fq_unref(q);
    }
    hmap_cleanup(&s->qmap);
    engine_free(s->engine);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    sl_free(s->dir);
    sl_free(s);
}

static void file_handle_closed(uv_handle_t *h)
{
    store_file_t *s = h->data;
    if (--s->closing_handles > 0)
        return;
    list_t *l;
    while ((l = list_shift(&s->queues)) != NULL) {
        fq_t *q = list_entry(l, fq_t, link);
        if (q->fd >= 0) {
            /* whatever the policy, a clean stop leaves it all on disk, without a zero tail */
            tail_cut(q);
            fdatasync(q->fd);
            close(q->fd);
        }
        fq_unref(q);
    }
    hmap_cleanup(&s->qmap);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    sl_free(s->dir);
    sl_free(s);
}

static void file_eng_closed(store_eng_t *se)
{
    file_handle_closed((uv_handle_t *)&SL_CONTAINER_OF(se, store_file_t, se)->done);
}

/* Writes everything still pending, synchronously: the loop is stopping. The changes still
 * waiting are answered with their batch's outcome; once one batch failed, every later one is
 * answered 503 too (what they build on may be lost), and so is a change whose records could not
 * be put in a batch at all. */
static void flush_all(store_file_t *s)
{
    int err = 0;
    for (int round = 0; round < 3; round++) {
        if (s->failed) { /* one last try of a failed batch */
            fbatch_t *b = s->failed;
            s->failed = NULL;
            batch_run(s, b);
            if (b->err) {
                log_msg(LOG_ERROR,
                        "Storage still failing at shutdown (%s): the last changes "
                        "are lost.",
                        strerror(b->err));
                err = SL_ESTORAGE;
            }
            waits_settle(s, b->seq, err);
            batch_free(b);
        }
        if (list_empty(&s->dirty))
            break;
        s->open_seq++;                /* held-back records may now go */
        fbatch_t *b = batch_build(s); /* the thread is stopped: run it here */
        b->sync = true;
        batch_run(s, b);
        if (b->err) {
            log_msg(LOG_ERROR, "Storage write failed at shutdown: %s.", strerror(b->err));
            err = SL_ESTORAGE;
        }
        waits_settle(s, b->seq, err);
        batch_free(b);
    }
    waits_settle(s, UINT64_MAX, err || !list_empty(&s->dirty) ? SL_ESTORAGE : 0);
}

static void file_close(store_t *base)
{
    store_file_t *s = (store_file_t *)base;
    /* stop the thread after the batch it may be writing */
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (s->inflight) { /* finished by the thread, its completion not yet seen */
        fbatch_t *b = s->inflight;
        s->inflight = NULL;
        if (b->err)
            s->failed = b;
        else
            batch_free(b);
    }
    flush_all(s);
    uv_prepare_stop(&s->flush);
    s->closing_handles = 5;
    s->se.on_closed = file_eng_closed;
    store_eng_close(&s->se);
    uv_close((uv_handle_t *)&s->done, file_handle_closed);
    uv_close((uv_handle_t *)&s->flush, file_handle_closed);
    uv_close((uv_handle_t *)&s->retry, file_handle_closed);
    uv_close((uv_handle_t *)&s->interval, file_handle_closed);
}

const struct store_ops store_file_ops = {
    .version = STORE_OPS_VERSION,
    .name = "file",
    .open = file_open,
    .submit = file_submit,
    .cancel = file_cancel,
    .drain = file_drain,
    .ready = file_ready,
    .close = file_close,
};
