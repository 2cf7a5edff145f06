/*
 * inspect.c — the offline checker of a `file` storage data directory (see inspect.h).
 *
 * What it expects to find is what src/store_file.c makes:
 *
 *   DATA_DIR/LOCK                            flock()ed by the running sluiced
 *   DATA_DIR/queues/<queue>/<16 hex>.seg     a queue's log, replayed in number order
 *   DATA_DIR/trash/                          queues being deleted (empty between deletions)
 *
 * Every segment is read whole into memory with read(2), not mmap(2): a running sluiced may cut
 * a file shorter (a failed batch is undone with ftruncate), and a mapping past the new end would
 * kill us with SIGBUS. The bytes go through qlog_scan(), the scanner recovery uses, so what this
 * reports as damaged is exactly what recovery will skip. Records are then replayed the way
 * recovery replays them (store_file.c rq_record and engine_restore_message):
 *
 *   - PUBLISH adds a message unless its id is already present (a compacted copy) or purged;
 *   - FINISH marks it finished for one group; once every group that exists, is not deleted and
 *     receives it (id >= the group's start id, and only_group 0 or that group) has finished it,
 *     it is gone;
 *   - DROP and PURGE remove messages for every group;
 *   - at the end, a message is live when it is delayed past now, or when some such group has not
 *     finished it.
 *
 * The result is an estimate: leases are never logged, and expiry and retention run only in the
 * server. A torn tail at the end of the newest segment is reported as damage, since recovery
 * cuts it off, except while a sluiced holds the lock, when it is most likely a write in
 * progress. Whether one does is read from /proc/locks: taking the lock ourselves, even for a
 * moment, could make a sluiced starting at that moment refuse to run.
 */
#include "inspect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "buf.h"
#include "common.h"
#include "dur.h"
#include "engine.h"
#include "hmap.h"
#include "mem.h"

/* ---------------------------------------------------------------- names */

static const struct {
    const char *name;
    int severity;
} inspect_kinds[INSPECT_KINDS] = {
    [INSPECT_BAD_HEADER] = {"bad_header", INSPECT_DAMAGE},
    [INSPECT_DAMAGED] = {"damaged", INSPECT_DAMAGE},
    [INSPECT_TORN_TAIL] = {"torn_tail", INSPECT_DAMAGE},
    [INSPECT_UNREADABLE_RECORD] = {"unreadable_record", INSPECT_DAMAGE},
    [INSPECT_READ_ERROR] = {"read_error", INSPECT_ERROR},
    [INSPECT_INCOMPLETE_SEGMENT] = {"incomplete_segment", INSPECT_WARNING},
    [INSPECT_STRAY] = {"stray", INSPECT_WARNING},
    [INSPECT_UNFINISHED_COMPACTION] = {"unfinished_compaction", INSPECT_WARNING},
    [INSPECT_TRASH] = {"trash", INSPECT_WARNING},
    [INSPECT_MISSING_SEGMENTS] = {"missing_segments", INSPECT_WARNING},
    [INSPECT_NO_SEGMENTS] = {"no_segments", INSPECT_WARNING},
    [INSPECT_NO_CHECKPOINT] = {"no_checkpoint", INSPECT_WARNING},
    [INSPECT_NO_GROUPS] = {"no_groups", INSPECT_WARNING},
    [INSPECT_SEQ_MISMATCH] = {"seq_mismatch", INSPECT_WARNING},
    [INSPECT_WRITE_IN_PROGRESS] = {"write_in_progress", INSPECT_NOTE},
    [INSPECT_VANISHED] = {"vanished", INSPECT_NOTE},
};

static const char *const inspect_severities[INSPECT_SEVERITIES] = {"note", "warning", "damage",
                                                                   "error"};

static const char *const inspect_types[QLOG_TYPE_MAX + 1] = {
    [QLOG_PUBLISH] = "publish",     [QLOG_FINISH] = "finish", [QLOG_FAIL] = "fail",
    [QLOG_DROP] = "drop",           [QLOG_QUEUE] = "queue",   [QLOG_GROUP] = "group",
    [QLOG_GROUP_DEL] = "group_del", [QLOG_PURGE] = "purge",   [QLOG_IDEM] = "idem",
};

const char *inspect_kind_name(int kind)
{
    sl_assert(kind >= 0 && kind < INSPECT_KINDS);
    return inspect_kinds[kind].name;
}

int inspect_kind_severity(int kind)
{
    sl_assert(kind >= 0 && kind < INSPECT_KINDS);
    return inspect_kinds[kind].severity;
}

const char *inspect_severity_name(int severity)
{
    sl_assert(severity >= 0 && severity < INSPECT_SEVERITIES);
    return inspect_severities[severity];
}

const char *inspect_type_name(int type)
{
    return type > 0 && type <= QLOG_TYPE_MAX ? inspect_types[type] : "unknown";
}

/* ---------------------------------------------------------------- helpers */

char *inspect_escape(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf_add(&b, &c, 1);
        else
            buf_printf(&b, "\\x%02x", c);
    }
    return buf_steal(&b);
}

/* Whether name is exactly a segment file name as the server writes it (16 lowercase hex digits
 * and ".seg"); *seq gets its number. */
