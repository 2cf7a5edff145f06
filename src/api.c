/*
 * api.c — the HTTP API v1: every route of docs/api.md, from the request to the storage request
 * and back to a JSON reply.
 *
 * A request goes through three steps. begin() runs when the headers are in: it routes, checks
 * the method and the Content-Type, and sets the body limit of the endpoint, so that a body that
 * is too large is refused before it is read. handle() runs when the body is in: it validates
 * every parameter (an error names the parameter), fills a store request and submits it. The
 * store calls back — inline for the memory backend, later for a parked long-poll or an
 * asynchronous backend — and the callback builds the reply. A request whose reply did not come
 * inline is suspended and resumed by the callback.
 *
 * Leases handed out in a reply are only final once the reply reached the kernel: when the
 * client vanished first (on_done with delivered = false) the leases are undone, and a pop is
 * acked only when its reply was delivered. That is what makes "a parked client that
 * disconnected never loses a message" true.
 *
 * JSON is jansson's; the allocator is set to ours so its memory is counted.
 */
#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "b64.h"
#include "deliver.h"
#include "dur.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "mpub.h"
#include "mqgo.h"
#include "webhook.h"

#define API_MAX_ITEMS 1000
#define API_LEASE_BYTES (32u << 20) /* body bytes in one lease reply */
#define API_CONTROL_BODY (1u << 20) /* body limit of the small JSON endpoints */

struct api {
    store_t *store;
    api_config_t cfg;
    bool draining;
};

enum route {
    R_NONE,
    R_QUEUES,
    R_QUEUE,
    R_MESSAGES,
    R_MESSAGE,
    R_BATCH,
    R_ACK,
    R_RELEASE,
    R_POP,
    R_PEEK,
    R_REDRIVE,
    R_PURGE,
    R_GROUPS,
    R_QSUBS, /* /v1/queues/{q}/subscriptions */
    R_GROUP,
    R_HEALTHZ,
    R_READYZ,
    R_SUBS, /* /v1/subscriptions */
    R_SUB,
    R_MQGO_CONNECT,
    R_MQGO_SEND,
    R_MQGO_DISCONNECT,
};

#define M(x) (1u << (x))

static const struct route_info {
    const char *suffix; /* the segment after /v1/queues/{q}, or NULL */
    unsigned methods;
    const char *allow;
    bool json_body; /* the body, when any, must be JSON */
} routes[] = {
    [R_NONE] = {NULL, 0, "", false},
    [R_QUEUES] = {NULL, M(HTTP_GET), "GET", false},
    [R_QUEUE] = {NULL, M(HTTP_GET) | M(HTTP_PUT) | M(HTTP_DELETE), "GET, PUT, DELETE", true},
    [R_MESSAGES] = {"messages", M(HTTP_GET) | M(HTTP_POST), "GET, POST", false},
    [R_MESSAGE] = {NULL, M(HTTP_DELETE), "DELETE", false},
    [R_BATCH] = {"batch", M(HTTP_POST), "POST", true},
    [R_ACK] = {"ack", M(HTTP_POST), "POST", true},
    [R_RELEASE] = {"release", M(HTTP_POST), "POST", true},
    [R_POP] = {"pop", M(HTTP_POST), "POST", false},
    [R_PEEK] = {"peek", M(HTTP_GET), "GET", false},
    [R_REDRIVE] = {"redrive", M(HTTP_POST), "POST", true},
    [R_PURGE] = {"purge", M(HTTP_POST), "POST", false},
    [R_GROUPS] = {"groups", M(HTTP_GET), "GET", false},
    [R_QSUBS] = {"subscriptions", M(HTTP_GET) | M(HTTP_POST), "GET, POST", true},
    [R_GROUP] = {NULL, M(HTTP_GET) | M(HTTP_PUT) | M(HTTP_DELETE), "GET, PUT, DELETE", true},
    [R_HEALTHZ] = {NULL, M(HTTP_GET), "GET", false},
    [R_READYZ] = {NULL, M(HTTP_GET), "GET", false},
    [R_SUBS] = {NULL, M(HTTP_GET), "GET", false},
    [R_SUB] = {NULL, M(HTTP_GET) | M(HTTP_DELETE), "GET, DELETE", false},
    /* MQ Go's clients sent whatever Content-Type their library chose: not checked */
    [R_MQGO_CONNECT] = {NULL, M(HTTP_POST), "POST", false},
    [R_MQGO_SEND] = {NULL, M(HTTP_POST), "POST", false},
    [R_MQGO_DISCONNECT] = {NULL, M(HTTP_POST), "POST", false},
};

/* The state of one API request, in the request's pool. */
typedef struct api_req {
    api_t *api;
    http_req_t *r;
    int route;
    char queue[ENGINE_NAME_MAX + 1];
    char group[ENGINE_NAME_MAX + 1];
    const char *receipt; /* R_MESSAGE */
    store_req_t sreq;
    void (*done)(struct api_req *a); /* builds the reply when sreq completes */
    bool suspended;
    bool raw;            /* pop?raw=1 */
    bool created;        /* PUT queue: it did not exist */
    struct api_sub *sub; /* a subscription being made */
    uint64_t mqgo_id;    /* an MQ Go connection being made or ended */
    engine_lease_t pop;  /* pop: the message taken (a reference) and its lease */
    engine_pub_t *items; /* publish: the messages, unref'd on failure */
    size_t nitems;
} api_req_t;

/* ---------------------------------------------------------------- replies */

static void reply_json(api_req_t *a, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    sl_assert(s != NULL);
    http_respond_take(a->r, status, "application/json", s, strlen(s));
}

static void reply_error(api_req_t *a, int err, const char *fmt, ...) SL_PRINTF(3, 4);

static void reply_error(api_req_t *a, int err, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *m = json_string(msg);
    if (m == NULL) {
        /* The message quotes client bytes (a path, a header) that are not UTF-8: show them as
         * '?' rather than fail to answer. */
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c >= 0x80 || (unsigned char)*c < 0x20)
                *c = '?';
        m = json_string(msg);
    }
    json_t *o = json_pack("{s:{s:s,s:o}}", "error", "code", err_code(err), "message", m);
    reply_json(a, err_status(err), o);
}

/* Replies with the error of a store request, naming the object the code is about. */
static void reply_store_error(api_req_t *a, int err)
{
    switch (err) {
    case SL_ENOQUEUE:
        reply_error(a, err, "Queue '%s' does not exist.", a->queue);
        break;
    case SL_ENOGROUP:
        reply_error(a, err, "Consumer group '%s' does not exist on queue '%s'.",
                    a->group[0] ? a->group : ENGINE_DEFAULT_GROUP, a->queue);
        break;
    case SL_ENORECEIPT:
        reply_error(a, err, "Receipt '%s' does not name a live lease on queue '%s'.",
                    a->receipt ? a->receipt : "", a->queue);
        break;
    case SL_ETOOMANY:
        reply_error(a, err,
                    "Cannot create queue '%s': the server holds its maximum number of "
                    "queues.",
                    a->queue);
        break;
    case SL_EIDS:
        if (a->route == R_REDRIVE) /* about an origin queue, not a->queue */
            reply_error(a, err,
                        "An origin queue of the dead letters in '%s' has handed out every "
                        "message id up to %llu (ids are never reused); it takes no more messages.",
                        a->queue, (unsigned long long)ENGINE_ID_MAX);
        else
            reply_error(a, err,
                        "Queue '%s' has handed out every message id up to %llu (ids are never "
                        "reused); it takes no more messages.",
                        a->queue, (unsigned long long)ENGINE_ID_MAX);
        break;
    case SL_ECONFLICT:
        reply_error(a, err, "The default consumer group cannot be deleted.");
        break;
    default:
        reply_error(a, err, "%s.", err_text(err));
        break;
    }
}

/* ---------------------------------------------------------------- parameters */

static const char *query(api_req_t *a, const char *name)
{
    return http_query(a->r, name);
}

/* Parses query parameter name as a duration into *ms (left alone when absent). */
static int param_dur(api_req_t *a, const char *name, int64_t max, int64_t *ms)
{
    const char *v = query(a, name);
    if (v == NULL)
        return 0;
    if (dur_parse(v, strlen(v), ms) < 0 || *ms > max) {
        char buf[DUR_LEN];
        reply_error(a, SL_EPARAM,
                    "Parameter '%s' must be a duration like 500ms, 30s or 2h, at most %s.", name,
                    dur_format(max, buf));
        return SL_EPARAM;
    }
    return 0;
}

/* Parses query parameter name as an integer in [min, max] into *out (left alone when absent). */
static int param_uint(api_req_t *a, const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = query(a, name);
    if (v == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || n < min || n > max) {
        reply_error(a, SL_EPARAM, "Parameter '%s' must be an integer from %llu to %llu.", name,
                    (unsigned long long)min, (unsigned long long)max);
        return SL_EPARAM;
    }
    *out = n;
    return 0;
}

static int param_bool(api_req_t *a, const char *name, bool *out)
{
    const char *v = query(a, name);
    if (v == NULL)
        return 0;
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "")) {
        *out = true;
    } else if (!strcmp(v, "0") || !strcasecmp(v, "false")) {
        *out = false;
    } else {
        reply_error(a, SL_EPARAM, "Parameter '%s' must be 1 or 0.", name);
        return SL_EPARAM;
    }
    return 0;
}

/* Reads the group parameter (default "default"). */
static int param_group(api_req_t *a)
{
    const char *g = query(a, "group");
    if (g == NULL) {
        snprintf(a->group, sizeof a->group, "%s", ENGINE_DEFAULT_GROUP);
        return 0;
    }
    if (!engine_name_valid(g, strlen(g))) {
        reply_error(a, SL_ENAME,
                    "Group name '%.128s' is invalid: use 1 to 128 characters of "
                    "A-Z a-z 0-9 . _ - starting with a letter or digit.",
                    g);
        return SL_ENAME;
    }
    snprintf(a->group, sizeof a->group, "%s", g);
    return 0;
}

/* Whether Content-Type ct names the media type mt (parameters such as charset ignored). */
static bool ctype_is(const char *ct, const char *mt)
{
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    return n == strlen(mt) && !strncasecmp(ct, mt, n);
}

/* A JSON body may come without a Content-Type, or with curl -d's default one. */
static bool json_ctype_ok(const char *ct)
{
    return ct == NULL || *ct == '\0' || ctype_is(ct, "application/json") ||
           ctype_is(ct, "application/x-www-form-urlencoded");
}

/* Parses the JSON body into *out (a new reference). An absent body gives an empty object when
 * optional. */
