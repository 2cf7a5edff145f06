/*
 * fuzz_recovery.c — libFuzzer harness for the recovery of the `file` storage (src/store_file.c):
 * a data directory built from the input is opened with store_open(), used, closed, and opened
 * again.
 *
 * Input. Bytes 0..6 are the run's settings (the H_ enum): fsync policy, segment_bytes (down to
 * 64 bytes, so that rotation, segment deletion and compaction happen), the engine's defaults,
 * the requests of the first session, an injected storage fault and a body size. The rest writes
 * the data directory, in one of two forms. Segment images: bytes that begin with the magic are
 * segment files of queue q0, one per magic, as they are (real .seg files are seeds this way). A
 * program: each opcode starts a segment file (one of five queue directories, including a
 * dead-letter queue, a 128-byte name and an invalid one; a sequence number from a table with 0
 * and UINT64_MAX; canonical file names and names that only look like segments; a header with a
 * checkpoint, a bare header, the header of another segment, or none) or appends to the current
 * one: a record of any type made valid with the qlog_put_* encoders, its fields from small tables
 * (ids mostly in publish order, a few groups, times around now and at the extremes, settings at
 * their limits, strings at and past their limits), raw input bytes, a flipped bit, a cut, or a
 * copy of earlier bytes. Files go to a directory under /dev/shm (tmpfs) when it exists.
 *
 * Then:
 *
 *   1. store_open() the `file` store on a fresh uv_loop_t; it must succeed. List the queues; for
 *      each, its info (with the damaged ranges found) and a peek of every group (ids in order,
 *      none above the queue's last id). Lease, then ack, release (with a delay and an error),
 *      undo, or a pop's prepared ack followed by its ack or undo; a garbage receipt; publish one
 *      message (a key, an idempotency key up to 256 bytes, a delay or a TTL as the input says),
 *      maybe a batch; maybe purge, create and delete groups, change settings and dead-letter,
 *      redrive, delete a queue. Every request must be answered exactly once within 5 s (no hang),
 *      and ends in a status it may have (storage errors only under an injected fault). List the
 *      queues again, then store_close() and run the loop until it is empty; uv_loop_close() must
 *      then succeed (no handle left behind), and no file descriptor may be left open on the data
 *      directory.
 *   2. Every segment file the first session created or changed is read back with qlog_scan(): its
 *      header must be valid and it must end with a whole record (a clean close leaves no torn
 *      tail).
 *   3. store_open() again and list the queues: the total number of messages did not grow
 *      (nothing comes back from nowhere); every group is still there, with the same id, and with
 *      the same lag where the queue has as many messages as before; every
 *      queue that was published to still exists and its last id is at least the largest id
 *      handed out (ids are never reused); the message the first session published (answered 0)
 *      and could peek is still there with the same body and key, unless a TTL, retention, a
 *      purge, a dead letter or a delete may have removed it; a new publish succeeds, with a new
 *      id. Close again; remove the directory.
 *
 * Everything is freed, so LeakSanitizer sees leaks; getrandom() is replaced with a constant as in
 * fuzz_engine.c. Storage faults are injected here rather than through fault.c's environment
 * variables (whose call counters are process-wide and never reset): the harness replaces open(),
 * close(), write() and fdatasync() and, when the input asks, makes the Nth write to a segment
 * fail with ENOSPC or be cut short, or the Nth fdatasync fail with EIO, once or from then on.
 * Which write is the Nth depends on how the storage thread groups changes into batches, so a
 * fault-dependent failure may need a few runs to show again; when a check fails, the storage's
 * log for the input is printed with it.
 *
 * No known bug is worked around (fuzz/README.md lists those found and fixed).
 *
 * FUZZ_RECOVERY_TRACE=1 prints the directory built (every record), the requests and their
 * results, the queues and what peek shows, and the storage's log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <uv.h>

#include "dur.h"
#include "engine.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "qlog.h"
#include "store.h"
#include "fuzz_input.h"

static void dump_log(void);

#define FUZZ_NAME "fuzz_recovery"
#define FUZZ_ON_FAIL() dump_log()
#include "fuzz_check.h"

#define TRACE(...)                        \
    do {                                  \
        if (trace)                        \
            fprintf(stderr, __VA_ARGS__); \
    } while (0)

#define AWAIT_MS 5000
#define TICK_MS 20
#define MAX_SEGS 10
#define MAX_FDS 4096
#define NQN 5
#define HOUR 3600000LL
#define DAY 86400000LL

static bool trace;

/* ---------------------------------------------------------------- system call seams */

/* Which descriptors are segment files (opened through open() below), and the injected fault. */
static struct {
    atomic_bool seg[MAX_FDS];
    int kind; /* 0 none, 1 write fails (ENOSPC), 2 write cut short, 3 fdatasync fails (EIO) */
    bool repeat;
    long at;
    atomic_long writes, syncs;
    atomic_bool fired;
} fs;

static bool is_seg_path(const char *path)
{
    size_t n = strlen(path);
    return (n > 4 && strcmp(path + n - 4, ".seg") == 0) ||
           (n > 8 && strcmp(path + n - 8, ".seg.tmp") == 0);
}

int open(const char *path, int flags, ...);
int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    bool seg = is_seg_path(path);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
    if (fd >= 0 && fd < MAX_FDS)
        fs.seg[fd] = seg;
    return fd;
}

int close(int fd);
int close(int fd)
{
    if (fd >= 0 && fd < MAX_FDS)
        fs.seg[fd] = false;
    return (int)syscall(SYS_close, fd);
}

static bool fault_now(atomic_long *counter, int kind1, int kind2)
{
    if (fs.kind != kind1 && fs.kind != kind2)
        return false;
    long n = atomic_fetch_add(counter, 1) + 1;
    if (fs.repeat ? n >= fs.at : n == fs.at) {
        fs.fired = true;
        return true;
    }
    return false;
}

ssize_t write(int fd, const void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n)
{
    if (fd >= 0 && fd < MAX_FDS && fs.seg[fd] && fault_now(&fs.writes, 1, 2)) {
        if (fs.kind == 1 || n < 2) {
            errno = ENOSPC;
            return -1;
        }
        n /= 2; /* half of it reaches the file; the next call finds the disk full */
        ssize_t w = (ssize_t)syscall(SYS_write, fd, buf, n);
        if (!fs.repeat)
            fs.at = atomic_load(&fs.writes) + 1;
        return w;
    }
    return (ssize_t)syscall(SYS_write, fd, buf, n);
}

int fdatasync(int fd);
int fdatasync(int fd)
{
    if (fd >= 0 && fd < MAX_FDS && fs.seg[fd] && fault_now(&fs.syncs, 3, 3)) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

/* Replaces libc's getrandom (the engine's lease counter and the hash seed) so that runs are
 * reproducible. */
ssize_t getrandom(void *buf, size_t len, unsigned int flags);
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    (void)flags;
    memset(buf, 0x5a, len);
    return (ssize_t)len;
}

/* ---------------------------------------------------------------- input */

/* rd_t, u8, un, take: fuzz_input.h */

/* ---------------------------------------------------------------- names and values */

#define L128                                                                                   \
    "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ" \
    "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
static const char *const qnames[NQN] = {"q0", "q1", "q0.dlq", L128, "bad name"};
static const char *const gnames[6] = {"default", "g1", "g2", "bad name", "", L128};
static const char *const dlqs[6] = {"", "q0.dlq", "q1", "q0", "bad name", "x"};
static const uint64_t seg_seqs[8] = {1, 2, 3, 4, 16, 0, UINT64_MAX, 5};
/* the first is what the storage picks with the getrandom() below */
static const uint32_t salts[4] = {0x5a5a5a5a, 0, 1, 0xdeadbeef};

static int64_t now0; /* the wall clock when the input started */
static const uint64_t seg_bytes[8] = {0, 64, 200, 512, 1024, 4096, 1, 100000};
static uint8_t h_cfg; /* the input's H_CFG byte */

