/*
 * qlog.c — the record format of the `file` storage.
 *
 * Files
 * =====
 * Each queue has a directory, data_dir/queues/<name>/, holding segment files named by their
 * sequence number in 16 hex digits: 0000000000000001.seg, 0000000000000002.seg, ... A queue's
 * state is the replay, in sequence order, of the records of its segments.
 *
 * Segment header (32 bytes, little-endian)
 *   0   8  magic "SLUICELG"
 *   8   4  version (QLOG_VERSION = 1)
 *   12  4  header size (32)
 *   16  8  segment sequence number (the file's name)
 *   24  4  salt: a random number per queue, mixed into every record checksum
 *   28  4  XXH32 of bytes 0..27, seed 0
 *
 * Record (12 + L bytes), appended one after the other from offset 32
 *   0   4  L, payload length (at most QLOG_MAX_PAYLOAD)
 *   4   1  type (enum qlog_type)
 *   5   1  flags, 0
 *   6   2  reserved, 0
 *   8   L  payload
 *   8+L 4  XXH32 of bytes 0 .. 8+L-1, seed QLOG_SEED ^ salt
 *
 * The checksum comes last so that a record whose tail never reached the disk fails it, and it
 * covers the length and type, so a damaged head cannot send the reader astray unnoticed.
 *
 * Payloads (integers little-endian; "str8" is a u8 length then bytes, "str16" a u16 length)
 *   PUBLISH   u64 id, i64 published_at, i64 deliver_at, i64 expires_at, u32 only_group,
 *             u32 body_len, u16 attrs_len, u8 key_len, u16 idem_len, key, idem, attrs, body
 *   FINISH    u32 gid, u8 reason, u32 n, n x u64 id  (group gid is done with these messages:
 *                                                    reason 0 acked, 1 dead-lettered)
 *   FAIL      u32 gid, u64 id, u32 attempts, i64 visible_at, i64 at, u8 event, str16 error
 *             (event 0 lease expired, 1 released, 2 returned: a pop's reply never left, so
 *             the FINISH written before it is void; the group has the message again)
 *   DROP      u8 reason, u32 n, n x u64 id        (removed for every group)
 *   QUEUE     i64 created_at, u64 last_id, i64 visibility_ms, u32 max_attempts,
 *             u32 max_in_flight_per_key, u64 max_messages, u64 max_bytes, i64 max_age_ms,
 *             i64 dedup_ms, u8 dlq_auto, str8 dlq, u64 published, u64 acked, u64 expired,
 *             u64 dropped, u64 dead_lettered
 *   GROUP     u32 gid, u64 start_id, i64 created_at, str8 name, u32 max_in_flight,
 *             u32 max_attempts, str16 meta      (the last three may be absent: 0, 0, "")
 *   GROUP_DEL u32 gid
 *   PURGE     u64 up_to                            (every message with id <= up_to is gone)
 *   IDEM      u64 id, i64 published_at, str16 key  (an idempotency key still in its window,
 *                                                    whose PUBLISH went with a deleted segment)
 *
 * Every record states an absolute fact ("group 2 is done with message 7", "message 9 has had 3
 * attempts"), never a delta, so replaying a record twice, or replaying an older record after a
 * newer snapshot of the same facts, gives the same state. Compaction relies on this.
 *
 * Reading back. A record that fails its checksum (or has an impossible head) is either the torn
 * tail of the last write before a crash — nothing valid follows it — or damage in the middle. For
 * damage, the scanner looks for the next offset where a valid record starts (its head must be
 * plausible: known type, zero flags and reserved bytes, a length that fits, and a matching
 * checksum) and reports the bytes in between; every readable record is kept and no damaged byte
 * is ever returned as data. The plausibility tests make a false resynchronisation on random bytes
 * about a one in 10^11 event, and keep the search cheap. The salt makes it hold for bytes that are
 * not random too: a message body can carry a well-formed record, but not one whose checksum
 * matches a salt it cannot know, so damage before a body never makes the scanner take part of the
 * body for a record.
 *
 * The zero tail. The writer keeps zero bytes written ahead of its appends (store_file.c), so
 * that an append does not change the file's size and an fdatasync writes the data alone, not the
 * inode as well. Zero bytes from where a record would start to the end of the file are therefore
 * the end of the records, neither damage nor a torn write: no record is all zeros (type 0 does
 * not exist).
 *
 * A bad record at the very end is a torn write only if it is incomplete: its head is cut, or its
 * length runs past the end of the file or into the zero tail (where the write stopped); a whole
 * record whose checksum fails there is damage like any other, and is kept, not cut. (A damaged
 * whole record whose checksum ends in a zero byte reaches into the zero tail and is taken for a
 * torn one: it was unreadable either way.)
 *
 * Upgrading. A change to the layout bumps QLOG_VERSION. The reader keeps decoding every older
 * version it knows (a version-1 reader stays beside the new one); segments are rewritten in the
 * new version only by compaction, so an upgrade never rewrites a data directory at start. A
 * version the reader does not know is refused with the file named, never guessed at.
 */
