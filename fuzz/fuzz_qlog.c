/*
 * fuzz_qlog.c — libFuzzer harness for the record format of the `file` storage (src/qlog.h).
 *
 * Byte 0 of the input picks a mode (an input that starts with the segment magic "SLUICELG" is a
 * segment image and is scanned whole, so real .seg files are seeds as they are):
 *
 *   0  raw: the rest, as a segment image, to qlog_scan();
 *   1  prefixed: a valid header for segment 1, then the rest, so that the bytes are records;
 *   2  round trip, and 3 the same with mutations: the rest is a program that makes records
 *      (every type, fields from the input, strings at the limits, message bodies that hold a
 *      whole encoded record), encodes them with the qlog_put_* encoders after a header, scans
 *      them back and compares them field by field; in mode 3 the program goes on with mutations
 *      of the image (bit flips, byte writes, zeroed ranges, cuts at the end, ranges deleted or
 *      filled in, writes torn inside a zero tail) and the image is scanned again.
 *
 * Every scan is of a heap buffer of exactly the image's size (ASan sees any read past it) and is
 * checked against the format as qlog.c's opening comment and docs/storage-format.md state it:
 *
 *   - the header is accepted exactly when magic, version, header size and checksum are right,
 *     and the sequence number and salt are the header's;
 *   - reported records and damaged ranges tile [32, valid_end) in order, with nothing left out,
 *     and valid_end + tail_bad + zeros == size (so 32 + damaged + record bytes + tail_bad +
 *     zeros == size); the zero tail is exactly the run of zero bytes that ends the file, after the
 *     bad tail if there is one, and all of [valid_end, size) when there is none;
 *     every record has the documented head (length, a known type, zero flags and reserved
 *     bytes) and checksum (seeded with the salt) and lies inside the input, its payload pointer
 *     is where the layout puts it; no valid record starts anywhere inside a damaged range or the
 *     bad tail (the scanner resumes at the first one); tail_whole is set exactly when the bad
 *     tail begins with a whole record (plausible head, length inside the bytes before the zero
 *     tail) that fails its checksum; the counts in the result agree with the callbacks, and a
 * callback's non-zero return ends the scan with that value;
 *   - every decoder runs on every record: it fails for a record of another type, and otherwise
 *     it succeeds exactly when the payload has its documented shape (lengths that add up to the
 *     payload length exactly, key at most MSG_KEY_MAX, attributes at most MSG_ATTRS_MAX,
 *     dead-letter queue name at most ENGINE_NAME_MAX, max_in_flight_per_key and group ids not 0;
 *     the u32 and u64 decoders of GROUP_DEL and PURGE go by the size alone),
 *     with every field equal to a reading at the documented fixed offsets and every pointer and
 *     length inside the payload;
 *   - round trip: the header and the encoders write the documented layout and checksums, the
 *     scan returns exactly the records written, at their offsets, and each decodes to the values
 *     encoded;
 *   - after mutations: every record the scanner still returns is byte for byte a record that was
 *     written (no damaged byte is ever returned as data; the harness follows every byte through
 *     the mutations, so it knows where each written record now is), and every written record that
 *     the mutations left intact is returned, unless a returned copy of another one overlaps it
 *     (a range lost between two equal records joins their halves into a copy).
 *
 * One approximation is allowed, as qlog.c documents it: the salt in every checksum is what keeps
 * the resynchronisation after damage from taking bytes inside a payload for a record, since a
 * publisher cannot know it. The fuzzer can (it learns checksums from the comparisons), so a record
 * returned from inside the key, idempotency key, attributes or body of a written record is
 * allowed; records that the harness nests in message bodies are encoded with another salt, and
 * those must never be returned. FUZZ_QLOG_TRACE=1 prints the records written, the mutations and
 * what the last scan returned.
 *
 * A failed check prints what failed and aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common.h"
#include "engine.h"
#include "log.h"
#include "msg.h"
#include "qlog.h"
#include "fuzz_input.h"

#define FUZZ_NAME "fuzz_qlog"
#include "fuzz_check.h"

#define HDR QLOG_HEADER_SIZE
#define OVH QLOG_RECORD_OVERHEAD
#define REC_SEED 0x534c5543u /* qlog.c's QLOG_SEED, as documented */
#define MAX_RECS 64
#define MAX_EMBED 16
#define MAX_MUTS 12
#define DEAD ((size_t)-1)

static bool trace;

#define TRACE(...)                        \
    do {                                  \
        if (trace)                        \
            fprintf(stderr, __VA_ARGS__); \
    } while (0)

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---------------------------------------------------------------- the format, independently */

static bool ref_header_ok(const unsigned char *d, size_t size)
{
    return size >= HDR && memcmp(d, "SLUICELG", 8) == 0 && le(d + 8, 4) == QLOG_VERSION &&
           le(d + 12, 4) == HDR && le(d + 28, 4) == XXH32(d, 28, 0);
}

/* Whether d[off..size) begins with a plausible head (known type, zero flags and reserved bytes)
 * whose length fits in the file: a whole record, whatever its checksum says. */
static bool ref_whole_at(const unsigned char *d, size_t size, size_t off)
{
    if (off > size || size - off < OVH)
        return false;
    const unsigned char *h = d + off;
    uint64_t len = le(h, 4);
    return h[4] >= 1 && h[4] <= QLOG_TYPE_MAX && !h[5] && !h[6] && !h[7] &&
           len <= QLOG_MAX_PAYLOAD && len <= size - off - OVH;
}

/* The size of the valid record at d[off..size), or 0: a whole record whose checksum, seeded with
 * QLOG_SEED ^ salt, matches. */
static size_t ref_record_at(const unsigned char *d, size_t size, size_t off, uint32_t salt)
{
    if (!ref_whole_at(d, size, off))
        return 0;
    const unsigned char *h = d + off;
    uint64_t len = le(h, 4);
    if (le(h + 8 + len, 4) != XXH32(h, 8 + (size_t)len, REC_SEED ^ salt))
        return 0;
    return OVH + (size_t)len;
}

