/*
 * inspect.h — the offline checker of a `file` storage data directory, behind `sluice inspect`.
 *
 * inspect_run() reads every segment file of every queue with the server's own scanner
 * (qlog_scan), replays the records the way recovery does, and returns a report: per queue its
 * segment files, record counts, message counts, an estimate of the live messages, the settings
 * of the last checkpoint and the consumer groups, and for the whole directory every problem
 * found (damage, torn tails, stray files...). The report is plain data; cmd_inspect.c prints it.
 *
 * It never writes: files are opened read-only (without updating their access time where the
 * kernel allows it), and the LOCK file is only looked up in /proc/locks, never locked, so it is
 * safe to run beside a running sluiced (the report is then a best-effort snapshot).
 */
#ifndef SL_CLI_INSPECT_H
#define SL_CLI_INSPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qlog.h"

/* How bad a problem is. The command's exit status is decided by the worst one found. */
enum inspect_severity {
    INSPECT_NOTE = 0, /* worth knowing, nothing is wrong (a write in progress) */
    INSPECT_WARNING,  /* something recovery tidies up or ignores; no record is lost */
    INSPECT_DAMAGE,   /* bytes or records that recovery will skip, ignore or cut off */
    INSPECT_ERROR,    /* a file could not be read: the check is incomplete */
    INSPECT_SEVERITIES
};

/* What a problem is; inspect_kind_name() gives the name used in the output. */
enum inspect_kind {
    INSPECT_BAD_HEADER,            /* damage: not a segment of this version */
    INSPECT_DAMAGED,               /* damage: a range holding no valid record */
    INSPECT_TORN_TAIL,             /* damage: bad bytes at the end of the newest segment */
    INSPECT_UNREADABLE_RECORD,     /* damage: checksum holds, payload does not decode */
    INSPECT_READ_ERROR,            /* error: a file or directory could not be read */
    INSPECT_INCOMPLETE_SEGMENT,    /* warning: newest segment shorter than its header */
    INSPECT_STRAY,                 /* warning: a file recovery does not expect */
    INSPECT_UNFINISHED_COMPACTION, /* warning: a *.tmp file recovery deletes */
    INSPECT_TRASH,                 /* warning: an interrupted queue deletion */
    INSPECT_MISSING_SEGMENTS,      /* warning: a gap in the segment numbers */
    INSPECT_NO_SEGMENTS,           /* warning: a queue directory without segments */
    INSPECT_NO_CHECKPOINT,         /* warning: no readable QUEUE record */
    INSPECT_NO_GROUPS,             /* warning: messages but no consumer group */
    INSPECT_SEQ_MISMATCH,          /* warning: header number differs from the file name */
    INSPECT_WRITE_IN_PROGRESS,     /* note: a partial record at the end, sluiced running */
    INSPECT_VANISHED,              /* note: a file deleted between listing and reading */
    INSPECT_KINDS
};

/* Returns the output name of kind ("torn_tail"), static. */
const char *inspect_kind_name(int kind);

/* Returns the severity of kind (enum inspect_severity). */
int inspect_kind_severity(int kind);

/* Returns the output name of severity ("damage"), static. */
const char *inspect_severity_name(int severity);

/* Returns the output name of record type (enum qlog_type: "publish", "group_del"), or "unknown",
 * static. */
const char *inspect_type_name(int type);

/* Returns a copy of s[0..n) that is safe in a table cell and in JSON: printable ASCII stays,
 * every other byte (and the backslash) becomes \xNN. Every name in a report went through it.
 * The caller frees the copy with sl_free(). */
char *inspect_escape(const char *s, size_t n);

typedef struct inspect_problem {
    int kind;       /* enum inspect_kind */
    char *queue;    /* the queue's name, or NULL for the data directory itself */
    char *file;     /* path relative to the data directory, or NULL */
    bool has_range; /* offset and bytes are meaningful */
    uint64_t offset, bytes;
    char *detail; /* one sentence for people */
} inspect_problem_t;

/* One record, kept only when inspect_run() is asked for records. */
typedef struct inspect_record {
    size_t offset;  /* of the record in its segment */
    int type;       /* enum qlog_type */
    size_t bytes;   /* the whole record on disk: head, payload and checksum */
    json_t *fields; /* its decoded payload as a JSON object (owned) */
} inspect_record_t;

