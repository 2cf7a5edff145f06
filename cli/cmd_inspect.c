/*
 * cmd_inspect.c — `sluice inspect DATA_DIR`: the offline check of a file storage data directory.
 *
 * The checking is inspect.c's; this file parses the options, prints the report (tables for
 * people, one JSON document with --json) and turns it into the exit status: 0 when nothing is
 * damaged, 1 when something is (CLI_EXIT_EMPTY's value: "the answer is no", as grep and diff use
 * it), 5 when a file could not be read, since the check is then incomplete. Warnings (stray
 * files, leftovers recovery tidies up) are printed but do not change the status: recovery loses
 * nothing over them.
 *
 * It talks to no server: main.c runs it without an HTTP session (cli_cmd_t.local), so it works
 * with sluiced stopped, which is when an operator needs it most.
 */
#include "cmd_inspect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dur.h"
#include "inspect.h"
#include "mem.h"
#include "table.h"

/* Ids of a FINISH or DROP record shown in a --verbose row before "...". */
#define CMD_INSPECT_IDS 8

enum { OPT_QUEUE = 'q', OPT_VERBOSE = 'v' };

/* ---------------------------------------------------------------- JSON */

static json_t *cmd_inspect_time(int64_t ms)
{
    char t[DUR_TIME_LEN];
    return json_string(dur_format_time(ms, t));
}

static json_t *cmd_inspect_dur(int64_t ms)
{
    char d[DUR_LEN];
    return json_string(dur_format(ms, d));
}

/* A string that may hold anything as JSON: jansson refuses invalid UTF-8, and every string here
 * was made printable ASCII by inspect.c, but a NULL is JSON null. */
static json_t *cmd_inspect_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *cmd_inspect_seg_json(const inspect_seg_t *s, bool verbose)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(s->file));
    json_object_set_new(o, "seq", inspect_u64_json(s->seq));
    json_object_set_new(o, "bytes", inspect_u64_json(s->bytes));
    json_object_set_new(o, "status", json_string(s->status));
    json_object_set_new(o, "records", inspect_u64_json(s->records));
    json_object_set_new(o, "messages", inspect_u64_json(s->messages));
    json_object_set_new(o, "first_id", s->first_id ? inspect_u64_json(s->first_id) : json_null());
    json_object_set_new(o, "last_id", s->last_id ? inspect_u64_json(s->last_id) : json_null());
    json_object_set_new(o, "damaged_bytes", inspect_u64_json(s->damaged));
    json_object_set_new(o, "tail_bytes", inspect_u64_json(s->tail_bad));
    json_object_set_new(o, "zero_tail_bytes", inspect_u64_json(s->zeros));
    if (verbose) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->nrecs; i++) {
            const inspect_record_t *r = &s->recs[i];
            json_t *rec = json_pack("{s:I,s:s,s:I}", "offset", (json_int_t)r->offset, "type",
                                    inspect_type_name(r->type), "bytes", (json_int_t)r->bytes);
            json_object_update(rec, r->fields);
            json_array_append_new(a, rec);
        }
        json_object_set_new(o, "record_list", a);
    }
    return o;
}

static json_t *cmd_inspect_checkpoint_json(const inspect_queue_t *q)
{
    if (!q->have_checkpoint)
        return json_null();
    const qlog_queue_t *c = &q->checkpoint;
    const engine_settings_t *s = &c->settings;
    json_t *settings = json_object();
    json_object_set_new(settings, "visibility_timeout", cmd_inspect_dur(s->visibility_ms));
    json_object_set_new(settings, "max_attempts", json_integer(s->max_attempts));
    json_object_set_new(settings, "dead_letter_queue", json_string(s->dlq));
    json_object_set_new(settings, "max_messages", inspect_u64_json(s->max_messages));
    json_object_set_new(settings, "max_bytes", inspect_u64_json(s->max_bytes));
    json_object_set_new(settings, "max_age", cmd_inspect_dur(s->max_age_ms));
    json_object_set_new(settings, "dedup_window", cmd_inspect_dur(s->dedup_ms));
    json_object_set_new(settings, "max_in_flight_per_key", json_integer(s->max_in_flight_per_key));
    json_t *counters = json_object();
    json_object_set_new(counters, "published", inspect_u64_json(c->published));
    json_object_set_new(counters, "acked", inspect_u64_json(c->acked));
    json_object_set_new(counters, "expired", inspect_u64_json(c->expired));
    json_object_set_new(counters, "dropped", inspect_u64_json(c->dropped));
    json_object_set_new(counters, "dead_lettered", inspect_u64_json(c->dead_lettered));
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(q->checkpoint_file));
    json_object_set_new(o, "offset", inspect_u64_json(q->checkpoint_offset));
    json_object_set_new(o, "created_at", cmd_inspect_time(c->created_at));
    json_object_set_new(o, "last_id", inspect_u64_json(c->last_id));
    json_object_set_new(o, "dead_letter_queue_auto", json_boolean(c->dlq_auto));
    json_object_set_new(o, "settings", settings);
    json_object_set_new(o, "counters", counters);
    return o;
}