static int body_json(api_req_t *a, bool optional, json_t **out)
{
    http_req_t *r = a->r;
    json_error_t jerr;
    if (r->body_len == 0 && optional) {
        *out = json_object();
        return 0;
    }
    *out = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL) {
        reply_error(a, SL_EJSON, "The body is not valid JSON: %s (line %d, column %d).", jerr.text,
                    jerr.line, jerr.column);
        return SL_EJSON;
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        reply_error(a, SL_EJSON, "The body must be a JSON object.");
        return SL_EJSON;
    }
    return 0;
}

/* Reads a duration from a JSON value: a string with a unit, or a number of seconds. */
static int json_dur(api_req_t *a, const char *what, json_t *v, int64_t *ms)
{
    if (json_is_string(v) && dur_parse(json_string_value(v), json_string_length(v), ms) == 0)
        return 0;
    if (json_is_number(v)) {
        double s = json_number_value(v);
        if (s >= 0 && s * 1000 <= (double)DUR_MAX_MS) {
            *ms = (int64_t)(s * 1000 + 0.5);
            return 0;
        }
    }
    reply_error(a, SL_EPARAM,
                "'%s' must be a duration like \"500ms\", \"30s\" or \"2h\", or a "
                "number of seconds, at most 365d.",
                what);
    return SL_EPARAM;
}

static int json_uint(api_req_t *a, const char *what, json_t *v, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        (uint64_t)json_integer_value(v) >= min && (uint64_t)json_integer_value(v) <= max) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    reply_error(a, SL_EPARAM, "'%s' must be an integer from %llu to %llu.", what,
                (unsigned long long)min, (unsigned long long)max);
    return SL_EPARAM;
}

/* Reads a JSON array of 1..API_MAX_ITEMS strings into a NULL-free array in the pool. */
static int json_receipts(api_req_t *a, json_t *body, const char ***out, size_t *n)
{
    json_t *arr = json_object_get(body, "receipts");
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > API_MAX_ITEMS) {
        reply_error(a, SL_EPARAM, "'receipts' must be an array of 1 to %d receipt strings.",
                    API_MAX_ITEMS);
        return SL_EPARAM;
    }
    *n = json_array_size(arr);
    *out = pool_alloc(&a->r->pool, *n * sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) {
            reply_error(a, SL_EPARAM, "receipts[%zu] must be a string.", i);
            return SL_EPARAM;
        }
        (*out)[i] = pool_strndup(&a->r->pool, json_string_value(v), json_string_length(v));
    }
    return 0;
}

/* Rejects keys of obj outside the NULL-terminated list allowed. */
static int json_known(api_req_t *a, const char *where, json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i] == NULL) {
            reply_error(a, SL_EPARAM, "Unknown field '%s%s'.", where, k);
            return SL_EPARAM;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- message rendering */

static json_t *time_json(int64_t ms)
{
    char buf[DUR_TIME_LEN];
    return json_string(dur_format_time(ms, buf));
}

static json_t *strn_json(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    /* Attributes are visible ASCII (headers) or came from JSON strings, so this holds; a
     * placeholder beats a crash if it ever does not. */
    return j ? j : json_string("(invalid UTF-8)");
}

static uint64_t attr_num(const msg_t *m, const char *name)
{
    size_t len;
    const char *v = msg_attr_find(m, name, &len);
    char buf[24];
    if (v == NULL || len >= sizeof buf)
        return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return strtoull(buf, NULL, 10);
}

/* The dead_letter object from the reserved attributes of a dead letter. */
static json_t *dead_letter_json(const msg_t *m)
{
    size_t len;
    const char *v;
    json_t *o = json_object(), *hist = json_array();
    if ((v = msg_attr_find(m, "sluice-origin-queue", &len)))
        json_object_set_new(o, "queue", strn_json(v, len));
    if ((v = msg_attr_find(m, "sluice-origin-group", &len)))
        json_object_set_new(o, "group", strn_json(v, len));
    json_object_set_new(o, "id", json_integer((json_int_t)attr_num(m, "sluice-origin-id")));
    json_object_set_new(o, "attempts", json_integer((json_int_t)attr_num(m, "sluice-attempts")));
    if ((v = msg_attr_find(m, "sluice-reason", &len)))
        json_object_set_new(o, "reason", strn_json(v, len));
    if ((v = msg_attr_find(m, "sluice-last-error", &len)))
        json_object_set_new(o, "last_error", strn_json(v, len));
    json_object_set_new(o, "dead_lettered_at",
                        time_json((int64_t)attr_num(m, "sluice-dead-lettered-at")));
    /* history: lines "MS EVENT[ ERROR]" */
    if ((v = msg_attr_find(m, "sluice-history", &len))) {
        const char *p = v, *end = v + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *sp1 = memchr(p, ' ', (size_t)(le - p));
            if (sp1) {
                char num[24];
                size_t nlen = (size_t)(sp1 - p) < sizeof num - 1 ? (size_t)(sp1 - p) : 0;
                memcpy(num, p, nlen);
                num[nlen] = '\0';
                const char *ev = sp1 + 1;
                const char *sp2 = memchr(ev, ' ', (size_t)(le - ev));
                json_t *h = json_object();
                json_object_set_new(h, "at", time_json(strtoll(num, NULL, 10)));
                json_object_set_new(h, "event", strn_json(ev, (size_t)((sp2 ? sp2 : le) - ev)));
                if (sp2)
                    json_object_set_new(h, "error", strn_json(sp2 + 1, (size_t)(le - sp2 - 1)));
                json_array_append_new(hist, h);
            }
            p = le + 1;
        }
    }
    json_object_set_new(o, "history", hist);
    return o;
}

/* The message object of docs/api.md; receipt may be NULL (pop, peek). */
static json_t *msg_json(api_req_t *a, msg_t *m, const char *receipt, uint32_t attempts)
{
    json_t *o = json_object(), *attrs = json_object();
    char *b = pool_alloc(&a->r->pool, B64_ENCODED_LEN(m->len) + 1);
    size_t blen = b64_encode(msg_body(m), m->len, b);
    size_t pos = 0, nlen, vlen;
    const char *n, *v;
    bool dead = false;

    json_object_set_new(o, "id", json_integer((json_int_t)m->id));
    json_object_set_new(o, "body", json_stringn_nocheck(b, blen));
    if (receipt)
        json_object_set_new(o, "receipt", json_string(receipt));
    json_object_set_new(o, "attempts", json_integer(attempts));
    json_object_set_new(o, "published_at", time_json(m->published_at));
    while (msg_attrs_next(m, &pos, &n, &nlen, &v, &vlen)) {
        if (nlen >= 7 && memcmp(n, "sluice-", 7) == 0) {
            dead = true;
            continue;
        }
        char name[MSG_ATTR_NAME_MAX + 1];
        memcpy(name, n, nlen);
        name[nlen] = '\0';
        json_object_set_new(attrs, name, strn_json(v, vlen));
    }
    json_object_set_new(o, "attributes", attrs);
    if (m->key_len)
        json_object_set_new(o, "key", strn_json(msg_key(m), m->key_len));
    if (dead)
        json_object_set_new(o, "dead_letter", dead_letter_json(m));
    return o;
}

/* ---------------------------------------------------------------- the store round trip */

static void api_store_cb(store_req_t *sr);
static void on_gone(http_req_t *r);

/* Submits a->sreq; done() builds the reply (or submits again) when it completes. */
static void api_submit(api_req_t *a, int op, void (*done)(api_req_t *))
{
    a->sreq.op = op;
    a->sreq.cb = api_store_cb;
    a->sreq.data = a;
    a->sreq.pool = &a->r->pool;
    a->sreq.queue = a->queue;
    a->sreq.group = a->group[0] ? a->group : NULL;
    a->done = done;
    store_submit(a->api->store, &a->sreq);
    if (!a->r->responded && !a->suspended && !a->r->gone) {
        /* waiting (a long-poll, or a change on its way to disk): if the client leaves, the store
         * must forget the request before its memory goes */
        a->suspended = true;
        a->r->on_gone = on_gone;
        http_suspend(a->r);
    }
}

/* Undoes (or acks) the given receipts on their own, after the request that leased them is
 * over: the request's memory is gone by the time an asynchronous backend answers. */
typedef struct api_followup {
    pool_t pool;
    store_req_t sreq;
    char queue[ENGINE_NAME_MAX + 1];
} api_followup_t;

static void followup_done(store_req_t *sr)
{
    api_followup_t *f = sr->data;
    if (sr->status)
        log_msg(LOG_WARN, "Follow-up %s on queue '%s' failed: %s.",
                sr->op == STORE_ACK ? "ack" : "undo", f->queue, err_text(sr->status));
    pool_cleanup(&f->pool);
    sl_free(f);
}

static void followup(api_t *api, int op, const char *queue, const engine_lease_t *leases, size_t n)
{
    if (n == 0)
        return;
    api_followup_t *f = sl_calloc(1, sizeof *f);
    pool_init(&f->pool);
    snprintf(f->queue, sizeof f->queue, "%s", queue);
    store_req_init(&f->sreq, op, followup_done, f, &f->pool);
    f->sreq.queue = f->queue;
    const char **rs = pool_alloc(&f->pool, n * sizeof *rs);
    for (size_t i = 0; i < n; i++)
        rs[i] = pool_strndup(&f->pool, leases[i].receipt, strlen(leases[i].receipt));
    f->sreq.u.ack.receipts = rs;
    f->sreq.u.ack.n = n;
    store_submit(api->store, &f->sreq);
}

static void api_store_cb(store_req_t *sr)
{
    api_req_t *a = sr->data;
    if (a->r->gone) {
        /* the client left while we waited: give back whatever was leased for it */
        if (sr->op == STORE_LEASE && sr->status == 0)
            followup(a->api, STORE_UNDO, a->queue, sr->u.lease.out, sr->u.lease.n);
        if (sr->op == STORE_PUBLISH && sr->status != 0)
            for (size_t i = 0; i < a->nitems; i++)
                msg_unref(a->items[i].msg);
        store_req_cleanup(sr);
        if (a->suspended) {
            a->suspended = false;
            http_resume(a->r);
        }
        return;
    }
    a->done(a);
    if (a->r->responded && a->suspended) {
        a->suspended = false;
        http_resume(a->r);
    }
}

static void on_gone(http_req_t *r)
{
    api_req_t *a = r->app;
    if (store_cancel(a->api->store, &a->sreq) == 0 && a->suspended) {
        a->suspended = false;
        http_resume(r);
    }
    /* else the store still works on it; api_store_cb resumes when it answers */
}

