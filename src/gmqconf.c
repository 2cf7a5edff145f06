/*
 * gmqconf.c — GMQ's JSON configuration file, read by jansson and mapped onto sluiced's options.
 *
 * config.c hands a file whose first byte other than blanks is '{' to gmqconf_load(), which
 * applies each setting through the option table (config.c's opt_set, via the set callback), so a
 * value means and is checked the same as in the INI file. The mapping (docs/config.md):
 *
 *   network.port, network.interface  -> gmq_listen (port "" = GMQ's default 4884; interface "" =
 *                                       every IPv4 address, or every IPv6 one with tcp6)
 *   network.protocol                 -> gmq_protocol (tcp, tcp4, tcp6)
 *   queue.queue_type                 -> storage: 1 memory, 3 file (data_dir = filesystem.path);
 *                                       2 (database) is refused until those storages exist
 *   queue.max_message_length         -> gmq_max_request (GMQ's read buffer: the request size)
 *   log.path + log.name              -> log_file (GMQ concatenated them without a separator)
 *   auth.user, auth.password         -> gmq_user, gmq_password
 *
 * HTTP is not configured by this file: it keeps its default (127.0.0.1:8080) or what the
 * environment and flags say. queue.max_queue_number and queue.max_queue_capacity were only size
 * hints in GMQ and limit nothing here either; database.* and cluster.* are read and checked but
 * unused. As in GMQ, key names match case-insensitively and types are strict ("port": 4884 as a
 * number is an error); unlike GMQ, an unknown key is an error naming it, so a typo is not
 * silently ignored.
 */
#include "gmqconf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "err.h"
#include "mem.h"

enum key_type { K_STR, K_INT };

static const struct key {
    const char *section, *name;
    int type;
} keys[] = {
    {"auth", "user", K_STR},
    {"auth", "password", K_STR},
    {"network", "port", K_STR},
    {"network", "interface", K_STR},
    {"network", "protocol", K_STR},
    {"queue", "queue_type", K_INT},
    {"queue", "max_queue_number", K_INT},
    {"queue", "max_message_length", K_INT},
    {"queue", "max_queue_capacity", K_INT},
    {"database", "vendor", K_STR},
    {"database", "dsn", K_STR},
    {"filesystem", "path", K_STR},
    {"log", "path", K_STR},
    {"log", "name", K_STR},
    {"cluster", "proto", K_STR},
    {"cluster", "cluster_port", K_STR},
    {"cluster", "timeout_msec", K_INT},
    {"cluster", "cidr", K_STR},
};

enum { NKEYS = SL_ARRAY_LEN(keys) };

/* What the file says: per key of the table, whether it was given, and its value. */
struct values {
    bool set[NKEYS];
    const char *str[NKEYS]; /* borrowed from the JSON document */
    json_int_t num[NKEYS];
};

static int key_index(const char *section, const char *name)
{
    for (int i = 0; i < (int)NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return i;
    return -1;
}

/* Lists the keys of section for an error message, into buf. */
static const char *section_keys(const char *section, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NKEYS && n < size; i++)
        if (!strcmp(keys[i].section, section))
            n += (size_t)snprintf(buf + n, size - n, "%s%s.%s", n ? ", " : "", section,
                                  keys[i].name);
    return buf;
}

/* Reads one section object into v. */
static int read_section(const char *path, const char *section, const char *written, json_t *obj,
                        struct values *v, char *err, size_t len)
{
    const char *k;
    json_t *val;
    char list[300];
    if (json_is_null(obj))
        return 0; /* as Go: null leaves the section at its defaults */
    if (!json_is_object(obj))
        return err_param(err, len, "%s: '%s' must be an object with the keys %s.", path, written,
                         section_keys(section, list, sizeof list));
    json_object_foreach(obj, k, val)
    {
        int i = -1;
        for (size_t j = 0; j < NKEYS; j++)
            if (!strcmp(keys[j].section, section) && !strcasecmp(keys[j].name, k))
                i = (int)j;
        if (i < 0)
            return err_param(err, len, "%s: unknown key '%s.%s' (the keys of '%s' are %s).", path,
                             written, k, written, section_keys(section, list, sizeof list));
        if (v->set[i])
            return err_param(
                err, len, "%s: key '%s.%s' is given twice (GMQ's keys match case-insensitively).",
                path, section, keys[i].name);
        if (json_is_null(val))
            continue; /* as Go: null leaves the default */
        if (keys[i].type == K_STR) {
            if (!json_is_string(val))
                return err_param(err, len, "%s: key '%s.%s' must be a string, like \"%s\".", path,
                                 written, k, strcmp(keys[i].name, "port") ? "text" : "4884");
            v->str[i] = json_string_value(val);
        } else {
            if (!json_is_integer(val))
                return err_param(err, len, "%s: key '%s.%s' must be an integer.", path, written, k);
            v->num[i] = json_integer_value(val);
        }
        v->set[i] = true;
    }
    return 0;
}