static json_t *cmd_inspect_queue_json(const inspect_queue_t *q, bool verbose)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(q->name));
    json_t *segs = json_array();
    for (size_t i = 0; i < q->nsegs; i++)
        json_array_append_new(segs, cmd_inspect_seg_json(&q->segs[i], verbose));
    json_object_set_new(o, "segments", segs);

    json_t *types = json_object();
    for (int t = 1; t <= QLOG_TYPE_MAX; t++)
        json_object_set_new(types, inspect_type_name(t), inspect_u64_json(q->types[t]));
    json_object_set_new(types, "unreadable", inspect_u64_json(q->unreadable));
    json_object_set_new(o, "records", types);

    const inspect_counts_t *n = &q->n;
    json_t *m = json_object();
    json_object_set_new(m, "published", inspect_u64_json(n->published));
    json_object_set_new(m, "duplicates", inspect_u64_json(n->duplicates));
    json_object_set_new(m, "completed", inspect_u64_json(n->completed));
    json_object_set_new(m, "dropped",
                        json_pack("{s:o,s:o,s:o,s:o}", "retention", inspect_u64_json(n->dropped[0]),
                                  "expired", inspect_u64_json(n->dropped[1]), "moved",
                                  inspect_u64_json(n->dropped[2]), "other",
                                  inspect_u64_json(n->dropped[3])));
    json_object_set_new(m, "purged", inspect_u64_json(n->purged));
    json_object_set_new(m, "live", inspect_u64_json(n->live));
    json_object_set_new(m, "live_bytes", inspect_u64_json(n->live_bytes));
    json_object_set_new(m, "delayed", inspect_u64_json(n->delayed));
    json_object_set_new(m, "last_id", inspect_u64_json(n->last_id));
    json_object_set_new(o, "messages", m);

    json_t *groups = json_array();
    for (size_t i = 0; i < q->ngroups; i++) {
        const inspect_group_t *g = &q->groups[i];
        json_t *go = json_object();
        json_object_set_new(go, "gid", json_integer(g->gid));
        json_object_set_new(go, "name", cmd_inspect_str(g->name));
        json_object_set_new(go, "start_id", g->name ? inspect_u64_json(g->start_id) : json_null());
        json_object_set_new(go, "created_at",
                            g->name ? cmd_inspect_time(g->created_at) : json_null());
        json_object_set_new(go, "deleted", json_boolean(g->deleted));
        json_object_set_new(go, "finished", inspect_u64_json(g->finished));
        json_object_set_new(go, "dead_lettered", inspect_u64_json(g->dead_lettered));
        json_object_set_new(go, "failures", inspect_u64_json(g->failures));
        json_object_set_new(go, "pending", inspect_u64_json(g->pending));
        json_array_append_new(groups, go);
    }
    json_object_set_new(o, "groups", groups);
    json_object_set_new(o, "checkpoint", cmd_inspect_checkpoint_json(q));
    return o;
}