static bool inspect_seg_name(const char *name, uint64_t *seq)
{
    uint64_t v = 0;
    if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0)
        return false;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *seq = v;
    return true;
}

/* Whether recovery (store_file.c recover_queue) would take name for a segment although it is not
 * one: it accepts any 20-character name that sscanf("%16llx.se%1s") matches. *seq gets the
 * number it would read. */
static bool inspect_seg_name_lenient(const char *name, uint64_t *seq)
{
    unsigned long long v;
    char tail[8];
    if (strlen(name) != 20 || sscanf(name, "%16llx.se%1s", &v, tail) != 2)
        return false;
    *seq = v;
    return true;
}

static int inspect_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void inspect_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(names[i]);
    sl_free(names);
}

/* Lists directory path, sorted, without "." and "..", into *names (n of them; the caller frees
 * them with inspect_list_free()). Returns 0, or -1 with errno set (and nothing to free) when it
 * cannot be read. */
static int inspect_list(const char *path, char ***names, size_t *n)
{
    DIR *dh = opendir(path);
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    if (dh == NULL)
        return -1;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = sl_realloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = sl_strdup(de->d_name);
    }
    int err = errno;
    closedir(dh);
    if (err) {
        inspect_list_free(*names, *n);
        *names = NULL;
        *n = 0;
        errno = err;
        return -1;
    }
    if (*n)
        qsort(*names, *n, sizeof **names, inspect_cmp_str);
    return 0;
}

static char *inspect_join(const char *a, const char *b)
{
    buf_t p;
    buf_init(&p);
    buf_printf(&p, "%s/%s", a, b);
    return buf_steal(&p);
}

/* Records a problem. queue and file are raw names (made printable here); file is relative to the
 * data directory. range: {offset, bytes} or NULL. */
static void inspect_problem(inspect_t *in, int kind, const char *queue, const char *file,
                            const uint64_t *range, const char *fmt, ...) SL_PRINTF(6, 7);

static void inspect_problem(inspect_t *in, int kind, const char *queue, const char *file,
                            const uint64_t *range, const char *fmt, ...)
{
    in->problems = sl_realloc(in->problems, (in->nproblems + 1) * sizeof *in->problems);
    inspect_problem_t *p = &in->problems[in->nproblems++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->queue = queue ? inspect_escape(queue, strlen(queue)) : NULL;
    p->file = file ? inspect_escape(file, strlen(file)) : NULL;
    if (range) {
        p->has_range = true;
        p->offset = range[0];
        p->bytes = range[1];
    }
    va_list ap;
    char text[512];
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    p->detail = sl_strdup(text);
    in->count[inspect_kind_severity(kind)]++;
}

/* Opens path read-only, without changing its access time when the kernel lets us (O_NOATIME is
 * refused for files we do not own), and without blocking on a FIFO someone left there. */
static int inspect_open(const char *path)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = open(path, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(path, flags);
    return fd;
}

/* Reads up to size bytes of fd into a new buffer (*data, caller frees with sl_free()) and their
 * number into *got, which is less than size when the file shrank meanwhile. Returns 0, or -1
 * with errno set. */
static int inspect_read(int fd, size_t size, unsigned char **data, size_t *got)
{
    unsigned char *p = sl_malloc(size ? size : 1);
    size_t n = 0;
    while (n < size) {
        ssize_t r = read(fd, p + n, size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            sl_free(p);
            errno = err;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *data = p;
    *got = n;
    return 0;
}

/* Whether a process holds an flock on path, from /proc/locks (Linux). Returns 1, 0, or -1 when
 * that cannot be told. A missing file is never locked. */
static int inspect_locked(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return -1;
    char line[256];
    int held = 0;
    while (!held && fgets(line, sizeof line, f)) {
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; blocked waiters have "->" */
        char type[16];
        unsigned maj, min;
        unsigned long long ino;
        if (strstr(line, "->") == NULL &&
            sscanf(line, "%*d: %15s %*s %*s %*d %x:%x:%llu", type, &maj, &min, &ino) == 4 &&
            strcmp(type, "FLOCK") == 0 && maj == major(st.st_dev) && min == minor(st.st_dev) &&
            ino == (unsigned long long)st.st_ino)
            held = 1;
    }
    fclose(f);
    return held;
}

/* ---------------------------------------------------------------- replay */

/* A message as replay knows it. */
typedef struct imsg {
    uint64_t id;
    int64_t deliver_at;
    uint32_t only_group;
    uint32_t nfin, capfin;
    uint64_t bytes;
    uint32_t *fin; /* the groups that finished it */
} imsg_t;

/* What scanning one queue needs besides the report. */
typedef struct ictx {
    inspect_t *in;
    inspect_queue_t *q;
    const char *qname; /* raw, for problems */
    bool records;
    int64_t now;
    hmap_t msgs; /* id -> imsg_t */
    uint64_t purge_up_to;
    inspect_seg_t *seg; /* being scanned */
    char *rel;          /* its path relative to the data directory */
} ictx_t;

static int imsg_eq(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const imsg_t *)val)->id == *(const uint64_t *)key;
}

static void imsg_free(imsg_t *m)
{
    if (m == NULL)
        return;
    sl_free(m->fin);
    sl_free(m);
}

static bool imsg_finished_by(const imsg_t *m, uint32_t gid)
{
    for (uint32_t i = 0; i < m->nfin; i++)
        if (m->fin[i] == gid)
            return true;
    return false;
}

static void imsg_forget(ictx_t *c, uint64_t id)
{
    imsg_free(hmap_remove(&c->msgs, &id, sizeof id));
}

/* The group gid of the queue; with create, a placeholder (no name) when the log has not named
 * it yet. Returns NULL when absent and not created. */
static inspect_group_t *inspect_group(inspect_queue_t *q, uint32_t gid, bool create)
{
    for (size_t i = 0; i < q->ngroups; i++)
        if (q->groups[i].gid == gid)
            return &q->groups[i];
    if (!create)
        return NULL;
    q->groups = sl_realloc(q->groups, (q->ngroups + 1) * sizeof *q->groups);
    inspect_group_t *g = &q->groups[q->ngroups++];
    memset(g, 0, sizeof *g);
    g->gid = gid;
    return g;
}

/* Whether group g counts for message m, as recovery decides (rq_group_wants). */
static bool inspect_wants(const inspect_group_t *g, const imsg_t *m)
{
    return g->name != NULL && !g->deleted && m->id >= g->start_id &&
           (m->only_group == 0 || m->only_group == g->gid);
}

/* Forgets m when every group that counts for it has finished it (rq_maybe_gone). */
static void inspect_maybe_gone(ictx_t *c, imsg_t *m)
{
    inspect_queue_t *q = c->q;
    for (size_t i = 0; i < q->ngroups; i++)
        if (inspect_wants(&q->groups[i], m) && !imsg_finished_by(m, q->groups[i].gid))
            return;
    q->n.completed++;
    imsg_forget(c, m->id);
}

/* A JSON array of the ids of a FINISH or DROP record. */
static json_t *inspect_ids_json(const qlog_ids_t *ids)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < ids->n; i++)
        json_array_append_new(a, json_integer((json_int_t)qlog_id(ids, i)));
    return a;
}

