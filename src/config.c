/*
 * config.c — the option table and its four readers (defaults, INI file, environment, flags).
 *
 * Every option is parsed by the same function whatever its source, so "30s" means the same in
 * the file, in SLUICE_IDLE_TIMEOUT and in --idle-timeout; the defaults themselves are strings
 * run through that parser, which is how --help shows exactly what is used.
 *
 * The INI file is read by libinih through ini_parse_stream() with a line reader of ours, so the
 * handler knows the line it is on and every error names FILE:LINE. A syntax error that inih finds
 * on its own (a line with neither '=' nor a section) gets the line inih returns.
 *
 * A file whose first byte other than blanks is '{' is GMQ's JSON configuration instead: gmqconf.c
 * reads it and sets options through the same opt_set() as the INI lines.
 *
 * MQ Go's single-dash flags (-port, -workers, -jobs) are rewritten to their double-dash forms
 * before getopt_long sees them, rather than using getopt_long_only, which would read "-f" as an
 * abbreviation of any long option starting with f.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common.h"
#include "err.h"
#include "dur.h"
#include "gmqconf.h"
#include "log.h"
#include "mem.h"

enum opt_type {
    T_LISTEN,
    T_PORT,
    T_UINT,
    T_SIZE,
    T_DUR,
    T_STR,
    T_STORAGE,
    T_FSYNC,
    T_DELIVERY,
    T_LEVEL,
    T_FORMAT,
    T_GMQ_LISTEN,
    T_GMQ_PROTO,
};

struct opt {
    const char *name;
    const char *section;
    int type;
    size_t off;
    size_t size; /* T_STR: buffer size */
    uint64_t min, max;
    const char *def;
    const char *help;
};

#define F(field) offsetof(config_t, field)
#define NUM(field, min, max) F(field), 0, (min), (max)
#define STR(field) F(field), sizeof(((config_t *)0)->field), 0, 0