static json_t *cmd_inspect_json(const inspect_t *in, bool verbose)
{
    json_t *o = json_object();
    json_t *dir = json_string(in->dir);
    if (dir == NULL) { /* not UTF-8, which jansson refuses */
        char *e = inspect_escape(in->dir, strlen(in->dir));
        dir = json_string(e);
        sl_free(e);
    }
    json_object_set_new(o, "data_dir", dir);
    json_object_set_new(o, "server_running",
                        in->server < 0 ? json_null() : json_boolean(in->server));
    json_t *queues = json_array();
    for (size_t i = 0; i < in->nqueues; i++)
        json_array_append_new(queues, cmd_inspect_queue_json(&in->queues[i], verbose));
    json_object_set_new(o, "queues", queues);
    json_t *problems = json_array();
    for (size_t i = 0; i < in->nproblems; i++) {
        const inspect_problem_t *p = &in->problems[i];
        json_t *po = json_object();
        json_object_set_new(po, "severity",
                            json_string(inspect_severity_name(inspect_kind_severity(p->kind))));
        json_object_set_new(po, "kind", json_string(inspect_kind_name(p->kind)));
        json_object_set_new(po, "queue", cmd_inspect_str(p->queue));
        json_object_set_new(po, "file", cmd_inspect_str(p->file));
        json_object_set_new(po, "offset", p->has_range ? inspect_u64_json(p->offset) : json_null());
        json_object_set_new(po, "bytes", p->has_range ? inspect_u64_json(p->bytes) : json_null());
        json_object_set_new(po, "detail", json_string(p->detail));
        json_array_append_new(problems, po);
    }
    json_object_set_new(o, "problems", problems);
    json_t *sum = json_object();
    json_object_set_new(sum, "queues", inspect_u64_json(in->nqueues));
    json_object_set_new(sum, "segments", inspect_u64_json(in->segments));
    json_object_set_new(sum, "bytes", inspect_u64_json(in->bytes));
    json_t *by = json_object();
    for (int s = 0; s < INSPECT_SEVERITIES; s++)
        json_object_set_new(by, inspect_severity_name(s), inspect_u64_json(in->count[s]));
    json_object_set_new(sum, "problems", by);
    json_object_set_new(o, "summary", sum);
    json_object_set_new(
        o, "clean", json_boolean(in->count[INSPECT_DAMAGE] == 0 && in->count[INSPECT_ERROR] == 0));
    return o;
}

/* ---------------------------------------------------------------- tables */

static void cmd_inspect_cell_u64(table_t *t, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    table_add(t, s);
}

/* Adds a "name  value  note" row. */
static void cmd_inspect_row(table_t *t, const char *name, uint64_t v, const char *note)
{
    table_add(t, name);
    cmd_inspect_cell_u64(t, v);
    table_add(t, note ? note : "");
}

/* The fields of a --verbose record as "key=value ..." (arrays cut to CMD_INSPECT_IDS items). */
static void cmd_inspect_fields(buf_t *b, const json_t *fields)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)fields, key, v)
    {
        char num[32];
        if (b->len)
            buf_adds(b, " ");
        buf_printf(b, "%s=", key);
        if (json_is_array(v)) {
            size_t i, n = json_array_size(v);
            json_t *x;
            json_array_foreach(v, i, x)
            {
                if (i == CMD_INSPECT_IDS) {
                    buf_printf(b, ",...(%zu in all)", n);
                    break;
                }
                const char *s = cli_json_text(x, num, sizeof num);
                buf_printf(b, "%s%s", i ? "," : "", s ? s : "?");
            }
        } else {
            const char *s = cli_json_text(v, num, sizeof num);
            buf_adds(b, s ? s : "null");
        }
    }
}

static void cmd_inspect_print_segments(const inspect_queue_t *q, bool verbose)
{
    static const char *const cols[] = {"SEQ",      "FILE",     "BYTES",   "RECORDS",
                                       "MESSAGES", "FIRST_ID", "LAST_ID", "STATUS"};
    table_t *t = table_new(SL_ARRAY_LEN(cols), true);
    for (size_t c = 0; c < SL_ARRAY_LEN(cols); c++)
        table_add(t, cols[c]);
    for (size_t i = 0; i < q->nsegs; i++) {
        const inspect_seg_t *s = &q->segs[i];
        cmd_inspect_cell_u64(t, s->seq);
        table_add(t, s->file);
        cmd_inspect_cell_u64(t, s->bytes);
        cmd_inspect_cell_u64(t, s->records);
        cmd_inspect_cell_u64(t, s->messages);
        if (s->first_id)
            cmd_inspect_cell_u64(t, s->first_id);
        else
            table_add(t, NULL);
        if (s->last_id)
            cmd_inspect_cell_u64(t, s->last_id);
        else
            table_add(t, NULL);
        table_add(t, s->status);
    }
    table_print(t, stdout);
    table_free(t);
    if (!verbose)
        return;

    t = table_new(5, true);
    table_add(t, "FILE");
    table_add(t, "OFFSET");
    table_add(t, "TYPE");
    table_add(t, "BYTES");
    table_add(t, "FIELDS");
    buf_t f;
    buf_init(&f);
    for (size_t i = 0; i < q->nsegs; i++) {
        const inspect_seg_t *s = &q->segs[i];
        for (size_t k = 0; k < s->nrecs; k++) {
            const inspect_record_t *r = &s->recs[k];
            table_add(t, s->file);
            cmd_inspect_cell_u64(t, r->offset);
            table_add(t, inspect_type_name(r->type));
            cmd_inspect_cell_u64(t, r->bytes);
            buf_cleanup(&f);
            cmd_inspect_fields(&f, r->fields);
            table_add(t, buf_str(&f));
        }
    }
    buf_cleanup(&f);
    putchar('\n');
    table_print(t, stdout);
    table_free(t);
}