static void inspect_set_str(json_t *o, const char *key, const char *s, size_t n)
{
    char *p = inspect_escape(s, n);
    json_object_set_new(o, key, json_string(p));
    sl_free(p);
}

static void inspect_set_time(json_t *o, const char *key, int64_t ms)
{
    char t[DUR_TIME_LEN];
    json_object_set_new(o, key, json_string(dur_format_time(ms, t)));
}

json_t *inspect_u64_json(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    return json_string(s);
}

/* Keeps record r of the segment being scanned, with its decoded fields (taken over), when
 * records were asked for; otherwise frees fields. */
static void inspect_keep(ictx_t *c, const qlog_rec_t *r, json_t *fields)
{
    inspect_seg_t *s = c->seg;
    if (!c->records) {
        json_decref(fields);
        return;
    }
    if (s->nrecs == s->reccap) {
        s->reccap = s->reccap ? s->reccap * 2 : 64;
        s->recs = sl_realloc(s->recs, s->reccap * sizeof *s->recs);
    }
    s->recs[s->nrecs++] = (inspect_record_t){r->offset, r->type, r->len + QLOG_RECORD_OVERHEAD,
                                             fields ? fields : json_object()};
}

/* Replays a PUBLISH as rq_record does: a new message unless purged or already present. f (may be
 * NULL) gets its fields for --verbose. */
static void inspect_on_publish(ictx_t *c, const qlog_publish_t *p, json_t *f)
{
    inspect_queue_t *q = c->q;
    inspect_seg_t *s = c->seg;
    s->messages++;
    if (s->first_id == 0 || p->id < s->first_id)
        s->first_id = p->id;
    if (p->id > s->last_id)
        s->last_id = p->id;
    if (p->id > q->n.last_id)
        q->n.last_id = p->id;
    if (f) {
        json_object_set_new(f, "id", inspect_u64_json(p->id));
        inspect_set_time(f, "published_at", p->published_at);
        if (p->deliver_at)
            inspect_set_time(f, "deliver_at", p->deliver_at);
        if (p->expires_at)
            inspect_set_time(f, "expires_at", p->expires_at);
        if (p->only_group)
            json_object_set_new(f, "only_group", json_integer(p->only_group));
        if (p->key_len)
            inspect_set_str(f, "key", p->key, p->key_len);
        if (p->idem_len)
            inspect_set_str(f, "idempotency_key", p->idem, p->idem_len);
        json_object_set_new(f, "attrs_bytes", json_integer((json_int_t)p->attrs_len));
        json_object_set_new(f, "body_bytes", json_integer((json_int_t)p->body_len));
    }
    if (p->id <= c->purge_up_to)
        return; /* recovery skips it too */
    if (hmap_find(&c->msgs, &p->id, sizeof p->id)) {
        q->n.duplicates++;
        return;
    }
    imsg_t *m = sl_calloc(1, sizeof *m);
    m->id = p->id;
    m->deliver_at = p->deliver_at;
    m->only_group = p->only_group;
    m->bytes = p->body_len;
    hmap_add(&c->msgs, &m->id, sizeof m->id, m);
    q->n.published++;
}

/* Replays a FINISH: group ids->gid is done with each id still present; a message every group
 * is done with is gone at once (rq_maybe_gone). */