static const struct opt opts[] = {
    {"listen", "server", T_LISTEN, STR(listen_host), "127.0.0.1:8080",
     "address and port of the HTTP API (port 0 picks one)"},
    {"port", "server", T_PORT, NUM(port, 0, 65535), "",
     "overrides the port of listen (MQ Go -port)"},
    {"max_connections", "server", T_UINT, NUM(max_connections, 1, 1000000), "1024",
     "open HTTP connections, parked long-polls included"},
    {"max_connections_per_ip", "server", T_UINT, NUM(max_connections_per_ip, 0, 1000000), "0",
     "connections per client address (0 = no limit)"},
    {"max_header_bytes", "server", T_SIZE, NUM(max_header_bytes, 1024, 1 << 20), "16k",
     "request line and headers"},
    {"max_request_bytes", "server", T_SIZE, NUM(max_request_bytes, 1024, 1ULL << 30), "16M",
     "any request body (batches)"},
    {"idle_timeout", "server", T_DUR, NUM(idle_timeout_ms, 0, DUR_MAX_MS), "60s",
     "idle keep-alive connections are closed after this (0 = never)"},
    {"request_timeout", "server", T_DUR, NUM(request_timeout_ms, 0, DUR_MAX_MS), "30s",
     "a request must arrive whole within this (0 = no limit)"},
    {"max_wait", "server", T_DUR, NUM(max_wait_ms, 0, 3600000), "30s",
     "longest long-poll wait a client may ask for"},
    {"shutdown_timeout", "server", T_DUR, NUM(shutdown_timeout_ms, 0, DUR_MAX_MS), "10s",
     "on SIGTERM, time allowed for requests in progress"},
    {"storage", "storage", T_STORAGE, STR(storage), "file",
     "file (durable, in data_dir) or memory (postgres, mysql: later)"},
    {"data_dir", "storage", T_STR, STR(data_dir), "./sluice-data", "directory of the file storage"},
    {"fsync", "storage", T_FSYNC, STR(fsync), "always",
     "always (answer once on disk), interval or never (answer once written to the OS)"},
    {"fsync_interval", "storage", T_DUR, NUM(fsync_interval_ms, 1, 60000), "10ms",
     "how often fsync = interval syncs"},
    {"segment_bytes", "storage", T_SIZE, NUM(segment_bytes, 65536, 1ULL << 40), "64M",
     "size at which a queue's log starts a new segment file"},
    {"max_queues", "queues", T_UINT, NUM(max_queues, 1, 10000000), "10000",
     "queues that may exist at once"},
    {"max_message_bytes", "queues", T_SIZE, NUM(max_message_bytes, 1, 256ULL << 20), "1M",
     "largest message body"},
    {"visibility_timeout", "queues", T_DUR, NUM(visibility_timeout_ms, 0, DUR_MAX_MS), "30s",
     "default lease length"},
    {"max_attempts", "queues", T_UINT, NUM(max_attempts, 0, UINT32_MAX), "10",
     "deliveries before dead-lettering (0 = no limit)"},
    {"dedup_window", "queues", T_DUR, NUM(dedup_window_ms, 0, DUR_MAX_MS), "5m",
     "how long an Idempotency-Key is remembered"},
    {"max_in_flight_per_key", "queues", T_UINT, NUM(max_in_flight_per_key, 1, UINT32_MAX), "1",
     "leases at once per ordering key and group"},
    {"max_messages", "queues", T_UINT, NUM(max_messages, 0, UINT64_MAX), "0",
     "retention: most messages kept (0 = no limit)"},
    {"max_bytes", "queues", T_SIZE, NUM(max_bytes, 0, UINT64_MAX), "0",
     "retention: most body bytes kept (0 = no limit)"},
    {"max_age", "queues", T_DUR, NUM(max_age_ms, 0, DUR_MAX_MS), "0",
     "retention: oldest message kept (0 = no limit)"},
    {"workers", "push", T_UINT, NUM(workers, 1, 4096), "64",
     "push deliveries in progress at once (MQ Go -workers)"},
    {"jobs", "push", T_UINT, NUM(jobs, 1, 1000000), "256",
     "push deliveries fetched ahead of the workers (MQ Go -jobs)"},
    {"push_timeout", "push", T_DUR, NUM(push_timeout_ms, 1, 3600000), "10s",
     "a delivery's HTTP request must be answered within this"},
    {"push_retry_min", "push", T_DUR, NUM(push_retry_min_ms, 1, DUR_MAX_MS), "1s",
     "delay before the first retry of a failed delivery (doubles each time)"},
    {"push_retry_max", "push", T_DUR, NUM(push_retry_max_ms, 1, DUR_MAX_MS), "5m",
     "longest delay between retries"},
    {"push_circuit_failures", "push", T_UINT, NUM(push_circuit_failures, 1, 1000000), "5",
     "failures in a row that pause a subscription's endpoint"},
    {"push_circuit_pause", "push", T_DUR, NUM(push_circuit_pause_ms, 1, DUR_MAX_MS), "30s",
     "first pause of a failing endpoint (doubles while probes fail, up to push_retry_max)"},
    {"mqgo_queue", "push", T_STR, STR(mqgo_queue), "mqgo",
     "the queue MQ Go's /send publishes to and its receivers subscribe to"},
    {"mqgo_delivery", "push", T_DELIVERY, STR(mqgo_delivery), "json",
     "MQ Go deliveries: json ({\"body\": ...}, its README) or raw (the text, as its code did)"},
    {"push_library", "push", T_STR, STR(push_library), "libcurl-gnutls.so.4",
     "the libcurl push delivery loads when the first subscription appears (name or path)"},
    {"gmq_listen", "gmq", T_GMQ_LISTEN, STR(gmq_host), "",
     "GMQ's TCP protocol on HOST:PORT, e.g. 127.0.0.1:4567 (empty: off)"},
    {"gmq_protocol", "gmq", T_GMQ_PROTO, STR(gmq_protocol), "tcp",
     "tcp (IPv4 or IPv6, as gmq_listen's host resolves), tcp4 or tcp6"},
    {"gmq_max_request", "gmq", T_SIZE, NUM(gmq_max_request, 0, 1ULL << 30), "0",
     "largest GMQ request (GMQ's max_message_length; 0: a max_message_bytes message + 64k)"},
    {"gmq_timeout", "gmq", T_DUR, NUM(gmq_timeout_ms, 0, DUR_MAX_MS), "10s",
     "a GMQ request must arrive whole, and its reply be taken, within this (0 = no limit)"},
    {"gmq_max_connections", "gmq", T_UINT, NUM(gmq_max_connections, 1, 1000000), "1024",
     "open GMQ connections; more wait in the listen backlog"},
    {"gmq_user", "gmq", T_STR, STR(gmq_user), "",
     "when it or gmq_password is set, GMQ requests need their tokens (obfuscation only)"},
    {"gmq_password", "gmq", T_STR, STR(gmq_password), "", "see gmq_user"},
    {"log_level", "log", T_LEVEL, F(log_level), 0, 0, 0, "info", "error, warn, info or debug"},
    {"log_format", "log", T_FORMAT, F(log_format), 0, 0, 0, "text", "text or json"},
    {"log_file", "log", T_STR, STR(log_file), "", "append log lines to this file (empty: stderr)"},
};

