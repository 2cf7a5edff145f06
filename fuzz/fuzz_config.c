/*
 * fuzz_config.c — libFuzzer harness for config_load() (src/config.h): the INI file, the flags and
 * the option value parsers behind both.
 *
 * The first byte chooses how the rest is used:
 *
 *   mode 0  the rest is an INI file, loaded with `sluiced -f FILE`;
 *   mode 1  the rest is one option value: byte 1 picks the option and the form (`--name VALUE`,
 *           `--name=VALUE`, MQ Go's `-port VALUE` / `-port=VALUE`, or SLUICE_NAME in the
 *           environment), and the value is checked against a reference parser of its type
 *           (docs/config.md);
 *   mode 2  the rest is argv, split at NUL bytes (at most 16 arguments);
 *   mode 3  up to the first NUL is an INI file, after it come flags as in mode 2, so the file and
 *           the flags meet.
 *
 * Bits 2-3 of the first byte choose the size of the error buffer (1200 as in main.c, 64 or 2).
 * The file lives in a memfd and is named by its /proc/self/fd path, so nothing touches the disk.
 * Argument lists that would make config_load open another file (-f, --config, clusters such as
 * -hfX, abbreviations such as --conf) are skipped, found with a getopt_long pass over the same
 * option names, so that the harness never reads the files of the directory it runs in.
 *
 * Every input must end in success, or in SL_EPARAM with a non-empty, terminated error message
 * that names the file when the file was at fault. An error naming line K names a line the file
 * has, and (mode 0) its first bad line: the lines before K load by themselves. A file with a line
 * L longer than 198 bytes never loads (mode 0): it fails with "FILE:L: line longer than 198
 * bytes" when the lines before L load, and with their error when they do not. After a success
 * the configuration must be within every documented range.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "dur.h"

#define FUZZ_NAME "fuzz_config"
#include "fuzz_check.h"

enum { T_LISTEN, T_PORT, T_UINT, T_SIZE, T_DUR, T_STR, T_STORAGE, T_LEVEL, T_FORMAT };

/* The options of docs/config.md, with the ranges the reference parsers check. */
static const struct ref_opt {
    const char *name;
    int type;
    uint64_t min, max;
    size_t size; /* T_STR, T_STORAGE: buffer size */
} ref_opts[] = {
    {"listen", T_LISTEN, 0, 0, CONFIG_HOST_MAX},
    {"port", T_PORT, 0, 65535, 0},
    {"max_connections", T_UINT, 1, 1000000, 0},
    {"max_connections_per_ip", T_UINT, 0, 1000000, 0},
    {"max_header_bytes", T_SIZE, 1024, 1 << 20, 0},
    {"max_request_bytes", T_SIZE, 1024, 1ULL << 30, 0},
    {"idle_timeout", T_DUR, 0, DUR_MAX_MS, 0},
    {"request_timeout", T_DUR, 0, DUR_MAX_MS, 0},
    {"max_wait", T_DUR, 0, 3600000, 0},
    {"shutdown_timeout", T_DUR, 0, DUR_MAX_MS, 0},
    {"workers", T_UINT, 1, 4096, 0},
    {"jobs", T_UINT, 1, 1000000, 0},
    {"storage", T_STORAGE, 0, 0, 32},
    {"data_dir", T_STR, 0, 0, CONFIG_PATH_MAX},
    {"max_queues", T_UINT, 1, 10000000, 0},
    {"max_message_bytes", T_SIZE, 1, 256ULL << 20, 0},
    {"visibility_timeout", T_DUR, 0, DUR_MAX_MS, 0},
    {"max_attempts", T_UINT, 0, UINT32_MAX, 0},
    {"dedup_window", T_DUR, 0, DUR_MAX_MS, 0},
    {"max_in_flight_per_key", T_UINT, 1, UINT32_MAX, 0},
    {"max_messages", T_UINT, 0, UINT64_MAX, 0},
    {"max_bytes", T_SIZE, 0, UINT64_MAX, 0},
    {"max_age", T_DUR, 0, DUR_MAX_MS, 0},
    {"log_level", T_LEVEL, 0, 0, 0},
    {"log_format", T_FORMAT, 0, 0, 0},
};
#define NOPTS (sizeof ref_opts / sizeof ref_opts[0])

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("sluice.conf", 0);
    if (memfd < 0) {
        perror("fuzz_config: memfd_create");
        abort();
    }
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    /* The environment is one of config_load's inputs: start from none of ours. */
    for (size_t i = 0; i < NOPTS; i++) {
        char var[80];
        snprintf(var, sizeof var, "SLUICE_%s", ref_opts[i].name);
        for (char *p = var; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        unsetenv(var);
    }
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
    CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");
}