static void cmd_inspect_print_counts(const inspect_queue_t *q)
{
    table_t *t = table_new(QLOG_TYPE_MAX + 1, true);
    for (int i = 1; i <= QLOG_TYPE_MAX; i++) {
        char up[16];
        const char *s = inspect_type_name(i);
        size_t k;
        for (k = 0; s[k] && k + 1 < sizeof up; k++)
            up[k] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]);
        up[k] = '\0';
        table_add(t, up);
    }
    table_add(t, "UNREADABLE");
    for (int i = 1; i <= QLOG_TYPE_MAX; i++)
        cmd_inspect_cell_u64(t, q->types[i]);
    cmd_inspect_cell_u64(t, q->unreadable);
    putchar('\n');
    table_print(t, stdout);
    table_free(t);

    const inspect_counts_t *n = &q->n;
    char note[160];
    t = table_new(3, false);
    cmd_inspect_row(t, "published", n->published, "distinct message ids");
    if (n->duplicates)
        cmd_inspect_row(t, "duplicates", n->duplicates, "PUBLISH records of an id already present");
    cmd_inspect_row(t, "completed", n->completed, "finished by every group that receives them");
    snprintf(note, sizeof note, "retention %llu, expired %llu, moved %llu",
             (unsigned long long)n->dropped[0], (unsigned long long)n->dropped[1],
             (unsigned long long)n->dropped[2]);
    if (n->dropped[3])
        snprintf(note + strlen(note), sizeof note - strlen(note), ", other %llu",
                 (unsigned long long)n->dropped[3]);
    cmd_inspect_row(t, "dropped", n->dropped[0] + n->dropped[1] + n->dropped[2] + n->dropped[3],
                    note);
    cmd_inspect_row(t, "purged", n->purged, NULL);
    snprintf(note, sizeof note, "estimate: %llu bytes, %llu delayed",
             (unsigned long long)n->live_bytes, (unsigned long long)n->delayed);
    cmd_inspect_row(t, "live", n->live, note);
    cmd_inspect_row(t, "last id", n->last_id, NULL);
    putchar('\n');
    table_print(t, stdout);
    table_free(t);
}

static void cmd_inspect_print_groups(const inspect_queue_t *q)
{
    static const char *const cols[] = {"GROUP",    "GID",     "START_ID", "FINISHED", "DEAD",
                                       "FAILURES", "PENDING", "STATE",    "CREATED"};
    if (q->ngroups == 0)
        return;
    table_t *t = table_new(SL_ARRAY_LEN(cols), true);
    for (size_t c = 0; c < SL_ARRAY_LEN(cols); c++)
        table_add(t, cols[c]);
    for (size_t i = 0; i < q->ngroups; i++) {
        const inspect_group_t *g = &q->groups[i];
        char when[DUR_TIME_LEN];
        table_add(t, g->name ? g->name : "(no GROUP record)");
        cmd_inspect_cell_u64(t, g->gid);
        if (g->name)
            cmd_inspect_cell_u64(t, g->start_id);
        else
            table_add(t, NULL);
        cmd_inspect_cell_u64(t, g->finished);
        cmd_inspect_cell_u64(t, g->dead_lettered);
        cmd_inspect_cell_u64(t, g->failures);
        cmd_inspect_cell_u64(t, g->pending);
        table_add(t, g->deleted ? "deleted" : g->name ? "live" : "unknown");
        table_add(t, g->name ? dur_format_time(g->created_at, when) : NULL);
    }
    putchar('\n');
    table_print(t, stdout);
    table_free(t);
}