static const char *const storages[] = {"memory", "file", "postgres", "mysql"};
static const char *const fsyncs[] = {"always", "interval", "never"};
static const char *const gmq_protocols[] = {"tcp", "tcp4", "tcp6"};
static const char *const deliveries[] = {"json", "raw"};

static const struct opt *opt_find(const char *name)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(opts); i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

/* Parses an unsigned integer with an optional binary suffix (k, M, G) when sized. */
static int parse_u64(const char *v, bool sized, uint64_t *out)
{
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (sized && *end) {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return -1;
        }
        end++;
    }
    if (*end || (shift && n > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)n << shift;
    return 0;
}

/* Splits "host:port", "[v6]:port" into host_out (CONFIG_HOST_MAX bytes) and *port_out. */
static int parse_listen(const char *v, char *host_out, int *port_out, char *err, size_t len)
{
    const char *colon;
    char host[CONFIG_HOST_MAX];
    size_t hlen;
    if (*v == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            return err_param(err, len, "'%s' is not HOST:PORT ([IPv6]:PORT for IPv6)", v);
        hlen = (size_t)(close - v - 1);
        memcpy(host, v + 1, hlen < sizeof host ? hlen : 0);
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon)
            return err_param(err, len, "'%s' is not HOST:PORT", v);
        hlen = (size_t)(colon - v);
        memcpy(host, v, hlen < sizeof host ? hlen : 0);
    }
    uint64_t port;
    if (hlen == 0 || hlen >= sizeof host || parse_u64(colon + 1, false, &port) || port > 65535)
        return err_param(err, len, "'%s' is not HOST:PORT with a port from 0 to 65535", v);
    host[hlen] = '\0';
    memcpy(host_out, host, hlen + 1);
    *port_out = (int)port;
    return 0;
}