/* Forgets glibc getopt's state, including its pointer into the previous argv. */
static void getopt_reset(void)
{
    static char prog[] = "x";
    static char *dummy[] = {prog, NULL};
    optind = 0;
    opterr = 0;
    while (getopt(1, dummy, ":") != -1)
        ;
    optind = 1;
}

/* Whether config_load's MQ Go rewrite applies to argument a (-port, -workers, -jobs, with or
 * without =VALUE). */
static bool looks_mqgo(const char *a)
{
    static const char *const mqgo[] = {"port", "workers", "jobs"};
    if (a[0] != '-' || a[1] == '-')
        return false;
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(mqgo[k]);
        if (!strncmp(a + 1, mqgo[k], l) && (a[1 + l] == '\0' || a[1 + l] == '='))
            return true;
    }
    return false;
}

/* Runs config_load's first getopt_long pass over argv, with the option names of docs/config.md
 * and MQ Go's single-dash flags rewritten where config.c rewrites them (in option position: not
 * right after `--name` without `=`, other than --help and --version, nor after `-f` or a bare
 * `-port`, `-workers` or `-jobs`). Returns how many times it sees -f/--config. */
static int scan_config_flags(int argc, char **argv)
{
    static char names[NOPTS][48];
    struct option longs[NOPTS + 4];
    char *args[20], *rewritten[20] = {NULL};
    bool value_next = false;
    int n = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        snprintf(names[i], sizeof names[i], "%s", ref_opts[i].name);
        for (char *p = names[i]; *p; p++)
            if (*p == '_')
                *p = '-';
        longs[i] = (struct option){names[i], required_argument, NULL, 1000 + (int)i};
    }
    longs[NOPTS] = (struct option){"config", required_argument, NULL, 'f'};
    longs[NOPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    longs[NOPTS + 2] = (struct option){"version", no_argument, NULL, 'V'};
    longs[NOPTS + 3] = (struct option){NULL, 0, NULL, 0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        args[i] = argv[i];
        if (i == 0 || value_next) {
            value_next = false;
        } else if (a[0] == '-' && a[1] == '-') {
            value_next = a[2] && !strchr(a, '=') && strcmp(a, "--help") && strcmp(a, "--version");
        } else if (a[0] == '-') {
            value_next = !strcmp(a, "-f");
            if (looks_mqgo(a)) {
                rewritten[i] = malloc(strlen(a) + 2);
                sprintf(rewritten[i], "-%s", a);
                args[i] = rewritten[i];
                value_next = !strchr(a, '=');
            }
        }
    }
    args[argc] = NULL;
    getopt_reset();
    int ch;
    while ((ch = getopt_long(argc, args, ":f:hV", longs, NULL)) != -1)
        if (ch == 'f')
            n++;
    getopt_reset();
    for (int i = 0; i < argc; i++)
        free(rewritten[i]);
    return n;
}

/* ---------------------------------------------------------------- reference value parsers */

