/*
 * qlog.h — the on-disk format of the `file` storage: segment files of checksummed records, their
 * encoding, and a scanner that reads them back, cutting a torn tail and stepping over damage.
 *
 * The byte layout is specified in qlog.c's opening comment and in docs/storage-format.md; the two
 * are kept in sync (STYLE rule 11). Everything here is pure (no I/O): the storage backend reads
 * and writes the bytes, this module says what they mean, and a fuzzer feeds it garbage.
 */
#ifndef SL_QLOG_H
#define SL_QLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define QLOG_VERSION 1
#define QLOG_HEADER_SIZE 32
#define QLOG_RECORD_OVERHEAD 12       /* 8-byte head + 4-byte checksum */
#define QLOG_MAX_PAYLOAD (512u << 20) /* larger than any record we write */

enum qlog_type {
    QLOG_PUBLISH = 1,   /* a message */
    QLOG_FINISH = 2,    /* a group is done with messages (ack, dead-lettered) */
    QLOG_FAIL = 3,      /* a delivery failed: attempts, visible again at, last error */
    QLOG_DROP = 4,      /* messages removed for every group (retention, expiry, redrive) */
    QLOG_QUEUE = 5,     /* the queue's settings and counters (a checkpoint) */
    QLOG_GROUP = 6,     /* a consumer group exists */
    QLOG_GROUP_DEL = 7, /* a consumer group was deleted */
    QLOG_PURGE = 8,     /* every message up to an id was deleted */
    QLOG_IDEM = 9,      /* an idempotency key, carried over from a deleted segment */
    QLOG_TYPE_MAX = 9,
};

/* A growable byte buffer records are encoded into. */
typedef struct qlog_buf {
    unsigned char *data;
    size_t len, cap;
    size_t rec_start; /* where the record being built began */
    uint32_t salt;    /* mixed into record checksums: the salt of the segment they go to */
} qlog_buf_t;

void qlog_buf_init(qlog_buf_t *b);
void qlog_buf_cleanup(qlog_buf_t *b);

/* Empties b, keeping its memory. */
void qlog_buf_reset(qlog_buf_t *b);

/* Writes a segment header for segment number seq with checksum salt (see qlog.c), and makes salt
 * the buffer's salt for the records that follow. */
void qlog_put_header(qlog_buf_t *b, uint64_t seq, uint32_t salt);

/* ---------------------------------------------------------------- records, as values */

typedef struct qlog_publish {
    uint64_t id;
    int64_t published_at, deliver_at, expires_at; /* 0 = none */
    uint32_t only_group;
    const char *key, *idem;
    size_t key_len, idem_len;
    const unsigned char *attrs, *body;
    size_t attrs_len, body_len;
} qlog_publish_t;

typedef struct qlog_ids {
    uint32_t gid;   /* FINISH */
    uint8_t reason; /* FINISH: 0 acked, 1 dead-lettered; DROP: enum engine_drop_reason */
    uint32_t n;
    const unsigned char *ids; /* n little-endian u64; read with qlog_id() */
} qlog_ids_t;

typedef struct qlog_fail {
    uint32_t gid;
    uint64_t id;
    uint32_t attempts;
    int64_t visible_at; /* 0: visible at once */
    int64_t at;         /* when the delivery failed */
    uint8_t event;      /* 0 lease expired, 1 released */
    const char *error;  /* not NUL-terminated */
    size_t error_len;
} qlog_fail_t;

typedef struct qlog_queue {
    int64_t created_at;
    uint64_t last_id;
    engine_settings_t settings;
    bool dlq_auto;
    uint64_t published, acked, expired, dropped, dead_lettered;
} qlog_queue_t;

typedef struct qlog_group {
    uint32_t gid;
    uint64_t start_id;
    int64_t created_at;
    const char *name;
    size_t name_len;
    uint32_t max_in_flight, max_attempts;
    const char *meta; /* not NUL-terminated; NULL when meta_len is 0 */
    size_t meta_len;
} qlog_group_t;