/* ---------------------------------------------------------------- decoders, checked */

/* Runs every decoder on r and checks it against a reading of the payload at the documented fixed
 * offsets. */
static void check_decoders(const qlog_rec_t *r)
{
    const unsigned char *p = r->payload, *end = p + r->len;
    uint64_t len = r->len;
    int t = r->type;

    qlog_publish_t pub;
    memset(&pub, 0xa5, sizeof pub);
    int rc = qlog_get_publish(r, &pub);
    bool want = false;
    if (t == QLOG_PUBLISH && len >= 45) {
        uint64_t body = le(p + 36, 4), attrs = le(p + 40, 2), key = p[42], idem = le(p + 43, 2);
        want =
            45 + key + idem + attrs + body == len && key <= MSG_KEY_MAX && attrs <= MSG_ATTRS_MAX;
        if (want) {
            CHECK(rc == 0, "publish decoder refused a well-formed payload (len %zu)", r->len);
            CHECK(pub.id == le(p, 8) && pub.published_at == (int64_t)le(p + 8, 8) &&
                      pub.deliver_at == (int64_t)le(p + 16, 8) &&
                      pub.expires_at == (int64_t)le(p + 24, 8) && pub.only_group == le(p + 32, 4),
                  "publish fixed fields differ");
            CHECK(pub.body_len == body && pub.attrs_len == attrs && pub.key_len == key &&
                      pub.idem_len == idem,
                  "publish lengths differ");
            CHECK((const unsigned char *)pub.key == p + 45 &&
                      (const unsigned char *)pub.idem == p + 45 + key &&
                      pub.attrs == p + 45 + key + idem && pub.body == p + 45 + key + idem + attrs,
                  "publish strings are not where the layout puts them");
            CHECK(pub.body + pub.body_len == end, "publish body does not end the payload");
        }
    }
    if (!want)
        CHECK(rc == SL_EIO, "publish decoder returned %d for a record of type %d, len %zu", rc, t,
              r->len);

    qlog_ids_t ids;
    memset(&ids, 0xa5, sizeof ids);
    rc = qlog_get_ids(r, &ids);
    want = false;
    if (t == QLOG_FINISH || t == QLOG_DROP) {
        size_t fixed = t == QLOG_FINISH ? 9 : 5;
        if (len >= fixed) {
            uint64_t n = le(p + fixed - 4, 4);
            want = fixed + 8 * n == len;
            if (want) {
                CHECK(rc == 0, "ids decoder refused a well-formed payload");
                CHECK(ids.n == n && ids.ids == p + fixed, "ids count or pointer differ");
                CHECK(t == QLOG_FINISH ? ids.gid == le(p, 4) && ids.reason == p[4]
                                       : ids.reason == p[0] && ids.gid == 0,
                      "ids gid/reason differ");
                for (uint32_t i = 0; i < ids.n; i++)
                    CHECK(qlog_id(&ids, i) == le(p + fixed + 8 * (size_t)i, 8), "id %u differs", i);
                CHECK(ids.ids + 8 * (size_t)ids.n == end, "ids do not end the payload");
            }
        }
    }
    if (!want)
        CHECK(rc == SL_EIO, "ids decoder returned %d for type %d, len %zu", rc, t, r->len);

    qlog_fail_t f;
    memset(&f, 0xa5, sizeof f);
    rc = qlog_get_fail(r, &f);
    want = t == QLOG_FAIL && len >= 35 && 35 + le(p + 33, 2) == len;
    if (want) {
        CHECK(rc == 0, "fail decoder refused a well-formed payload");
        CHECK(f.gid == le(p, 4) && f.id == le(p + 4, 8) && f.attempts == le(p + 12, 4) &&
                  f.visible_at == (int64_t)le(p + 16, 8) && f.at == (int64_t)le(p + 24, 8) &&
                  f.event == p[32] && f.error_len == le(p + 33, 2),
              "fail fields differ");
        CHECK((const unsigned char *)f.error == p + 35 &&
                  f.error + f.error_len == (const char *)end,
              "fail error is not where the layout puts it");
    } else {
        CHECK(rc == SL_EIO, "fail decoder returned %d for type %d, len %zu", rc, t, r->len);
    }

    qlog_queue_t q;
    memset(&q, 0xa5, sizeof q);
    rc = qlog_get_queue(r, &q);
    want = false;
    if (t == QLOG_QUEUE && len >= 106) {
        size_t dlen = p[65];
        want = 106 + dlen == len && dlen <= ENGINE_NAME_MAX && le(p + 28, 4) != 0;
        if (want) {
            const engine_settings_t *s = &q.settings;
            const unsigned char *c = p + 66 + dlen;
            CHECK(rc == 0, "queue decoder refused a well-formed payload");
            CHECK(q.created_at == (int64_t)le(p, 8) && q.last_id == le(p + 8, 8) &&
                      s->visibility_ms == (int64_t)le(p + 16, 8) &&
                      s->max_attempts == le(p + 24, 4) &&
                      s->max_in_flight_per_key == le(p + 28, 4) &&
                      s->max_messages == le(p + 32, 8) && s->max_bytes == le(p + 40, 8) &&
                      s->max_age_ms == (int64_t)le(p + 48, 8) &&
                      s->dedup_ms == (int64_t)le(p + 56, 8) && q.dlq_auto == (p[64] != 0),
                  "queue settings differ");
            CHECK(memcmp(s->dlq, p + 66, dlen) == 0 && s->dlq[dlen] == '\0',
                  "queue dead-letter name differs");
            CHECK(q.published == le(c, 8) && q.acked == le(c + 8, 8) &&
                      q.expired == le(c + 16, 8) && q.dropped == le(c + 24, 8) &&
                      q.dead_lettered == le(c + 32, 8),
                  "queue counters differ");
        }
    }
    if (!want)
        CHECK(rc == SL_EIO, "queue decoder returned %d for type %d, len %zu", rc, t, r->len);

    /* GROUP: the settings after the name may be absent (records of the first layout) */
    qlog_group_t g;
    memset(&g, 0xa5, sizeof g);
    rc = qlog_get_group(r, &g);
    want = false;
    bool short_group = false;
    if (t == QLOG_GROUP && len >= 21 && le(p, 4) != 0) {
        uint64_t nl = p[20];
        short_group = len == 21 + nl;
        want = short_group || (len >= 31 + nl && len == 31 + nl + le(p + 29 + nl, 2));
    }
    if (want) {
        size_t nl = p[20];
        CHECK(rc == 0, "group decoder refused a well-formed payload");
        CHECK(g.gid == le(p, 4) && g.start_id == le(p + 4, 8) &&
                  g.created_at == (int64_t)le(p + 12, 8) && g.name_len == nl &&
                  (const unsigned char *)g.name == p + 21,
              "group fields differ");
        if (short_group)
            CHECK(g.max_in_flight == 0 && g.max_attempts == 0 && g.meta_len == 0 && !g.meta,
                  "group without settings decoded with settings");
        else
            CHECK(g.max_in_flight == le(p + 21 + nl, 4) && g.max_attempts == le(p + 25 + nl, 4) &&
                      g.meta_len == le(p + 29 + nl, 2) &&
                      (g.meta_len ? (const unsigned char *)g.meta == p + 31 + nl : !g.meta),
                  "group settings differ");
    } else {
        CHECK(rc == SL_EIO, "group decoder returned %d for type %d, len %zu", rc, t, r->len);
    }

    /* GROUP_DEL and PURGE: documented by size alone (the caller has switched on the type) */
    uint32_t v32 = 0x5a5a5a5a;
    rc = qlog_get_u32(r, &v32);
    if (len == 4)
        CHECK(rc == 0 && v32 == le(p, 4), "u32 decoder: rc %d", rc);
    else
        CHECK(rc == SL_EIO, "u32 decoder returned %d for len %zu", rc, r->len);
    uint64_t v64 = 0x5a5a5a5a;
    rc = qlog_get_u64(r, &v64);
    if (len == 8)
        CHECK(rc == 0 && v64 == le(p, 8), "u64 decoder: rc %d", rc);
    else
        CHECK(rc == SL_EIO, "u64 decoder returned %d for len %zu", rc, r->len);

    uint64_t id = 0x5a;
    int64_t at = 0x5a;
    const char *key = NULL;
    size_t klen = 0x5a;
    rc = qlog_get_idem(r, &id, &at, &key, &klen);
    want = t == QLOG_IDEM && len >= 18 && 18 + le(p + 16, 2) == len;
    if (want)
        CHECK(rc == 0 && id == le(p, 8) && at == (int64_t)le(p + 8, 8) && klen == le(p + 16, 2) &&
                  (const unsigned char *)key == p + 18,
              "idem fields differ (rc %d)", rc);
    else
        CHECK(rc == SL_EIO, "idem decoder returned %d for type %d, len %zu", rc, t, r->len);
}