/* on_done for replies that carry leases: undo them when the reply did not get out. */
static void on_done_leases(http_req_t *r, bool delivered)
{
    api_req_t *a = r->app;
    if (!delivered)
        followup(a->api, STORE_UNDO, a->queue, a->sreq.u.lease.out, a->sreq.u.lease.n);
    store_req_cleanup(&a->sreq);
}

/* on_done for a pop: its ack, already durable, takes effect once the reply got out; when the
 * reply never left, the message goes back (and the log says so). */
static void on_done_pop(http_req_t *r, bool delivered)
{
    api_req_t *a = r->app;
    if (a->pop.msg == NULL)
        return;
    followup(a->api, delivered ? STORE_ACK : STORE_UNDO, a->queue, &a->pop, 1);
    msg_unref(a->pop.msg);
    a->pop.msg = NULL;
}

static void on_done_cleanup(http_req_t *r, bool delivered)
{
    (void)delivered;
    api_req_t *a = r->app;
    store_req_cleanup(&a->sreq);
}

/* ---------------------------------------------------------------- publish */

struct attr_ctx {
    api_req_t *a;
    msg_attrs_buf_t *b;
    int err;
};

static bool visible_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* Validates an attribute name: [a-z0-9_.-], not reserved. */
static bool attr_name_ok(const char *n, size_t len)
{
    if (len == 0 || len > MSG_ATTR_NAME_MAX || (len >= 7 && !memcmp(n, "sluice-", 7)))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Adds a publisher's attribute, replying 400 when it breaks a limit. */
static int attr_add(api_req_t *a, const char *where, msg_attrs_buf_t *b, const char *name,
                    size_t nlen, const char *value, size_t vlen)
{
    if (b->count >= MSG_ATTR_COUNT_MAX) {
        reply_error(a, SL_EPARAM,
                    "%sattributes: at most %d attributes (content-type "
                    "and traceparent included).",
                    where, MSG_ATTR_COUNT_MAX);
        return SL_EPARAM;
    }
    int err = msg_attrs_add(b, name, nlen, value, vlen);
    if (err)
        reply_error(a, SL_EPARAM,
                    "%sattributes.%.*s is too long (names up to %d characters, "
                    "values up to %d bytes).",
                    where, (int)(nlen > 64 ? 64 : nlen), name, MSG_ATTR_NAME_MAX,
                    MSG_ATTR_VALUE_MAX);
    return err ? SL_EPARAM : 0;
}

static void header_attr(void *ctx, const char *k, const char *v)
{
    struct attr_ctx *c = ctx;
    static const char prefix[] = "sluice-attr-";
    if (c->err || strncasecmp(k, prefix, sizeof prefix - 1) != 0)
        return;
    char name[MSG_ATTR_NAME_MAX + 1];
    size_t nlen = strlen(k) - (sizeof prefix - 1);
    if (nlen > MSG_ATTR_NAME_MAX)
        nlen = MSG_ATTR_NAME_MAX + 1; /* refused below */
    for (size_t i = 0; i < nlen && i < MSG_ATTR_NAME_MAX; i++) {
        char ch = k[sizeof prefix - 1 + i];
        name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    if (!attr_name_ok(name, nlen)) {
        reply_error(c->a, SL_EPARAM,
                    "Header '%.100s' does not name a valid attribute: names are "
                    "1 to %d characters of a-z 0-9 _ . - and may not start "
                    "with 'sluice-'.",
                    k, MSG_ATTR_NAME_MAX);
        c->err = SL_EPARAM;
        return;
    }
    if (!visible_ascii(v, strlen(v))) {
        reply_error(c->a, SL_EPARAM, "Header '%.100s' must be visible ASCII.", k);
        c->err = SL_EPARAM;
        return;
    }
    c->err = attr_add(c->a, "", c->b, name, nlen, v, strlen(v));
}

/* Reads the timing options shared by publish and batch items: delay or deliver_at, ttl. */
static int pub_timing(api_req_t *a, const char *where, json_t *delay, json_t *deliver_at,
                      json_t *ttl, engine_pub_t *p)
{
    int64_t ms;
    char what[64];
    if (delay && deliver_at) {
        reply_error(a, SL_EPARAM, "%sdelay and deliver_at cannot both be given.", where);
        return SL_EPARAM;
    }
    if (delay) {
        snprintf(what, sizeof what, "%sdelay", where);
        if (json_dur(a, what, delay, &ms))
            return SL_EPARAM;
        p->deliver_at = ms ? dur_now_ms() + ms : 0;
    }
    if (deliver_at) {
        if (!json_is_string(deliver_at) ||
            dur_parse_time(json_string_value(deliver_at), json_string_length(deliver_at),
                           &p->deliver_at)) {
            reply_error(a, SL_EPARAM,
                        "'%sdeliver_at' must be an RFC 3339 time like "
                        "2026-11-22T07:00:00Z.",
                        where);
            return SL_EPARAM;
        }
    }
    if (ttl) {
        snprintf(what, sizeof what, "%sttl", where);
        if (json_dur(a, what, ttl, &p->ttl_ms))
            return SL_EPARAM;
    }
    return 0;
}

static void publish_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        for (size_t i = 0; i < a->nitems; i++)
            msg_unref(a->items[i].msg);
        reply_store_error(a, sr->status);
        return;
    }
    if (a->route == R_MESSAGES) {
        /* The hottest reply of the server, formatted directly: the queue name passed
         * engine_name_valid() ([A-Za-z0-9._-]), the id is a number and `stored` a constant, so
         * nothing needs escaping, and building it with jansson cost more than all the rest of
         * the publish (callgrind: 8.4k of 19k instructions). */
        engine_pub_t *p = &a->items[0];
        char *body = pool_printf(&a->r->pool, "{\"queue\":\"%s\",\"id\":%llu,\"stored\":\"%s\"%s}",
                                 a->queue, (unsigned long long)p->id, sr->u.publish.stored,
                                 p->duplicate ? ",\"duplicate\":true" : "");
        http_respond(a->r, p->duplicate ? 200 : 201, "application/json", body, strlen(body));
        return;
    }
    json_t *ids = json_array(), *dups = json_array();
    for (size_t i = 0; i < a->nitems; i++) {
        json_array_append_new(ids, json_integer((json_int_t)a->items[i].id));
        if (a->items[i].duplicate)
            json_array_append_new(dups, json_integer((json_int_t)a->items[i].id));
    }
    json_t *o =
        json_pack("{s:s,s:o,s:s}", "queue", a->queue, "ids", ids, "stored", sr->u.publish.stored);
    if (json_array_size(dups))
        json_object_set_new(o, "duplicates", dups);
    else
        json_decref(dups);
    reply_json(a, 201, o);
}

/* Parses query parameter name as an RFC 3339 time into *ms (left alone when absent). */
static int param_time(api_req_t *a, const char *name, int64_t *ms)
{
    const char *v = query(a, name);
    if (v && dur_parse_time(v, strlen(v), ms)) {
        reply_error(a, SL_EPARAM,
                    "Parameter '%s' must be an RFC 3339 time like "
                    "2026-11-22T07:00:00Z.",
                    name);
        return SL_EPARAM;
    }
    return 0;
}

/* Collects the attributes of a raw publish from its headers: Content-Type, traceparent and
 * Sluice-Attr-*. Replies and returns an error when one is invalid. */
static int publish_attrs(api_req_t *a, msg_attrs_buf_t *b)
{
    static const char *const kept[] = {"Content-Type", "traceparent"};
    for (size_t i = 0; i < SL_ARRAY_LEN(kept); i++) {
        const char *v = http_header(a->r, kept[i]);
        if (v == NULL || *v == '\0')
            continue;
        if (!visible_ascii(v, strlen(v))) {
            reply_error(a, SL_EPARAM, "Header '%s' must be visible ASCII.", kept[i]);
            return SL_EPARAM;
        }
        char name[16];
        size_t n = strlen(kept[i]);
        for (size_t k = 0; k <= n; k++)
            name[k] = (char)(kept[i][k] >= 'A' && kept[i][k] <= 'Z' ? kept[i][k] + 32 : kept[i][k]);
        if (attr_add(a, "", b, name, n, v, strlen(v)))
            return SL_EPARAM;
    }
    struct attr_ctx actx = {a, b, 0};
    http_each_header(a->r, header_attr, &actx);
    return actx.err;
}

/* Reads the options of a raw publish, which apply to every message of a framed batch too: delay
 * or deliver_at and ttl into *p, the ordering key into *key, and the attributes (headers) into
 * b. Replies and returns an error when one is invalid. */
static int raw_options(api_req_t *a, engine_pub_t *p, const char **key, msg_attrs_buf_t *b)
{
    int64_t delay = 0;
    if (query(a, "delay") && query(a, "deliver_at")) {
        reply_error(a, SL_EPARAM, "delay and deliver_at cannot both be given.");
        return SL_EPARAM;
    }
    if (param_dur(a, "delay", DUR_MAX_MS, &delay) || param_time(a, "deliver_at", &p->deliver_at) ||
        param_dur(a, "ttl", DUR_MAX_MS, &p->ttl_ms))
        return SL_EPARAM;
    if (delay)
        p->deliver_at = dur_now_ms() + delay;
    *key = query(a, "key");
    if (*key && (strlen(*key) == 0 || strlen(*key) > MSG_KEY_MAX)) {
        reply_error(a, SL_EPARAM, "Parameter 'key' must be 1 to %d bytes.", MSG_KEY_MAX);
        return SL_EPARAM;
    }
    return publish_attrs(a, b);
}

/* A message with the options raw_options() read. */
static msg_t *raw_msg(const engine_pub_t *p, const char *data, size_t len, const char *key,
                      const msg_attrs_buf_t *b)
{
    /* a delay or a time to live needs the message's extension: made now, not copied later */
    return (p->deliver_at || p->ttl_ms ? msg_new_ext : msg_new)(
        data, len, key, key ? strlen(key) : 0, b->buf, b->len);
}

static void h_publish(api_req_t *a)
{
    http_req_t *r = a->r;
    engine_pub_t *p = pool_calloc(&r->pool, 1, sizeof *p);
    const char *key, *idem = http_header(r, "Idempotency-Key");
    if (idem && (strlen(idem) == 0 || strlen(idem) > ENGINE_IDEM_KEY_MAX)) {
        reply_error(a, SL_EPARAM, "Header 'Idempotency-Key' must be 1 to %d bytes.",
                    ENGINE_IDEM_KEY_MAX);
        return;
    }
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    if (raw_options(a, p, &key, &b) == 0) {
        p->msg = raw_msg(p, r->body, r->body_len, key, &b);
        p->idem_key = idem;
        p->idem_len = idem ? strlen(idem) : 0;
        a->items = p;
        a->nitems = 1;
        a->sreq.u.publish.items = p;
        a->sreq.u.publish.n = 1;
        api_submit(a, STORE_PUBLISH, publish_done);
    }
    msg_attrs_cleanup(&b);
}

