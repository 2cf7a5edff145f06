/*
 * msg.h — a message: one refcounted allocation holding its header, body, ordering key and
 * attributes (STYLE rule 6).
 *
 * A message fanned out to many groups, leased by several consumers or waiting in a reply is one
 * object; every holder owns one reference (msg_ref / msg_unref). The body is stored once, right
 * after the header, so a published message costs exactly one malloc.
 *
 * Attributes are small name/value strings (content type, traceparent, dead-letter metadata)
 * serialised after the key as repeated [u8 name_len][name][u16 value_len][value]; they are
 * written once when the message is built and never change.
 *
 * The fields marked "engine" belong to the queue engine while the message is in a queue; other
 * holders treat them as opaque.
 *
 * Memory matters here: a queue may hold millions of messages, so the header is 36 bytes (bit
 * fields where the range allows: a 48-bit millisecond clock lasts to the year 10889, bodies are
 * at most 512 MiB, a queue has at most ENGINE_GROUPS_MAX groups), which puts a 100-byte message
 * in a 144-byte malloc chunk instead of 160, and what only some messages need — an expiry, a timer
 * for a delay or an expiry, the one group a redriven message is for — lives in an extension
 * (msg_ext_t) placed before the body only in messages that have one.
 */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define MSG_KEY_MAX 128
/* Serialised attribute bytes one message may carry: room for MSG_ATTR_COUNT_MAX attributes of the
 * largest size and the server's own dead-letter attributes. */
#define MSG_ATTRS_MAX 32768
#define MSG_ATTR_COUNT_MAX 16 /* attributes a publisher may set (checked by the API) */
#define MSG_ATTR_NAME_MAX 64
#define MSG_ATTR_VALUE_MAX 1024

enum msg_flags {
    MSG_DELAYED = 1, /* engine: published with a delay, not yet visible */
    MSG_GONE = 2,    /* engine: removed from its queue (acked by all, dropped, expired) */
    MSG_EXT = 4,     /* data begins with a msg_ext_t */
};

#define MSG_LEN_MAX ((1u << 29) - 1) /* body bytes */

typedef struct msg {
    uint64_t id;
    uint64_t vseq;             /* engine: position in the queue's visible sequence */
    int64_t published_at : 48; /* ms since the epoch */
    uint64_t attrs_len : 16;
    uint32_t refs;
    uint32_t len : 29;     /* body bytes */
    uint32_t flags : 3;    /* enum msg_flags */
    uint32_t pending : 24; /* engine: groups that have not finished with it */
    uint32_t key_len : 8;
    /* at MSG_HEAD: [pad to 8, msg_ext_t] body[len] key[key_len] attrs[attrs_len] */
    unsigned char data[];
} msg_t;

#define MSG_HEAD offsetof(msg_t, data)       /* bytes before data: 36 */
#define MSG_EXT_PAD ((8 - MSG_HEAD % 8) % 8) /* to align the extension */

/* What only some messages need. */
typedef struct msg_ext {
    int64_t expires_at;  /* ms since the epoch; 0 = never */
    heap_node_t tmr;     /* engine: delay or expiry timer */
    uint32_t only_group; /* engine: 0, or the id of the one group it is for (a redrive) */
} msg_ext_t;

/* Returns a new message with one reference, its body copied from body (or left uninitialised for
 * the caller to fill through msg_body() when body is NULL), its key and serialised attributes
 * copied. The caller checks the limits (key <= MSG_KEY_MAX, attrs <= MSG_ATTRS_MAX) first. Never
 * NULL. msg_new_ext also gives it an extension, zeroed. */
msg_t *msg_new(const void *body, size_t len, const char *key, size_t key_len,
               const unsigned char *attrs, size_t attrs_len);
msg_t *msg_new_ext(const void *body, size_t len, const char *key, size_t key_len,
                   const unsigned char *attrs, size_t attrs_len);

/* Returns m itself if it has an extension, else a copy of it that has one (zeroed) and drops the
 * caller's reference to m: the caller's reference moves to the result. */
msg_t *msg_with_ext(msg_t *m);

static inline msg_t *msg_ref(msg_t *m)
{
    m->refs++;
    return m;
}

/* Drops one reference; the last one frees the message. NULL is fine. */
void msg_unref(msg_t *m);

/* The extension, or NULL when m has none. */
static inline msg_ext_t *msg_ext(const msg_t *m)
{
    return m->flags & MSG_EXT ? (msg_ext_t *)(void *)(m->data + MSG_EXT_PAD) : NULL;
}

static inline int64_t msg_expires_at(const msg_t *m)
{
    return m->flags & MSG_EXT ? msg_ext(m)->expires_at : 0;
}

static inline uint32_t msg_only_group(const msg_t *m)
{
    return m->flags & MSG_EXT ? msg_ext(m)->only_group : 0;
}

/* The message whose extension's timer is n. */
static inline msg_t *msg_of_tmr(heap_node_t *n)
{
    msg_ext_t *x = (msg_ext_t *)(void *)((char *)n - offsetof(msg_ext_t, tmr));
    return (msg_t *)(void *)((char *)x - MSG_EXT_PAD - MSG_HEAD);
}

static inline unsigned char *msg_body(const msg_t *m)
{
    return (unsigned char *)m->data + (m->flags & MSG_EXT ? MSG_EXT_PAD + sizeof(msg_ext_t) : 0);
}

static inline const char *msg_key(const msg_t *m)
{
    return (const char *)msg_body(m) + m->len;
}

static inline const unsigned char *msg_attrs(const msg_t *m)
{
    return msg_body(m) + m->len + m->key_len;
}

/* A builder for the serialised attribute block, in caller storage: 256 bytes inline (a content
 * type and a trace id fit), growing on the heap beyond. It points into itself, so it is never
 * copied; msg_attrs_cleanup() frees what it grew. */
typedef struct msg_attrs_buf {
    unsigned char *buf;
    size_t len, cap;
    unsigned count;
    unsigned char small[256];
} msg_attrs_buf_t;

void msg_attrs_init(msg_attrs_buf_t *b);
void msg_attrs_cleanup(msg_attrs_buf_t *b);

/* Appends name=value to b. Returns 0, SL_EPARAM when the name is empty or longer than
 * MSG_ATTR_NAME_MAX or the value longer than MSG_ATTR_VALUE_MAX, or SL_ETOOBIG when the block
 * would pass MSG_ATTRS_MAX; a refused add changes nothing. Uniqueness of names and the number of
 * attributes are the caller's to check. */
int msg_attrs_add(msg_attrs_buf_t *b, const char *name, size_t nlen, const char *value,
                  size_t vlen);

/* Iterates over attributes: start with *pos = 0; returns true and sets name/value (not NUL
 * terminated, borrowed from m) while there is one. */
bool msg_attrs_next(const msg_t *m, size_t *pos, const char **name, size_t *nlen,
                    const char **value, size_t *vlen);

/* Whether m's attribute bytes are a whole number of well-formed [u8 name_len][name][u16
 * value_len][value] entries, as msg_attrs_next() requires. For messages read back from storage,
 * where damage must be refused before anything iterates over them. */
bool msg_attrs_valid(const msg_t *m);

/* Finds attribute name; returns its value (borrowed, not NUL terminated) and length, or NULL. */
const char *msg_attr_find(const msg_t *m, const char *name, size_t *vlen);

#endif