/* Encoders append one whole record (head, payload, checksum) to b. */
void qlog_put_publish(qlog_buf_t *b, const qlog_publish_t *p);
void qlog_put_ids(qlog_buf_t *b, int type, const qlog_ids_t *ids, const uint64_t *values);
void qlog_put_fail(qlog_buf_t *b, const qlog_fail_t *f);
void qlog_put_queue(qlog_buf_t *b, const qlog_queue_t *q);
void qlog_put_group(qlog_buf_t *b, const qlog_group_t *g);
void qlog_put_group_del(qlog_buf_t *b, uint32_t gid);
void qlog_put_purge(qlog_buf_t *b, uint64_t up_to);
void qlog_put_idem(qlog_buf_t *b, uint64_t id, int64_t published_at, const char *key, size_t len);

/* A record found by the scanner: its type and payload, borrowed from the scanned bytes. */
typedef struct qlog_rec {
    int type;
    const unsigned char *payload;
    size_t len;
    size_t offset; /* of the record in the segment */
} qlog_rec_t;

/* Decoders read a record's payload. They return 0, or SL_EIO when the payload does not have the
 * shape of its type (a record from a newer version, or a bug: the checksum already held). */
int qlog_get_publish(const qlog_rec_t *r, qlog_publish_t *p);
int qlog_get_ids(const qlog_rec_t *r, qlog_ids_t *ids);
int qlog_get_fail(const qlog_rec_t *r, qlog_fail_t *f);
int qlog_get_queue(const qlog_rec_t *r, qlog_queue_t *q);
int qlog_get_group(const qlog_rec_t *r, qlog_group_t *g);
int qlog_get_u32(const qlog_rec_t *r, uint32_t *v); /* GROUP_DEL */
int qlog_get_u64(const qlog_rec_t *r, uint64_t *v); /* PURGE */
int qlog_get_idem(const qlog_rec_t *r, uint64_t *id, int64_t *published_at, const char **key,
                  size_t *len);

/* The i-th id of a FINISH or DROP record. */
uint64_t qlog_id(const qlog_ids_t *ids, uint32_t i);

/* ---------------------------------------------------------------- scanning */

/* What the scanner reports besides records. */
typedef struct qlog_scan_cb {
    void *ctx;
    /* A valid record. Return 0 to go on, anything else to stop the scan with that value. */
    int (*record)(void *ctx, const qlog_rec_t *r);
    /* Bytes [offset, offset + len) hold no valid record and valid records follow them. */
    void (*damaged)(void *ctx, size_t offset, size_t len);
} qlog_scan_cb_t;

typedef struct qlog_scan_result {
    uint64_t seq;     /* from the header */
    uint32_t salt;    /* from the header */
    size_t valid_end; /* end of the last valid record: where appending may resume */
    size_t tail_bad;  /* bytes after valid_end that hold no valid record (a torn tail); the
                         zero tail after them is not counted */
    bool tail_whole;  /* ...but they begin with a whole record (plausible head, length inside the
                         bytes before the zero tail) that fails only its checksum: damage, not a
                         torn write */
    size_t zeros;     /* the zero tail: space written ahead, after valid_end + tail_bad */
    size_t records;   /* valid records seen */
    size_t damaged;   /* bytes reported through damaged() */
} qlog_scan_result_t;

/* Scans a whole segment image of size bytes. Returns 0 (with *res filled), SL_EIO when the
 * header is missing or invalid (the file is not a segment of this version), or the non-zero value
 * a record callback returned. A checksum failure in the middle is reported through damaged() and
 * the scan resumes at the next offset where a valid record starts; bad bytes that run to the end
 * are the torn tail (res->tail_bad), not damage. Zero bytes from a record boundary to the end are
 * the zero tail (res->zeros): no record, no damage. */
int qlog_scan(const unsigned char *data, size_t size, const qlog_scan_cb_t *cb,
              qlog_scan_result_t *res);

#endif