/* Collects a batch item's attributes object (names checked, values strings). */
static int item_attrs(api_req_t *a, const char *where, json_t *attrs, msg_attrs_buf_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        if (!json_is_string(v) || !attr_name_ok(k, strlen(k))) {
            reply_error(a, SL_EPARAM,
                        "%sattributes.%.64s: names are 1 to %d characters of "
                        "a-z 0-9 _ . - (not starting with 'sluice-') and values are "
                        "strings.",
                        where, k, MSG_ATTR_NAME_MAX);
            return SL_EPARAM;
        }
        if (attr_add(a, where, b, k, strlen(k), json_string_value(v), json_string_length(v)))
            return SL_EPARAM;
    }
    return 0;
}

/* Builds batch item i into *p. */
static int batch_item(api_req_t *a, size_t i, json_t *it, engine_pub_t *p)
{
    static const char *const known[] = {
        "body", "text", "delay", "deliver_at", "ttl", "key", "attributes", "idempotency_key", NULL};
    char where[40];
    snprintf(where, sizeof where, "messages[%zu].", i);
    if (!json_is_object(it)) {
        reply_error(a, SL_EPARAM, "messages[%zu] must be an object.", i);
        return SL_EPARAM;
    }
    if (json_known(a, where, it, known))
        return SL_EPARAM;
    json_t *body = json_object_get(it, "body"), *text = json_object_get(it, "text");
    if (!!body == !!text) {
        reply_error(a, SL_EPARAM, "%s needs exactly one of 'body' (base64) or 'text'.", where);
        return SL_EPARAM;
    }
    if (pub_timing(a, where, json_object_get(it, "delay"), json_object_get(it, "deliver_at"),
                   json_object_get(it, "ttl"), p))
        return SL_EPARAM;
    json_t *key = json_object_get(it, "key"), *idem = json_object_get(it, "idempotency_key");
    if (key && (!json_is_string(key) || json_string_length(key) == 0 ||
                json_string_length(key) > MSG_KEY_MAX)) {
        reply_error(a, SL_EPARAM, "%skey must be a string of 1 to %d bytes.", where, MSG_KEY_MAX);
        return SL_EPARAM;
    }
    if (idem && (!json_is_string(idem) || json_string_length(idem) == 0 ||
                 json_string_length(idem) > ENGINE_IDEM_KEY_MAX)) {
        reply_error(a, SL_EPARAM, "%sidempotency_key must be a string of 1 to %d bytes.", where,
                    ENGINE_IDEM_KEY_MAX);
        return SL_EPARAM;
    }
    json_t *attrs = json_object_get(it, "attributes");
    if (attrs && !json_is_object(attrs)) {
        reply_error(a, SL_EPARAM, "%sattributes must be an object of strings.", where);
        return SL_EPARAM;
    }
    size_t len;
    const char *data;
    unsigned char *dec = NULL;
    if (text) {
        if (!json_is_string(text)) {
            reply_error(a, SL_EPARAM, "%stext must be a string.", where);
            return SL_EPARAM;
        }
        data = json_string_value(text);
        len = json_string_length(text);
    } else {
        if (!json_is_string(body)) {
            reply_error(a, SL_EBASE64, "%sbody must be a base64 string.", where);
            return SL_EBASE64;
        }
        size_t blen = json_string_length(body);
        dec = pool_alloc(&a->r->pool, B64_DECODED_MAX(blen) + 1);
        if (b64_decode(json_string_value(body), blen, dec, &len)) {
            reply_error(a, SL_EBASE64, "%sbody: invalid base64 (standard alphabet, padded).",
                        where);
            return SL_EBASE64;
        }
        data = (const char *)dec;
    }
    if (len > a->api->cfg.max_message_bytes) {
        reply_error(a, SL_ETOOBIG, "%s is %zu bytes; messages are limited to %zu.", where, len,
                    a->api->cfg.max_message_bytes);
        return SL_ETOOBIG;
    }
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    if (attrs && item_attrs(a, where, attrs, &b)) {
        msg_attrs_cleanup(&b);
        return SL_EPARAM;
    }
    const char *ks = key ? json_string_value(key) : NULL;
    p->msg = (p->deliver_at || p->ttl_ms ? msg_new_ext : msg_new)(
        data, len, ks, key ? json_string_length(key) : 0, b.buf, b.len);
    msg_attrs_cleanup(&b);
    if (idem) {
        p->idem_key = pool_strndup(&a->r->pool, json_string_value(idem), json_string_length(idem));
        p->idem_len = json_string_length(idem);
    }
    return 0;
}

/* A batch in NSQ's line or binary framing (mpub.h): the query options and headers of a raw
 * publish apply to every message. */
static void h_batch_framed(api_req_t *a, mpub_form_t form)
{
    http_req_t *r = a->r;
    if (http_header(r, "Idempotency-Key")) {
        reply_error(a, SL_EPARAM,
                    "Header 'Idempotency-Key' names one message: in a batch, give each item its "
                    "own idempotency_key (JSON form).");
        return;
    }
    mpub_part_t *parts = pool_alloc(&r->pool, API_MAX_ITEMS * sizeof *parts);
    size_t n;
    char err[200];
    int rc = mpub_split(form, r->body ? r->body : "", r->body_len, parts, API_MAX_ITEMS, &n, err,
                        sizeof err);
    if (rc) {
        reply_error(a, rc, "%s", err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (parts[i].len > a->api->cfg.max_message_bytes) {
            reply_error(a, SL_ETOOBIG, "messages[%zu] is %zu bytes; messages are limited to %zu.",
                        i, parts[i].len, a->api->cfg.max_message_bytes);
            return;
        }
    engine_pub_t opt = {0}, *items = pool_alloc(&r->pool, n * sizeof *items);
    const char *key;
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    if (raw_options(a, &opt, &key, &b) == 0) {
        for (size_t i = 0; i < n; i++) {
            items[i] = opt;
            items[i].msg = raw_msg(&opt, parts[i].data, parts[i].len, key, &b);
        }
        a->items = items;
        a->nitems = n;
        a->sreq.u.publish.items = items;
        a->sreq.u.publish.n = n;
        api_submit(a, STORE_PUBLISH, publish_done);
    }
    msg_attrs_cleanup(&b);
}

static void h_batch(api_req_t *a)
{
    const char *ct = http_header(a->r, "Content-Type");
    if (ctype_is(ct, "text/plain")) {
        h_batch_framed(a, MPUB_LINES);
        return;
    }
    if (ctype_is(ct, "application/octet-stream")) {
        h_batch_framed(a, MPUB_BINARY);
        return;
    }
    json_t *body;
    if (body_json(a, false, &body))
        return;
    static const char *const known[] = {"messages", NULL};
    json_t *arr = json_object_get(body, "messages");
    if (json_known(a, "", body, known)) {
        json_decref(body);
        return;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(body);
        reply_error(a, SL_EPARAM, "'messages' must be a non-empty array.");
        return;
    }
    size_t n = json_array_size(arr);
    if (n > API_MAX_ITEMS) {
        json_decref(body);
        reply_error(a, SL_ETOOBIG, "A batch holds at most %d messages; this one has %zu.",
                    API_MAX_ITEMS, n);
        return;
    }
    engine_pub_t *items = pool_calloc(&a->r->pool, n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        if (batch_item(a, i, json_array_get(arr, i), &items[i])) {
            for (size_t j = 0; j < i; j++)
                msg_unref(items[j].msg);
            json_decref(body);
            return;
        }
    }
    json_decref(body);
    a->items = items;
    a->nitems = n;
    a->sreq.u.publish.items = items;
    a->sreq.u.publish.n = n;
    api_submit(a, STORE_PUBLISH, publish_done);
}

/* ---------------------------------------------------------------- consume */

static void lease_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < sr->u.lease.n; i++) {
        engine_lease_t *l = &sr->u.lease.out[i];
        json_array_append_new(arr, msg_json(a, l->msg, l->receipt, l->attempts));
    }
    a->r->on_done = on_done_leases;
    reply_json(a, 200, json_pack("{s:o}", "messages", arr));
}

/* The wait parameter, bounded by max_wait. */
static int param_wait(api_req_t *a, int64_t *wait)
{
    *wait = 0;
    return param_dur(a, "wait", a->api->cfg.max_wait_ms, wait);
}

static void h_lease(api_req_t *a)
{
    uint64_t max = 1;
    int64_t wait, vis = -1;
    if (param_group(a) || param_uint(a, "max", 1, API_MAX_ITEMS, &max) || param_wait(a, &wait) ||
        param_dur(a, "visibility", DUR_MAX_MS, &vis))
        return;
    a->sreq.u.lease.max = max;
    a->sreq.u.lease.max_bytes = API_LEASE_BYTES;
    a->sreq.u.lease.visibility_ms = vis;
    a->sreq.u.lease.wait_ms = wait;
    api_submit(a, STORE_LEASE, lease_done);
}

/* The pop's ack is on disk: answer with the message. */
static void pop_prepared(api_req_t *a)
{
    http_req_t *r = a->r;
    if (a->sreq.status) { /* the ack could not be made durable: give the message back */
        followup(a->api, STORE_UNDO, a->queue, &a->pop, 1);
        msg_unref(a->pop.msg);
        a->pop.msg = NULL;
        reply_store_error(a, a->sreq.status);
        return;
    }
    engine_lease_t *l = &a->pop;
    if (!a->raw) {
        reply_json(a, 200, json_pack("{s:o}", "message", msg_json(a, l->msg, NULL, l->attempts)));
        return;
    }
    msg_t *m = l->msg;
    size_t ctlen;
    const char *ct = msg_attr_find(m, "content-type", &ctlen);
    char buf[DUR_TIME_LEN];
    http_add_header(r, "Sluice-Id", pool_printf(&r->pool, "%llu", (unsigned long long)m->id));
    http_add_header(r, "Sluice-Queue", a->queue);
    http_add_header(r, "Sluice-Attempts", pool_printf(&r->pool, "%u", l->attempts));
    http_add_header(r, "Sluice-Published-At", dur_format_time(m->published_at, buf));
    /* The body stays in the message, which a->pop holds until on_done. */
    http_respond(r, 200, ct ? pool_strndup(&r->pool, ct, ctlen) : "application/octet-stream",
                 msg_body(m), m->len);
}

/* Pop: a lease of one message whose ack is made durable before the reply is sent (at most once,
 * even across a crash), and takes effect — or is taken back — once we know whether the reply
 * left. */