static int64_t pick_time(rd_t *r)
{
    static const int64_t rel[6] = {-DAY, -HOUR, -1000, HOUR, DAY, 0};
    uint8_t b = u8(r);
    switch (b & 7) {
    case 0:
        return 0;
    case 7:
        return (b & 8) ? INT64_MAX : (b & 16) ? INT64_MIN : -1;
    default:
        return now0 + rel[(b >> 3) % 6];
    }
}

/* ---------------------------------------------------------------- building the directory */

typedef struct {
    int qi;
    char name[64];
    unsigned char *d;
    size_t n, cap;
} seg_t;

static struct {
    char root[128]; /* the process's temporary directory */
    char dir[160];  /* this input's data directory */
    seg_t segs[MAX_SEGS];
    size_t nsegs;
    uint64_t next_id[NQN];
    qlog_buf_t enc; /* one record at a time */
} B;

/* The valid GROUP records (gid, name) of each queue's files before the first session: see
 * acks_inexact(). Filled by note_record(). */
static struct {
    struct {
        uint32_t gid;
        char name[ENGINE_NAME_MAX + 1];
    } grp[32];
    size_t ngrp;
    bool top_gid; /* a record names group id UINT32_MAX */
    bool damaged; /* a file has damage, a torn tail or no valid header */
} G[NQN];

/* Whether what queue qi's log says of its groups' acks is not exact, so that the second
 * session's group ids, messages and lags are not compared with the first's (the restore must
 * cope all the same: no crash, no leak, no answered publish lost, checked always):
 *   - a file has damage (a torn tail, damaged bytes, no valid header): the storage keeps every
 *     readable record and promises no more (docs/storage-format.md), so a group's ack may be
 *     gone and its message delivered again, at least once;
 *   - a record names group id UINT32_MAX: a default group the log lost then takes the lowest
 *     id no group has, which other records may name (the server warns of it);
 *   - GROUP records contradict each other, one name with two ids or one id with two names: the
 *     server writes that only when a deleted group's name is used again, and the harness does
 *     not follow the order of records across files. */
static bool acks_inexact(int qi)
{
    if (G[qi].damaged || G[qi].top_gid)
        return true;
    for (size_t a = 0; a < G[qi].ngrp; a++)
        for (size_t b = a + 1; b < G[qi].ngrp; b++)
            if ((G[qi].grp[a].gid == G[qi].grp[b].gid) !=
                (strcmp(G[qi].grp[a].name, G[qi].grp[b].name) == 0))
                return true;
    return false;
}

static void seg_append(seg_t *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->d = realloc(s->d, s->cap);
    }
    memcpy(s->d + s->n, p, n);
    s->n += n;
}

/* Moves what the encoders wrote into B.enc to the end of s. */
static void seg_flush(seg_t *s)
{
    seg_append(s, B.enc.data, B.enc.len);
    qlog_buf_reset(&B.enc);
}

static seg_t *seg_begin(rd_t *r)
{
    uint8_t a = u8(r), c = u8(r);
    uint32_t salt = salts[(a >> 6) & 3];
    if (B.nsegs == MAX_SEGS)
        return &B.segs[B.nsegs - 1];
    seg_t *s = &B.segs[B.nsegs++];
    memset(s, 0, sizeof *s);
    s->qi = (a & 63) % NQN;
    uint64_t seq = seg_seqs[c & 7];
    unsigned long long q = (unsigned long long)seq;
    switch ((c >> 3) & 7) {
    case 5: /* read as segment `seq` by the directory scan's sscanf, but not its name */
        snprintf(s->name, sizeof s->name, "%016llx.sex", q);
        break;
    case 6:
        snprintf(s->name, sizeof s->name, "%014llx.segxx", q & 0xffffffffffffffull);
        break;
    case 7: /* an unfinished compaction */
        snprintf(s->name, sizeof s->name, "%016llx.seg.tmp", q);
        break;
    default:
        snprintf(s->name, sizeof s->name, "%016llx.seg", q);
        break;
    }
    switch (c >> 6) {
    case 0: { /* a header and a checkpoint, as the storage starts every segment */
        qlog_put_header(&B.enc, seq, salt);
        qlog_queue_t qr = {.created_at = now0 - HOUR,
                           .last_id = B.next_id[s->qi],
                           .settings = {.visibility_ms = 30000,
                                        .max_attempts = 3,
                                        .max_in_flight_per_key = 1,
                                        .dedup_ms = 300000},
                           .dlq_auto = true};
        qlog_put_queue(&B.enc, &qr);
        qlog_group_t g = {1, 0, now0 - HOUR, "default", 7};
        qlog_put_group(&B.enc, &g);
        break;
    }
    case 1:
        qlog_put_header(&B.enc, seq, salt);
        break;
    case 2: /* a header naming another segment */
        qlog_put_header(&B.enc, seq + 1, salt);
        break;
    default: /* no header: what follows is whatever the input says (records as if salt 0) */
        B.enc.salt = 0;
        break;
    }
    seg_flush(s);
    return s;
}

static uint64_t pick_id(rd_t *r, int qi)
{
    uint8_t b = u8(r);
    uint64_t last = B.next_id[qi];
    switch (b & 3) {
    case 0:
    case 1:
        return last > (uint64_t)(b >> 2) ? last - (b >> 2) : 1;
    case 2:
        return 1 + (b >> 2) % 8;
    default: /* at the top of the id space too */
        return (b & 4) ? UINT64_MAX - (b >> 3) : (uint64_t)(b >> 2);
    }
}

static void put_publish(rd_t *r, seg_t *s)
{
    static const char *const keys[4] = {"", "k1", "k2", L128};
    static const unsigned char attrs_ok[] = "\x0c"
                                            "content-type\x0a\x00"
                                            "text/plain";
    static char idem[ENGINE_IDEM_KEY_MAX];
    uint8_t a = u8(r), c = u8(r);
    qlog_publish_t p = {0};
    if (a & 1)
        p.id = pick_id(r, s->qi); /* two different PUBLISH records for one id (damage) */
    else
        p.id = ++B.next_id[s->qi];
    if (p.id > B.next_id[s->qi])
        B.next_id[s->qi] = p.id;
    p.published_at = (a & 2) ? pick_time(r) : now0 - 1000;
    p.deliver_at = (a & 4) ? pick_time(r) : 0;
    p.expires_at = (a & 8) ? pick_time(r) : 0;
    p.only_group = (a & 16) ? u8(r) % 4 : 0;
    p.key = keys[(a >> 5) & 3];
    p.key_len = strlen(p.key);
    if (a & 128) {
        memset(idem, 'I', sizeof idem);
        idem[0] = (char)('0' + c % 3);
        p.idem = idem;
        p.idem_len = (c & 4) ? ENGINE_IDEM_KEY_MAX : 2;
    }
    switch ((c >> 3) & 3) {
    case 1:
        p.attrs = attrs_ok;
        p.attrs_len = sizeof attrs_ok - 1;
        break;
    case 2: /* attribute bytes that may not parse: recovery must leave such a message out */
        p.attrs = take(r, u8(r) % 24, &p.attrs_len);
        break;
    default:
        break;
    }
    p.body = take(r, u8(r) % 48, &p.body_len);
    qlog_put_publish(&B.enc, &p);
}