static void cmd_inspect_print_checkpoint(const inspect_queue_t *q)
{
    putchar('\n');
    if (!q->have_checkpoint) {
        puts("settings: no readable QUEUE record (recovery would use the defaults)");
        return;
    }
    const qlog_queue_t *c = &q->checkpoint;
    const engine_settings_t *s = &c->settings;
    char a[DUR_TIME_LEN > 160 ? DUR_TIME_LEN : 160];
    printf("settings (last checkpoint: %s at offset %zu)\n", q->checkpoint_file,
           q->checkpoint_offset);
    table_t *t = table_new(2, false);
    table_add(t, "  created_at");
    table_add(t, dur_format_time(c->created_at, a));
    table_add(t, "  visibility_timeout");
    table_add(t, dur_format(s->visibility_ms, a));
    table_add(t, "  max_attempts");
    snprintf(a, sizeof a, "%u", s->max_attempts);
    table_add(t, a);
    table_add(t, "  dead_letter_queue");
    snprintf(a, sizeof a, "%s%s", *s->dlq ? s->dlq : "(none)", c->dlq_auto ? " (automatic)" : "");
    table_add(t, a);
    table_add(t, "  max_messages");
    snprintf(a, sizeof a, "%llu", (unsigned long long)s->max_messages);
    table_add(t, a);
    table_add(t, "  max_bytes");
    snprintf(a, sizeof a, "%llu", (unsigned long long)s->max_bytes);
    table_add(t, a);
    table_add(t, "  max_age");
    table_add(t, dur_format(s->max_age_ms, a));
    table_add(t, "  dedup_window");
    table_add(t, dur_format(s->dedup_ms, a));
    table_add(t, "  max_in_flight_per_key");
    snprintf(a, sizeof a, "%u", s->max_in_flight_per_key);
    table_add(t, a);
    table_add(t, "  last_id");
    snprintf(a, sizeof a, "%llu", (unsigned long long)c->last_id);
    table_add(t, a);
    table_add(t, "  counters");
    snprintf(a, sizeof a,
             "published %llu, acked %llu, expired %llu, dropped %llu, "
             "dead-lettered %llu",
             (unsigned long long)c->published, (unsigned long long)c->acked,
             (unsigned long long)c->expired, (unsigned long long)c->dropped,
             (unsigned long long)c->dead_lettered);
    table_add(t, a);
    table_print(t, stdout);
    table_free(t);
}

static void cmd_inspect_print_problems(const inspect_t *in)
{
    printf("\n== problems ==\n\n");
    if (in->nproblems == 0) {
        puts("none");
        return;
    }
    static const char *const cols[] = {"SEVERITY", "KIND",  "QUEUE", "FILE",
                                       "OFFSET",   "BYTES", "DETAIL"};
    table_t *t = table_new(SL_ARRAY_LEN(cols), true);
    for (size_t c = 0; c < SL_ARRAY_LEN(cols); c++)
        table_add(t, cols[c]);
    for (size_t i = 0; i < in->nproblems; i++) {
        const inspect_problem_t *p = &in->problems[i];
        table_add(t, inspect_severity_name(inspect_kind_severity(p->kind)));
        table_add(t, inspect_kind_name(p->kind));
        table_add(t, p->queue);
        table_add(t, p->file);
        if (p->has_range) {
            cmd_inspect_cell_u64(t, p->offset);
            cmd_inspect_cell_u64(t, p->bytes);
        } else {
            table_add(t, NULL);
            table_add(t, NULL);
        }
        table_add(t, p->detail);
    }
    table_print(t, stdout);
    table_free(t);
}