/* ---------------------------------------------------------------- scanning, checked */

typedef struct {
    size_t off, len; /* a record: offset and payload length; damage: offset and length */
    bool damage;
    int type;
    const unsigned char *payload;
} ev_t;

static struct {
    const unsigned char *data;
    size_t size;
    uint32_t salt; /* the header's */
    ev_t ev[8192];
    size_t nev;
    size_t nrec;
    long stop_at; /* the record index whose callback stops the scan, or -1 */
    bool overflow;
} sc;

static int on_record(void *ctx, const qlog_rec_t *r)
{
    CHECK(ctx == &sc, "record callback got a foreign ctx");
    CHECK(r->offset >= HDR && r->offset <= sc.size && sc.size - r->offset >= OVH &&
              r->len <= sc.size - r->offset - OVH,
          "record at %zu (payload %zu) is not inside the %zu-byte input", r->offset, r->len,
          sc.size);
    CHECK(r->payload == sc.data + r->offset + 8, "payload pointer is not offset + 8");
    CHECK(ref_record_at(sc.data, sc.size, r->offset, sc.salt) == OVH + r->len,
          "record at %zu (type %d, len %zu) is not a valid record by the documented layout",
          r->offset, r->type, r->len);
    CHECK(r->type == sc.data[r->offset + 4], "type %d is not byte 4 of the head", r->type);
    check_decoders(r);
    if (sc.nev < sizeof sc.ev / sizeof sc.ev[0])
        sc.ev[sc.nev++] = (ev_t){r->offset, r->len, false, r->type, r->payload};
    else
        sc.overflow = true;
    if ((long)sc.nrec++ == sc.stop_at)
        return 1000 + (int)sc.stop_at;
    return 0;
}

static void on_damaged(void *ctx, size_t off, size_t len)
{
    CHECK(ctx == &sc, "damaged callback got a foreign ctx");
    if (sc.nev < sizeof sc.ev / sizeof sc.ev[0])
        sc.ev[sc.nev++] = (ev_t){off, len, true, 0, NULL};
    else
        sc.overflow = true;
}

/* Scans data[0..size) (a heap buffer of exactly that size) and checks everything the format
 * promises about the result; stop_at >= 0 makes that record's callback end the scan. Returns
 * qlog_scan's result; the records are in sc.ev. */