static void put_record(rd_t *r, seg_t *s, int type)
{
    static const uint32_t gids[8] = {1, 2, 3, 0, 7, UINT32_MAX, 1, 2};
    int qi = s->qi;
    switch (type) {
    case QLOG_PUBLISH:
        put_publish(r, s);
        break;
    case QLOG_FINISH:
    case QLOG_DROP: {
        uint8_t a = u8(r);
        uint64_t ids[3];
        qlog_ids_t x = {.gid = gids[a & 7], .reason = (uint8_t)((a >> 3) % 4), .n = 1 + a / 86};
        for (uint32_t i = 0; i < x.n; i++)
            ids[i] = pick_id(r, qi);
        qlog_put_ids(&B.enc, type, &x, ids);
        break;
    }
    case QLOG_FAIL: {
        static const uint32_t attempts[8] = {1, 2, 3, 9, 10, 11, UINT32_MAX, 0};
        static char long_error[600];
        uint8_t a = u8(r);
        qlog_fail_t f = {.gid = gids[a & 7],
                         .id = pick_id(r, qi),
                         .attempts = attempts[(a >> 3) & 7],
                         .visible_at = (a & 64) ? pick_time(r) : 0,
                         .at = pick_time(r),
                         .event = (a & 128) ? u8(r) : 1};
        uint8_t e = u8(r);
        if (e == 255) { /* longer than ENGINE_ERROR_MAX */
            memset(long_error, 'E', sizeof long_error);
            f.error = long_error;
            f.error_len = sizeof long_error;
        } else {
            f.error = (const char *)take(r, e % 32, &f.error_len);
        }
        qlog_put_fail(&B.enc, &f);
        break;
    }
    case QLOG_QUEUE: {
        int64_t vis[8] = {30000, 0, 1, -1, INT64_MAX, 5, 30000, 1000};
        static const uint32_t maxatt[4] = {10, 1, 0, UINT32_MAX};
        static const uint32_t mifk[4] = {1, 2, 0, UINT32_MAX};
        static const uint64_t maxmsg[4] = {0, 1, 3, 0};
        static const uint64_t maxbytes[4] = {0, 10, 1000, 0};
        int64_t age[8] = {0, 1000, HOUR, INT64_MAX, -1, 0, 0, DAY};
        int64_t dedup[4] = {300000, 0, -1, INT64_MAX};
        uint8_t a = u8(r), c = u8(r), d = u8(r);
        qlog_queue_t q = {.created_at = pick_time(r),
                          .last_id = (d & 1) ? pick_id(r, qi) : B.next_id[qi],
                          .settings = {.visibility_ms = vis[a & 7],
                                       .max_attempts = maxatt[(a >> 3) & 3],
                                       .max_in_flight_per_key = mifk[(a >> 5) & 3],
                                       .max_messages = maxmsg[c & 3],
                                       .max_bytes = maxbytes[(c >> 2) & 3],
                                       .max_age_ms = age[(c >> 4) & 7],
                                       .dedup_ms = dedup[(d >> 1) & 3]},
                          .dlq_auto = (a & 128) != 0,
                          .published = (d & 8) ? UINT64_MAX : d >> 4,
                          .acked = d >> 5,
                          .expired = (c & 128) ? UINT64_MAX : 0,
                          .dropped = d >> 6,
                          .dead_lettered = (d & 16) ? 1 : 0};
        snprintf(q.settings.dlq, sizeof q.settings.dlq, "%s", dlqs[u8(r) % 6]);
        qlog_put_queue(&B.enc, &q);
        break;
    }
    case QLOG_GROUP: {
        static const uint64_t starts[4] = {0, 1, 0, UINT64_MAX};
        uint8_t a = u8(r);
        const char *name = gnames[(a >> 3) % 6];
        qlog_group_t g = {.gid = gids[a & 7],
                          .start_id = (a & 64) ? B.next_id[qi] + 1 : starts[a >> 6],
                          .created_at = pick_time(r),
                          .name = name,
                          .name_len = strlen(name)};
        qlog_put_group(&B.enc, &g);
        break;
    }
    case QLOG_GROUP_DEL: {
        uint32_t gid = gids[u8(r) & 7];
        qlog_put_group_del(&B.enc, gid);
        break;
    }
    case QLOG_PURGE:
        qlog_put_purge(&B.enc, pick_id(r, qi));
        break;
    default: { /* IDEM: a key, maybe longer than the API allows */
        static char key[300];
        uint8_t a = u8(r);
        memset(key, 'I', sizeof key);
        key[0] = (char)('0' + a % 3);
        size_t len = (a & 4) ? ((a & 8) ? sizeof key : ENGINE_IDEM_KEY_MAX) : 2;
        qlog_put_idem(&B.enc, pick_id(r, qi), pick_time(r), key, len);
        break;
    }
    }
    seg_flush(s);
}

/* The other form of the directory program: segment images as they are, each beginning with the
 * magic, the first cut short where the next magic starts; they go to q0 as segments 1, 2, ...
 * Real .seg files after the settings bytes are seeds in this form. */
