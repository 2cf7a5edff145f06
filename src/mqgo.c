/*
 * mqgo.c — MQ Go compatibility; see mqgo.h.
 *
 * Go's encoding/json matched a JSON key to a struct field ignoring case, and let a later key
 * overwrite an earlier one. We do the same with jansson, which keeps an object's keys in the
 * order they came. Unlike Go we do not ignore errors: invalid JSON or a field of the wrong type
 * is refused with a message that names it (SEEDS-PROTOCOL.md §1.5: the original filled in zero
 * values and carried on).
 */
#include "mqgo.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "hmap.h"
#include "mem.h"

typedef struct sender {
    uint64_t id;
} sender_t;

struct mqgo {
    uint64_t last_id;
    hmap_t senders; /* id -> sender_t */
};

static int eq_sender(const void *val, const void *key, size_t len)
{
    (void)len;
    return ((const sender_t *)val)->id == *(const uint64_t *)key;
}

mqgo_t *mqgo_new(void)
{
    mqgo_t *m = sl_calloc(1, sizeof *m);
    hmap_init(&m->senders, eq_sender);
    return m;
}

void mqgo_free(mqgo_t *m)
{
    if (m == NULL)
        return;
    uint32_t pos = 0;
    sender_t *s;
    while ((s = hmap_next(&m->senders, &pos)) != NULL)
        sl_free(s);
    hmap_cleanup(&m->senders);
    sl_free(m);
}

int mqgo_request_parse(const char *body, size_t len, mqgo_request_t *r, char *why)
{
    memset(r, 0, sizeof *r);
    json_error_t jerr;
    json_t *o = json_loadb(body, len, JSON_ALLOW_NUL, &jerr); /* Go strings may hold NUL */
    r->json_ = o;
    if (!json_is_object(o)) {
        if (o)
            snprintf(why, MQGO_WHY_MAX, "the body must be a JSON object");
        else
            snprintf(why, MQGO_WHY_MAX, "invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return SL_EJSON;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool is_str = json_is_string(v);
        if (!strcasecmp(key, "clienturl") || !strcasecmp(key, "mode") || !strcasecmp(key, "body")) {
            if (!is_str) {
                snprintf(why, MQGO_WHY_MAX, "'%.40s' must be a string", key);
                return SL_EPARAM;
            }
            if (!strcasecmp(key, "clienturl"))
                r->client_url = json_string_value(v);
            else if (!strcasecmp(key, "mode"))
                r->mode = json_string_value(v);
            else {
                r->body = json_string_value(v);
                r->body_len = json_string_length(v);
            }
        } else if (!strcasecmp(key, "id")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1) {
                snprintf(why, MQGO_WHY_MAX, "'%.40s' must be a positive integer", key);
                return SL_EPARAM;
            }
            r->has_id = true;
            r->id = (uint64_t)json_integer_value(v);
        } /* other keys are ignored, as Go did */
    }
    return 0;
}

void mqgo_request_cleanup(mqgo_request_t *r)
{
    json_decref(r->json_);
    r->json_ = NULL;
}

uint64_t mqgo_next_id(mqgo_t *m)
{
    return ++m->last_id;
}

void mqgo_note_id(mqgo_t *m, uint64_t id)
{
    if (id > m->last_id)
        m->last_id = id;
}

void mqgo_sender_add(mqgo_t *m, uint64_t id)
{
    if (mqgo_sender_find(m, id))
        return;
    sender_t *s = sl_malloc(sizeof *s);
    s->id = id;
    hmap_add(&m->senders, &s->id, sizeof s->id, s);
}

bool mqgo_sender_find(const mqgo_t *m, uint64_t id)
{
    return hmap_find(&m->senders, &id, sizeof id) != NULL;
}

bool mqgo_sender_remove(mqgo_t *m, uint64_t id)
{
    sender_t *s = hmap_remove(&m->senders, &id, sizeof id);
    sl_free(s);
    return s != NULL;
}

void mqgo_receiver_name(uint64_t id, char *out)
{
    snprintf(out, 32, MQGO_PREFIX "%" PRIu64, id);
}

bool mqgo_receiver_id(const char *name, uint64_t *id)
{
    size_t plen = strlen(MQGO_PREFIX);
    if (strncmp(name, MQGO_PREFIX, plen) != 0)
        return false;
    const char *p = name + plen;
    if (*p < '1' || *p > '9' || strlen(p) > 20)
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *id = v;
    return true;
}