static void inspect_on_finish(ictx_t *c, const qlog_ids_t *ids)
{
    inspect_group_t *g = inspect_group(c->q, ids->gid, true);
    for (uint32_t i = 0; i < ids->n; i++) {
        uint64_t id = qlog_id(ids, i);
        imsg_t *m = hmap_find(&c->msgs, &id, sizeof id);
        if (m == NULL || imsg_finished_by(m, ids->gid))
            continue;
        if (m->nfin == m->capfin) {
            m->capfin = m->capfin ? m->capfin * 2 : 2;
            m->fin = sl_realloc(m->fin, m->capfin * sizeof *m->fin);
        }
        m->fin[m->nfin++] = ids->gid;
        g->finished++;
        g->dead_lettered += ids->reason == 1;
        inspect_maybe_gone(c, m);
    }
}

/* Replays a DROP: each id still present is gone for every group, counted by reason. */
static void inspect_on_drop(ictx_t *c, const qlog_ids_t *ids)
{
    for (uint32_t i = 0; i < ids->n; i++) {
        uint64_t id = qlog_id(ids, i);
        if (!hmap_find(&c->msgs, &id, sizeof id))
            continue;
        c->q->n.dropped[ids->reason < 3 ? ids->reason : 3]++;
        imsg_forget(c, id);
    }
}

/* Replays a PURGE: every message up to up_to is gone, and later publishes of such ids too. */
static void inspect_on_purge(ictx_t *c, uint64_t up_to)
{
    if (up_to > c->purge_up_to)
        c->purge_up_to = up_to;
    size_t n = 0;
    uint64_t *ids = sl_malloc((c->msgs.len ? c->msgs.len : 1) * sizeof *ids);
    uint32_t pos = 0;
    imsg_t *m;
    /* collect first: forgetting changes the table */
    while ((m = hmap_next(&c->msgs, &pos)) != NULL)
        if (m->id <= up_to)
            ids[n++] = m->id;
    for (size_t i = 0; i < n; i++)
        imsg_forget(c, ids[i]);
    c->q->n.purged += n;
    sl_free(ids);
}

/* Replays a GROUP: the group is known (or its fields updated) from here on. */
static void inspect_on_group(ictx_t *c, const qlog_group_t *gr, json_t *f)
{
    inspect_group_t *g = inspect_group(c->q, gr->gid, true);
    if (g->name == NULL)
        g->deleted = false; /* recovery makes a new entry, which starts alive */
    sl_free(g->name);
    g->name = inspect_escape(gr->name, gr->name_len);
    g->start_id = gr->start_id;
    g->created_at = gr->created_at;
    if (f) {
        json_object_set_new(f, "gid", json_integer(gr->gid));
        json_object_set_new(f, "name", json_string(g->name));
        json_object_set_new(f, "start_id", inspect_u64_json(gr->start_id));
        inspect_set_time(f, "created_at", gr->created_at);
    }
}

/* Replays a QUEUE record: it becomes the last checkpoint. */
static void inspect_on_queue(ictx_t *c, const qlog_rec_t *r, const qlog_queue_t *qr, json_t *f)
{
    inspect_queue_t *q = c->q;
    q->have_checkpoint = true;
    q->checkpoint = *qr;
    snprintf(q->checkpoint_file, sizeof q->checkpoint_file, "%s", c->seg->file);
    q->checkpoint_offset = r->offset;
    if (qr->last_id > q->n.last_id)
        q->n.last_id = qr->last_id;
    if (f) {
        inspect_set_time(f, "created_at", qr->created_at);
        json_object_set_new(f, "last_id", inspect_u64_json(qr->last_id));
        json_object_set_new(f, "published", inspect_u64_json(qr->published));
        json_object_set_new(f, "acked", inspect_u64_json(qr->acked));
    }
}