#include "qlog.h"

#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "mem.h"

#define QLOG_SEED 0x534c5543u /* "SLUC" */
static const char qlog_magic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'L', 'G'};

/* ---------------------------------------------------------------- buffer */

void qlog_buf_init(qlog_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void qlog_buf_cleanup(qlog_buf_t *b)
{
    sl_free(b->data);
    qlog_buf_init(b);
}

void qlog_buf_reset(qlog_buf_t *b)
{
    b->len = 0;
}

static unsigned char *buf_grow(qlog_buf_t *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->data = sl_realloc(b->data, cap);
        b->cap = cap;
    }
    unsigned char *p = b->data + b->len;
    b->len += n;
    return p;
}

static void le_put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_get(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_n(qlog_buf_t *b, uint64_t v, int n)
{
    le_put(buf_grow(b, (size_t)n), v, n);
}

static void put_bytes(qlog_buf_t *b, const void *p, size_t n)
{
    if (n)
        memcpy(buf_grow(b, n), p, n);
}

static void rec_begin(qlog_buf_t *b, int type)
{
    b->rec_start = b->len;
    unsigned char *h = buf_grow(b, 8);
    le_put(h, 0, 4); /* length, filled by rec_end */
    h[4] = (unsigned char)type;
    h[5] = 0;
    h[6] = h[7] = 0;
}

static void rec_end(qlog_buf_t *b)
{
    size_t len = b->len - b->rec_start - 8;
    sl_assert(len <= QLOG_MAX_PAYLOAD);
    le_put(b->data + b->rec_start, len, 4);
    uint32_t sum = XXH32(b->data + b->rec_start, 8 + len, QLOG_SEED ^ b->salt);
    put_n(b, sum, 4);
}

void qlog_put_header(qlog_buf_t *b, uint64_t seq, uint32_t salt)
{
    unsigned char *h = buf_grow(b, QLOG_HEADER_SIZE);
    memcpy(h, qlog_magic, 8);
    le_put(h + 8, QLOG_VERSION, 4);
    le_put(h + 12, QLOG_HEADER_SIZE, 4);
    le_put(h + 16, seq, 8);
    le_put(h + 24, salt, 4);
    le_put(h + 28, XXH32(h, 28, 0), 4);
    b->salt = salt;
}

/* ---------------------------------------------------------------- encoders */

void qlog_put_publish(qlog_buf_t *b, const qlog_publish_t *p)
{
    sl_assert(p->key_len <= 255 && p->idem_len <= UINT16_MAX && p->attrs_len <= UINT16_MAX &&
              p->body_len <= UINT32_MAX);
    rec_begin(b, QLOG_PUBLISH);
    put_n(b, p->id, 8);
    put_n(b, (uint64_t)p->published_at, 8);
    put_n(b, (uint64_t)p->deliver_at, 8);
    put_n(b, (uint64_t)p->expires_at, 8);
    put_n(b, p->only_group, 4);
    put_n(b, p->body_len, 4);
    put_n(b, p->attrs_len, 2);
    put_n(b, p->key_len, 1);
    put_n(b, p->idem_len, 2);
    put_bytes(b, p->key, p->key_len);
    put_bytes(b, p->idem, p->idem_len);
    put_bytes(b, p->attrs, p->attrs_len);
    put_bytes(b, p->body, p->body_len);
    rec_end(b);
}

void qlog_put_ids(qlog_buf_t *b, int type, const qlog_ids_t *ids, const uint64_t *values)
{
    sl_assert(type == QLOG_FINISH || type == QLOG_DROP);
    rec_begin(b, type);
    if (type == QLOG_FINISH)
        put_n(b, ids->gid, 4);
    put_n(b, ids->reason, 1);
    put_n(b, ids->n, 4);
    for (uint32_t i = 0; i < ids->n; i++)
        put_n(b, values[i], 8);
    rec_end(b);
}

void qlog_put_fail(qlog_buf_t *b, const qlog_fail_t *f)
{
    size_t elen = f->error_len > UINT16_MAX ? UINT16_MAX : f->error_len;
    rec_begin(b, QLOG_FAIL);
    put_n(b, f->gid, 4);
    put_n(b, f->id, 8);
    put_n(b, f->attempts, 4);
    put_n(b, (uint64_t)f->visible_at, 8);
    put_n(b, (uint64_t)f->at, 8);
    put_n(b, f->event, 1);
    put_n(b, elen, 2);
    put_bytes(b, f->error, elen);
    rec_end(b);
}

void qlog_put_queue(qlog_buf_t *b, const qlog_queue_t *q)
{
    const engine_settings_t *s = &q->settings;
    size_t dlen = strlen(s->dlq);
    sl_assert(dlen <= 255);
    rec_begin(b, QLOG_QUEUE);
    put_n(b, (uint64_t)q->created_at, 8);
    put_n(b, q->last_id, 8);
    put_n(b, (uint64_t)s->visibility_ms, 8);
    put_n(b, s->max_attempts, 4);
    put_n(b, s->max_in_flight_per_key, 4);
    put_n(b, s->max_messages, 8);
    put_n(b, s->max_bytes, 8);
    put_n(b, (uint64_t)s->max_age_ms, 8);
    put_n(b, (uint64_t)s->dedup_ms, 8);
    put_n(b, q->dlq_auto, 1);
    put_n(b, dlen, 1);
    put_bytes(b, s->dlq, dlen);
    put_n(b, q->published, 8);
    put_n(b, q->acked, 8);
    put_n(b, q->expired, 8);
    put_n(b, q->dropped, 8);
    put_n(b, q->dead_lettered, 8);
    rec_end(b);
}

void qlog_put_group(qlog_buf_t *b, const qlog_group_t *g)
{
    sl_assert(g->name_len <= 255 && g->meta_len <= UINT16_MAX);
    rec_begin(b, QLOG_GROUP);
    put_n(b, g->gid, 4);
    put_n(b, g->start_id, 8);
    put_n(b, (uint64_t)g->created_at, 8);
    put_n(b, g->name_len, 1);
    put_bytes(b, g->name, g->name_len);
    put_n(b, g->max_in_flight, 4);
    put_n(b, g->max_attempts, 4);
    put_n(b, g->meta_len, 2);
    put_bytes(b, g->meta, g->meta_len);
    rec_end(b);
}

void qlog_put_group_del(qlog_buf_t *b, uint32_t gid)
{
    rec_begin(b, QLOG_GROUP_DEL);
    put_n(b, gid, 4);
    rec_end(b);
}

void qlog_put_purge(qlog_buf_t *b, uint64_t up_to)
{
    rec_begin(b, QLOG_PURGE);
    put_n(b, up_to, 8);
    rec_end(b);
}

void qlog_put_idem(qlog_buf_t *b, uint64_t id, int64_t published_at, const char *key, size_t len)
{
    sl_assert(len <= UINT16_MAX);
    rec_begin(b, QLOG_IDEM);
    put_n(b, id, 8);
    put_n(b, (uint64_t)published_at, 8);
    put_n(b, len, 2);
    put_bytes(b, key, len);
    rec_end(b);
}

/* ---------------------------------------------------------------- decoders */

/* A bounds-checked reader over one payload. */
typedef struct cur {
    const unsigned char *p, *end;
    bool bad;
} cur_t;

static uint64_t get_n(cur_t *c, int n)
{
    if (c->bad || c->end - c->p < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = le_get(c->p, n);
    c->p += n;
    return v;
}

static const unsigned char *get_bytes(cur_t *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return NULL;
    }
    const unsigned char *r = c->p;
    c->p += n;
    return r;
}

static cur_t cur_of(const qlog_rec_t *r)
{
    cur_t c = {r->payload, r->payload + r->len, false};
    return c;
}

/* A payload must be used up exactly: trailing bytes mean a shape we do not know. */
static int cur_done(const cur_t *c)
{
    return c->bad || c->p != c->end ? SL_EIO : 0;
}

int qlog_get_publish(const qlog_rec_t *r, qlog_publish_t *p)
{
    cur_t c = cur_of(r);
    if (r->type != QLOG_PUBLISH)
        return SL_EIO;
    p->id = get_n(&c, 8);
    p->published_at = (int64_t)get_n(&c, 8);
    p->deliver_at = (int64_t)get_n(&c, 8);
    p->expires_at = (int64_t)get_n(&c, 8);
    p->only_group = (uint32_t)get_n(&c, 4);
    p->body_len = (size_t)get_n(&c, 4);
    p->attrs_len = (size_t)get_n(&c, 2);
    p->key_len = (size_t)get_n(&c, 1);
    p->idem_len = (size_t)get_n(&c, 2);
    p->key = (const char *)get_bytes(&c, p->key_len);
    p->idem = (const char *)get_bytes(&c, p->idem_len);
    p->attrs = get_bytes(&c, p->attrs_len);
    p->body = get_bytes(&c, p->body_len);
    if (cur_done(&c) || p->attrs_len > MSG_ATTRS_MAX || p->key_len > MSG_KEY_MAX)
        return SL_EIO;
    return 0;
}

int qlog_get_ids(const qlog_rec_t *r, qlog_ids_t *ids)
{
    cur_t c = cur_of(r);
    if (r->type != QLOG_FINISH && r->type != QLOG_DROP)
        return SL_EIO;
    ids->gid = 0;
    ids->reason = 0;
    if (r->type == QLOG_FINISH)
        ids->gid = (uint32_t)get_n(&c, 4);
    ids->reason = (uint8_t)get_n(&c, 1);
    ids->n = (uint32_t)get_n(&c, 4);
    ids->ids = get_bytes(&c, (size_t)ids->n * 8);
    return cur_done(&c);
}

uint64_t qlog_id(const qlog_ids_t *ids, uint32_t i)
{
    sl_assert(i < ids->n);
    return le_get(ids->ids + (size_t)i * 8, 8);
}

int qlog_get_fail(const qlog_rec_t *r, qlog_fail_t *f)
{
    cur_t c = cur_of(r);
    if (r->type != QLOG_FAIL)
        return SL_EIO;
    f->gid = (uint32_t)get_n(&c, 4);
    f->id = get_n(&c, 8);
    f->attempts = (uint32_t)get_n(&c, 4);
    f->visible_at = (int64_t)get_n(&c, 8);
    f->at = (int64_t)get_n(&c, 8);
    f->event = (uint8_t)get_n(&c, 1);
    f->error_len = (size_t)get_n(&c, 2);
    f->error = (const char *)get_bytes(&c, f->error_len);
    return cur_done(&c);
}

int qlog_get_queue(const qlog_rec_t *r, qlog_queue_t *q)
{
    cur_t c = cur_of(r);
    engine_settings_t *s = &q->settings;
    if (r->type != QLOG_QUEUE)
        return SL_EIO;
    memset(q, 0, sizeof *q);
    q->created_at = (int64_t)get_n(&c, 8);
    q->last_id = get_n(&c, 8);
    s->visibility_ms = (int64_t)get_n(&c, 8);
    s->max_attempts = (uint32_t)get_n(&c, 4);
    s->max_in_flight_per_key = (uint32_t)get_n(&c, 4);
    s->max_messages = get_n(&c, 8);
    s->max_bytes = get_n(&c, 8);
    s->max_age_ms = (int64_t)get_n(&c, 8);
    s->dedup_ms = (int64_t)get_n(&c, 8);
    q->dlq_auto = get_n(&c, 1) != 0;
    size_t dlen = (size_t)get_n(&c, 1);
    const unsigned char *dlq = get_bytes(&c, dlen);
    if (dlq && dlen <= ENGINE_NAME_MAX) {
        memcpy(s->dlq, dlq, dlen);
        s->dlq[dlen] = '\0';
    } else {
        c.bad = true;
    }
    q->published = get_n(&c, 8);
    q->acked = get_n(&c, 8);
    q->expired = get_n(&c, 8);
    q->dropped = get_n(&c, 8);
    q->dead_lettered = get_n(&c, 8);
    if (cur_done(&c) || s->max_in_flight_per_key == 0)
        return SL_EIO;
    return 0;
}

int qlog_get_group(const qlog_rec_t *r, qlog_group_t *g)
{
    cur_t c = cur_of(r);
    if (r->type != QLOG_GROUP)
        return SL_EIO;
    g->gid = (uint32_t)get_n(&c, 4);
    g->start_id = get_n(&c, 8);
    g->created_at = (int64_t)get_n(&c, 8);
    g->name_len = (size_t)get_n(&c, 1);
    g->name = (const char *)get_bytes(&c, g->name_len);
    g->max_in_flight = g->max_attempts = 0;
    g->meta = NULL;
    g->meta_len = 0;
    if (!c.bad && c.p != c.end) { /* the settings, in every record but the earliest ones */
        g->max_in_flight = (uint32_t)get_n(&c, 4);
        g->max_attempts = (uint32_t)get_n(&c, 4);
        g->meta_len = (size_t)get_n(&c, 2);
        g->meta = g->meta_len ? (const char *)get_bytes(&c, g->meta_len) : NULL;
    }
    if (cur_done(&c) || g->gid == 0)
        return SL_EIO;
    return 0;
}

int qlog_get_u32(const qlog_rec_t *r, uint32_t *v)
{
    cur_t c = cur_of(r);
    *v = (uint32_t)get_n(&c, 4);
    return cur_done(&c);
}

int qlog_get_u64(const qlog_rec_t *r, uint64_t *v)
{
    cur_t c = cur_of(r);
    *v = get_n(&c, 8);
    return cur_done(&c);
}

int qlog_get_idem(const qlog_rec_t *r, uint64_t *id, int64_t *published_at, const char **key,
                  size_t *len)
{
    cur_t c = cur_of(r);
    if (r->type != QLOG_IDEM)
        return SL_EIO;
    *id = get_n(&c, 8);
    *published_at = (int64_t)get_n(&c, 8);
    *len = (size_t)get_n(&c, 2);
    *key = (const char *)get_bytes(&c, *len);
    return cur_done(&c);
}

/* ---------------------------------------------------------------- scanning */

/* Returns the total size of a valid record at data[off..size), or 0. *whole (may be NULL) tells
 * whether a record that failed only its checksum was there in full. */
static size_t record_at(const unsigned char *data, size_t size, size_t off, uint32_t seed,
                        bool *whole)
{
    if (whole)
        *whole = false;
    if (size - off < QLOG_RECORD_OVERHEAD)
        return 0;
    const unsigned char *h = data + off;
    uint64_t len = le_get(h, 4);
    if (h[4] == 0 || h[4] > QLOG_TYPE_MAX || h[5] != 0 || h[6] != 0 || h[7] != 0 ||
        len > QLOG_MAX_PAYLOAD || len > size - off - QLOG_RECORD_OVERHEAD)
        return 0;
    uint32_t want = (uint32_t)le_get(h + 8 + len, 4);
    if (XXH32(h, 8 + (size_t)len, seed) != want) {
        if (whole)
            *whole = true;
        return 0;
    }
    return QLOG_RECORD_OVERHEAD + (size_t)len;
}

int qlog_scan(const unsigned char *data, size_t size, const qlog_scan_cb_t *cb,
              qlog_scan_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (size < QLOG_HEADER_SIZE || memcmp(data, qlog_magic, 8) != 0 ||
        le_get(data + 8, 4) != QLOG_VERSION || le_get(data + 12, 4) != QLOG_HEADER_SIZE ||
        le_get(data + 28, 4) != XXH32(data, 28, 0))
        return SL_EIO;
    res->seq = le_get(data + 16, 8);
    res->salt = (uint32_t)le_get(data + 24, 4);
    uint32_t seed = QLOG_SEED ^ res->salt;
    size_t off = QLOG_HEADER_SIZE;
    res->valid_end = off;
    /* where the zero tail starts; no record starts inside it (its type byte would be 0) */
    size_t zero_at = size;
    while (zero_at > off && data[zero_at - 1] == 0)
        zero_at--;
    while (off < size) {
        bool whole;
        size_t n = record_at(data, size, off, seed, &whole);
        if (n == 0 && off >= zero_at) {
            res->zeros = size - off;
            break;
        }
        if (n == 0) {
            /* damage or a torn tail: find where valid records start again, if they do */
            size_t next = off + 1;
            while (next < zero_at && record_at(data, size, next, seed, NULL) == 0)
                next++;
            if (next >= zero_at) {
                res->tail_bad = zero_at - off;
                res->zeros = size - zero_at;
                /* a whole record reaching into the zero tail is one whose write stopped there */
                res->tail_whole =
                    whole && off + QLOG_RECORD_OVERHEAD + le_get(data + off, 4) <= zero_at;
                break;
            }
            if (cb && cb->damaged)
                cb->damaged(cb->ctx, off, next - off);
            res->damaged += next - off;
            off = next;
            continue;
        }
        qlog_rec_t r = {data[off + 4], data + off + 8, n - QLOG_RECORD_OVERHEAD, off};
        res->records++;
        off += n;
        res->valid_end = off;
        if (cb && cb->record) {
            int stop = cb->record(cb->ctx, &r);
            if (stop)
                return stop;
        }
    }
    return 0;
}