static void cmd_inspect_print(const inspect_t *in, bool verbose)
{
    static const char *const server[] = {"unknown (cannot read /proc/locks)", "not running",
                                         "running (this is a snapshot of a live directory)"};
    table_t *t = table_new(2, false);
    char num[64];
    table_add(t, "data directory");
    table_add(t, in->dir);
    table_add(t, "sluiced");
    table_add(t, server[in->server + 1]);
    table_add(t, "queues");
    snprintf(num, sizeof num, "%zu", in->nqueues);
    table_add(t, num);
    table_add(t, "segment files");
    snprintf(num, sizeof num, "%llu (%llu bytes)", (unsigned long long)in->segments,
             (unsigned long long)in->bytes);
    table_add(t, num);
    table_print(t, stdout);
    table_free(t);

    for (size_t i = 0; i < in->nqueues; i++) {
        const inspect_queue_t *q = &in->queues[i];
        printf("\n== queue %s ==\n\n", q->name);
        if (q->nsegs)
            cmd_inspect_print_segments(q, verbose);
        else
            puts("no segment files");
        cmd_inspect_print_counts(q);
        cmd_inspect_print_groups(q);
        cmd_inspect_print_checkpoint(q);
    }
    cmd_inspect_print_problems(in);

    const char *verdict = in->count[INSPECT_ERROR]    ? "incomplete: some files could not be read"
                          : in->count[INSPECT_DAMAGE] ? "damage found"
                                                      : "clean";
    printf("\nresult: %s (%zu damaged, %zu errors, %zu warnings, %zu notes)\n", verdict,
           in->count[INSPECT_DAMAGE], in->count[INSPECT_ERROR], in->count[INSPECT_WARNING],
           in->count[INSPECT_NOTE]);
}

/* ---------------------------------------------------------------- the command */

const char cmd_inspect_help[] =
    "Checks the data directory of the file storage offline, reading its segment files directly\n"
    "(read-only: safe while sluiced runs, though the report is then a snapshot). For each queue\n"
    "it prints the segment files (number, size, records, first and last message id), the\n"
    "records by type, the messages published, completed, dropped and purged, an estimate of the\n"
    "live messages (the log replayed as recovery replays it), the consumer groups with what each\n"
    "finished, and the settings of the last checkpoint; then every problem found: bad headers,\n"
    "damaged ranges and torn tails (file, offset, bytes), unreadable records, stray files.\n"
    "\n"
    "Options:\n"
    "  -q, --queue Q          inspect only queue Q (the directory's own entries are skipped)\n"
    "  -v, --verbose          also list every record: file, offset, type, size, fields\n"
    "  --json                 print one JSON document instead of tables\n"
    "\n"
    "Exit status: 0 nothing damaged (warnings allowed), 1 damage found (a bad header, damaged\n"
    "range, torn tail or unreadable record), 2 usage error or not a data directory, 5 a file or\n"
    "directory could not be read (this wins over 1: the check is incomplete).\n";

static const struct option cmd_inspect_opts[] = {
    CLI_LONG_COMMON,
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {NULL, 0, NULL, 0},
};

int cmd_inspect(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    const char *queue = NULL;
    bool verbose = false;
    int c, status = CLI_EXIT_OK;

    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON "q:v", cmd_inspect_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            return status;
        case OPT_QUEUE:
            queue = optarg;
            break;
        case OPT_VERBOSE:
            verbose = true;
            break;
        }
    }
    if (argc - optind < 1)
        return cli_usage(cmd, "inspect: missing DATA_DIR.");
    if (argc - optind > 1)
        return cli_usage(cmd, "inspect: unexpected argument '%s'.", argv[optind + 1]);
    const char *dir = argv[optind];

    inspect_t *in;
    int err = inspect_run(dir, queue, verbose, dur_now_ms(), &in);
    switch (err) {
    case 0:
        break;
    case SL_ENAME:
        return cli_usage(cmd, "inspect: '%s' is not a queue name.", queue);
    case SL_EPARAM:
        return cli_usage(cmd,
                         "inspect: %s is not a data directory of the file storage (it has "
                         "no queues/ directory).",
                         dir);
    case SL_ENOQUEUE:
        cli_error("inspect: %s has no queue '%s' (no directory %s/queues/%s).", dir, queue, dir,
                  queue);
        return CLI_EXIT_LOCAL;
    default:
        cli_error("inspect: cannot read %s: %s.", dir, strerror(errno));
        return CLI_EXIT_LOCAL;
    }

    if (cli->json) {
        json_t *doc = cmd_inspect_json(in, verbose);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(doc);
    } else {
        cmd_inspect_print(in, verbose);
    }
    if (in->count[INSPECT_ERROR])
        status = CLI_EXIT_LOCAL;
    else if (in->count[INSPECT_DAMAGE])
        status = CLI_EXIT_DAMAGE;
    inspect_free(in);
    return status;
}