/* Sets option o from text v. Returns 0 or SL_EPARAM with the reason (without the source). */
static int opt_set(config_t *c, const struct opt *o, const char *v, char *err, size_t len)
{
    char *base = (char *)c;
    uint64_t u;
    int64_t ms;
    switch (o->type) {
    case T_LISTEN:
        return parse_listen(v, c->listen_host, &c->listen_port, err, len);
    case T_GMQ_LISTEN:
        if (*v == '\0') {
            c->gmq_host[0] = '\0';
            c->gmq_port = -1;
            return 0;
        }
        return parse_listen(v, c->gmq_host, &c->gmq_port, err, len);
    case T_GMQ_PROTO:
        for (size_t i = 0; i < SL_ARRAY_LEN(gmq_protocols); i++)
            if (strcmp(v, gmq_protocols[i]) == 0)
                goto str;
        return err_param(err, len, "'%s' is not a GMQ protocol (tcp, tcp4 or tcp6)", v);
    case T_PORT:
        if (*v == '\0') {
            c->port = -1;
            return 0;
        }
        if (parse_u64(v, false, &u) || u > 65535)
            return err_param(err, len, "'%s' is not a port from 0 to 65535", v);
        c->port = (int)u;
        return 0;
    case T_UINT:
    case T_SIZE:
        if (parse_u64(v, o->type == T_SIZE, &u) || u < o->min || u > o->max)
            return err_param(err, len, "'%s' is not %s from %llu to %llu", v,
                             o->type == T_SIZE ? "a size (bytes, or with k, M, G)" : "an integer",
                             (unsigned long long)o->min, (unsigned long long)o->max);
        memcpy(base + o->off, &u, sizeof u);
        return 0;
    case T_DUR:
        if (dur_parse(v, strlen(v), &ms) || (uint64_t)ms > o->max) {
            char buf[DUR_LEN];
            return err_param(err, len,
                             "'%s' is not a duration (like 500ms, 30s, 5m, 2h) of at most %s", v,
                             dur_format((int64_t)o->max, buf));
        }
        memcpy(base + o->off, &ms, sizeof ms);
        return 0;
    case T_STORAGE:
        for (size_t i = 0; i < SL_ARRAY_LEN(storages); i++)
            if (strcmp(v, storages[i]) == 0)
                goto str;
        return err_param(err, len, "'%s' is not a storage (memory, file, postgres or mysql)", v);
    case T_FSYNC:
        for (size_t i = 0; i < SL_ARRAY_LEN(fsyncs); i++)
            if (strcmp(v, fsyncs[i]) == 0)
                goto str;
        return err_param(err, len, "'%s' is not an fsync policy (always, interval or never)", v);
    case T_DELIVERY:
        for (size_t i = 0; i < SL_ARRAY_LEN(deliveries); i++)
            if (strcmp(v, deliveries[i]) == 0)
                goto str;
        return err_param(err, len, "'%s' is not an MQ Go delivery form (json or raw)", v);
    case T_STR:
    str:
        if (strlen(v) >= o->size)
            return err_param(err, len, "value is longer than %zu bytes", o->size - 1);
        memcpy(base + o->off, v, strlen(v) + 1);
        return 0;
    case T_LEVEL:
        if (log_parse_level(v, &c->log_level))
            return err_param(err, len, "'%s' is not a level (error, warn, info or debug)", v);
        return 0;
    case T_FORMAT:
        if (log_parse_format(v, &c->log_format))
            return err_param(err, len, "'%s' is not a log format (text or json)", v);
        return 0;
    }
    return err_param(err, len, "unknown option type");
}

void config_defaults(config_t *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < SL_ARRAY_LEN(opts); i++)
        sl_assert(opt_set(c, &opts[i], opts[i].def, err, sizeof err) == 0);
}

int config_port(const config_t *c)
{
    return c->port >= 0 ? c->port : c->listen_port;
}

uint64_t config_gmq_max_request(const config_t *c)
{
    if (c->gmq_max_request)
        return c->gmq_max_request;
    return (c->max_message_bytes + 2) / 3 * 4 + CONFIG_GMQ_ENVELOPE;
}

/* ---------------------------------------------------------------- INI file */

struct ini_ctx {
    config_t *c;
    const char *path;
    FILE *f;
    char *line_buf; /* getline's */
    size_t line_cap;
    int line;      /* line the reader last returned */
    int err_line;  /* first line with an error found by the handler, 0 = none */
    char err[512]; /* its reason */
};

static char *config_ini_read(char *str, int num, void *stream)
{
    struct ini_ctx *ctx = stream;
    if (ctx->err_line)
        return NULL; /* stop at the first error */
    /* getline knows the line's true length, which strlen on fgets' buffer does not when the line
     * holds a NUL byte: libinih reads into a fixed buffer, and a longer line (or one cut by a
     * NUL) would come back in pieces, each parsed as a line of its own. */
    ssize_t n = getline(&ctx->line_buf, &ctx->line_cap, ctx->f);
    if (n < 0)
        return NULL;
    ctx->line++;
    size_t content = (size_t)n - (ctx->line_buf[n - 1] == '\n'); /* the newline aside */
    if (content > (size_t)num - 2) { /* said first: it holds whatever else the line has */
        snprintf(ctx->err, sizeof ctx->err, "line longer than %d bytes", num - 2);
        ctx->err_line = ctx->line;
        return NULL;
    }
    if (memchr(ctx->line_buf, '\0', (size_t)n)) {
        snprintf(ctx->err, sizeof ctx->err, "NUL byte in the line");
        ctx->err_line = ctx->line;
        return NULL;
    }
    memcpy(str, ctx->line_buf, (size_t)n + 1);
    return str;
}

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    char why[400];
    const struct opt *o = opt_find(name);
    if (ctx->err_line)
        return 1; /* report the first error only */
    if (o == NULL) {
        snprintf(ctx->err, sizeof ctx->err, "unknown option '%s'", name);
    } else if (section[0] && strcmp(section, o->section) != 0) {
        snprintf(ctx->err, sizeof ctx->err, "option '%s' belongs in section [%s], not [%s]", name,
                 o->section, section);
    } else if (opt_set(ctx->c, o, value, why, sizeof why) == 0) {
        return 1;
    } else {
        snprintf(ctx->err, sizeof ctx->err, "%s: %s", name, why);
    }
    ctx->err_line = ctx->line;
    return 0;
}