static void pop_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    if (sr->u.lease.n == 0) {
        if (a->raw)
            http_respond(a->r, 204, NULL, NULL, 0);
        else
            reply_json(a, 200, json_pack("{s:n}", "message"));
        return;
    }
    a->pop = sr->u.lease.out[0]; /* the reference moves to a->pop */
    a->r->on_done = on_done_pop;
    memset(&sr->u, 0, sizeof sr->u);
    a->receipt = a->pop.receipt;
    sr->u.ack.receipts = &a->receipt;
    sr->u.ack.n = 1;
    api_submit(a, STORE_ACK_PREPARE, pop_prepared);
}

static void h_pop(api_req_t *a)
{
    int64_t wait;
    if (param_group(a) || param_wait(a, &wait) || param_bool(a, "raw", &a->raw))
        return;
    a->sreq.u.lease.max = 1;
    a->sreq.u.lease.visibility_ms = -1;
    a->sreq.u.lease.wait_ms = wait;
    api_submit(a, STORE_LEASE, pop_done);
}

static json_t *not_found_json(const store_req_t *sr)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < sr->u.ack.n; i++)
        if (sr->u.ack.results[i])
            json_array_append_new(arr, json_string(sr->u.ack.receipts[i]));
    return arr;
}

static void ack_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    if (a->route == R_MESSAGE) {
        if (sr->u.ack.results[0])
            reply_store_error(a, sr->u.ack.results[0]);
        else
            reply_json(a, 200, json_pack("{s:i}", "acked", 1));
        return;
    }
    reply_json(a, 200,
               json_pack("{s:I,s:o}", sr->op == STORE_ACK ? "acked" : "released",
                         (json_int_t)sr->u.ack.done, "not_found", not_found_json(sr)));
}

static void h_ack(api_req_t *a)
{
    json_t *body;
    static const char *const known[] = {"receipts", NULL};
    if (body_json(a, false, &body))
        return;
    if (json_known(a, "", body, known) ||
        json_receipts(a, body, &a->sreq.u.ack.receipts, &a->sreq.u.ack.n)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    api_submit(a, STORE_ACK, ack_done);
}

static void h_ack_one(api_req_t *a)
{
    a->sreq.u.ack.receipts = &a->receipt;
    a->sreq.u.ack.n = 1;
    api_submit(a, STORE_ACK, ack_done);
}

static void h_release(api_req_t *a)
{
    json_t *body, *v;
    static const char *const known[] = {"receipts", "delay", "error", NULL};
    if (body_json(a, false, &body))
        return;
    if (json_known(a, "", body, known) ||
        json_receipts(a, body, &a->sreq.u.ack.receipts, &a->sreq.u.ack.n))
        goto out;
    if ((v = json_object_get(body, "delay")) && json_dur(a, "delay", v, &a->sreq.u.ack.delay_ms))
        goto out;
    if ((v = json_object_get(body, "error"))) {
        if (!json_is_string(v) || json_string_length(v) > ENGINE_ERROR_MAX) {
            reply_error(a, SL_EPARAM, "'error' must be a string of at most %d bytes.",
                        ENGINE_ERROR_MAX);
            goto out;
        }
        a->sreq.u.ack.error =
            pool_strndup(&a->r->pool, json_string_value(v), json_string_length(v));
    }
    api_submit(a, STORE_RELEASE, ack_done);
out:
    json_decref(body);
}

/* ---------------------------------------------------------------- browse */

static void peek_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < sr->u.peek.n; i++) {
        engine_peek_item_t *it = &sr->u.peek.out[i];
        json_t *o = msg_json(a, it->msg, NULL, it->attempts);
        json_object_set_new(o, "state", json_string(engine_state_name(it->state)));
        if (it->until) {
            const char *field = it->state == ENGINE_LEASED ? "lease_expires_at" : "visible_at";
            json_object_set_new(o, field, time_json(it->until));
        }
        json_array_append_new(arr, o);
    }
    json_t *o = json_pack("{s:o}", "messages", arr);
    if (sr->u.peek.more && sr->u.peek.n)
        json_object_set_new(o, "next_after",
                            json_integer((json_int_t)sr->u.peek.out[sr->u.peek.n - 1].msg->id));
    a->r->on_done = on_done_cleanup;
    reply_json(a, 200, o);
}

static void h_peek(api_req_t *a)
{
    uint64_t after = 0, limit = 10;
    if (param_group(a) || param_uint(a, "after", 0, UINT64_MAX, &after) ||
        param_uint(a, "limit", 1, API_MAX_ITEMS, &limit))
        return;
    a->sreq.u.peek.after = after;
    a->sreq.u.peek.limit = limit;
    api_submit(a, STORE_PEEK, peek_done);
}

static void redrive_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    json_t *nf = json_array();
    for (size_t i = 0; i < sr->u.redrive.nnot; i++)
        json_array_append_new(nf, json_integer((json_int_t)sr->u.redrive.not_found[i]));
    reply_json(
        a, 200,
        json_pack("{s:I,s:o}", "redriven", (json_int_t)sr->u.redrive.moved, "not_found", nf));
}

static void h_redrive(api_req_t *a)
{
    json_t *body;
    static const char *const known[] = {"ids", NULL};
    if (body_json(a, true, &body))
        return;
    if (json_known(a, "", body, known))
        goto out;
    json_t *ids = json_object_get(body, "ids");
    if (ids) {
        if (!json_is_array(ids) || json_array_size(ids) > API_MAX_ITEMS) {
            reply_error(a, SL_EPARAM, "'ids' must be an array of at most %d message ids.",
                        API_MAX_ITEMS);
            goto out;
        }
        size_t n = json_array_size(ids);
        uint64_t *v = pool_alloc(&a->r->pool, (n ? n : 1) * sizeof *v);
        for (size_t i = 0; i < n; i++)
            if (json_uint(a, "ids[]", json_array_get(ids, i), 1, INT64_MAX, &v[i]))
                goto out;
        a->sreq.u.redrive.ids = v;
        a->sreq.u.redrive.n = n;
    }
    api_submit(a, STORE_REDRIVE, redrive_done);
out:
    json_decref(body);
}

/* ---------------------------------------------------------------- queues and groups */

static json_t *settings_json(const engine_settings_t *s)
{
    char b1[DUR_LEN], b2[DUR_LEN], b3[DUR_LEN];
    return json_pack("{s:s,s:I,s:s,s:I,s:I,s:s,s:s,s:I}", "visibility_timeout",
                     dur_format(s->visibility_ms, b1), "max_attempts", (json_int_t)s->max_attempts,
                     "dead_letter_queue", s->dlq, "max_messages", (json_int_t)s->max_messages,
                     "max_bytes", (json_int_t)s->max_bytes, "max_age",
                     dur_format(s->max_age_ms, b2), "dedup_window", dur_format(s->dedup_ms, b3),
                     "max_in_flight_per_key", (json_int_t)s->max_in_flight_per_key);
}

static json_t *group_json(const engine_group_info_t *g)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "name", g->name, "lag",
                     (json_int_t)g->lag, "in_flight", (json_int_t)g->in_flight, "ready",
                     (json_int_t)g->ready, "retrying", (json_int_t)g->retrying, "delivered",
                     (json_int_t)g->delivered, "acked", (json_int_t)g->acked, "dead_lettered",
                     (json_int_t)g->dead_lettered, "waiting", (json_int_t)g->waiting,
                     "max_in_flight", (json_int_t)g->max_in_flight, "max_attempts",
                     (json_int_t)g->max_attempts, "created_at", time_json(g->created_at));
}

static json_t *queue_json(const engine_queue_info_t *q, bool full)
{
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "name", q->name, "messages",
                          (json_int_t)q->messages, "bytes", (json_int_t)q->bytes, "delayed",
                          (json_int_t)q->delayed, "in_flight", (json_int_t)q->in_flight,
                          "published", (json_int_t)q->published, "acked", (json_int_t)q->acked);
    if (!full) {
        json_object_set_new(o, "groups", json_integer((json_int_t)q->ngroups));
        return o;
    }
    json_object_set_new(o, "expired", json_integer((json_int_t)q->expired));
    json_object_set_new(o, "dropped", json_integer((json_int_t)q->dropped));
    json_object_set_new(o, "dead_lettered", json_integer((json_int_t)q->dead_lettered));
    json_object_set_new(o, "created_at", time_json(q->created_at));
    json_object_set_new(o, "settings", settings_json(&q->settings));
    json_t *gs = json_array();
    for (size_t i = 0; i < q->ngroups; i++)
        json_array_append_new(gs, group_json(&q->groups[i]));
    json_object_set_new(o, "groups", gs);
    return o;
}

static void queues_done(api_req_t *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->sreq.u.queue_list.n; i++)
        json_array_append_new(arr, queue_json(&a->sreq.u.queue_list.queues[i], false));
    reply_json(a, 200, json_pack("{s:o}", "queues", arr));
}

static void queue_info_done(api_req_t *a)
{
    if (a->sreq.status) {
        reply_store_error(a, a->sreq.status);
        return;
    }
    if (a->route == R_GROUPS) {
        json_t *gs = json_array();
        for (size_t i = 0; i < a->sreq.u.queue_info.ngroups; i++)
            json_array_append_new(gs, group_json(&a->sreq.u.queue_info.groups[i]));
        reply_json(a, 200, json_pack("{s:o}", "groups", gs));
        return;
    }
    /* after a PUT the status tells created (201) from changed (200) */
    int status = a->r->method == HTTP_PUT && a->created ? 201 : 200;
    json_t *o = queue_json(&a->sreq.u.queue_info, true);
    if (a->sreq.ndamage) {
        json_t *d = json_array();
        for (size_t i = 0; i < a->sreq.ndamage; i++) {
            const struct store_damage *x = &a->sreq.damage[i];
            char file[40];
            snprintf(file, sizeof file, "%016llx.seg", (unsigned long long)x->segment);
            json_array_append_new(d,
                                  json_pack("{s:s,s:I,s:I}", "file", file, "offset",
                                            (json_int_t)x->offset, "bytes", (json_int_t)x->bytes));
        }
        json_object_set_new(o, "storage", json_pack("{s:o}", "damaged", d));
    }
    reply_json(a, status, o);
}

static void queue_put_done(api_req_t *a)
{
    if (a->sreq.status) {
        if (a->sreq.status == SL_EPARAM)
            reply_error(a, SL_EPARAM,
                        "'dead_letter_queue' must be a valid queue name other than "
                        "the queue itself, or \"\".");
        else
            reply_store_error(a, a->sreq.status);
        return;
    }
    a->created = a->sreq.u.queue_put.created;
    memset(&a->sreq.u, 0, sizeof a->sreq.u);
    api_submit(a, STORE_QUEUE_INFO, queue_info_done);
}