static int check_scan(const unsigned char *data, size_t size, long stop_at, qlog_scan_result_t *res)
{
    sc.nev = sc.nrec = 0;
    sc.overflow = false;
    sc.data = data;
    sc.size = size;
    sc.salt = size >= HDR ? (uint32_t)le(data + 24, 4) : 0;
    sc.stop_at = stop_at;
    qlog_scan_cb_t cb = {&sc, on_record, on_damaged};
    int rc = qlog_scan(data, size, &cb, res);
    if (!ref_header_ok(data, size)) {
        CHECK(rc == SL_EIO && sc.nev == 0, "bad header: rc %d, %zu callbacks", rc, sc.nev);
        return rc;
    }
    if (sc.overflow)
        return rc; /* more events than kept: only what the callbacks checked */
    if (stop_at >= 0 && (long)sc.nrec > stop_at) {
        CHECK(rc == 1000 + (int)stop_at, "a callback returned %ld but the scan returned %d",
              1000 + stop_at, rc);
        CHECK((long)sc.nrec == stop_at + 1, "records after the stop: %zu", sc.nrec);
        return rc;
    }
    CHECK(rc == 0, "scan of an image with a valid header returned %d", rc);
    CHECK(res->seq == le(data + 16, 8) && res->salt == sc.salt,
          "seq %llu or salt %u is not the header's", (unsigned long long)res->seq, res->salt);
    size_t pos = HDR, recbytes = 0, dmg = 0, nrec = 0;
    for (size_t i = 0; i < sc.nev; i++) {
        const ev_t *e = &sc.ev[i];
        CHECK(e->off == pos, "event %zu at %zu, expected %zu (a gap or an overlap)", i, e->off,
              pos);
        if (e->damage) {
            CHECK(e->len > 0, "empty damaged range at %zu", e->off);
            CHECK(i + 1 < sc.nev && !sc.ev[i + 1].damage,
                  "damaged range at %zu is not followed by a record", e->off);
            for (size_t o = e->off; o < e->off + e->len; o++)
                CHECK(ref_record_at(data, size, o, sc.salt) == 0,
                      "a valid record starts at %zu inside the damaged range [%zu, +%zu)", o,
                      e->off, e->len);
            dmg += e->len;
            pos += e->len;
        } else {
            recbytes += OVH + e->len;
            pos += OVH + e->len;
            nrec++;
        }
    }
    CHECK(res->valid_end == pos, "valid_end %zu, the records end at %zu", res->valid_end, pos);
    CHECK(res->valid_end <= size, "valid_end %zu > size %zu", res->valid_end, size);
    CHECK(res->valid_end + res->tail_bad + res->zeros == size,
          "valid_end %zu + tail_bad %zu + zeros %zu != size %zu", res->valid_end, res->tail_bad,
          res->zeros, size);
    CHECK(res->records == nrec && res->damaged == dmg, "counts: %zu/%zu records, %zu/%zu damaged",
          res->records, nrec, res->damaged, dmg);
    CHECK(HDR + dmg + recbytes + res->tail_bad + res->zeros == size, "bytes do not add up");
    size_t zero_at = size; /* where the run of zero bytes that ends the file starts */
    while (zero_at > HDR && data[zero_at - 1] == 0)
        zero_at--;
    if (res->tail_bad == 0) {
        for (size_t o = res->valid_end; o < size; o++)
            CHECK(data[o] == 0, "byte %zu after the records is not zero and not in the bad tail",
                  o);
    } else {
        CHECK(res->valid_end + res->tail_bad == zero_at,
              "the bad tail [%zu, +%zu) does not end where the zero tail starts (%zu)",
              res->valid_end, res->tail_bad, zero_at);
    }
    for (size_t o = res->valid_end; o < size; o++)
        CHECK(ref_record_at(data, size, o, sc.salt) == 0,
              "a valid record starts at %zu inside the torn tail [%zu, %zu)", o, res->valid_end,
              size);
    /* bad bytes at the end are a torn write only when the record there is incomplete */
    bool whole = res->tail_bad > 0 && ref_whole_at(data, size, res->valid_end) &&
                 res->valid_end + OVH + le(data + res->valid_end, 4) <= zero_at;
    CHECK(res->tail_whole == whole, "tail_whole %d for a tail of %zu bytes at %zu (whole: %d)",
          res->tail_whole, res->tail_bad, res->valid_end, whole);
    return rc;
}

static void scan_copy(const unsigned char *p, size_t n, long stop_at)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, p, n);
    qlog_scan_result_t res;
    check_scan(copy, n, stop_at, &res);
    free(copy);
}

/* ---------------------------------------------------------------- round trip */

/* rd_t, u8, un, take: fuzz_input.h */

/* A length: mostly small, sometimes at or near a limit. */
static size_t pick_len(rd_t *r, size_t max)
{
    uint8_t b = u8(r);
    switch (b >> 6) {
    case 0:
        return b & 15;
    case 1:
        return (b & 63) <= max ? (b & 63) : max;
    case 2:
        return max - (b & 3) <= max ? max - (b & 3) : 0;
    default:
        return (size_t)(un(r, 2) % (max + 1));
    }
}

/* An integer field: small, extreme or arbitrary. */
static uint64_t pick_u64(rd_t *r)
{
    uint8_t b = u8(r);
    switch (b & 3) {
    case 0:
        return b >> 2;
    case 1:
        return b & 4 ? UINT64_MAX - (b >> 3) : (uint64_t)INT64_MAX + (b >> 3) - 8;
    default:
        return un(r, 8);
    }
}

/* Filler for strings when the input has run out: the encoders must copy exactly these bytes. */
static unsigned char pattern[70000];

typedef struct {
    int type;
    size_t off, total; /* in the original image, head to checksum */
    bool decodable;
    bool nested; /* a PUBLISH whose body is records encoded with another salt */
    qlog_publish_t pub;
    qlog_ids_t ids;
    uint64_t idv[16];
    qlog_fail_t fail;
    qlog_queue_t queue;
    qlog_group_t group;
    uint32_t u32;
    uint64_t u64;
    struct {
        uint64_t id;
        int64_t at;
        const char *key;
        size_t len;
    } idem;
} wrec_t;

static struct {
    wrec_t w[MAX_RECS];
    size_t nw;
    qlog_buf_t nested[MAX_EMBED]; /* encoded records used as message bodies */
    size_t nnested;
} rt;

static const unsigned char *str_bytes(rd_t *r, size_t len, bool no_nul, unsigned char *tmp)
{
    size_t got;
    const unsigned char *p = take(r, len, &got);
    if (got == len && !no_nul)
        return p;
    memcpy(tmp, p, got);
    memcpy(tmp + got, pattern, len - got);
    if (no_nul)
        for (size_t i = 0; i < len; i++)
            if (tmp[i] == 0)
                tmp[i] = 'x';
    return tmp;
}