/* qlog_scan record callback: counts, replays and (with records) keeps one record. */
static int inspect_on_record(void *ctx, const qlog_rec_t *r)
{
    ictx_t *c = ctx;
    inspect_queue_t *q = c->q;
    json_t *f = c->records ? json_object() : NULL;
    int err = 0;
    q->types[r->type]++;
    c->seg->records++;
    switch (r->type) {
    case QLOG_PUBLISH: {
        qlog_publish_t p;
        if ((err = qlog_get_publish(r, &p)) == 0)
            inspect_on_publish(c, &p, f);
        break;
    }
    case QLOG_FINISH:
    case QLOG_DROP: {
        qlog_ids_t ids;
        if ((err = qlog_get_ids(r, &ids)) != 0)
            break;
        if (r->type == QLOG_FINISH)
            inspect_on_finish(c, &ids);
        else
            inspect_on_drop(c, &ids);
        if (f && r->type == QLOG_FINISH) {
            json_object_set_new(f, "gid", json_integer(ids.gid));
            if (ids.reason < 2)
                json_object_set_new(f, "reason",
                                    json_string(ids.reason ? "dead_lettered" : "acked"));
            else
                json_object_set_new(f, "reason", json_integer(ids.reason));
        }
        if (f && r->type == QLOG_DROP) {
            static const char *const reasons[] = {"retention", "expired", "moved"};
            if (ids.reason < 3)
                json_object_set_new(f, "reason", json_string(reasons[ids.reason]));
            else
                json_object_set_new(f, "reason", json_integer(ids.reason));
        }
        if (f)
            json_object_set_new(f, "ids", inspect_ids_json(&ids));
        break;
    }
    case QLOG_FAIL: {
        qlog_fail_t fl;
        if ((err = qlog_get_fail(r, &fl)) != 0)
            break;
        inspect_group(q, fl.gid, true)->failures++;
        if (f) {
            json_object_set_new(f, "gid", json_integer(fl.gid));
            json_object_set_new(f, "id", inspect_u64_json(fl.id));
            json_object_set_new(f, "attempts", json_integer(fl.attempts));
            if (fl.visible_at)
                inspect_set_time(f, "visible_at", fl.visible_at);
            inspect_set_time(f, "at", fl.at);
            json_object_set_new(f, "event", json_string(fl.event ? "released" : "lease_expired"));
            if (fl.error_len)
                inspect_set_str(f, "error", fl.error, fl.error_len);
        }
        break;
    }
    case QLOG_QUEUE: {
        qlog_queue_t qr;
        if ((err = qlog_get_queue(r, &qr)) == 0)
            inspect_on_queue(c, r, &qr, f);
        break;
    }
    case QLOG_GROUP: {
        qlog_group_t g;
        /* recovery skips a name longer than any queue or group name may be */
        if ((err = qlog_get_group(r, &g)) == 0 && g.name_len > ENGINE_NAME_MAX)
            err = SL_EIO;
        if (err == 0)
            inspect_on_group(c, &g, f);
        break;
    }
    case QLOG_GROUP_DEL: {
        uint32_t gid;
        if ((err = qlog_get_u32(r, &gid)) != 0)
            break;
        inspect_group_t *g = inspect_group(q, gid, false);
        if (g && g->name) /* recovery only deletes groups it has seen a GROUP record of */
            g->deleted = true;
        if (f)
            json_object_set_new(f, "gid", json_integer(gid));
        break;
    }
    case QLOG_PURGE: {
        uint64_t up_to;
        if ((err = qlog_get_u64(r, &up_to)) != 0)
            break;
        inspect_on_purge(c, up_to);
        if (f)
            json_object_set_new(f, "up_to", inspect_u64_json(up_to));
        break;
    }
    case QLOG_IDEM: { /* an idempotency key carried over: no effect on what is live */
        uint64_t id;
        int64_t at;
        const char *key;
        size_t len;
        if ((err = qlog_get_idem(r, &id, &at, &key, &len)) == 0 && f)
            json_object_set_new(f, "id", inspect_u64_json(id));
        break;
    }
    default: /* the scanner only returns known types */
        err = SL_EIO;
        break;
    }
    if (err) {
        uint64_t range[2] = {r->offset, r->len + QLOG_RECORD_OVERHEAD};
        q->unreadable++;
        inspect_problem(c->in, INSPECT_UNREADABLE_RECORD, c->qname, c->rel, range,
                        "A %s record whose checksum holds but whose payload this version cannot "
                        "decode; recovery skips it.",
                        inspect_type_name(r->type));
        if (f) {
            json_decref(f);
            f = json_pack("{s:b}", "unreadable", 1);
        }
    }
    inspect_keep(c, r, f);
    return 0;
}

/* qlog_scan damage callback. */
static void inspect_on_damaged(void *ctx, size_t offset, size_t len)
{
    ictx_t *c = ctx;
    uint64_t range[2] = {offset, len};
    c->seg->damaged += len;
    inspect_problem(c->in, INSPECT_DAMAGED, c->qname, c->rel, range,
                    "%zu bytes hold no valid record; recovery skips them and keeps the records "
                    "after them.",
                    len);
}

/* Why qlog_scan refused a header, for the report. */
static void inspect_header_problem(ictx_t *c, const unsigned char *d, size_t size)
{
    uint64_t range[2] = {0, size};
    const char *why = "its header checksum does not match";
    char text[64];
    if (size < QLOG_HEADER_SIZE) {
        snprintf(text, sizeof text, "it is shorter (%zu bytes) than a segment header", size);
        why = text;
    } else if (memcmp(d, "SLUICELG", 8) != 0) {
        why = "it does not start with the magic SLUICELG";
    } else if (d[8] != QLOG_VERSION || d[9] || d[10] || d[11]) {
        snprintf(text, sizeof text, "its format version is %u, not %d",
                 (unsigned)(d[8] | d[9] << 8 | d[10] << 16 | (unsigned)d[11] << 24), QLOG_VERSION);
        why = text;
    } else if (d[12] != QLOG_HEADER_SIZE || d[13] || d[14] || d[15]) {
        why = "its header size field is not 32";
    }
    inspect_problem(c->in, INSPECT_BAD_HEADER, c->qname, c->rel, range,
                    "Not a segment this version can read: %s. Recovery ignores the whole file.",
                    why);
}

/* Reads and scans one segment file. qdir is the queue's directory; last: it is the newest
 * segment, whose bad tail recovery cuts off rather than reporting as damage. */