static void h_queue_put(api_req_t *a)
{
    static const char *const known[] = {"visibility_timeout",
                                        "max_attempts",
                                        "dead_letter_queue",
                                        "max_messages",
                                        "max_bytes",
                                        "max_age",
                                        "dedup_window",
                                        "max_in_flight_per_key",
                                        NULL};
    json_t *body, *v;
    engine_settings_t *s = &a->sreq.u.queue_put.set;
    unsigned *mask = &a->sreq.u.queue_put.mask;
    uint64_t u;
    if (body_json(a, true, &body))
        return;
    if (json_known(a, "", body, known))
        goto out;
    if ((v = json_object_get(body, "visibility_timeout"))) {
        if (json_dur(a, "visibility_timeout", v, &s->visibility_ms))
            goto out;
        *mask |= ENGINE_SET_VISIBILITY;
    }
    if ((v = json_object_get(body, "max_attempts"))) {
        if (json_uint(a, "max_attempts", v, 0, UINT32_MAX, &u))
            goto out;
        s->max_attempts = (uint32_t)u;
        *mask |= ENGINE_SET_MAX_ATTEMPTS;
    }
    if ((v = json_object_get(body, "dead_letter_queue"))) {
        if (!json_is_string(v) || json_string_length(v) > ENGINE_NAME_MAX) {
            reply_error(a, SL_EPARAM, "'dead_letter_queue' must be a queue name or \"\".");
            goto out;
        }
        snprintf(s->dlq, sizeof s->dlq, "%s", json_string_value(v));
        *mask |= ENGINE_SET_DLQ;
    }
    if ((v = json_object_get(body, "max_messages"))) {
        if (json_uint(a, "max_messages", v, 0, INT64_MAX, &s->max_messages))
            goto out;
        *mask |= ENGINE_SET_MAX_MESSAGES;
    }
    if ((v = json_object_get(body, "max_bytes"))) {
        if (json_uint(a, "max_bytes", v, 0, INT64_MAX, &s->max_bytes))
            goto out;
        *mask |= ENGINE_SET_MAX_BYTES;
    }
    if ((v = json_object_get(body, "max_age"))) {
        if (json_dur(a, "max_age", v, &s->max_age_ms))
            goto out;
        *mask |= ENGINE_SET_MAX_AGE;
    }
    if ((v = json_object_get(body, "dedup_window"))) {
        if (json_dur(a, "dedup_window", v, &s->dedup_ms))
            goto out;
        *mask |= ENGINE_SET_DEDUP;
    }
    if ((v = json_object_get(body, "max_in_flight_per_key"))) {
        if (json_uint(a, "max_in_flight_per_key", v, 1, UINT32_MAX, &u))
            goto out;
        s->max_in_flight_per_key = (uint32_t)u;
        *mask |= ENGINE_SET_KEY_IN_FLIGHT;
    }
    api_submit(a, STORE_QUEUE_PUT, queue_put_done);
out:
    json_decref(body);
}

static void simple_done(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    switch (sr->op) {
    case STORE_QUEUE_DELETE:
        deliver_remove_queue(a->api->cfg.deliver, a->queue); /* its subscriptions went with it */
        reply_json(a, 200, json_pack("{s:s}", "deleted", a->queue));
        break;
    case STORE_GROUP_DELETE: {
        deliver_info_t info; /* a subscription's group deleted as a group ends the subscription */
        if (deliver_info(a->api->cfg.deliver, a->group, &info) == 0 &&
            !strcmp(info.queue, a->queue))
            deliver_remove(a->api->cfg.deliver, a->group);
        reply_json(a, 200, json_pack("{s:s}", "deleted", a->group));
        break;
    }
    case STORE_QUEUE_PURGE:
        reply_json(a, 200, json_pack("{s:I}", "purged", (json_int_t)sr->u.purged));
        break;
    case STORE_GROUP_PUT:
        reply_json(a, sr->u.group.created ? 201 : 200, group_json(&sr->u.group.info));
        break;
    case STORE_GROUP_INFO:
        reply_json(a, 200, group_json(&sr->u.group.info));
        break;
    default:
        sl_assert(!"unexpected store op");
    }
}

static void h_group_put(api_req_t *a)
{
    json_t *body;
    static const char *const known[] = {"from", "max_in_flight", "max_attempts", NULL};
    static const struct {
        const char *name;
        unsigned bit;
    } limits[] = {{"max_in_flight", ENGINE_GSET_MAX_IN_FLIGHT},
                  {"max_attempts", ENGINE_GSET_MAX_ATTEMPTS}};
    if (body_json(a, true, &body))
        return;
    const char *from = query(a, "from");
    json_t *jf = json_object_get(body, "from");
    if (json_known(a, "", body, known))
        goto out;
    if (jf && !from)
        from = json_is_string(jf) ? json_string_value(jf) : "";
    if (from && strcmp(from, "earliest") && strcmp(from, "latest")) {
        reply_error(a, SL_EPARAM, "'from' must be \"earliest\" or \"latest\".");
        goto out;
    }
    a->sreq.u.group.from_latest = from && !strcmp(from, "latest");
    /* the limits: 0 = none (max_attempts: the queue's); set on creation, changed on a group that
     * exists */
    for (size_t i = 0; i < SL_ARRAY_LEN(limits); i++) {
        uint64_t v = 0;
        json_t *jv = json_object_get(body, limits[i].name);
        if (query(a, limits[i].name) == NULL && jv == NULL)
            continue;
        if (param_uint(a, limits[i].name, 0, UINT32_MAX, &v) ||
            (jv && json_uint(a, limits[i].name, jv, 0, UINT32_MAX, &v)))
            goto out;
        if (limits[i].bit == ENGINE_GSET_MAX_IN_FLIGHT)
            a->sreq.u.group.max_in_flight = (uint32_t)v;
        else
            a->sreq.u.group.max_attempts = (uint32_t)v;
        a->sreq.u.group.mask |= limits[i].bit;
    }
    api_submit(a, STORE_GROUP_PUT, simple_done);
out:
    json_decref(body);
}

/* ---------------------------------------------------------------- push subscriptions */

/* A subscription being made: what its group will be created with. */
typedef struct api_sub {
    deliver_settings_t set;
    uint64_t max_in_flight, max_attempts;
    bool from_latest;
} api_sub_t;

static json_t *time_or_null(int64_t ms)
{
    return ms ? time_json(ms) : json_null();
}

/* The subscription object of docs/api.md; g (NULL: left out) adds the group's counters. */
static json_t *sub_json(const deliver_info_t *i, const engine_group_info_t *g)
{
    char tb[DUR_LEN];
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:s,s:o,s:s,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "id", i->id, "queue",
        i->queue, "url", i->settings->url, "max_in_flight", (json_int_t)i->max_in_flight,
        "max_attempts", (json_int_t)i->max_attempts, "timeout",
        dur_format(i->settings->timeout_ms, tb), "created_at", time_json(i->created_at), "circuit",
        i->circuit, "paused_until", time_or_null(i->circuit_until), "in_flight",
        (json_int_t)i->in_flight, "delivered", (json_int_t)i->delivered, "failed",
        (json_int_t)i->failed, "last_status",
        i->last_status ? json_integer(i->last_status) : json_null(), "last_error",
        i->last_error[0] ? strn_json(i->last_error, strlen(i->last_error)) : json_null(),
        "last_attempt_at", time_or_null(i->last_attempt_at), "last_success_at",
        time_or_null(i->last_success_at));
    if (g) {
        json_object_set_new(o, "lag", json_integer((json_int_t)g->lag));
        json_object_set_new(o, "ready", json_integer((json_int_t)g->ready));
        json_object_set_new(o, "retrying", json_integer((json_int_t)g->retrying));
        json_object_set_new(o, "dead_lettered", json_integer((json_int_t)g->dead_lettered));
    }
    if (i->settings->mqgo)
        json_object_set_new(o, "mqgo", json_true());
    return o;
}

/* Finds subscription id (a->group) for GET and DELETE, setting a->queue; replies 404. */
static int sub_find(api_req_t *a, deliver_info_t *info)
{
    if (deliver_info(a->api->cfg.deliver, a->group, info) != 0) {
        reply_error(a, SL_ENOSUB, "Subscription '%s' does not exist.", a->group);
        return SL_ENOSUB;
    }
    snprintf(a->queue, sizeof a->queue, "%s", info->queue);
    return 0;
}

/* Makes a random subscription id "sub-<16 hex>" that no subscription has yet. */
static void sub_new_id(api_req_t *a)
{
    deliver_info_t info;
    do {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != sizeof r)
            r = (uint64_t)dur_now_ms() ^ (uint64_t)(uintptr_t)a;
        snprintf(a->group, sizeof a->group, "sub-%016llx", (unsigned long long)r);
    } while (deliver_info(a->api->cfg.deliver, a->group, &info) == 0);
}

/* Replies 503 push_unavailable and returns true when libcurl cannot be loaded. */
static bool push_unavailable(api_req_t *a)
{
    if (webhook_load() == 0)
        return false;
    reply_error(
        a, SL_EUNAVAILABLE,
        "Push delivery is unavailable: libcurl cannot be loaded (the server log says why).");
    return true;
}

/* A new Standard Webhooks secret: "whsec_" and the base64 of 24 random bytes. */
static void secret_new(char *out)
{
    unsigned char key[24];
    if (getrandom(key, sizeof key, 0) != sizeof key)
        sl_assert(!"no randomness for a secret");
    memcpy(out, "whsec_", 6);
    b64_encode(key, sizeof key, out + 6);
}

static void sub_created(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    deliver_info_t info;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    if (!sr->u.group.created) {
        reply_error(a, SL_ECONFLICT, "Queue '%s' already has a group named '%s'.", a->queue,
                    a->group);
        return;
    }
    if (deliver_add(a->api->cfg.deliver, a->queue, &sr->u.group.info) ||
        deliver_info(a->api->cfg.deliver, a->group, &info)) {
        reply_error(a, SL_EINTERNAL, "The subscription was stored but cannot be started.");
        return;
    }
    if (a->mqgo_id) { /* MQ Go's reply, as its README gives it */
        reply_json(a, 200, json_pack("{s:I}", "id", (json_int_t)a->mqgo_id));
        return;
    }
    json_t *o = sub_json(&info, &sr->u.group.info);
    json_object_set_new(o, "secret", json_string(info.settings->secret));
    reply_json(a, 201, o);
}