/* Makes one record of type t from the input into w and encodes it into b. Strings live in the
 * input, in pattern, in tmp (kept by the caller) or in rt.nested. */
static void gen_record(rd_t *r, int t, wrec_t *w, qlog_buf_t *b, unsigned char *tmp)
{
    memset(w, 0, sizeof *w);
    w->type = t;
    w->off = b->len;
    w->decodable = true;
    switch (t) {
    case QLOG_PUBLISH: {
        qlog_publish_t *p = &w->pub;
        p->id = pick_u64(r);
        p->published_at = (int64_t)pick_u64(r);
        p->deliver_at = (int64_t)pick_u64(r);
        p->expires_at = (int64_t)pick_u64(r);
        p->only_group = (uint32_t)pick_u64(r);
        uint8_t shape = u8(r);
        p->key_len = pick_len(r, 255);
        p->key = (const char *)str_bytes(r, p->key_len, false, tmp);
        p->idem_len = pick_len(r, ENGINE_IDEM_KEY_MAX + 2);
        p->idem = (const char *)str_bytes(r, p->idem_len, false, tmp + 256);
        p->attrs_len = (shape & 1) ? pick_len(r, MSG_ATTRS_MAX + 2) : pick_len(r, 64);
        p->attrs = str_bytes(r, p->attrs_len, false, tmp + 1024);
        if ((shape & 6) == 6 && rt.nnested < MAX_EMBED) {
            /* a body that is itself an encoded record (or several), as a publisher may send */
            qlog_buf_t *nb = &rt.nested[rt.nnested++];
            /* encoded with another salt: a publisher cannot know the segment's */
            nb->salt = b->salt ^ (1u + u8(r));
            wrec_t inner;
            int it = 1 + u8(r) % QLOG_TYPE_MAX;
            if (it == QLOG_PUBLISH)
                it = QLOG_PURGE;
            gen_record(r, it, &inner, nb, tmp + 1024 + MSG_ATTRS_MAX + 2);
            if (shape & 8)
                gen_record(r, QLOG_GROUP_DEL, &inner, nb, tmp);
            p->body = nb->data;
            p->body_len = nb->len;
            w->nested = true;
        } else {
            p->body_len = pick_len(r, 300);
            p->body = str_bytes(r, p->body_len, false, tmp + 1024 + MSG_ATTRS_MAX + 2);
        }
        w->decodable = p->key_len <= MSG_KEY_MAX && p->attrs_len <= MSG_ATTRS_MAX;
        qlog_put_publish(b, p);
        break;
    }
    case QLOG_FINISH:
    case QLOG_DROP: {
        w->ids.n = u8(r) % 17;
        if (t == QLOG_FINISH)
            w->ids.gid = (uint32_t)pick_u64(r);
        w->ids.reason = u8(r);
        for (uint32_t i = 0; i < w->ids.n; i++)
            w->idv[i] = pick_u64(r);
        qlog_put_ids(b, t, &w->ids, w->idv);
        break;
    }
    case QLOG_FAIL: {
        qlog_fail_t *f = &w->fail;
        f->gid = (uint32_t)pick_u64(r);
        f->id = pick_u64(r);
        f->attempts = (uint32_t)pick_u64(r);
        f->visible_at = (int64_t)pick_u64(r);
        f->at = (int64_t)pick_u64(r);
        f->event = u8(r);
        f->error_len = pick_len(r, ENGINE_ERROR_MAX + 1);
        f->error = (const char *)str_bytes(r, f->error_len, false, tmp);
        qlog_put_fail(b, f);
        break;
    }
    case QLOG_QUEUE: {
        qlog_queue_t *q = &w->queue;
        engine_settings_t *s = &q->settings;
        q->created_at = (int64_t)pick_u64(r);
        q->last_id = pick_u64(r);
        s->visibility_ms = (int64_t)pick_u64(r);
        s->max_attempts = (uint32_t)pick_u64(r);
        s->max_in_flight_per_key = (uint32_t)pick_u64(r);
        s->max_messages = pick_u64(r);
        s->max_bytes = pick_u64(r);
        s->max_age_ms = (int64_t)pick_u64(r);
        s->dedup_ms = (int64_t)pick_u64(r);
        q->dlq_auto = u8(r) & 1;
        size_t dlen = pick_len(r, ENGINE_NAME_MAX);
        memcpy(s->dlq, str_bytes(r, dlen, true, tmp), dlen);
        s->dlq[dlen] = '\0';
        q->published = pick_u64(r);
        q->acked = pick_u64(r);
        q->expired = pick_u64(r);
        q->dropped = pick_u64(r);
        q->dead_lettered = pick_u64(r);
        w->decodable = s->max_in_flight_per_key != 0;
        qlog_put_queue(b, q);
        break;
    }
    case QLOG_GROUP: {
        qlog_group_t *g = &w->group;
        g->gid = (uint32_t)pick_u64(r);
        g->start_id = pick_u64(r);
        g->created_at = (int64_t)pick_u64(r);
        g->name_len = pick_len(r, 255);
        g->name = (const char *)str_bytes(r, g->name_len, false, tmp);
        g->max_in_flight = (uint32_t)pick_u64(r);
        g->max_attempts = (uint32_t)pick_u64(r);
        g->meta_len = pick_len(r, 300);
        g->meta = (const char *)str_bytes(r, g->meta_len, false, tmp + 256);
        w->decodable = g->gid != 0;
        qlog_put_group(b, g);
        break;
    }
    case QLOG_GROUP_DEL:
        w->u32 = (uint32_t)pick_u64(r);
        qlog_put_group_del(b, w->u32);
        break;
    case QLOG_PURGE:
        w->u64 = pick_u64(r);
        qlog_put_purge(b, w->u64);
        break;
    default:
        w->idem.id = pick_u64(r);
        w->idem.at = (int64_t)pick_u64(r);
        w->idem.len = pick_len(r, ENGINE_IDEM_KEY_MAX + 2);
        w->idem.key = (const char *)str_bytes(r, w->idem.len, false, tmp);
        qlog_put_idem(b, w->idem.id, w->idem.at, w->idem.key, w->idem.len);
        break;
    }
    w->total = b->len - w->off;
}