static void inspect_segment(ictx_t *c, const char *qdir, inspect_seg_t *s, bool last)
{
    inspect_t *in = c->in;
    char *path = inspect_join(qdir, s->file);
    unsigned char *data = NULL;
    size_t size = 0;
    struct stat st;
    int fd = inspect_open(path);
    c->seg = s;
    if (fd < 0) {
        if (errno == ENOENT) {
            s->status = "vanished";
            inspect_problem(in, INSPECT_VANISHED, c->qname, c->rel, NULL,
                            "The file was deleted between listing and reading (by a running "
                            "sluiced: a segment whose messages are all gone, or compaction).");
        } else {
            s->status = "unreadable";
            inspect_problem(in, INSPECT_READ_ERROR, c->qname, c->rel, NULL, "Cannot open it: %s.",
                            strerror(errno));
        }
        goto out;
    }
    if (fstat(fd, &st) < 0 || inspect_read(fd, (size_t)st.st_size, &data, &size) < 0) {
        s->status = "unreadable";
        inspect_problem(in, INSPECT_READ_ERROR, c->qname, c->rel, NULL, "Cannot read it: %s.",
                        strerror(errno));
        goto out;
    }
    s->bytes = size;
    in->segments++;
    in->bytes += size;
    if (size < QLOG_HEADER_SIZE && last) {
        uint64_t range[2] = {0, size};
        s->status = "incomplete";
        inspect_problem(in, INSPECT_INCOMPLETE_SEGMENT, c->qname, c->rel, range,
                        "The newest segment is shorter (%zu bytes) than its header: a crash cut "
                        "its creation short, nothing in it was acknowledged, and recovery "
                        "deletes it.",
                        size);
        goto out;
    }
    qlog_scan_cb_t cb = {c, inspect_on_record, inspect_on_damaged};
    qlog_scan_result_t res;
    if (qlog_scan(data, size, &cb, &res) != 0) {
        s->status = "bad header";
        inspect_header_problem(c, data, size);
        goto out;
    }
    s->scanned = true;
    s->tail_bad = res.tail_bad;
    s->zeros = res.zeros;
    if (res.seq != s->seq)
        inspect_problem(in, INSPECT_SEQ_MISMATCH, c->qname, c->rel, NULL,
                        "Its header says it is segment %llu, its name %llu; recovery goes by the "
                        "name.",
                        (unsigned long long)res.seq, (unsigned long long)s->seq);
    if (res.tail_bad) {
        uint64_t range[2] = {res.valid_end, res.tail_bad};
        if (!last) {
            s->damaged += res.tail_bad;
            inspect_problem(in, INSPECT_DAMAGED, c->qname, c->rel, range,
                            "%zu bytes at the end hold no valid record, in a segment that is not "
                            "the newest; recovery skips them.",
                            res.tail_bad);
        } else if (in->server == 1) {
            inspect_problem(in, INSPECT_WRITE_IN_PROGRESS, c->qname, c->rel, range,
                            "%zu bytes after the last whole record: sluiced is running, so most "
                            "likely a write in progress.",
                            res.tail_bad);
        } else {
            inspect_problem(in, INSPECT_TORN_TAIL, c->qname, c->rel, range,
                            "%zu bytes after the last whole record (a write cut short by a "
                            "crash, or damage to the last record); recovery cuts the file at "
                            "offset %zu.",
                            res.tail_bad, res.valid_end);
        }
    }
    if (s->damaged && res.tail_bad && last && in->server != 1)
        s->status = "damaged, torn tail";
    else if (s->damaged)
        s->status = "damaged";
    else if (res.tail_bad && last)
        s->status = in->server == 1 ? "writing" : "torn tail";
    else
        s->status = "ok";
out:
    if (fd >= 0)
        close(fd);
    sl_free(data);
    sl_free(path);
    c->seg = NULL;
}

/* The end of replay: decides which remaining messages are live, as engine_restore_message()
 * does, and counts them per group. */
static void inspect_settle(ictx_t *c)
{
    inspect_queue_t *q = c->q;
    uint32_t pos = 0;
    imsg_t *m;
    uint64_t orphans = 0;
    bool any_group = false;
    for (size_t i = 0; i < q->ngroups; i++)
        any_group |= q->groups[i].name != NULL && !q->groups[i].deleted;
    while ((m = hmap_next(&c->msgs, &pos)) != NULL) {
        size_t pending = 0;
        for (size_t i = 0; i < q->ngroups; i++) {
            inspect_group_t *g = &q->groups[i];
            if (inspect_wants(g, m) && !imsg_finished_by(m, g->gid)) {
                g->pending++;
                pending++;
            }
        }
        if (m->deliver_at > c->now) { /* restored as delayed, whatever the groups say */
            q->n.delayed++;
        } else if (pending == 0) {
            q->n.completed++;
            orphans += !any_group;
            continue;
        }
        q->n.live++;
        q->n.live_bytes += m->bytes;
    }
    if (orphans)
        inspect_problem(c->in, INSPECT_NO_GROUPS, c->qname, NULL, NULL,
                        "%llu messages remain but the log names no consumer group: recovery "
                        "restores messages before it adds the default group, so it deletes "
                        "them.",
                        (unsigned long long)orphans);
}

/* Adds segment file name (number seq) to q, not yet read. */
static void inspect_add_seg(inspect_queue_t *q, const char *name, uint64_t seq)
{
    if (q->nsegs == q->segcap) {
        q->segcap = q->segcap ? q->segcap * 2 : 8;
        q->segs = sl_realloc(q->segs, q->segcap * sizeof *q->segs);
    }
    inspect_seg_t *s = &q->segs[q->nsegs++];
    memset(s, 0, sizeof *s);
    snprintf(s->file, sizeof s->file, "%s", name);
    s->seq = seq;
    s->status = "ok";
}