static void build_images(rd_t *r)
{
    while (r->n > 0 && B.nsegs < MAX_SEGS) {
        size_t n = 8;
        while (n < r->n && !(r->n - n >= 8 && memcmp(r->p + n, "SLUICELG", 8) == 0))
            n++;
        if (n > r->n)
            n = r->n;
        seg_t *s = &B.segs[B.nsegs++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%016llx.seg", (unsigned long long)B.nsegs);
        size_t got;
        const unsigned char *p = take(r, n, &got);
        seg_append(s, p, got);
    }
}

/* Runs the directory program until the input is used up. */
static void build_program(rd_t *r)
{
    seg_t *s = NULL;
    if (r->n >= 8 && memcmp(r->p, "SLUICELG", 8) == 0) {
        build_images(r);
        return;
    }
    while (r->n > 0) {
        uint8_t op = u8(r);
        if (s == NULL || op >= 0xf0) {
            s = seg_begin(r);
            if (op >= 0xf0)
                continue;
        }
        switch (op % 12) {
        case 0:
        case 1:
        case 2:
            put_record(r, s, QLOG_PUBLISH);
            break;
        case 3:
        case 4:
            put_record(r, s, QLOG_FINISH);
            break;
        case 5:
            put_record(r, s, QLOG_FAIL);
            break;
        case 6:
            put_record(r, s, QLOG_DROP);
            break;
        case 7:
            put_record(r, s, QLOG_QUEUE + u8(r) % 5); /* QUEUE .. IDEM */
            break;
        case 8: { /* raw bytes */
            size_t got;
            const unsigned char *p = take(r, u8(r) % 64, &got);
            seg_append(s, p, got);
            break;
        }
        case 9: /* a flipped bit */
            if (s->n) {
                size_t pos = ((size_t)u8(r) << 8 | u8(r)) % s->n;
                s->d[pos] ^= (unsigned char)(1u << (op >> 4 & 7));
            }
            break;
        case 10: /* a cut: the end of the file is lost */
            s->n = s->n ? ((size_t)u8(r) << 8 | u8(r)) % (s->n + 1) : 0;
            break;
        default: { /* a copy of earlier bytes (a record written twice, or torn and redone) */
            size_t from = s->n ? ((size_t)u8(r) << 8 | u8(r)) % s->n : 0, len = u8(r);
            if (len > s->n - from)
                len = s->n - from;
            if (len) {
                unsigned char *tmp = malloc(len);
                memcpy(tmp, s->d + from, len);
                seg_append(s, tmp, len);
                free(tmp);
            }
            break;
        }
        }
    }
}

static void path_fmt(char *out, size_t size, const char *a, const char *b, const char *c)
{
    int n = snprintf(out, size, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
    CHECK(n > 0 && (size_t)n < size, "path too long");
}

/* Writes the segments of the program to B.dir/queues/<queue>/<name> (a later segment of the
 * same name replaces an earlier one). */
static void write_dir(void)
{
    char path[512];
    CHECK(mkdir(B.dir, 0755) == 0, "mkdir %s: %s", B.dir, strerror(errno));
    path_fmt(path, sizeof path, B.dir, "queues", NULL);
    CHECK(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
    for (size_t i = 0; i < B.nsegs; i++) {
        const seg_t *s = &B.segs[i];
        char qdir[400];
        snprintf(path, sizeof path, "%s/queues", B.dir);
        path_fmt(qdir, sizeof qdir, path, qnames[s->qi], NULL);
        if (mkdir(qdir, 0755) < 0)
            CHECK(errno == EEXIST, "mkdir %s: %s", qdir, strerror(errno));
        path_fmt(path, sizeof path, qdir, s->name, NULL);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
        CHECK(s->n == 0 || write(fd, s->d, s->n) == (ssize_t)s->n, "write %s", path);
        close(fd);
        TRACE("file %s/%s: %zu bytes\n", qnames[s->qi], s->name, s->n);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int data_fds(void);

/* ---------------------------------------------------------------- requests */

typedef struct call {
    store_req_t req;
    pool_t pool;
    int calls;
    struct call *next;
} call_t;

static struct {
    uv_loop_t loop;
    store_t *store;
    uv_timer_t guard; /* ticks every TICK_MS while a request is awaited */
    int ticks;
    call_t *calls;
    store_config_t cfg;
} S;

static void on_guard(uv_timer_t *t)
{
    (void)t;
    S.ticks++;
}

static void on_req(store_req_t *req)
{
    call_t *c = req->data;
    c->calls++;
}

static call_t *call_new(int op, const char *queue, const char *group)
{
    call_t *c = calloc(1, sizeof *c);
    pool_init(&c->pool);
    store_req_init(&c->req, op, on_req, c, &c->pool);
    c->req.queue = queue;
    c->req.group = group;
    c->next = S.calls;
    S.calls = c;
    return c;
}

/* Submits c and runs the loop until it is answered: it must be, once, within AWAIT_MS. */
static call_t *exec(call_t *c)
{
    store_submit(S.store, &c->req);
    S.ticks = 0;
    uv_update_time(&S.loop);
    uv_timer_start(&S.guard, on_guard, TICK_MS, TICK_MS);
    while (c->calls == 0 && S.ticks * TICK_MS < AWAIT_MS)
        uv_run(&S.loop, UV_RUN_ONCE);
    uv_timer_stop(&S.guard);
    CHECK(c->calls == 1, "request %d on '%s' answered %d times within %d ms", c->req.op,
          c->req.queue ? c->req.queue : "", c->calls, AWAIT_MS);
    TRACE("request %d on '%.20s' group '%s': %s\n", c->req.op, c->req.queue ? c->req.queue : "",
          c->req.group ? c->req.group : "", c->req.status ? err_text(c->req.status) : "ok");
    return c;
}

/* After store_close(): every request was answered exactly once. */
static void calls_free(void)
{
    while (S.calls) {
        call_t *c = S.calls;
        S.calls = c->next;
        CHECK(c->calls == 1, "request %d on '%s': its callback ran %d times by store_close()",
              c->req.op, c->req.queue ? c->req.queue : "", c->calls);
        store_req_cleanup(&c->req);
        pool_cleanup(&c->pool);
        free(c);
    }
}

/* A status a request may end with: storage errors only when a fault was injected. */
static bool ok_or_storage(int status)
{
    return status == 0 || (status == SL_ESTORAGE && fs.kind != 0);
}

static void store_start(void)
{
    CHECK(uv_loop_init(&S.loop) == 0, "uv_loop_init");
    int err = store_open(&S.cfg, &S.loop, &S.store);
    CHECK(err == 0 && S.store != NULL, "store_open of %s failed: %s", B.dir, err_text(err));
    uv_timer_init(&S.loop, &S.guard);
}

static void store_stop(void)
{
    store_close(S.store);
    S.store = NULL;
    uv_close((uv_handle_t *)&S.guard, NULL);
    int64_t deadline = dur_now_ms() + AWAIT_MS;
    while (uv_run(&S.loop, UV_RUN_NOWAIT) != 0) {
        CHECK(dur_now_ms() < deadline, "the loop still has active handles after store_close");
        usleep(200);
    }
    CHECK(uv_loop_close(&S.loop) == 0, "uv_loop_close: handles left open after store_close");
    calls_free();
    int open_files = data_fds();
    CHECK(open_files == 0,
          "%d file descriptors into the data directory are open after store_close()", open_files);
}

/* What the queues hold. */
typedef struct {
    uint64_t messages; /* over every queue */
    bool exists[NQN];
    uint64_t last_id[NQN];
    engine_settings_t set[NQN];
    uint64_t msgs[NQN];
    struct {
        char name[ENGINE_NAME_MAX + 1];
        uint32_t gid;
        uint64_t lag;
    } groups[NQN][8]; /* the first groups of each queue */
    size_t ngroups[NQN];
} snap_t;

static void snap(snap_t *sn, bool browse)
{
    memset(sn, 0, sizeof *sn);
    call_t *c = exec(call_new(STORE_QUEUE_LIST, NULL, NULL));
    CHECK(c->req.status == 0, "queue list failed: %s", err_text(c->req.status));
    for (size_t i = 0; i < c->req.u.queue_list.n; i++) {
        const engine_queue_info_t *qi = &c->req.u.queue_list.queues[i];
        sn->messages += qi->messages;
        TRACE("queue '%.20s': %llu messages, last id %llu\n", qi->name,
              (unsigned long long)qi->messages, (unsigned long long)qi->last_id);
        CHECK(qi->delayed <= qi->messages, "queue '%s': %llu delayed of %llu messages", qi->name,
              (unsigned long long)qi->delayed, (unsigned long long)qi->messages);
        int qk = -1;
        for (int k = 0; k < NQN; k++) {
            if (strcmp(qi->name, qnames[k]) == 0) {
                sn->exists[k] = true;
                sn->last_id[k] = qi->last_id;
                sn->set[k] = qi->settings;
                sn->msgs[k] = qi->messages;
                qk = k;
            }
        }
        call_t *info = exec(call_new(STORE_QUEUE_INFO, qi->name, NULL));
        CHECK(info->req.status == 0, "info of listed queue '%s': %s", qi->name,
              err_text(info->req.status));
        for (size_t g = 0; qk >= 0 && g < info->req.u.queue_info.ngroups && g < 8; g++) {
            const engine_group_info_t *gi = &info->req.u.queue_info.groups[g];
            snprintf(sn->groups[qk][g].name, sizeof sn->groups[qk][g].name, "%s", gi->name);
            sn->groups[qk][g].gid = gi->gid;
            sn->groups[qk][g].lag = gi->lag;
            sn->ngroups[qk] = g + 1;
        }
        if (!browse)
            continue;
        for (size_t d = 0; d < info->req.ndamage; d++)
            TRACE("  damage in '%.20s': segment %llu, offset %llu, %llu bytes\n", qi->name,
                  (unsigned long long)info->req.damage[d].segment,
                  (unsigned long long)info->req.damage[d].offset,
                  (unsigned long long)info->req.damage[d].bytes);
        const engine_queue_info_t *in = &info->req.u.queue_info;
        for (size_t g = 0; g < in->ngroups; g++) {
            call_t *pk = call_new(STORE_PEEK, qi->name, in->groups[g].name);
            pk->req.u.peek.limit = 64;
            exec(pk);
            CHECK(pk->req.status == 0, "peek of group '%s': %s", in->groups[g].name,
                  err_text(pk->req.status));
            uint64_t prev = 0;
            for (size_t k = 0; k < pk->req.u.peek.n; k++) {
                const engine_peek_item_t *it = &pk->req.u.peek.out[k];
                CHECK(it->msg && it->msg->id > prev && it->msg->id <= in->last_id,
                      "peek of '%s'/'%s': id %llu after %llu (last id %llu)", qi->name,
                      in->groups[g].name, (unsigned long long)(it->msg ? it->msg->id : 0),
                      (unsigned long long)prev, (unsigned long long)in->last_id);
                prev = it->msg->id;
                TRACE("  peek '%.20s'/'%s': id %llu, %s, attempts %u\n", qi->name,
                      in->groups[g].name, (unsigned long long)it->msg->id,
                      engine_state_name(it->state), it->attempts);
            }
        }
    }
}

/* Whether a message with id, body and key is in queue (as any of its groups sees it). */
static bool find_message(const char *queue, uint64_t id, const unsigned char *body, size_t len,
                         const char *key)
{
    call_t *info = exec(call_new(STORE_QUEUE_INFO, queue, NULL));
    if (info->req.status != 0)
        return false;
    const engine_queue_info_t *in = &info->req.u.queue_info;
    for (size_t g = 0; g < in->ngroups; g++) {
        call_t *pk = call_new(STORE_PEEK, queue, in->groups[g].name);
        pk->req.u.peek.after = id - 1;
        pk->req.u.peek.limit = 1;
        exec(pk);
        if (pk->req.status != 0 || pk->req.u.peek.n == 0)
            continue;
        const msg_t *m = pk->req.u.peek.out[0].msg;
        if (m->id != id)
            continue;
        CHECK(m->len == len && memcmp(msg_body((msg_t *)m), body, len) == 0,
              "message %llu of '%s' came back with another body", (unsigned long long)id, queue);
        CHECK(m->key_len == strlen(key) && memcmp(msg_key(m), key, m->key_len) == 0,
              "message %llu of '%s' came back with another key", (unsigned long long)id, queue);
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- the sessions */

/* Settings bytes. */
enum {
    H_CFG,   /* fsync policy, segment_bytes, engine defaults */
    H_LEASE, /* queue, max, group, visibility of the first lease */
    H_ACK,   /* ack, release (delay, error) or undo of its leases; a garbage receipt */
    H_PUB,   /* queue, key, idempotency key, delay and TTL of the publish */
    H_EXTRA, /* batch, purge, group put and delete, dead letter, redrive, queue delete */
    H_FAULT, /* injected fault: kind, once or from then on, at which call */
    H_BODY,  /* body size of the publishes */
    H_N
};

static struct {
    uint8_t h[H_N];
    /* the message published in the first session */
    bool published;
    int pq;
    uint64_t pid;
    unsigned char body[256];
    size_t body_len;
    const char *key;
    bool seen; /* peeked in the first session */
    bool keep; /* nothing may remove it: no TTL, retention, purge, delete or dead letter */
    uint64_t maxid[NQN]; /* largest id published to each queue */
    bool deleted[NQN];
    uint64_t total1; /* messages at the end of the first session */
} R;

static snap_t S1; /* the queues at the end of the first session */

static const char *const lease_groups[4] = {NULL, "g1", "g2", "nope"};
static char idem_keys[4][ENGINE_IDEM_KEY_MAX + 1];

/* The ids queue can still hand out (ENGINE_ID_MAX is the last). */
static uint64_t ids_left(const char *queue)
{
    call_t *info = exec(call_new(STORE_QUEUE_INFO, queue, NULL));
    CHECK(info->req.status == 0, "info of '%s': %s", queue, err_text(info->req.status));
    uint64_t last = info->req.u.queue_info.last_id;
    return last < ENGINE_ID_MAX ? ENGINE_ID_MAX - last : 0;
}

/* Whether status is a publish of n messages to queue refused because its ids are used up (ids
 * are never reused: a log near the top of the id space leaves a queue none). */
static bool ids_used_up(int status, const char *queue, size_t n)
{
    if (status != SL_EIDS)
        return false;
    uint64_t left = ids_left(queue);
    CHECK(left < n, "publish of %zu to '%s' refused as out of ids with %llu ids left", n, queue,
          (unsigned long long)left);
    return true;
}

static void publish_done(call_t *c, int qi)
{
    store_req_t *req = &c->req;
    CHECK(ok_or_storage(req->status) || ids_used_up(req->status, req->queue, req->u.publish.n),
          "publish to '%s': %s", req->queue, err_text(req->status));
    for (size_t i = 0; i < req->u.publish.n; i++) {
        engine_pub_t *p = &req->u.publish.items[i];
        msg_unref(p->msg); /* NULL when the engine took it (engine.h) */
        if (req->status != 0)
            continue;
        CHECK(p->id > 0 && p->id <= UINT64_MAX - 1, "publish id %llu", (unsigned long long)p->id);
        if (!p->duplicate && p->id > R.maxid[qi])
            R.maxid[qi] = p->id;
    }
}

/* The publish whose message must survive the restart. */
static void publish_one(void)
{
    const uint8_t *h = R.h;
    static const char *const keys[4] = {"", "k1", "k2", L128};
    int pq = h[H_PUB] & 3;
    call_t *pc = call_new(STORE_PUBLISH, qnames[pq], NULL);
    engine_pub_t *it = pool_calloc(&pc->pool, 1, sizeof *it);
    R.body_len = h[H_BODY];
    for (size_t i = 0; i < R.body_len; i++)
        R.body[i] = (unsigned char)('a' + (i + h[H_PUB]) % 26);
    R.key = keys[(h[H_PUB] >> 2) & 3];
    it->msg = msg_new(R.body, R.body_len, R.key, strlen(R.key), NULL, 0);
    int ik = (h[H_PUB] >> 4) & 3;
    if (ik) {
        it->idem_key = idem_keys[ik];
        it->idem_len = strlen(idem_keys[ik]);
    }
    if (h[H_PUB] & 64)
        it->deliver_at = dur_now_ms() + HOUR;
    if (h[H_PUB] & 128)
        it->ttl_ms = HOUR;
    pc->req.u.publish.items = it;
    pc->req.u.publish.n = 1;
    exec(pc);
    publish_done(pc, pq);
    if (pc->req.status == 0 && !it->duplicate) {
        R.published = true;
        R.pq = pq;
        R.pid = it->id;
        R.keep = !(h[H_PUB] & 128);
    }
}

static void session_one(void)
{
    const uint8_t *h = R.h;
    snap_t s0, *s1 = &S1;
    store_start();
    snap(&s0, true);

    /* lease, then end the leases */
    int lq = h[H_LEASE] & 3;
    call_t *lc = call_new(STORE_LEASE, qnames[lq], lease_groups[(h[H_LEASE] >> 4) & 3]);
    static const int64_t vis[4] = {-1, 0, HOUR, 30000};
    lc->req.u.lease.max = 1 + ((h[H_LEASE] >> 2) & 3);
    lc->req.u.lease.visibility_ms = vis[h[H_LEASE] >> 6];
    exec(lc);
    CHECK(lc->req.status == 0 || lc->req.status == SL_ENOQUEUE || lc->req.status == SL_ENOGROUP,
          "lease: %s", err_text(lc->req.status));
    size_t n = lc->req.status == 0 ? lc->req.u.lease.n : 0;
    CHECK(n <= lc->req.u.lease.max, "lease of %zu returned %zu", lc->req.u.lease.max, n);
    if (n) {
        /* ack, release or undo; or a pop's prepared ack, then its ack or its undo */
        static const int ops[4] = {STORE_ACK, STORE_RELEASE, STORE_UNDO, STORE_ACK_PREPARE};
        const char **rc = pool_calloc(&lc->pool, n, sizeof *rc);
        for (size_t i = 0; i < n; i++)
            rc[i] = lc->req.u.lease.out[i].receipt;
        call_t *ac = call_new(ops[h[H_ACK] & 3], qnames[lq], NULL);
        ac->req.u.ack.receipts = rc;
        ac->req.u.ack.n = n;
        ac->req.u.ack.delay_ms = (h[H_ACK] & 4) ? HOUR : 0;
        ac->req.u.ack.error = (h[H_ACK] & 8) ? "upstream timeout" : NULL;
        exec(ac);
        CHECK(ok_or_storage(ac->req.status), "ack/release/undo: %s", err_text(ac->req.status));
        if ((h[H_ACK] & 3) == 3 && ac->req.status == 0) {
            call_t *fc = call_new((h[H_ACK] & 32) ? STORE_UNDO : STORE_ACK, qnames[lq], NULL);
            fc->req.u.ack.receipts = rc;
            fc->req.u.ack.n = n;
            exec(fc);
            CHECK(ok_or_storage(fc->req.status), "ack/undo after prepare: %s",
                  err_text(fc->req.status));
        }
    }
    if (h[H_ACK] & 16) { /* a receipt that was never handed out */
        static const char *garbage[1] = {"1-1-5a5a5a5a"};
        call_t *ac = call_new(STORE_ACK, qnames[lq], NULL);
        ac->req.u.ack.receipts = garbage;
        ac->req.u.ack.n = 1;
        exec(ac);
        CHECK(ac->req.status == 0 || ac->req.status == SL_ENOQUEUE || ac->req.status == SL_ESTORAGE,
              "garbage ack: %s", err_text(ac->req.status));
    }

    publish_one();

    /* more, as the input says */
    uint8_t x = h[H_EXTRA];
    if (x & 1) { /* a batch, to fill small segments */
        call_t *bc = call_new(STORE_PUBLISH, "q0", NULL);
        engine_pub_t *items = pool_calloc(&bc->pool, 3, sizeof *items);
        static unsigned char big[600];
        memset(big, 'b', sizeof big);
        for (int i = 0; i < 3; i++)
            items[i].msg =
                msg_new(big, (size_t)(h[H_BODY] * (i + 1)) % sizeof big, NULL, 0, NULL, 0);
        bc->req.u.publish.items = items;
        bc->req.u.publish.n = 3;
        exec(bc);
        publish_done(bc, 0);
    }
    if (x & 2) {
        call_t *c = exec(call_new(STORE_QUEUE_PURGE, "q1", NULL));
        CHECK(ok_or_storage(c->req.status) || c->req.status == SL_ENOQUEUE, "purge: %s",
              err_text(c->req.status));
        if (R.pq == 1)
            R.keep = false;
    }
    if (x & 4) {
        call_t *c = call_new(STORE_GROUP_PUT, "q0", "g1");
        c->req.u.group.from_latest = (x & 8) != 0;
        exec(c);
        /* SL_ETOOMANYGROUPS: the log holds the most groups, or names group id UINT32_MAX */
        CHECK(ok_or_storage(c->req.status) || c->req.status == SL_ENOQUEUE ||
                  c->req.status == SL_ETOOMANYGROUPS,
              "group put: %s", err_text(c->req.status));
    }
    if (x & 16) {
        call_t *c = exec(call_new(STORE_GROUP_DELETE, "q0", "g2"));
        CHECK(ok_or_storage(c->req.status) || c->req.status == SL_ENOQUEUE ||
                  c->req.status == SL_ENOGROUP,
              "group delete: %s", err_text(c->req.status));
    }
    if (x & 32) { /* one attempt, then the dead-letter queue */
        call_t *c = call_new(STORE_QUEUE_PUT, "q0", NULL);
        c->req.u.queue_put.set.max_attempts = 1;
        snprintf(c->req.u.queue_put.set.dlq, sizeof c->req.u.queue_put.set.dlq, "q0.dlq");
        c->req.u.queue_put.mask = ENGINE_SET_MAX_ATTEMPTS | ENGINE_SET_DLQ;
        exec(c);
        CHECK(ok_or_storage(c->req.status), "queue put: %s", err_text(c->req.status));
        call_t *l2 = call_new(STORE_LEASE, "q0", NULL);
        l2->req.u.lease.max = 2;
        l2->req.u.lease.visibility_ms = 30000;
        exec(l2);
        if (l2->req.status == 0 && l2->req.u.lease.n) {
            const char **rc = pool_calloc(&l2->pool, l2->req.u.lease.n, sizeof *rc);
            for (size_t i = 0; i < l2->req.u.lease.n; i++)
                rc[i] = l2->req.u.lease.out[i].receipt;
            call_t *rl = call_new(STORE_RELEASE, "q0", NULL);
            rl->req.u.ack.receipts = rc;
            rl->req.u.ack.n = l2->req.u.lease.n;
            exec(rl);
            CHECK(ok_or_storage(rl->req.status), "release: %s", err_text(rl->req.status));
        }
        if (R.pq == 0 || R.pq == 2)
            R.keep = false;
    }
    if (x & 64) {
        call_t *c = call_new(STORE_REDRIVE, "q0.dlq", NULL);
        exec(c);
        /* SL_EIDS: an origin queue's ids are used up (its dead letters stay) */
        CHECK(ok_or_storage(c->req.status) || c->req.status == SL_ENOQUEUE ||
                  c->req.status == SL_EIDS,
              "redrive: %s", err_text(c->req.status));
        if (R.pq == 2)
            R.keep = false;
    }
    if (x & 128) {
        call_t *c = exec(call_new(STORE_QUEUE_DELETE, "q1", NULL));
        CHECK(ok_or_storage(c->req.status) || c->req.status == SL_ENOQUEUE, "delete: %s",
              err_text(c->req.status));
        if (c->req.status == 0)
            R.deleted[1] = true;
    }
    for (int i = 0; i < 3; i++) /* let due timers run */
        uv_run(&S.loop, UV_RUN_NOWAIT);

    snap(s1, false);
    if (R.published) {
        const engine_settings_t *st = &s1->set[R.pq];
        R.keep = R.keep && !R.deleted[R.pq] && st->max_messages == 0 && st->max_bytes == 0 &&
                 st->max_age_ms == 0;
        R.seen = find_message(qnames[R.pq], R.pid, R.body, R.body_len, R.key);
    }
    R.total1 = s1->messages;
    store_stop();
}

/* ---------------------------------------------------------------- files between the sessions */

typedef struct {
    char path[400];
    off_t size;
    uint64_t sum;
} fent_t;

static fent_t files0[MAX_SEGS * 2];
static size_t nfiles0;

/* What a queue's files say before the first session, per file. */
static struct {
    uint64_t seq, purge, min_pub;
} notes[NQN][MAX_SEGS * 2];
static size_t nnotes[NQN];

static int note_qi; /* the queue whose file note_record() reads */

static int note_record(void *ctx, const qlog_rec_t *r)
{
    uint64_t v, *n = ctx; /* [purge, min_pub] */
    uint32_t gid = 0;     /* the group id the record names, if any */
    qlog_publish_t p;
    qlog_group_t g;
    qlog_ids_t ids;
    qlog_fail_t f;
    switch (r->type) {
    case QLOG_PURGE:
        if (qlog_get_u64(r, &v) == 0 && v > n[0])
            n[0] = v;
        break;
    case QLOG_PUBLISH:
        if (qlog_get_publish(r, &p) == 0) {
            if (p.id < n[1])
                n[1] = p.id;
            gid = p.only_group;
        }
        break;
    case QLOG_FINISH:
    case QLOG_DROP:
        if (qlog_get_ids(r, &ids) == 0)
            gid = ids.gid;
        break;
    case QLOG_FAIL:
        if (qlog_get_fail(r, &f) == 0)
            gid = f.gid;
        break;
    case QLOG_GROUP_DEL:
        if (qlog_get_u32(r, &gid) != 0)
            gid = 0;
        break;
    case QLOG_GROUP:
        if (qlog_get_group(r, &g) != 0)
            break;
        gid = g.gid;
        if (g.name_len <= ENGINE_NAME_MAX && G[note_qi].ngrp < SL_ARRAY_LEN(G[note_qi].grp)) {
            G[note_qi].grp[G[note_qi].ngrp].gid = g.gid;
            memcpy(G[note_qi].grp[G[note_qi].ngrp].name, g.name, g.name_len);
            G[note_qi].grp[G[note_qi].ngrp++].name[g.name_len] = '\0';
        }
        break;
    }
    if (gid == UINT32_MAX)
        G[note_qi].top_gid = true;
    return 0;
}

/* Whether a queue's files hold a PUBLISH that a PURGE of an earlier segment covers: the storage
 * never writes that (ids only grow from segment to segment) and damage cannot make it; once the
 * storage deletes the segment of the purge as dead, the message comes back. Outside what the
 * growth check can claim, so it is skipped for such a directory. */
static bool purge_before_publish(int k)
{
    for (size_t a = 0; a < nnotes[k]; a++)
        for (size_t b = 0; b < nnotes[k]; b++)
            if (notes[k][b].seq > notes[k][a].seq && notes[k][b].min_pub <= notes[k][a].purge)
                return true;
    return false;
}

static bool canonical_seg(const char *name)
{
    if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0)
        return false;
    for (int i = 0; i < 16; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return true;
}

static unsigned char *read_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    CHECK(fstat(fd, &st) == 0, "fstat %s", path);
    *size = (size_t)st.st_size;
    unsigned char *d = malloc(*size ? *size : 1);
    CHECK(*size == 0 || read(fd, d, *size) == (ssize_t)*size, "read %s", path);
    close(fd);
    return d;
}

/* A file's length without the zeros that end it: a zero tail (src/qlog.c) the server writes
 * ahead or cuts off is no change to the file. */
static size_t content_len(const unsigned char *d, size_t n)
{
    while (n > 0 && d[n - 1] == 0)
        n--;
    return n;
}

static uint64_t content_sum(const unsigned char *d, size_t n)
{
    uint64_t sum = 1469598103934665603ull;
    n = content_len(d, n);
    for (size_t i = 0; i < n; i++)
        sum = (sum ^ d[i]) * 1099511628211ull;
    return sum;
}

/* Calls fn for every canonical segment file of every queue. */
static void each_segment(void (*fn)(const char *path))
{
    char qroot[300];
    snprintf(qroot, sizeof qroot, "%s/queues", B.dir);
    DIR *dq = opendir(qroot);
    struct dirent *qe;
    while (dq && (qe = readdir(dq)) != NULL) {
        if (qe->d_name[0] == '.')
            continue;
        char qdir[700];
        path_fmt(qdir, sizeof qdir, qroot, qe->d_name, NULL);
        DIR *ds = opendir(qdir);
        struct dirent *se;
        while (ds && (se = readdir(ds)) != NULL) {
            if (!canonical_seg(se->d_name))
                continue;
            char path[800];
            path_fmt(path, sizeof path, qdir, se->d_name, NULL);
            fn(path);
        }
        if (ds)
            closedir(ds);
    }
    if (dq)
        closedir(dq);
}

/* FUZZ_RECOVERY_TRACE: one line per record of a segment. */
static int trace_record(void *ctx, const qlog_rec_t *r)
{
    (void)ctx;
    qlog_publish_t p;
    qlog_ids_t ids;
    qlog_group_t g;
    qlog_fail_t f;
    uint64_t v;
    if (qlog_get_publish(r, &p) == 0)
        fprintf(stderr, "  %6zu PUBLISH id %llu only_group %u\n", r->offset,
                (unsigned long long)p.id, p.only_group);
    else if (qlog_get_ids(r, &ids) == 0)
        fprintf(stderr, "  %6zu %s gid %u reason %u ids %llu..(%u)\n", r->offset,
                r->type == QLOG_FINISH ? "FINISH" : "DROP", ids.gid, ids.reason,
                ids.n ? (unsigned long long)qlog_id(&ids, 0) : 0ULL, ids.n);
    else if (qlog_get_group(r, &g) == 0)
        fprintf(stderr, "  %6zu GROUP gid %u '%.*s' start %llu\n", r->offset, g.gid,
                (int)g.name_len, g.name, (unsigned long long)g.start_id);
    else if (qlog_get_fail(r, &f) == 0)
        fprintf(stderr, "  %6zu FAIL gid %u id %llu attempts %u event %u\n", r->offset, f.gid,
                (unsigned long long)f.id, f.attempts, f.event);
    else if (r->type == QLOG_PURGE && qlog_get_u64(r, &v) == 0)
        fprintf(stderr, "  %6zu PURGE up to %llu\n", r->offset, (unsigned long long)v);
    else
        fprintf(stderr, "  %6zu type %d, %zu bytes\n", r->offset, r->type, r->len);
    return 0;
}

static void remember_file(const char *path)
{
    if (trace) {
        size_t n;
        unsigned char *d = read_file(path, &n);
        qlog_scan_cb_t cb = {NULL, trace_record, NULL};
        qlog_scan_result_t res;
        fprintf(stderr, "before the first session: %s\n", path);
        qlog_scan(d, n, &cb, &res);
        free(d);
    }
    if (nfiles0 == sizeof files0 / sizeof files0[0])
        return;
    fent_t *f = &files0[nfiles0++];
    snprintf(f->path, sizeof f->path, "%s", path);
    size_t n;
    unsigned char *d = read_file(path, &n);
    for (int k = 0; k < NQN; k++) {
        char dir[300];
        snprintf(dir, sizeof dir, "/%s/", qnames[k]);
        if (!strstr(path, dir) || nnotes[k] == MAX_SEGS * 2)
            continue;
        uint64_t note[2] = {0, UINT64_MAX};
        qlog_scan_cb_t cb = {note, note_record, NULL};
        note_qi = k;
        qlog_scan_result_t res;
        const char *name = strrchr(path, '/') + 1;
        if ((qlog_scan(d, n, &cb, &res) != 0 || res.damaged > 0 || res.tail_bad > 0) &&
            canonical_seg(name))
            G[k].damaged = true;
        notes[k][nnotes[k]].seq = strtoull(name, NULL, 16);
        notes[k][nnotes[k]].purge = note[0];
        notes[k][nnotes[k]++].min_pub = note[1];
    }
    f->size = (off_t)content_len(d, n);
    f->sum = content_sum(d, n);
    free(d);
}

/* A segment file the first session created or wrote to must read back whole. */
static void check_written(const char *path)
{
    size_t n;
    unsigned char *d = read_file(path, &n);
    uint64_t sum = content_sum(d, n);
    bool changed = true;
    for (size_t i = 0; i < nfiles0 && changed; i++)
        if (strcmp(files0[i].path, path) == 0)
            changed = files0[i].size != (off_t)content_len(d, n) || files0[i].sum != sum;
    if (changed) {
        qlog_scan_cb_t cb = {NULL, trace ? trace_record : NULL, NULL};
        qlog_scan_result_t res;
        int rc = qlog_scan(d, n, &cb, &res);
        TRACE("written by the first session: %s, %zu bytes, %zu records, %zu damaged\n", path, n,
              res.records, res.damaged);
        CHECK(rc == 0, "%s (%zu bytes), written by the first session, has no valid header%s", path,
              n, n >= 8 && memcmp(d, "SLUICELG", 8) != 0 ? " (records were written over it)" : "");
        CHECK(res.tail_bad == 0, "%s ends in %zu bytes that are no record after a clean close",
              path, res.tail_bad);
    }
    free(d);
}

static void session_two(bool lost_ok, const snap_t *s1)
{
    snap_t s2;
    store_start();
    snap(&s2, true);
    /* a group stays, and keeps its id: FINISH and FAIL records, and messages for one group, name
     * it. Unless the disk refused the last changes to the end (lost_ok): the group, or its
     * queue, may then have been made by a change that was answered 503 and never written. */
    for (int k = 0; k < NQN && !lost_ok; k++) {
        for (size_t a = 0; a < s1->ngroups[k] && !R.deleted[k]; a++) {
            bool found = false;
            for (size_t b = 0; b < s2.ngroups[k]; b++)
                found = found || strcmp(s1->groups[k][a].name, s2.groups[k][b].name) == 0;
            CHECK(found || s2.ngroups[k] == 8, "group '%s' of '%s' is gone after the restart",
                  s1->groups[k][a].name, qnames[k]);
        }
        for (size_t a = 0; a < s1->ngroups[k] && !acks_inexact(k); a++) {
            for (size_t b = 0; b < s2.ngroups[k]; b++) {
                if (strcmp(s1->groups[k][a].name, s2.groups[k][b].name) == 0)
                    CHECK(s1->groups[k][a].gid == s2.groups[k][b].gid,
                          "group '%s' of '%s' had id %u before the restart and %u after it",
                          s1->groups[k][a].name, qnames[k], s1->groups[k][a].gid,
                          s2.groups[k][b].gid);
            }
        }
    }
    /* with the same messages, every group has the same ones left to do */
    bool inexact = false;
    for (int k = 0; k < NQN; k++)
        inexact = inexact || acks_inexact(k);
    for (int k = 0; k < NQN && !lost_ok; k++) {
        if (!s2.exists[k] || s2.msgs[k] != s1->msgs[k] || acks_inexact(k))
            continue;
        for (size_t a = 0; a < s1->ngroups[k]; a++)
            for (size_t b = 0; b < s2.ngroups[k]; b++)
                if (strcmp(s1->groups[k][a].name, s2.groups[k][b].name) == 0)
                    CHECK(s1->groups[k][a].lag == s2.groups[k][b].lag,
                          "group '%s' of '%s': lag %llu before the restart, %llu after it, with "
                          "the same %llu messages",
                          s1->groups[k][a].name, qnames[k],
                          (unsigned long long)s1->groups[k][a].lag,
                          (unsigned long long)s2.groups[k][b].lag, (unsigned long long)s2.msgs[k]);
    }
    if (!lost_ok && !inexact)
        CHECK(s2.messages <= R.total1,
              "%llu messages after the restart, %llu before: messages came back from nowhere",
              (unsigned long long)s2.messages, (unsigned long long)R.total1);
    for (int k = 0; k < NQN; k++) {
        if (R.maxid[k] == 0 || R.deleted[k])
            continue;
        CHECK(s2.exists[k], "queue '%s' was published to and is gone after the restart", qnames[k]);
        CHECK(s2.last_id[k] >= R.maxid[k],
              "queue '%s': last id %llu after the restart, but id %llu was handed out: ids "
              "would be reused",
              qnames[k], (unsigned long long)s2.last_id[k], (unsigned long long)R.maxid[k]);
    }
    if (R.published && R.seen && R.keep)
        CHECK(find_message(qnames[R.pq], R.pid, R.body, R.body_len, R.key),
              "message %llu of '%s', published (answered 0) and peeked before the restart, is "
              "missing after it",
              (unsigned long long)R.pid, qnames[R.pq]);
    /* the restarted store can write: a publish goes through (no fault is injected now) */
    call_t *pc = call_new(STORE_PUBLISH, "q0", NULL);
    engine_pub_t *it = pool_calloc(&pc->pool, 1, sizeof *it);
    it->msg = msg_new("after", 5, NULL, 0, NULL, 0);
    pc->req.u.publish.items = it;
    pc->req.u.publish.n = 1;
    exec(pc);
    msg_unref(it->msg);
    CHECK(pc->req.status == 0 || ids_used_up(pc->req.status, "q0", 1),
          "publish after the restart: %s", err_text(pc->req.status));
    CHECK(pc->req.status != 0 || !R.maxid[0] || it->id > R.maxid[0],
          "publish after the restart got id %llu, but %llu was handed out before it",
          (unsigned long long)it->id, (unsigned long long)R.maxid[0]);
    store_stop();
}

/* ---------------------------------------------------------------- entry points */

/* The storage logs (errors and warnings) of the input being run go to a file, printed when a
 * check fails: fault-dependent failures can need a few runs to show again. */
static char log_path[200];

static void log_restart(void)
{
    if (trace)
        return; /* the log goes to stderr as it is written */
    log_close_file();
    unlink(log_path);
    if (log_open_file(log_path) != 0)
        log_setup(-1, LOG_TEXT);
}

static void dump_log(void)
{
    if (trace || log_path[0] == '\0')
        return;
    FILE *f = fopen(log_path, "r");
    char line[512];
    fprintf(stderr, "fuzz_recovery: the storage's log for this input:\n");
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
}

/* The number of file descriptors open on files in the input's data directory, each printed:
 * after store_close() there must be none. */
static int data_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char path[300], to[600];
    size_t dlen = strlen(B.dir);
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, to, sizeof to - 1);
        to[k > 0 ? k : 0] = '\0';
        if (strncmp(to, B.dir, dlen) != 0 || to[dlen] != '/')
            continue;
        n++;
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, to);
    }
    if (d)
        closedir(d);
    return n;
}

static void cleanup_root(void)
{
    if (B.root[0])
        nftw(B.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trace = getenv("FUZZ_RECOVERY_TRACE") != NULL;
    log_setup(trace ? LOG_INFO : LOG_WARN, LOG_TEXT);
    unsetenv("SLUICE_FAULT_WRITE"); /* faults come from the input, through the seams above */
    unsetenv("SLUICE_FAULT_SHORT");
    unsetenv("SLUICE_FAULT_FSYNC");
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(B.root, sizeof B.root, "%s/fuzz_recovery.XXXXXX", base);
    CHECK(mkdtemp(B.root) != NULL, "mkdtemp %s: %s", B.root, strerror(errno));
    atexit(cleanup_root);
    snprintf(log_path, sizeof log_path, "%s/log", B.root);
    snprintf(idem_keys[1], sizeof idem_keys[1], "i1");
    memset(idem_keys[2], 'I', ENGINE_IDEM_KEY_MAX - 1);
    memset(idem_keys[3], 'J', ENGINE_IDEM_KEY_MAX);
    qlog_buf_init(&B.enc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const policies[4] = {"always", "interval", "never", "always"};
    if (size < H_N)
        return 0;
    memset(&R, 0, sizeof R);
    memcpy(R.h, data, H_N);
    h_cfg = R.h[H_CFG];
    for (size_t i = 0; i < B.nsegs; i++)
        free(B.segs[i].d);
    B.nsegs = 0;
    memset(B.next_id, 0, sizeof B.next_id);
    memset(G, 0, sizeof G);
    now0 = dur_now_ms();
    snprintf(B.dir, sizeof B.dir, "%s/d", B.root);

    log_restart();
    rd_t r = {data + H_N, size - H_N};
    build_program(&r);
    write_dir();

    uint8_t c = R.h[H_CFG];
    memset(&S, 0, sizeof S);
    S.cfg.name = "file";
    S.cfg.data_dir = B.dir;
    S.cfg.fsync = policies[c & 3];
    S.cfg.fsync_interval_ms = 5;
    S.cfg.segment_bytes = seg_bytes[(c >> 2) & 7];
    S.cfg.engine.max_queues = 100;
    S.cfg.engine.defaults = (engine_settings_t){.visibility_ms = 30000,
                                                .max_attempts = (c & 32) ? 1 : 10,
                                                .max_in_flight_per_key = 1,
                                                .max_messages = (c & 128) ? 2 : 0,
                                                .dedup_ms = (c & 64) ? 0 : 300000};
    uint8_t f = R.h[H_FAULT];
    fs.kind = (f & 3) == 0 || (f & 0x80) ? 0 : f & 3; /* most runs have none */
    fs.repeat = (f & 4) != 0;
    fs.at = 1 + ((f >> 3) & 15);
    fs.writes = fs.syncs = 0;
    fs.fired = false;

    nfiles0 = 0;
    memset(nnotes, 0, sizeof nnotes);
    each_segment(remember_file);
    session_one();
    bool lost_ok = fs.fired && fs.repeat; /* what the full disk refused at close is lost */
    for (int k = 0; k < NQN; k++)
        lost_ok = lost_ok || purge_before_publish(k);
    fs.kind = 0; /* the second session runs without faults */
    fs.fired = false;
    each_segment(check_written);
    session_two(lost_ok, &S1);

    nftw(B.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