static bool ref_u64(const char *v, bool sized, uint64_t *out)
{
    uint64_t n = 0;
    const char *p = v;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    if (sized && *p) {
        const char *suf = strchr("kKmMgG", *p);
        if (suf == NULL)
            return false;
        shift = 10 * (unsigned)(1 + (suf - "kKmMgG") / 2);
        p++;
    }
    if (*p || (shift && n > (UINT64_MAX >> shift)))
        return false;
    *out = n << shift;
    return true;
}

static bool ref_listen(const char *v, char *host, int *port)
{
    const char *colon;
    size_t hlen;
    uint64_t p;
    if (*v == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            return false;
        hlen = (size_t)(close - v - 1);
        colon = close + 1;
        v++;
    } else {
        colon = strrchr(v, ':');
        if (!colon)
            return false;
        hlen = (size_t)(colon - v);
    }
    if (hlen == 0 || hlen >= CONFIG_HOST_MAX || !ref_u64(colon + 1, false, &p) || p > 65535)
        return false;
    memcpy(host, v, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return true;
}

/* Checks config_load's verdict on value v for option o against the reference, and the stored
 * value when it was accepted. */
static void check_value(const struct ref_opt *o, const char *v, int r, const config_t *c)
{
    uint64_t u = 0;
    int64_t ms = -1;
    bool ok;
    char host[CONFIG_HOST_MAX];
    int port = -1;
    switch (o->type) {
    case T_LISTEN:
        ok = ref_listen(v, host, &port);
        if (ok && r == 0)
            CHECK(strcmp(c->listen_host, host) == 0 && c->listen_port == port,
                  "listen '%s' gave host '%s' port %d", v, c->listen_host, c->listen_port);
        break;
    case T_PORT:
        ok = *v == '\0' || (ref_u64(v, false, &u) && u <= 65535);
        if (ok && r == 0)
            CHECK(c->port == (*v ? (int)u : -1), "port '%s' gave %d", v, c->port);
        break;
    case T_UINT:
    case T_SIZE:
        ok = ref_u64(v, o->type == T_SIZE, &u) && u >= o->min && u <= o->max;
        break;
    case T_DUR:
        ok = dur_parse(v, strlen(v), &ms) == 0 && (uint64_t)ms <= o->max;
        break;
    case T_STORAGE:
        ok = !strcmp(v, "memory") || !strcmp(v, "file") || !strcmp(v, "postgres") ||
             !strcmp(v, "mysql");
        if (ok && r == 0)
            CHECK(strcmp(c->storage, v) == 0, "storage '%s' gave '%s'", v, c->storage);
        break;
    case T_STR:
        ok = strlen(v) < o->size;
        if (ok && r == 0)
            CHECK(strcmp(c->data_dir, v) == 0, "data_dir '%s' gave '%s'", v, c->data_dir);
        break;
    case T_LEVEL:
        ok = !strcasecmp(v, "error") || !strcasecmp(v, "warn") || !strcasecmp(v, "warning") ||
             !strcasecmp(v, "info") || !strcasecmp(v, "debug");
        break;
    case T_FORMAT:
        ok = !strcasecmp(v, "text") || !strcasecmp(v, "json");
        break;
    default:
        return;
    }
    CHECK(ok == (r == 0), "option %s = '%s': config_load returned %d, the reference says %s",
          o->name, v, r, ok ? "valid" : "invalid");
    if (!ok)
        return;
        /* The numeric fields, found by name since the harness does not know config_t's layout
         * beyond config.h. */
#define FIELD(opt, field)                                                  \
    if (strcmp(o->name, opt) == 0)                                         \
        CHECK((uint64_t)c->field == (o->type == T_DUR ? (uint64_t)ms : u), \
              "%s = '%s' stored %llu", opt, v, (unsigned long long)c->field);
    FIELD("max_connections", max_connections)
    FIELD("max_connections_per_ip", max_connections_per_ip)
    FIELD("max_header_bytes", max_header_bytes)
    FIELD("max_request_bytes", max_request_bytes)
    FIELD("idle_timeout", idle_timeout_ms)
    FIELD("request_timeout", request_timeout_ms)
    FIELD("max_wait", max_wait_ms)
    FIELD("shutdown_timeout", shutdown_timeout_ms)
    FIELD("workers", workers)
    FIELD("jobs", jobs)
    FIELD("max_queues", max_queues)
    FIELD("max_message_bytes", max_message_bytes)
    FIELD("visibility_timeout", visibility_timeout_ms)
    FIELD("max_attempts", max_attempts)
    FIELD("dedup_window", dedup_window_ms)
    FIELD("max_in_flight_per_key", max_in_flight_per_key)
    FIELD("max_messages", max_messages)
    FIELD("max_bytes", max_bytes)
    FIELD("max_age", max_age_ms)
#undef FIELD
}

/* ---------------------------------------------------------------- whole-configuration checks */

#define IN(field, lo, hi)                                                               \
    CHECK((uint64_t)c->field >= (uint64_t)(lo) && (uint64_t)c->field <= (uint64_t)(hi), \
          "%s = %llu out of range", #field, (unsigned long long)c->field)
#define IN_SIGNED(field, lo, hi)                                                    \
    CHECK((int64_t)c->field >= (int64_t)(lo) && (int64_t)c->field <= (int64_t)(hi), \
          "%s = %lld out of range", #field, (long long)c->field)

static void check_config(const config_t *c)
{
    CHECK(strnlen(c->listen_host, CONFIG_HOST_MAX) < CONFIG_HOST_MAX && c->listen_host[0],
          "listen_host empty or unterminated");
    IN_SIGNED(listen_port, 0, 65535);
    IN_SIGNED(port, -1, 65535);
    IN(max_connections, 1, 1000000);
    IN(max_connections_per_ip, 0, 1000000);
    IN(max_header_bytes, 1024, 1 << 20);
    IN(max_request_bytes, 1024, 1ULL << 30);
    IN_SIGNED(idle_timeout_ms, 0, DUR_MAX_MS);
    IN_SIGNED(request_timeout_ms, 0, DUR_MAX_MS);
    IN_SIGNED(max_wait_ms, 0, 3600000);
    IN_SIGNED(shutdown_timeout_ms, 0, DUR_MAX_MS);
    IN(workers, 1, 4096);
    IN(jobs, 1, 1000000);
    CHECK(!strcmp(c->storage, "memory") || !strcmp(c->storage, "file") ||
              !strcmp(c->storage, "postgres") || !strcmp(c->storage, "mysql"),
          "storage '%.32s'", c->storage);
    CHECK(strnlen(c->data_dir, CONFIG_PATH_MAX) < CONFIG_PATH_MAX, "data_dir unterminated");
    IN(max_queues, 1, 10000000);
    IN(max_message_bytes, 1, 256ULL << 20);
    IN_SIGNED(visibility_timeout_ms, 0, DUR_MAX_MS);
    IN(max_attempts, 0, UINT32_MAX);
    IN_SIGNED(dedup_window_ms, 0, DUR_MAX_MS);
    IN(max_in_flight_per_key, 1, UINT32_MAX);
    IN_SIGNED(max_age_ms, 0, DUR_MAX_MS);
    IN_SIGNED(log_level, 0, 3);
    IN_SIGNED(log_format, 0, 1);
}

/* Runs config_load on argv and checks the outcome: an error that starts with the file's name and
 * a line number must name one of its file_lines lines. Returns its result, and when it failed with
 * an error buffer over 200 bytes, the message in msg (at least 1200 bytes, or NULL) and the line
 * it names in *line (0 when none). */
static int run(int argc, char **argv, size_t errlen, bool file_errors_name_it, int file_lines,
               char *msg, int *line)
{
    config_t c;
    int action = -1;
    char *err = malloc(errlen);
    memset(err, 0x5a, errlen);
    if (msg)
        msg[0] = '\0';
    if (line)
        *line = 0;
    config_defaults(&c);
    getopt_reset();
    int r = config_load(&c, argc, argv, &action, err, errlen);
    CHECK(r == 0 || r == SL_EPARAM, "config_load returned %d", r);
    if (r == 0) {
        CHECK(action == CONFIG_RUN || action == CONFIG_HELP || action == CONFIG_VERSION,
              "action %d", action);
        check_config(&c);
    } else {
        size_t elen = strnlen(err, errlen);
        CHECK(elen < errlen, "error message not terminated within %zu bytes", errlen);
        CHECK(elen > 0, "config_load failed with an empty error message");
        size_t plen = strlen(memfd_path);
        if (msg && errlen > 200)
            memcpy(msg, err, elen + 1);
        if (file_errors_name_it && errlen > 200 && strncmp(err, memfd_path, plen) == 0 &&
            err[plen] == ':' && err[plen + 1] >= '0' && err[plen + 1] <= '9') {
            int named = atoi(err + plen + 1);
            CHECK(named >= 1 && named <= file_lines, "'%s' names line %d of a %d-line file", err,
                  named, file_lines);
            if (line)
                *line = named;
        }
    }
    free(err);
    return r;
}

/* Returns the number of lines in the file (a last line without '\n' counts), for checking the
 * line an error names. */
static int count_lines(const uint8_t *data, size_t size)
{
    int n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

/* The longest line config_load takes, in bytes without its '\n': libinih's 200-byte line buffer
 * less the '\n' and the NUL. Longer ones are refused ("FILE:LINE: line longer than 198 bytes"). */
#define LINE_MAX_BYTES 198

/* Returns the number of the first line longer than LINE_MAX_BYTES (every byte but '\n' counts,
 * NUL included), or 0 when there is none, and in *prefix the size of the lines before it. */
static int first_long_line(const uint8_t *data, size_t size, size_t *prefix)
{
    size_t start = 0;
    int n = 1;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            if (i - start > LINE_MAX_BYTES) {
                *prefix = start;
                return n;
            }
            n++;
            start = i + 1;
        }
    }
    *prefix = size;
    return 0;
}

/* Mode 0: the file alone. Beyond run()'s checks, an error naming line K is the file's first: the
 * lines before K load by themselves. And a file with a line L longer than LINE_MAX_BYTES never
 * loads: it fails with "FILE:L: line longer than 198 bytes" when the lines before L load, and
 * with the error of those lines when they do not. */
static void run_file(const uint8_t *data, size_t size, size_t errlen)
{
    static char prog[] = "sluiced", dash_f[] = "-f";
    char *argv[] = {prog, dash_f, memfd_path, NULL};
    static char msg[1200], before_msg[1200], want[1200];
    int line, before_line;
    size_t prefix;
    int longl = first_long_line(data, size, &prefix);
    write_file(data, size);
    int r = run(3, argv, errlen, true, count_lines(data, size), msg, &line);
    CHECK(longl == 0 || r == SL_EPARAM,
          "a file whose line %d is longer than %d bytes loaded (config_load returned %d)", longl,
          LINE_MAX_BYTES, r);
    if (r == 0 || errlen <= 200)
        return;
    if (line > 1) {
        size_t end = 0;
        for (int k = 1; k < line; k++)
            end = (size_t)((const uint8_t *)memchr(data + end, '\n', size - end) - data) + 1;
        write_file(data, end);
        int rb = run(3, argv, errlen, true, line - 1, before_msg, &before_line);
        CHECK(rb == 0, "'%s', but the lines before line %d fail alone: '%s'", msg, line,
              before_msg);
    }
    /* A file whose first byte other than blanks is '{' is refused as GMQ JSON before any line. */
    size_t b = 0;
    while (b < size && (data[b] == ' ' || data[b] == '\t' || data[b] == '\n' || data[b] == '\r'))
        b++;
    if (longl == 0 || (b < size && data[b] == '{'))
        return;
    write_file(data, prefix);
    int rb = run(3, argv, errlen, true, longl - 1, before_msg, &before_line);
    if (rb == 0) {
        snprintf(want, sizeof want, "%s:%d: line longer than %d bytes", memfd_path, longl,
                 LINE_MAX_BYTES);
        CHECK(strcmp(msg, want) == 0, "a file whose line %d is longer than %d bytes: '%s'", longl,
              LINE_MAX_BYTES, msg);
    } else {
        CHECK(strcmp(msg, before_msg) == 0,
              "a file whose line %d is longer than %d bytes: '%s', the lines before it: '%s'",
              longl, LINE_MAX_BYTES, msg, before_msg);
    }
}

/* Splits data at NUL bytes into argv[first..], at most 16 pieces; returns argc. The pieces are
 * copied into buf (size + 1 bytes). */
static int split_args(const uint8_t *data, size_t size, char *buf, char **argv, int first)
{
    int argc = first;
    if (size == 0)
        return argc;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t i = 0; i <= size && argc < first + 16;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char prog[] = "sluiced", dash_f[] = "-f";
    static const size_t errlens[] = {1200, 1200, 64, 2};
    if (size == 0)
        return 0;
    int mode = data[0] & 3;
    size_t errlen = errlens[(data[0] >> 2) & 3];
    data++;
    size--;
    char *argv[24] = {prog};
    char *buf = malloc(size + 1);

    switch (mode) {
    case 0:
        run_file(data, size, errlen);
        break;
    case 1: {
        if (size == 0)
            break;
        const struct ref_opt *o = &ref_opts[data[0] % NOPTS];
        int form = (data[0] / NOPTS) % 5;
        char flag[64], *eq = malloc(size + 64), var[80];
        memcpy(buf, data + 1, size - 1);
        buf[size - 1] = '\0';
        const char *v = buf; /* up to the first NUL, as argv and the environment see it */
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        bool mqgo =
            !strcmp(o->name, "port") || !strcmp(o->name, "workers") || !strcmp(o->name, "jobs");
        int argc = 3;
        argv[1] = flag;
        argv[2] = buf;
        if (form == 1 || (form == 3 && mqgo)) {
            snprintf(eq, size + 64, "%s=%s", form == 3 ? flag + 1 : flag, v);
            argv[1] = eq;
            argc = 2;
        } else if (form == 2 && mqgo) {
            argv[1] = flag + 1;
        } else if (form == 4) {
            snprintf(var, sizeof var, "SLUICE_%s", o->name);
            for (char *p = var; *p; p++)
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            setenv(var, v, 1);
            argc = 1;
        }
        config_t c;
        int action, r;
        char *err = malloc(errlen);
        config_defaults(&c);
        getopt_reset();
        r = config_load(&c, argc, argv, &action, err, errlen);
        CHECK(r == 0 || r == SL_EPARAM, "config_load returned %d", r);
        CHECK(r == 0 || (strnlen(err, errlen) > 0 && strnlen(err, errlen) < errlen),
              "config_load failed with an empty or unterminated error message");
        if (r == 0)
            check_config(&c);
        check_value(o, v, r, &c);
        if (form == 4)
            unsetenv(var);
        free(err);
        free(eq);
        break;
    }
    case 2: {
        int argc = split_args(data, size, buf, argv, 1);
        if (scan_config_flags(argc, argv) == 0)
            run(argc, argv, errlen, false, 0, NULL, NULL);
        break;
    }
    case 3: {
        const uint8_t *nul = memchr(data, 0, size);
        size_t flen = nul ? (size_t)(nul - data) : size;
        write_file(data, flen);
        argv[1] = dash_f;
        argv[2] = memfd_path;
        int argc = nul ? split_args(nul + 1, size - flen - 1, buf, argv, 3) : 3;
        if (scan_config_flags(argc, argv) == 1)
            run(argc, argv, errlen, true, count_lines(data, flen), NULL, NULL);
        break;
    }
    }
    free(buf);
    return 0;
}