static const char *str_of(const struct values *v, const char *section, const char *name)
{
    int i = key_index(section, name);
    return v->set[i] ? v->str[i] : "";
}

/* Applies option name = value through set(); a refusal names the GMQ key it came from. */
static int apply(gmqconf_set_fn set, void *ctx, const char *name, const char *value,
                 const char *path, const char *key, char *err, size_t len)
{
    char why[400];
    if (set(ctx, name, value, why, sizeof why) == 0)
        return 0;
    return err_param(err, len, "%s: %s: %s", path, key, why);
}

static int apply_network(const struct values *v, gmqconf_set_fn set, void *ctx, const char *path,
                         char *err, size_t len)
{
    const char *proto = str_of(v, "network", "protocol");
    const char *port = str_of(v, "network", "port");
    const char *iface = str_of(v, "network", "interface");
    char addr[600];
    if (!*proto)
        proto = "tcp";
    if (strcmp(proto, "tcp") && strcmp(proto, "tcp4") && strcmp(proto, "tcp6"))
        return err_param(err, len, "%s: network.protocol: '%s' is not tcp, tcp4 or tcp6.", path,
                         proto);
    if (!*port)
        port = "4884"; /* GMQ's server default (its client's default is 4567) */
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits] || strtol(port, NULL, 10) > 65535)
        return err_param(err, len, "%s: network.port: '%s' is not a port from 0 to 65535.", path,
                         port);
    if (!*iface) /* GMQ listened on every address of the protocol's family */
        iface = strcmp(proto, "tcp6") ? "0.0.0.0" : "::";
    if (strlen(iface) > 256)
        return err_param(err, len, "%s: network.interface is longer than 256 bytes.", path);
    snprintf(addr, sizeof addr, strchr(iface, ':') ? "[%s]:%s" : "%s:%s", iface, port);
    if (apply(set, ctx, "gmq_protocol", proto, path, "network.protocol", err, len))
        return SL_EPARAM;
    return apply(set, ctx, "gmq_listen", addr, path, "network.interface and network.port", err,
                 len);
}

static int apply_queue(const struct values *v, gmqconf_set_fn set, void *ctx, const char *path,
                       char *err, size_t len)
{
    int type = key_index("queue", "queue_type");
    int mml = key_index("queue", "max_message_length");
    static const char *const positive[] = {"max_queue_number", "max_queue_capacity",
                                           "max_message_length"};
    for (size_t i = 0; i < SL_ARRAY_LEN(positive); i++) {
        int k = key_index("queue", positive[i]);
        if (v->set[k] && v->num[k] <= 0)
            return err_param(err, len, "%s: queue.%s: %lld is not a positive number.", path,
                             positive[i], (long long)v->num[k]);
    }
    if (v->set[mml]) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)v->num[mml]);
        if (apply(set, ctx, "gmq_max_request", n, path, "queue.max_message_length", err, len))
            return SL_EPARAM;
    }
    if (!v->set[type])
        return err_param(err, len,
                         "%s: queue.queue_type is missing: use 1 (memory), 2 (database) or 3 "
                         "(filesystem).",
                         path);
    switch (v->num[type]) {
    case 1:
        return apply(set, ctx, "storage", "memory", path, "queue.queue_type", err, len);
    case 2: {
        const char *vendor = str_of(v, "database", "vendor");
        return err_param(err, len,
                         "%s: queue.queue_type 2 (database%s%s) is not available yet: the postgres "
                         "and mysql storages are still to come. Use 1 (memory) or 3 (filesystem).",
                         path, *vendor ? ", vendor " : "", vendor);
    }
    case 3: {
        const char *dir = str_of(v, "filesystem", "path");
        if (apply(set, ctx, "storage", "file", path, "queue.queue_type", err, len))
            return SL_EPARAM;
        return *dir ? apply(set, ctx, "data_dir", dir, path, "filesystem.path", err, len) : 0;
    }
    default:
        return err_param(err, len,
                         "%s: queue.queue_type: %lld is not 1 (memory), 2 (database) or 3 "
                         "(filesystem).",
                         path, (long long)v->num[type]);
    }
}