/* The payload length the documented layout gives w. */
static size_t layout_len(const wrec_t *w)
{
    switch (w->type) {
    case QLOG_PUBLISH:
        return 45 + w->pub.key_len + w->pub.idem_len + w->pub.attrs_len + w->pub.body_len;
    case QLOG_FINISH:
        return 9 + 8 * (size_t)w->ids.n;
    case QLOG_DROP:
        return 5 + 8 * (size_t)w->ids.n;
    case QLOG_FAIL:
        return 35 + w->fail.error_len;
    case QLOG_QUEUE:
        return 106 + strlen(w->queue.settings.dlq);
    case QLOG_GROUP:
        return 31 + w->group.name_len + w->group.meta_len;
    case QLOG_GROUP_DEL:
        return 4;
    case QLOG_PURGE:
        return 8;
    default:
        return 18 + w->idem.len;
    }
}

static bool mem_eq(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

/* Decodes r, which must be written record w, and compares every field. */
static void compare_decoded(const qlog_rec_t *r, const wrec_t *w)
{
    CHECK(r->type == w->type, "type %d read back as %d", w->type, r->type);
    int rc;
    switch (w->type) {
    case QLOG_PUBLISH: {
        qlog_publish_t p;
        rc = qlog_get_publish(r, &p);
        if (!w->decodable) {
            CHECK(rc == SL_EIO, "publish with key %zu attrs %zu decoded", w->pub.key_len,
                  w->pub.attrs_len);
            return;
        }
        const qlog_publish_t *e = &w->pub;
        CHECK(rc == 0 && p.id == e->id && p.published_at == e->published_at &&
                  p.deliver_at == e->deliver_at && p.expires_at == e->expires_at &&
                  p.only_group == e->only_group,
              "publish %llu read back differently (rc %d)", (unsigned long long)e->id, rc);
        CHECK(p.key_len == e->key_len && mem_eq(p.key, e->key, e->key_len) &&
                  p.idem_len == e->idem_len && mem_eq(p.idem, e->idem, e->idem_len) &&
                  p.attrs_len == e->attrs_len && mem_eq(p.attrs, e->attrs, e->attrs_len) &&
                  p.body_len == e->body_len && mem_eq(p.body, e->body, e->body_len),
              "publish %llu strings read back differently", (unsigned long long)e->id);
        return;
    }
    case QLOG_FINISH:
    case QLOG_DROP: {
        qlog_ids_t ids;
        rc = qlog_get_ids(r, &ids);
        CHECK(rc == 0 && ids.n == w->ids.n && ids.gid == w->ids.gid && ids.reason == w->ids.reason,
              "ids record read back differently (rc %d)", rc);
        for (uint32_t i = 0; i < ids.n; i++)
            CHECK(qlog_id(&ids, i) == w->idv[i], "id %u read back differently", i);
        return;
    }
    case QLOG_FAIL: {
        qlog_fail_t f;
        const qlog_fail_t *e = &w->fail;
        rc = qlog_get_fail(r, &f);
        CHECK(rc == 0 && f.gid == e->gid && f.id == e->id && f.attempts == e->attempts &&
                  f.visible_at == e->visible_at && f.at == e->at && f.event == e->event &&
                  f.error_len == e->error_len && mem_eq(f.error, e->error, e->error_len),
              "fail record read back differently (rc %d)", rc);
        return;
    }
    case QLOG_QUEUE: {
        qlog_queue_t q;
        const qlog_queue_t *e = &w->queue;
        rc = qlog_get_queue(r, &q);
        if (!w->decodable) {
            CHECK(rc == SL_EIO, "queue with max_in_flight_per_key 0 decoded");
            return;
        }
        const engine_settings_t *s = &q.settings, *es = &e->settings;
        CHECK(rc == 0 && q.created_at == e->created_at && q.last_id == e->last_id &&
                  s->visibility_ms == es->visibility_ms && s->max_attempts == es->max_attempts &&
                  s->max_in_flight_per_key == es->max_in_flight_per_key &&
                  s->max_messages == es->max_messages && s->max_bytes == es->max_bytes &&
                  s->max_age_ms == es->max_age_ms && s->dedup_ms == es->dedup_ms &&
                  strcmp(s->dlq, es->dlq) == 0 && q.dlq_auto == e->dlq_auto &&
                  q.published == e->published && q.acked == e->acked && q.expired == e->expired &&
                  q.dropped == e->dropped && q.dead_lettered == e->dead_lettered,
              "queue record read back differently (rc %d)", rc);
        return;
    }
    case QLOG_GROUP: {
        qlog_group_t g;
        const qlog_group_t *e = &w->group;
        rc = qlog_get_group(r, &g);
        if (!w->decodable) {
            CHECK(rc == SL_EIO, "group with gid 0 decoded");
            return;
        }
        CHECK(rc == 0 && g.gid == e->gid && g.start_id == e->start_id &&
                  g.created_at == e->created_at && g.name_len == e->name_len &&
                  mem_eq(g.name, e->name, e->name_len) && g.max_in_flight == e->max_in_flight &&
                  g.max_attempts == e->max_attempts && g.meta_len == e->meta_len &&
                  mem_eq(g.meta, e->meta, e->meta_len),
              "group record read back differently (rc %d)", rc);
        return;
    }
    case QLOG_GROUP_DEL: {
        uint32_t v;
        rc = qlog_get_u32(r, &v);
        CHECK(rc == 0 && v == w->u32, "group_del read back differently (rc %d)", rc);
        return;
    }
    case QLOG_PURGE: {
        uint64_t v;
        rc = qlog_get_u64(r, &v);
        CHECK(rc == 0 && v == w->u64, "purge read back differently (rc %d)", rc);
        return;
    }
    default: {
        uint64_t id;
        int64_t at;
        const char *key;
        size_t len;
        rc = qlog_get_idem(r, &id, &at, &key, &len);
        CHECK(rc == 0 && id == w->idem.id && at == w->idem.at && len == w->idem.len &&
                  mem_eq(key, w->idem.key, len),
              "idem read back differently (rc %d)", rc);
        return;
    }
    }
}

/* The image being mutated, and where each of its bytes was in the original image (DEAD for a
 * byte the mutations pushed in). A byte that moves keeps its origin, so a record is still the
 * written one when its bytes are that record's bytes, in order, unchanged. */
static struct {
    unsigned char *d;
    size_t *from;
    size_t n, cap;
} img;

static void img_reserve(size_t n)
{
    if (n > img.cap) {
        img.cap = n * 2;
        img.d = realloc(img.d, img.cap);
        img.from = realloc(img.from, img.cap * sizeof *img.from);
    }
}

/* Where written record w is now, intact; DEAD when the mutations reached it. */
static size_t img_find(const wrec_t *w, const unsigned char *orig)
{
    size_t p = 0;
    while (p < img.n && img.from[p] != w->off)
        p++;
    if (p == img.n || img.n - p < w->total)
        return DEAD;
    for (size_t i = 0; i < w->total; i++)
        if (img.from[p + i] != w->off + i || img.d[p + i] != orig[w->off + i])
            return DEAD;
    return p;
}

/* Whether image bytes [at, at + n) are, unchanged and in order, bytes of the payload of one
 * written record: message bodies, keys and attributes are any bytes a publisher sends, so they
 * can hold what looks like a whole record. */
static bool img_in_payload(size_t at, size_t n, const unsigned char *orig)
{
    size_t from = img.from[at];
    for (size_t i = 0; i < n; i++)
        if (img.from[at + i] != from + i || img.d[at + i] != orig[from + i])
            return false;
    for (size_t k = 0; k < rt.nw; k++) {
        const wrec_t *w = &rt.w[k];
        size_t end = w->off + w->total - 4; /* the payload's end */
        if (from < w->off + 8 || from + n > end)
            continue;
        /* records encoded with another salt must never be taken for records */
        return !w->nested || from + n <= end - w->pub.body_len;
    }
    return false;
}

static void mutate(rd_t *r, size_t nw, const unsigned char *orig)
{
    uint8_t kind = u8(r) % 7;
    size_t pos;
    if (img.n == 0)
        return;
    uint8_t where = u8(r);
    if (nw && (where & 1)) { /* near the head or the end of a written record */
        const wrec_t *w = &rt.w[(where >> 1) % nw];
        size_t base = img_find(w, orig);
        if (base == DEAD)
            base = w->off;
        uint8_t d = u8(r);
        pos = (d & 128) ? base + w->total - 1 - (d & 15) : base + (d & 127);
    } else {
        pos = (size_t)un(r, 2);
    }
    pos %= img.n;
    size_t len = 1 + u8(r) % 40;
    static const char *const kinds[] = {"flip", "set", "zero", "cut", "delete", "insert", "tail"};
    TRACE("mutation: %s at %zu (len %zu) of %zu bytes\n", kinds[kind], pos, len, img.n);
    switch (kind) {
    case 0: /* a flipped bit */
        img.d[pos] ^= (unsigned char)(1u << (len & 7));
        break;
    case 1: /* a written byte */
        img.d[pos] = u8(r);
        break;
    case 2: /* a zeroed range (a hole the file system filled) */
        if (len > img.n - pos)
            len = img.n - pos;
        memset(img.d + pos, 0, len);
        break;
    case 3: /* the end cut off (a torn write) */
        img.n = pos;
        break;
    case 4: /* a range lost: what follows moves back */
        if (len > img.n - pos)
            len = img.n - pos;
        memmove(img.d + pos, img.d + pos + len, img.n - pos - len);
        memmove(img.from + pos, img.from + pos + len, (img.n - pos - len) * sizeof *img.from);
        img.n -= len;
        break;
    case 6: /* a write torn inside the zero tail: from pos on only the zeros written ahead */
        memset(img.d + pos, 0, img.n - pos);
        img_reserve(img.n + 64 * len);
        memset(img.d + img.n, 0, 64 * len);
        for (size_t i = 0; i < 64 * len; i++)
            img.from[img.n + i] = DEAD;
        img.n += 64 * len;
        break;
    default: { /* a run of one byte value pushed in (it can never form a record) */
        unsigned char v = u8(r);
        img_reserve(img.n + len);
        memmove(img.d + pos + len, img.d + pos, img.n - pos);
        memmove(img.from + pos + len, img.from + pos, (img.n - pos) * sizeof *img.from);
        memset(img.d + pos, v, len);
        for (size_t i = 0; i < len; i++)
            img.from[pos + i] = DEAD;
        img.n += len;
        break;
    }
    }
}

static void round_trip(rd_t *r, bool mutations)
{
    static unsigned char tmp[MAX_RECS][2 * MSG_ATTRS_MAX + 2048];
    qlog_buf_t b;
    qlog_buf_init(&b);
    memset(&rt, 0, sizeof rt);
    uint64_t seq = pick_u64(r);
    uint32_t salt = (uint32_t)pick_u64(r);
    qlog_put_header(&b, seq, salt);
    CHECK(b.len == HDR && ref_header_ok(b.data, b.len) && le(b.data + 16, 8) == seq &&
              le(b.data + 24, 4) == salt && b.salt == salt,
          "qlog_put_header wrote a header the format does not accept");

    size_t nrec = 1 + u8(r) % MAX_RECS;
    for (size_t i = 0; i < nrec && r->n > 0; i++) {
        wrec_t *w = &rt.w[rt.nw];
        int t = 1 + u8(r) % QLOG_TYPE_MAX;
        gen_record(r, t, w, &b, tmp[rt.nw]);
        rt.nw++;
        TRACE("write %zu: type %d at %zu, %zu bytes%s\n", rt.nw - 1, t, w->off, w->total,
              t == QLOG_PUBLISH &&
                      w->pub.body == (rt.nnested ? rt.nested[rt.nnested - 1].data : NULL)
                  ? " (its body is an encoded record)"
                  : "");
        size_t plen = layout_len(w);
        const unsigned char *h = b.data + w->off;
        CHECK(w->total == OVH + plen, "type %d encoded as %zu bytes, the layout says %zu", t,
              w->total, OVH + plen);
        CHECK(le(h, 4) == plen && h[4] == t && h[5] == 0 && h[6] == 0 && h[7] == 0,
              "type %d: head is not the documented one", t);
        CHECK(le(h + 8 + plen, 4) == XXH32(h, 8 + plen, REC_SEED ^ salt), "type %d: bad checksum",
              t);
    }

    /* what was written reads back, record for record */
    img.n = 0;
    img_reserve(b.len);
    memcpy(img.d, b.data, b.len);
    for (size_t i = 0; i < b.len; i++)
        img.from[i] = i;
    img.n = b.len;
    unsigned char *exact = malloc(img.n);
    memcpy(exact, img.d, img.n);
    qlog_scan_result_t res;
    check_scan(exact, img.n, -1, &res);
    CHECK(!sc.overflow && res.records == rt.nw && res.damaged == 0 && res.tail_bad == 0 &&
              res.zeros == 0 && res.valid_end == img.n && res.seq == seq && res.salt == salt,
          "round trip: %zu of %zu records, %zu damaged, %zu torn", res.records, rt.nw, res.damaged,
          res.tail_bad);
    for (size_t i = 0; i < rt.nw; i++) {
        const ev_t *e = &sc.ev[i];
        CHECK(e->off == rt.w[i].off && OVH + e->len == rt.w[i].total,
              "record %zu read back at %zu (%zu bytes), written at %zu (%zu)", i, e->off,
              OVH + e->len, rt.w[i].off, rt.w[i].total);
        qlog_rec_t rec = {e->type, e->payload, e->len, e->off};
        compare_decoded(&rec, &rt.w[i]);
    }
    /* a callback that stops the scan stops it there */
    if (rt.nw)
        check_scan(exact, img.n, (long)(u8(r) % rt.nw), &res);
    free(exact);

    if (mutations) {
        size_t nmut = 1 + u8(r) % MAX_MUTS;
        for (size_t i = 0; i < nmut && r->n > 0; i++)
            mutate(r, rt.nw, b.data);
        exact = malloc(img.n ? img.n : 1);
        memcpy(exact, img.d, img.n);
        int rc = check_scan(exact, img.n, -1, &res);
        for (size_t i = 0; i < sc.nev; i++)
            TRACE("scan: %s at %zu, %zu bytes\n", sc.ev[i].damage ? "damage" : "record",
                  sc.ev[i].off, sc.ev[i].damage ? sc.ev[i].len : OVH + sc.ev[i].len);
        if (rc == 0 && !sc.overflow) {
            /* returned records that are not a written record where it now is: byte-identical
             * copies of one (a range lost between two equal records joins their halves into a
             * copy of either), or known false ones; they may hide the written records they
             * overlap */
            size_t other[MAX_RECS + 8][2], nother = 0;
            for (size_t i = 0; i < sc.nev; i++) {
                const ev_t *e = &sc.ev[i];
                if (e->damage)
                    continue;
                size_t k = 0, total = OVH + e->len;
                while (k < rt.nw && img.from[e->off] != rt.w[k].off)
                    k++;
                if (k < rt.nw && img_find(&rt.w[k], b.data) == e->off && rt.w[k].total == total)
                    continue;
                k = 0;
                while (k < rt.nw && (rt.w[k].total != total ||
                                     memcmp(exact + e->off, b.data + rt.w[k].off, total) != 0))
                    k++;
                bool known = k == rt.nw && img_in_payload(e->off, total, b.data);
                CHECK(k < rt.nw || known,
                      "record returned at offset %zu (type %d, %zu bytes) was never written: "
                      "damaged bytes returned as data%s",
                      e->off, e->type, total, "");
                if (nother < sizeof other / sizeof other[0]) {
                    other[nother][0] = e->off;
                    other[nother++][1] = e->off + total;
                }
            }
            for (size_t k = 0; k < rt.nw; k++) {
                const wrec_t *w = &rt.w[k];
                size_t at = img_find(w, b.data);
                if (at == DEAD)
                    continue; /* the mutations reached it */
                size_t i = 0;
                while (i < sc.nev && (sc.ev[i].damage || sc.ev[i].off != at))
                    i++;
                bool hidden = false;
                for (size_t j = 0; j < nother; j++)
                    hidden = hidden || (other[j][0] < at + w->total && at < other[j][1]);
                CHECK(i < sc.nev || hidden,
                      "intact record %zu (type %d, now at %zu, %zu bytes) was not returned", k,
                      w->type, at, w->total);
            }
        }
        free(exact);
    }

    qlog_buf_cleanup(&b);
    for (size_t i = 0; i < rt.nnested; i++)
        qlog_buf_cleanup(&rt.nested[i]);
}

/* ---------------------------------------------------------------- entry points */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(LOG_ERROR, LOG_TEXT);
    trace = getenv("FUZZ_QLOG_TRACE") != NULL;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i * 131 + 7);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 8 && memcmp(data, "SLUICELG", 8) == 0) {
        scan_copy(data, size, -1);
        return 0;
    }
    if (size == 0)
        return 0;
    rd_t r = {data + 1, size - 1};
    switch (data[0] & 3) {
    case 0:
        scan_copy(data + 1, size - 1, -1);
        break;
    case 1: {
        qlog_buf_t b;
        qlog_buf_init(&b);
        qlog_put_header(&b, 1, 0);
        unsigned char *p = malloc(HDR + size - 1);
        memcpy(p, b.data, HDR);
        memcpy(p + HDR, data + 1, size - 1);
        qlog_scan_result_t res;
        check_scan(p, HDR + size - 1, -1, &res);
        free(p);
        qlog_buf_cleanup(&b);
        break;
    }
    default:
        round_trip(&r, (data[0] & 3) == 3);
        break;
    }
    return 0;
}