/* Sorts the directory entries of a queue: segments into q, everything else reported. */
static void inspect_queue_files(inspect_t *in, inspect_queue_t *q, const char *qname,
                                const char *qdir, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = names[i];
        size_t len = strlen(e);
        char *path = inspect_join(qdir, e);
        char *rel = inspect_join("queues", qname);
        char *frel = inspect_join(rel, e);
        struct stat st;
        uint64_t seq;
        bool reg = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        if (inspect_seg_name(e, &seq) && reg) {
            inspect_add_seg(q, e, seq);
        } else if (len > 4 && strcmp(e + len - 4, ".tmp") == 0) {
            char seg[24];
            snprintf(seg, sizeof seg, "%.20s", e);
            if (len == 24 && strcmp(e + 20, ".tmp") == 0 && inspect_seg_name(seg, &seq))
                inspect_problem(in, INSPECT_UNFINISHED_COMPACTION, qname, frel, NULL,
                                "Left by a compaction %s; recovery deletes it.",
                                in->server == 1 ? "in progress" : "that a crash interrupted");
            else
                inspect_problem(in, INSPECT_UNFINISHED_COMPACTION, qname, frel, NULL,
                                "Not the server's, but recovery deletes every file ending in "
                                ".tmp in a queue directory.");
        } else if (inspect_seg_name(e, &seq)) {
            inspect_problem(in, INSPECT_STRAY, qname, frel, NULL,
                            "Named like a segment but not a regular file; recovery would fail "
                            "to open it.");
        } else if (inspect_seg_name_lenient(e, &seq)) {
            inspect_problem(in, INSPECT_STRAY, qname, frel, NULL,
                            "Not a segment name, but recovery would take it for segment %llu "
                            "(and then read %016llx.seg instead).",
                            (unsigned long long)seq, (unsigned long long)seq);
        } else {
            inspect_problem(in, INSPECT_STRAY, qname, frel, NULL,
                            "Not a segment file; recovery ignores it.");
        }
        sl_free(frel);
        sl_free(rel);
        sl_free(path);
    }
}