/* Sets one option for the GMQ JSON reader, through the same parser as the INI file. */
static int config_gmq_set(void *ctx, const char *name, const char *value, char *why, size_t len)
{
    const struct opt *o = opt_find(name);
    sl_assert(o != NULL);
    return opt_set(ctx, o, value, why, len);
}

static int config_file(config_t *c, const char *path, char *err, size_t len)
{
    struct ini_ctx ctx = {.c = c, .path = path};
    ctx.f = fopen(path, "r");
    if (ctx.f == NULL)
        return err_param(err, len, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(ctx.f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(ctx.f);
        return err_param(err, len, "%s: not a regular file", path);
    }
    int first = fgetc(ctx.f);
    while (first == ' ' || first == '\t' || first == '\n' || first == '\r')
        first = fgetc(ctx.f);
    rewind(ctx.f);
    if (first == '{') { /* GMQ's JSON format (gmqconf.c) */
        int r = gmqconf_load(ctx.f, path, config_gmq_set, c, err, len);
        fclose(ctx.f);
        return r;
    }
    ini_allow_multiline = false;
    ini_inline_comment_prefixes = ";#";
    int r = ini_parse_stream(config_ini_read, &ctx, config_ini_line, &ctx);
    fclose(ctx.f);
    free(ctx.line_buf); /* getline's, from malloc */
    if (r < 0)
        return err_param(err, len, "%s: cannot read the file", path);
    /* the first error wins: ours (a bad value, a line too long) or inih's (syntax) */
    if (ctx.err_line && (r == 0 || ctx.err_line <= r))
        return err_param(err, len, "%s:%d: %s", path, ctx.err_line, ctx.err);
    if (r == 0)
        return 0;
    return err_param(err, len,
                     "%s:%d: syntax error: expected 'key = value', '[section]' or a "
                     "comment",
                     path, r);
}

/* ---------------------------------------------------------------- environment and flags */

static int config_env(config_t *c, char *err, size_t len)
{
    char var[80], why[400];
    for (size_t i = 0; i < SL_ARRAY_LEN(opts); i++) {
        size_t n = (size_t)snprintf(var, sizeof var, "SLUICE_%s", opts[i].name);
        for (size_t k = 7; k < n; k++)
            var[k] = (char)(var[k] >= 'a' && var[k] <= 'z' ? var[k] - 32 : var[k]);
        const char *v = getenv(var);
        if (v && opt_set(c, &opts[i], v, why, sizeof why))
            return err_param(err, len, "environment %s: %s", var, why);
    }
    return 0;
}

/* Long option names with dashes, in storage owned by the caller. */
static void flag_name(const struct opt *o, char *buf, size_t size)
{
    snprintf(buf, size, "%s", o->name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

int config_load(config_t *c, int argc, char **argv, int *action, char *err, size_t len)
{
    enum { N = SL_ARRAY_LEN(opts) };
    static char names[N][48];
    struct option longs[N + 4];
    char **args = sl_calloc((size_t)argc + 1, sizeof *args);
    char **owned = sl_calloc((size_t)argc + 1, sizeof *owned);
    int nowned = 0;
    const char *file = NULL;
    int r = 0;

    *action = CONFIG_RUN;
    for (size_t i = 0; i < N; i++) {
        flag_name(&opts[i], names[i], sizeof names[i]);
        longs[i] = (struct option){names[i], required_argument, NULL, 1000 + (int)i};
    }
    longs[N] = (struct option){"config", required_argument, NULL, 'f'};
    longs[N + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longs[N + 2] = (struct option){"version", no_argument, NULL, 'V'};
    longs[N + 3] = (struct option){NULL, 0, NULL, 0};

    /* MQ Go's flags: -port N, -workers N, -jobs N (and -port=N), rewritten only where an option
     * stands, never inside the value of the option before. The copies are remembered in owned[]:
     * getopt_long reorders args, so args cannot tell which strings are ours. */
    bool value_next = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        args[i] = argv[i];
        if (i == 0 || value_next) {
            value_next = false;
            continue;
        }
        if (a[0] != '-')
            continue;
        if (a[1] == '-') { /* --name VALUE, unless --name=VALUE or a flag without value */
            value_next = strchr(a, '=') == NULL && strcmp(a, "--help") && strcmp(a, "--version") &&
                         a[2] != '\0';
            continue;
        }
        value_next = strcmp(a, "-f") == 0;
        static const char *const mqgo[] = {"port", "workers", "jobs"};
        for (size_t k = 0; k < SL_ARRAY_LEN(mqgo); k++) {
            size_t l = strlen(mqgo[k]);
            if (!strncmp(a + 1, mqgo[k], l) && (a[1 + l] == '\0' || a[1 + l] == '=')) {
                char *d = sl_malloc(strlen(a) + 2);
                d[0] = '-';
                strcpy(d + 1, a);
                args[i] = owned[nowned++] = d;
                value_next = a[1 + l] == '\0';
            }
        }
    }

    /* First pass: only -f, -h, -V, so the file is applied before the other flags. */
    opterr = 0;
    optind = 0; /* 0, not 1: also resets getopt's state from an earlier call */
    int ch;
    while ((ch = getopt_long(argc, args, ":f:hV", longs, NULL)) != -1) {
        if (ch == 'f')
            file = optarg;
        else if (ch == 'h')
            *action = CONFIG_HELP;
        else if (ch == 'V')
            *action = CONFIG_VERSION;
        else if (ch == '?') {
            if (optopt) /* a short option, maybe inside a word like -xyz */
                r = err_param(err, len, "unknown option '-%c' (see --help)", optopt);
            else
                r = err_param(err, len, "unknown option '%s' (see --help)", args[optind - 1]);
            goto out;
        } else if (ch == ':') {
            r = err_param(err, len, "option '%s' needs a value", args[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        r = err_param(err, len, "unexpected argument '%s' (see --help)", args[optind]);
        goto out;
    }
    if (*action != CONFIG_RUN)
        goto out;
    if (file && (r = config_file(c, file, err, len)) != 0)
        goto out;
    if ((r = config_env(c, err, len)) != 0)
        goto out;
    optind = 0;
    while ((ch = getopt_long(argc, args, ":f:hV", longs, NULL)) != -1) {
        if (ch < 1000)
            continue;
        const struct opt *o = &opts[ch - 1000];
        char why[400];
        if (opt_set(c, o, optarg, why, sizeof why)) {
            r = err_param(err, len, "--%s: %s", names[ch - 1000], why);
            goto out;
        }
    }
out:
    for (int i = 0; i < nowned; i++)
        sl_free(owned[i]);
    sl_free(owned);
    sl_free(args);
    return r;
}

void config_help(FILE *out, const char *prog)
{
    const char *section = "";
    fprintf(out,
            "Usage: %s [-f FILE] [--OPTION VALUE]...\n"
            "Sluice message-queue server. Options come from the INI file given with -f/--config,\n"
            "then the environment (SLUICE_<OPTION>), then these flags; a later one wins.\n\n"
            "  -f, --config FILE    read this config file: INI, or GMQ's JSON (docs/config.md)\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n"
            "  -port N, -workers N, -jobs N   MQ Go's flags, same as --port etc.\n",
            prog);
    for (size_t i = 0; i < SL_ARRAY_LEN(opts); i++) {
        const struct opt *o = &opts[i];
        char flag[64];
        if (strcmp(section, o->section) != 0) {
            section = o->section;
            fprintf(out, "\n[%s]\n", section);
        }
        flag_name(o, flag, sizeof flag);
        fprintf(out, "  --%-24s %s (default: %s)\n", flag, o->help, *o->def ? o->def : "unset");
    }
}