int gmqconf_load(FILE *f, const char *path, gmqconf_set_fn set, void *ctx, char *err, size_t errlen)
{
    static const char *const sections[] = {"auth",       "network", "queue",  "database",
                                           "filesystem", "log",     "cluster"};
    bool seen[SL_ARRAY_LEN(sections)] = {false};
    struct values v = {0};
    json_error_t jerr;
    const char *k;
    json_t *obj;
    int r = 0;

    /* The whole file, so that a NUL byte can be refused: jansson skips one that follows a number
     * or a literal, and JSON has none. */
    size_t len = 0, cap = 4096;
    char *text = sl_malloc(cap);
    for (size_t n; (n = fread(text + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap)
            text = sl_realloc(text, cap *= 2);
    }
    if (ferror(f)) {
        sl_free(text);
        return err_param(err, errlen, "%s: cannot read the file", path);
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        r = err_param(err, errlen,
                      "%s: not a valid GMQ JSON configuration: a NUL byte at offset %zu.", path,
                      (size_t)(nul - text));
        sl_free(text);
        return r;
    }
    /* Duplicates are refused by jansson for the same spelling and below for two spellings. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    sl_free(text);
    if (root == NULL)
        return err_param(err, errlen,
                         "%s: not a valid GMQ JSON configuration: %s (line %d, column %d).", path,
                         jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        r = err_param(err, errlen, "%s: a GMQ configuration is one JSON object.", path);
        goto out;
    }
    json_object_foreach(root, k, obj)
    {
        size_t i = 0;
        while (i < SL_ARRAY_LEN(sections) && strcasecmp(sections[i], k) != 0)
            i++;
        if (i == SL_ARRAY_LEN(sections)) {
            r = err_param(
                err, errlen,
                "%s: unknown key '%s' (GMQ's sections are auth, network, queue, database, "
                "filesystem, log and cluster).",
                path, k);
            goto out;
        }
        if (seen[i]) {
            r = err_param(err, errlen,
                          "%s: key '%s' is given twice (GMQ's keys match case-insensitively).",
                          path, sections[i]);
            goto out;
        }
        seen[i] = true;
        if ((r = read_section(path, sections[i], k, obj, &v, err, errlen)) != 0)
            goto out;
    }
    if ((r = apply_network(&v, set, ctx, path, err, errlen)) != 0 ||
        (r = apply_queue(&v, set, ctx, path, err, errlen)) != 0)
        goto out;
    char logfile[2048];
    const char *lp = str_of(&v, "log", "path"), *ln = str_of(&v, "log", "name");
    if (*lp || *ln) {
        if (strlen(lp) + strlen(ln) >= sizeof logfile) {
            r = err_param(err, errlen, "%s: log.path and log.name are too long.", path);
            goto out;
        }
        snprintf(logfile, sizeof logfile, "%s%s", lp, ln);
        if ((r = apply(set, ctx, "log_file", logfile, path, "log.path", err, errlen)) != 0)
            goto out;
    }
    if ((r = apply(set, ctx, "gmq_user", str_of(&v, "auth", "user"), path, "auth.user", err,
                   errlen)) != 0 ||
        (r = apply(set, ctx, "gmq_password", str_of(&v, "auth", "password"), path, "auth.password",
                   err, errlen)) != 0)
        goto out;
out:
    json_decref(root);
    return r;
}