typedef struct inspect_seg {
    char file[24];              /* the file name, "0000000000000001.seg" */
    uint64_t seq;               /* the number in the name */
    uint64_t bytes;             /* size when read */
    const char *status;         /* "ok", "damaged", "torn tail", "bad header", ... (static) */
    bool scanned;               /* the header was valid and the records were read */
    size_t records;             /* valid records */
    uint64_t messages;          /* PUBLISH records */
    uint64_t first_id, last_id; /* lowest and highest published id; 0 when none */
    uint64_t damaged;           /* bytes in damaged ranges */
    uint64_t tail_bad;          /* bytes after the last valid record */
    uint64_t zeros;             /* the zero tail after them: space written ahead, not data */
    inspect_record_t *recs;     /* with records only */
    size_t nrecs, reccap;
} inspect_seg_t;

typedef struct inspect_group {
    uint32_t gid;
    char *name; /* printable; NULL when the log has FINISH or FAIL records but no GROUP record */
    uint64_t start_id;
    int64_t created_at;
    bool deleted;           /* a GROUP_DEL record followed */
    uint64_t finished;      /* distinct messages it finished */
    uint64_t dead_lettered; /* of those, finished by moving them to the dead-letter queue */
    uint64_t failures;      /* FAIL records (failed deliveries) */
    uint64_t pending;       /* live messages it receives and has not finished */
} inspect_group_t;

/* Message counts of a queue, from replaying its records in order. */
typedef struct inspect_counts {
    uint64_t published;  /* distinct message ids published */
    uint64_t duplicates; /* PUBLISH records of an id already live (compacted copies) */
    uint64_t completed;  /* finished by every group that receives them */
    uint64_t dropped[4]; /* by enum engine_drop_reason; [3]: unknown reasons */
    uint64_t purged;
    uint64_t live, live_bytes, delayed; /* what a restart would restore */
    uint64_t last_id;                   /* highest id published or checkpointed */
} inspect_counts_t;

typedef struct inspect_queue {
    char *name;          /* printable */
    inspect_seg_t *segs; /* in number order */
    size_t nsegs, segcap;
    uint64_t types[QLOG_TYPE_MAX + 1]; /* valid records per type; [0] unused */
    uint64_t unreadable;               /* of those, payloads that did not decode */
    inspect_counts_t n;
    bool have_checkpoint;
    qlog_queue_t checkpoint; /* the last QUEUE record */
    char checkpoint_file[24];
    size_t checkpoint_offset;
    inspect_group_t *groups; /* in order of first appearance */
    size_t ngroups;
} inspect_queue_t;

typedef struct inspect {
    char *dir;               /* the data directory as given */
    int server;              /* a sluiced holds the directory's lock: 1 yes, 0 no, -1 unknown */
    inspect_queue_t *queues; /* sorted by name */
    size_t nqueues;
    inspect_problem_t *problems; /* in the order found */
    size_t nproblems;
    size_t count[INSPECT_SEVERITIES]; /* problems per severity */
    uint64_t segments, bytes;         /* segment files and their bytes, all queues */
} inspect_t;

/* Inspects data directory dir: every queue, or only the one named queue when it is not NULL
 * (the data directory's own entries are then not checked). records: keep every record
 * (inspect_seg_t.recs) for a listing. now: the time (ms since the epoch) against which delayed
 * messages are told apart.
 *
 * Returns 0 with *out set to a report the caller frees with inspect_free(); problems found in
 * files are in the report, not errors. Returns SL_EIO when dir cannot be opened (errno tells
 * why), SL_EPARAM when it is not a data directory (no queues/ directory), SL_ENOQUEUE when queue
 * has no directory there, SL_ENAME when queue is not a valid queue name; *out is then NULL. */
int inspect_run(const char *dir, const char *queue, bool records, int64_t now, inspect_t **out);

/* Frees a report; NULL is fine. */
void inspect_free(inspect_t *in);

/* An unsigned counter as JSON: an integer, or a decimal string past JSON's (and jansson's) signed
 * 64-bit range. */
json_t *inspect_u64_json(uint64_t v);

#endif