/* The queue exists (or was just made): create the subscription's group. */
static void sub_queue_ready(api_req_t *a)
{
    store_req_t *sr = &a->sreq;
    if (sr->status) {
        reply_store_error(a, sr->status);
        return;
    }
    api_sub_t *sub = a->sub;
    char *meta = pool_alloc(&a->r->pool, ENGINE_META_MAX + 1);
    deliver_meta_format(&sub->set, meta);
    memset(&sr->u, 0, sizeof sr->u);
    sr->u.group.from_latest = sub->from_latest;
    sr->u.group.max_in_flight = (uint32_t)sub->max_in_flight;
    sr->u.group.max_attempts = (uint32_t)sub->max_attempts;
    sr->u.group.meta = meta;
    api_submit(a, STORE_GROUP_PUT, sub_created);
}

/* Creates the subscription in a->sub as group a->group of queue a->queue, the queue first if it
 * does not exist yet: subscribing before the first publish is the usual order. */
static void sub_create(api_req_t *a)
{
    memset(&a->sreq.u, 0, sizeof a->sreq.u);
    api_submit(a, STORE_QUEUE_PUT, sub_queue_ready);
}

static void h_subscribe(api_req_t *a)
{
    static const char *const known[] = {
        "url", "secret", "max_in_flight", "from", "max_attempts", "timeout", NULL};
    api_t *api = a->api;
    json_t *body, *v;
    char why[WEBHOOK_ERROR_MAX + 1];
    if (body_json(a, false, &body))
        return;
    if (json_known(a, "", body, known))
        goto out;
    if (push_unavailable(a))
        goto out;
    api_sub_t *sub = pool_calloc(&a->r->pool, 1, sizeof *sub);
    v = json_object_get(body, "url");
    if (!json_is_string(v)) {
        reply_error(a, SL_EPARAM, "'url' must be a string: the receiver's http or https URL.");
        goto out;
    }
    if (webhook_url_check(json_string_value(v), sub->set.url, sizeof sub->set.url, why)) {
        reply_error(a, SL_EPARAM, "'url': %s.", why);
        goto out;
    }
    v = json_object_get(body, "secret");
    if (v == NULL) {
        secret_new(sub->set.secret);
    } else {
        char sig[WEBHOOK_SIG_MAX];
        const char *sec = json_string_value(v);
        if (!json_is_string(v) || json_string_length(v) < WEBHOOK_KEY_MIN ||
            json_string_length(v) > DELIVER_SECRET_MAX || !visible_ascii(sec, strlen(sec)) ||
            webhook_sign(sec, "", 0, "", 0, sig)) {
            reply_error(a, SL_EPARAM,
                        "'secret' must be %d to %d characters of visible ASCII; with the prefix "
                        "\"whsec_\", the base64 of a %d to %d byte key.",
                        WEBHOOK_KEY_MIN, DELIVER_SECRET_MAX, WEBHOOK_KEY_MIN, WEBHOOK_KEY_MAX);
            goto out;
        }
        snprintf(sub->set.secret, sizeof sub->set.secret, "%s", sec);
    }
    sub->max_in_flight = 1;
    sub->max_attempts = api->cfg.max_attempts;
    sub->set.timeout_ms = api->cfg.push_timeout_ms;
    sub->from_latest = true;
    if (((v = json_object_get(body, "max_in_flight")) &&
         json_uint(a, "max_in_flight", v, 1, 10000, &sub->max_in_flight)) ||
        ((v = json_object_get(body, "max_attempts")) &&
         json_uint(a, "max_attempts", v, 1, UINT32_MAX, &sub->max_attempts)) ||
        ((v = json_object_get(body, "timeout")) && json_dur(a, "timeout", v, &sub->set.timeout_ms)))
        goto out;
    if (sub->set.timeout_ms < 1 || sub->set.timeout_ms > 3600000) {
        reply_error(a, SL_EPARAM, "'timeout' must be from 1ms to 1h.");
        goto out;
    }
    v = json_object_get(body, "from");
    if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "earliest") &&
                                     strcmp(json_string_value(v), "latest")))) {
        reply_error(a, SL_EPARAM, "'from' must be \"earliest\" or \"latest\".");
        goto out;
    }
    sub->from_latest = v == NULL || !strcmp(json_string_value(v), "latest");
    a->sub = sub;
    sub_new_id(a);
    sub_create(a);
out:
    json_decref(body);
}

struct sub_list_ctx {
    json_t *arr;
    const char *queue; /* NULL: every queue */
};

static void sub_list_one(void *ctx, const deliver_info_t *i)
{
    struct sub_list_ctx *c = ctx;
    if (c->queue == NULL || !strcmp(c->queue, i->queue))
        json_array_append_new(c->arr, sub_json(i, NULL));
}

static void sub_list_reply(api_req_t *a, const char *queue)
{
    struct sub_list_ctx c = {json_array(), queue};
    deliver_each(a->api->cfg.deliver, sub_list_one, &c);
    reply_json(a, 200, json_pack("{s:o}", "subscriptions", c.arr));
}

static void sub_list_checked(api_req_t *a)
{
    if (a->sreq.status)
        reply_store_error(a, a->sreq.status);
    else
        sub_list_reply(a, a->queue);
}

/* GET /v1/subscriptions[?queue=] filters (an unknown queue has none); GET
 * /v1/queues/{q}/subscriptions names a queue, which must exist. */
static void h_sub_list(api_req_t *a)
{
    if (a->route == R_QSUBS)
        api_submit(a, STORE_QUEUE_INFO, sub_list_checked);
    else
        sub_list_reply(a, query(a, "queue"));
}

static void sub_info_done(api_req_t *a)
{
    deliver_info_t info;
    if (a->sreq.status || deliver_info(a->api->cfg.deliver, a->group, &info)) {
        reply_error(a, SL_ENOSUB, "Subscription '%s' does not exist.", a->group);
        return;
    }
    reply_json(a, 200, sub_json(&info, &a->sreq.u.group.info));
}

/* The group is deleted (or was already gone): delivery stops. */
static void sub_deleted(api_req_t *a)
{
    int st = a->sreq.status;
    if (st && st != SL_ENOGROUP && st != SL_ENOQUEUE) {
        reply_store_error(a, st);
        return;
    }
    deliver_remove(a->api->cfg.deliver, a->group);
    if (a->mqgo_id)
        reply_json(
            a, 200,
            json_pack("{s:I,s:s}", "id", (json_int_t)a->mqgo_id, "message", "Disconnected."));
    else
        reply_json(a, 200, json_pack("{s:s}", "deleted", a->group));
}

/* ---------------------------------------------------------------- MQ Go */

/* Reads an MQ Go body into *q, replying 400 when it cannot be read. */
static int mqgo_body(api_req_t *a, mqgo_request_t *q)
{
    char why[MQGO_WHY_MAX];
    int err = mqgo_request_parse(a->r->body ? a->r->body : "", a->r->body_len, q, why);
    if (err)
        reply_error(a, err, "%s.", why);
    return err;
}

static int mqgo_need_id(api_req_t *a, const mqgo_request_t *q)
{
    if (q->has_id)
        return 0;
    reply_error(a, SL_EPARAM, "'id' is required: the id that /connect returned.");
    return SL_EPARAM;
}

static void h_mqgo_connect(api_req_t *a)
{
    api_t *api = a->api;
    mqgo_request_t q;
    char why[WEBHOOK_ERROR_MAX + 1];
    if (mqgo_body(a, &q))
        goto out;
    bool send = q.mode && !strcasecmp(q.mode, "send");
    if (!send && !(q.mode && !strcasecmp(q.mode, "receive"))) {
        reply_error(a, SL_EPARAM, "'mode' must be \"send\" or \"receive\".");
        goto out;
    }
    if (send) {
        uint64_t id = mqgo_next_id(api->cfg.mqgo);
        mqgo_sender_add(api->cfg.mqgo, id);
        reply_json(a, 200, json_pack("{s:I}", "id", (json_int_t)id));
        goto out;
    }
    if (push_unavailable(a))
        goto out;
    api_sub_t *sub = pool_calloc(&a->r->pool, 1, sizeof *sub);
    if (q.client_url == NULL ||
        webhook_url_check(q.client_url, sub->set.url, sizeof sub->set.url, why)) {
        reply_error(a, SL_EPARAM, "'ClientURL': %s.",
                    q.client_url ? why : "a receiver needs the URL to deliver to");
        goto out;
    }
    secret_new(sub->set.secret);
    sub->set.timeout_ms = api->cfg.push_timeout_ms;
    sub->set.mqgo = true;
    sub->max_in_flight = 1;
    sub->max_attempts = api->cfg.max_attempts;
    sub->from_latest = true; /* every message sent after it connected */
    a->sub = sub;
    a->mqgo_id = mqgo_next_id(api->cfg.mqgo);
    snprintf(a->queue, sizeof a->queue, "%s", api->cfg.mqgo_queue);
    mqgo_receiver_name(a->mqgo_id, a->group);
    sub_create(a);
out:
    mqgo_request_cleanup(&q);
}

static void mqgo_sent(api_req_t *a)
{
    if (a->sreq.status) {
        publish_done(a); /* releases the message and replies with the error */
        return;
    }
    reply_json(a, 200,
               json_pack("{s:s,s:I}", "status", "Message enqueued.", "id", (json_int_t)a->mqgo_id));
}

static void h_mqgo_send(api_req_t *a)
{
    api_t *api = a->api;
    mqgo_request_t q;
    if (mqgo_body(a, &q) || mqgo_need_id(a, &q))
        goto out;
    if (!mqgo_sender_find(api->cfg.mqgo, q.id)) {
        reply_error(a, SL_ENOSENDER,
                    "Connection %llu is not a connected sender: POST /connect with \"mode\": "
                    "\"send\" first.",
                    (unsigned long long)q.id);
        goto out;
    }
    if (q.body == NULL) {
        reply_error(a, SL_EPARAM, "'body' must be a string: the message.");
        goto out;
    }
    if (q.body_len > api->cfg.max_message_bytes) {
        reply_error(a, SL_ETOOBIG, "The message is larger than %zu bytes.",
                    api->cfg.max_message_bytes);
        goto out;
    }
    static const char ctype[] = "text/plain; charset=utf-8";
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    msg_attrs_add(&b, "content-type", 12, ctype, sizeof ctype - 1);
    engine_pub_t *p = pool_calloc(&a->r->pool, 1, sizeof *p);
    p->msg = msg_new(q.body, q.body_len, NULL, 0, b.buf, b.len);
    msg_attrs_cleanup(&b);
    a->mqgo_id = q.id;
    snprintf(a->queue, sizeof a->queue, "%s", api->cfg.mqgo_queue);
    a->items = p;
    a->nitems = 1;
    a->sreq.u.publish.items = p;
    a->sreq.u.publish.n = 1;
    api_submit(a, STORE_PUBLISH, mqgo_sent);
out:
    mqgo_request_cleanup(&q);
}