static int inspect_cmp_seg(const void *a, const void *b)
{
    uint64_t x = ((const inspect_seg_t *)a)->seq, y = ((const inspect_seg_t *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Inspects the queue in directory queues/qname (raw name) into a new entry of in->queues. */
static void inspect_queue(inspect_t *in, const char *qname, bool records, int64_t now)
{
    in->queues = sl_realloc(in->queues, (in->nqueues + 1) * sizeof *in->queues);
    inspect_queue_t *q = &in->queues[in->nqueues++];
    memset(q, 0, sizeof *q);
    q->name = inspect_escape(qname, strlen(qname));
    ictx_t c = {.in = in, .q = q, .qname = qname, .records = records, .now = now};
    hmap_init(&c.msgs, imsg_eq);
    char *queues = inspect_join(in->dir, "queues");
    char *qdir = inspect_join(queues, qname);
    char *rel = inspect_join("queues", qname);
    char **names;
    size_t n;
    if (inspect_list(qdir, &names, &n) < 0) {
        inspect_problem(in, INSPECT_READ_ERROR, qname, rel, NULL, "Cannot list it: %s.",
                        strerror(errno));
        goto out;
    }
    inspect_queue_files(in, q, qname, qdir, names, n);
    inspect_list_free(names, n);
    if (q->nsegs == 0) {
        inspect_problem(in, INSPECT_NO_SEGMENTS, qname, rel, NULL,
                        "A queue directory without segment files: recovery makes it an empty "
                        "queue with the default settings.");
        goto out;
    }
    qsort(q->segs, q->nsegs, sizeof *q->segs, inspect_cmp_seg);
    for (size_t i = 1; i < q->nsegs; i++) {
        uint64_t a = q->segs[i - 1].seq, b = q->segs[i].seq;
        char which[64];
        if (b == a + 1)
            continue;
        if (b == a + 2)
            snprintf(which, sizeof which, "Segment %llu is", (unsigned long long)a + 1);
        else
            snprintf(which, sizeof which, "Segments %llu to %llu are", (unsigned long long)a + 1,
                     (unsigned long long)b - 1);
        inspect_problem(in, INSPECT_MISSING_SEGMENTS, qname, rel, NULL,
                        "%s missing between %s and %s: records in it would not be replayed (a "
                        "crash while creating a segment also leaves such a gap).",
                        which, q->segs[i - 1].file, q->segs[i].file);
    }
    for (size_t i = 0; i < q->nsegs; i++) {
        c.rel = inspect_join(rel, q->segs[i].file);
        inspect_segment(&c, qdir, &q->segs[i], i + 1 == q->nsegs);
        sl_free(c.rel);
        c.rel = NULL;
    }
    if (!q->have_checkpoint)
        inspect_problem(in, INSPECT_NO_CHECKPOINT, qname, rel, NULL,
                        "No readable QUEUE record: recovery uses the default settings and "
                        "counters.");
    inspect_settle(&c);
out : {
    uint32_t pos = 0;
    imsg_t *m;
    while ((m = hmap_next(&c.msgs, &pos)) != NULL)
        imsg_free(m);
    hmap_cleanup(&c.msgs);
}
    sl_free(rel);
    sl_free(qdir);
    sl_free(queues);
}

/* Checks the data directory's own entries and trash/ (everything but the queues). */
static void inspect_top(inspect_t *in, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = names[i];
        char *path = inspect_join(in->dir, e);
        struct stat st;
        int r = stat(path, &st);
        if (strcmp(e, "queues") == 0) {
            /* checked by the caller */
        } else if (strcmp(e, "LOCK") == 0 && r == 0 && S_ISREG(st.st_mode)) {
            /* the server's lock file */
        } else if (strcmp(e, "trash") == 0 && r == 0 && S_ISDIR(st.st_mode)) {
            char **t;
            size_t nt;
            if (inspect_list(path, &t, &nt) < 0)
                inspect_problem(in, INSPECT_READ_ERROR, NULL, "trash", NULL, "Cannot list it: %s.",
                                strerror(errno));
            for (size_t k = 0; k < nt; k++) {
                char *rel = inspect_join("trash", t[k]);
                inspect_problem(in, INSPECT_TRASH, NULL, rel, NULL,
                                "A deleted queue's files%s; recovery deletes them.",
                                in->server == 1 ? " (a deletion in progress)"
                                                : ", left by a crash during the deletion");
                sl_free(rel);
            }
            inspect_list_free(t, nt);
        } else {
            inspect_problem(in, INSPECT_STRAY, NULL, e, NULL,
                            "Not part of a data directory (LOCK, queues/, trash/); the server "
                            "ignores it.");
        }
        sl_free(path);
    }
}

/* Checks the entries of queues/ and inspects every queue. */
static void inspect_queues(inspect_t *in, const char *queues, bool records, int64_t now)
{
    char **names;
    size_t n;
    if (inspect_list(queues, &names, &n) < 0) {
        inspect_problem(in, INSPECT_READ_ERROR, NULL, "queues", NULL, "Cannot list it: %s.",
                        strerror(errno));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *e = names[i];
        char *path = inspect_join(queues, e);
        char *rel = inspect_join("queues", e);
        struct stat st;
        if (e[0] == '.') {
            inspect_problem(in, INSPECT_STRAY, NULL, rel, NULL,
                            "A hidden entry among the queues; recovery skips it.");
        } else if (!engine_name_valid(e, strlen(e))) {
            inspect_problem(in, INSPECT_STRAY, NULL, rel, NULL,
                            "Not a queue name; recovery ignores it (with a warning).");
        } else if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
            inspect_problem(in, INSPECT_STRAY, NULL, rel, NULL,
                            "Named like a queue but not a directory: recovery makes it an empty "
                            "queue whose files it cannot create, and every write of the server "
                            "then fails (storage degraded) until it is removed.");
        } else {
            inspect_queue(in, e, records, now);
        }
        sl_free(rel);
        sl_free(path);
    }
    inspect_list_free(names, n);
}

int inspect_run(const char *dir, const char *queue, bool records, int64_t now, inspect_t **out)
{
    char **names = NULL;
    size_t n = 0;
    struct stat st;
    int err = 0;
    *out = NULL;
    if (queue && !engine_name_valid(queue, strlen(queue)))
        return SL_ENAME;
    if (inspect_list(dir, &names, &n) < 0)
        return SL_EIO;
    inspect_t *in = sl_calloc(1, sizeof *in);
    in->dir = sl_strdup(dir);
    char *queues = inspect_join(dir, "queues");
    char *lock = inspect_join(dir, "LOCK");
    if (stat(queues, &st) < 0 || !S_ISDIR(st.st_mode)) {
        err = SL_EPARAM;
        goto fail;
    }
    in->server = inspect_locked(lock);
    if (queue) {
        char *qdir = inspect_join(queues, queue);
        bool found = stat(qdir, &st) == 0 && S_ISDIR(st.st_mode);
        sl_free(qdir);
        if (!found) {
            err = SL_ENOQUEUE;
            goto fail;
        }
        inspect_queue(in, queue, records, now);
    } else {
        inspect_top(in, names, n);
        inspect_queues(in, queues, records, now);
    }
    *out = in;
    in = NULL;
fail:
    inspect_free(in);
    sl_free(lock);
    sl_free(queues);
    inspect_list_free(names, n);
    return err;
}

void inspect_free(inspect_t *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->nqueues; i++) {
        inspect_queue_t *q = &in->queues[i];
        for (size_t k = 0; k < q->nsegs; k++) {
            for (size_t r = 0; r < q->segs[k].nrecs; r++)
                json_decref(q->segs[k].recs[r].fields);
            sl_free(q->segs[k].recs);
        }
        for (size_t k = 0; k < q->ngroups; k++)
            sl_free(q->groups[k].name);
        sl_free(q->groups);
        sl_free(q->segs);
        sl_free(q->name);
    }
    sl_free(in->queues);
    for (size_t i = 0; i < in->nproblems; i++) {
        sl_free(in->problems[i].queue);
        sl_free(in->problems[i].file);
        sl_free(in->problems[i].detail);
    }
    sl_free(in->problems);
    sl_free(in->dir);
    sl_free(in);
}