static void h_mqgo_disconnect(api_req_t *a)
{
    api_t *api = a->api;
    mqgo_request_t q;
    deliver_info_t info;
    if (mqgo_body(a, &q) || mqgo_need_id(a, &q))
        goto out;
    a->mqgo_id = q.id;
    if (mqgo_sender_remove(api->cfg.mqgo, q.id)) {
        reply_json(a, 200,
                   json_pack("{s:I,s:s}", "id", (json_int_t)q.id, "message", "Disconnected."));
        goto out;
    }
    mqgo_receiver_name(q.id, a->group);
    if (deliver_info(api->cfg.deliver, a->group, &info) != 0) {
        reply_error(a, SL_ENOENT, "No connection has id %llu.", (unsigned long long)q.id);
        goto out;
    }
    snprintf(a->queue, sizeof a->queue, "%s", info.queue);
    api_submit(a, STORE_GROUP_DELETE, sub_deleted);
out:
    mqgo_request_cleanup(&q);
}

/* ---------------------------------------------------------------- routing */

static int parse_route(api_req_t *a, const char *path)
{
    if (!strcmp(path, "/healthz"))
        return R_HEALTHZ;
    if (!strcmp(path, "/readyz"))
        return R_READYZ;
    /* MQ Go's endpoints, with or without the trailing slash its mux wanted (no redirect) */
    static const struct {
        const char *path;
        int route;
    } mqgo[] = {
        {"/connect", R_MQGO_CONNECT}, {"/send", R_MQGO_SEND}, {"/disconnect", R_MQGO_DISCONNECT}};
    for (size_t i = 0; i < SL_ARRAY_LEN(mqgo); i++) {
        size_t n = strlen(mqgo[i].path);
        if (!strncmp(path, mqgo[i].path, n) && (path[n] == '\0' || !strcmp(path + n, "/")))
            return mqgo[i].route;
    }
    static const char subs[] = "/v1/subscriptions";
    if (!strncmp(path, subs, sizeof subs - 1)) {
        const char *id = path + sizeof subs - 1;
        if (*id == '\0')
            return R_SUBS;
        if (*id++ != '/' || strchr(id, '/'))
            return R_NONE;
        if (!engine_name_valid(id, strlen(id)))
            return -SL_ENAME;
        snprintf(a->group, sizeof a->group, "%s", id);
        return R_SUB;
    }
    static const char prefix[] = "/v1/queues";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return R_NONE;
    path += sizeof prefix - 1;
    if (*path == '\0')
        return R_QUEUES;
    if (*path != '/')
        return R_NONE;
    path++;
    /* split the rest into at most 3 segments */
    const char *seg[3];
    size_t len[3], n = 0;
    while (n < 3) {
        const char *slash = strchr(path, '/');
        seg[n] = path;
        len[n] = slash ? (size_t)(slash - path) : strlen(path);
        n++;
        if (!slash)
            break;
        path = slash + 1;
    }
    if (n == 3 && strchr(seg[2], '/'))
        return R_NONE;
    for (size_t i = 0; i < n; i++)
        if (len[i] == 0)
            return R_NONE;
    if (!engine_name_valid(seg[0], len[0]))
        return -SL_ENAME;
    memcpy(a->queue, seg[0], len[0]);
    a->queue[len[0]] = '\0';
    if (n == 1)
        return R_QUEUE;
    if (n == 3) {
        if (len[1] == 8 && !memcmp(seg[1], "messages", 8)) {
            a->receipt = pool_strndup(&a->r->pool, seg[2], len[2]);
            return R_MESSAGE;
        }
        if (len[1] == 6 && !memcmp(seg[1], "groups", 6)) {
            if (!engine_name_valid(seg[2], len[2]))
                return -SL_ENAME;
            memcpy(a->group, seg[2], len[2]);
            a->group[len[2]] = '\0';
            return R_GROUP;
        }
        return R_NONE;
    }
    for (int r = R_MESSAGES; r <= R_QSUBS; r++)
        if (routes[r].suffix && strlen(routes[r].suffix) == len[1] &&
            !memcmp(routes[r].suffix, seg[1], len[1]))
            return r;
    return R_NONE;
}

static void api_begin(http_req_t *r, void *ctx)
{
    api_t *api = ctx;
    api_req_t *a = pool_calloc(&r->pool, 1, sizeof *a);
    a->api = api;
    a->r = r;
    r->app = a;
    int route = parse_route(a, r->path);
    if (route == -SL_ENAME) {
        reply_error(a, SL_ENAME,
                    "Invalid queue or group name in '%.300s': use 1 to 128 "
                    "characters of A-Z a-z 0-9 . _ - starting with a letter or "
                    "digit.",
                    r->path);
        return;
    }
    if (route == R_NONE) {
        reply_error(a, SL_ENOROUTE, "No endpoint at %.300s.", r->path);
        return;
    }
    a->route = route;
    const struct route_info *ri = &routes[route];
    if (!(ri->methods & M(r->method))) {
        http_add_header(r, "Allow", ri->allow);
        reply_error(a, SL_EMETHOD, "Method %s is not allowed on %.300s (allowed: %s).",
                    r->method_name, r->path, ri->allow);
        return;
    }
    const char *ct = http_header(r, "Content-Type");
    if (route == R_BATCH && !json_ctype_ok(ct) && !ctype_is(ct, "text/plain") &&
        !ctype_is(ct, "application/octet-stream")) {
        reply_error(a, SL_EMEDIA,
                    "A batch is JSON (Content-Type: application/json), one message per line "
                    "(text/plain) or NSQ's binary framing (application/octet-stream).");
        return;
    }
    if (ri->json_body && route != R_BATCH && (r->method == HTTP_POST || r->method == HTTP_PUT) &&
        !json_ctype_ok(ct)) {
        reply_error(a, SL_EMEDIA,
                    "This endpoint takes a JSON body (Content-Type: "
                    "application/json).");
        return;
    }
    if (route == R_MESSAGES && r->method == HTTP_POST)
        r->body_limit = api->cfg.max_message_bytes < api->cfg.max_request_bytes
                            ? api->cfg.max_message_bytes
                            : api->cfg.max_request_bytes;
    else if (route == R_BATCH || route == R_MQGO_SEND) /* a message in JSON can grow 6 times */
        r->body_limit = api->cfg.max_request_bytes;
    else if (API_CONTROL_BODY < api->cfg.max_request_bytes)
        r->body_limit = API_CONTROL_BODY;
}

static void api_reject(http_req_t *r, int err, const char *why, void *ctx)
{
    api_req_t *a = r->app;
    if (a == NULL) { /* refused before begin() */
        a = pool_calloc(&r->pool, 1, sizeof *a);
        a->api = ctx;
        a->r = r;
        r->app = a;
    }
    if (err == SL_EHEADERS)
        reply_error(a, err, "The request line and headers are larger than %zu bytes.",
                    a->api->cfg.max_header_bytes);
    else if (err == SL_ETOOBIG)
        reply_error(a, err,
                    "The request body is larger than %zu bytes, the limit of this "
                    "endpoint.",
                    r->body_limit);
    else
        reply_error(a, err, "%s", why ? why : err_text(err));
}

static void api_handle(http_req_t *r, void *ctx)
{
    api_t *api = ctx;
    api_req_t *a = r->app;
    switch (a->route) {
    case R_HEALTHZ:
        reply_json(a, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case R_READYZ:
        if (api->draining)
            reply_error(a, SL_ESHUTDOWN, "The server is shutting down.");
        else if (store_ready(api->store))
            reply_error(a, SL_ESTORAGE, "The storage is not available.");
        else
            reply_json(a, 200, json_pack("{s:s}", "status", "ready"));
        break;
    case R_QUEUES:
        api_submit(a, STORE_QUEUE_LIST, queues_done);
        break;
    case R_QUEUE:
        if (r->method == HTTP_GET)
            api_submit(a, STORE_QUEUE_INFO, queue_info_done);
        else if (r->method == HTTP_PUT)
            h_queue_put(a);
        else
            api_submit(a, STORE_QUEUE_DELETE, simple_done);
        break;
    case R_MESSAGES:
        if (r->method == HTTP_POST)
            h_publish(a);
        else
            h_lease(a);
        break;
    case R_MESSAGE:
        h_ack_one(a);
        break;
    case R_BATCH:
        h_batch(a);
        break;
    case R_ACK:
        h_ack(a);
        break;
    case R_RELEASE:
        h_release(a);
        break;
    case R_POP:
        h_pop(a);
        break;
    case R_PEEK:
        h_peek(a);
        break;
    case R_REDRIVE:
        h_redrive(a);
        break;
    case R_PURGE:
        api_submit(a, STORE_QUEUE_PURGE, simple_done);
        break;
    case R_GROUPS:
        api_submit(a, STORE_QUEUE_INFO, queue_info_done);
        break;
    case R_GROUP:
        if (r->method == HTTP_GET)
            api_submit(a, STORE_GROUP_INFO, simple_done);
        else if (r->method == HTTP_PUT)
            h_group_put(a);
        else
            api_submit(a, STORE_GROUP_DELETE, simple_done);
        break;
    case R_QSUBS:
        if (r->method == HTTP_POST)
            h_subscribe(a);
        else
            h_sub_list(a);
        break;
    case R_SUBS:
        h_sub_list(a);
        break;
    case R_SUB: {
        deliver_info_t info;
        if (sub_find(a, &info))
            break;
        if (r->method == HTTP_GET)
            api_submit(a, STORE_GROUP_INFO, sub_info_done);
        else
            api_submit(a, STORE_GROUP_DELETE, sub_deleted);
        break;
    }
    case R_MQGO_CONNECT:
        h_mqgo_connect(a);
        break;
    case R_MQGO_SEND:
        h_mqgo_send(a);
        break;
    case R_MQGO_DISCONNECT:
        h_mqgo_disconnect(a);
        break;
    default:
        sl_assert(!"unrouted request");
    }
}

/* ---------------------------------------------------------------- lifetime */

api_t *api_new(store_t *store, const api_config_t *cfg)
{
    api_t *a = sl_calloc(1, sizeof *a);
    a->store = store;
    a->cfg = *cfg;
    json_set_alloc_funcs(sl_malloc, sl_free);
    return a;
}

void api_free(api_t *a)
{
    sl_free(a);
}

void api_handlers(api_t *a, http_handlers_t *h)
{
    h->begin = api_begin;
    h->handle = api_handle;
    h->reject = api_reject;
    h->ctx = a;
}

void api_set_draining(api_t *a)
{
    a->draining = true;
}
