/*
 * msg.c — building, reading and freeing messages.
 */
#include "msg.h"

#include <string.h>

#include "common.h"
#include "mem.h"

_Static_assert(MSG_HEAD == 36, "the message header is 36 bytes (see msg.h)");
_Static_assert(MSG_ATTRS_MAX < (1 << 16) && MSG_KEY_MAX < (1 << 8), "attrs_len, key_len bits");

static msg_t *msg_make(const void *body, size_t len, const char *key, size_t key_len,
                       const unsigned char *attrs, size_t attrs_len, bool ext)
{
    sl_assert(key_len <= MSG_KEY_MAX && attrs_len <= MSG_ATTRS_MAX && len <= MSG_LEN_MAX);
    size_t head = MSG_HEAD + (ext ? MSG_EXT_PAD + sizeof(msg_ext_t) : 0);
    msg_t *m = sl_malloc(head + len + key_len + attrs_len);
    memset(m, 0, head);
    m->refs = 1;
    m->len = (uint32_t)len & MSG_LEN_MAX;
    m->key_len = (uint8_t)key_len;
    m->attrs_len = (uint16_t)attrs_len;
    if (ext) {
        m->flags = MSG_EXT;
        heap_node_init(&msg_ext(m)->tmr, 0);
    }
    unsigned char *p = msg_body(m);
    if (body && len)
        memcpy(p, body, len);
    if (key_len)
        memcpy(p + len, key, key_len);
    if (attrs_len)
        memcpy(p + len + key_len, attrs, attrs_len);
    return m;
}

msg_t *msg_new(const void *body, size_t len, const char *key, size_t key_len,
               const unsigned char *attrs, size_t attrs_len)
{
    return msg_make(body, len, key, key_len, attrs, attrs_len, false);
}

msg_t *msg_new_ext(const void *body, size_t len, const char *key, size_t key_len,
                   const unsigned char *attrs, size_t attrs_len)
{
    return msg_make(body, len, key, key_len, attrs, attrs_len, true);
}

msg_t *msg_with_ext(msg_t *m)
{
    if (m->flags & MSG_EXT)
        return m;
    msg_t *x = msg_new_ext(msg_body(m), m->len, msg_key(m), m->key_len, msg_attrs(m), m->attrs_len);
    x->id = m->id;
    x->published_at = m->published_at;
    x->flags |= m->flags;
    msg_unref(m);
    return x;
}

void msg_unref(msg_t *m)
{
    if (m == NULL)
        return;
    sl_assert(m->refs > 0);
    if (--m->refs == 0)
        sl_free(m);
}

void msg_attrs_init(msg_attrs_buf_t *b)
{
    b->buf = b->small;
    b->cap = sizeof b->small;
    b->len = 0;
    b->count = 0;
}

void msg_attrs_cleanup(msg_attrs_buf_t *b)
{
    if (b->buf != b->small)
        sl_free(b->buf);
    msg_attrs_init(b);
}

int msg_attrs_add(msg_attrs_buf_t *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen == 0 || nlen > MSG_ATTR_NAME_MAX || vlen > MSG_ATTR_VALUE_MAX)
        return SL_EPARAM;
    size_t need = b->len + 3 + nlen + vlen;
    if (need > MSG_ATTRS_MAX)
        return SL_ETOOBIG;
    if (need > b->cap) {
        size_t cap = b->cap * 2 < need ? need : b->cap * 2;
        unsigned char *n = sl_malloc(cap);
        memcpy(n, b->buf, b->len);
        if (b->buf != b->small)
            sl_free(b->buf);
        b->buf = n;
        b->cap = cap;
    }
    unsigned char *p = b->buf + b->len;
    *p++ = (unsigned char)nlen;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = (unsigned char)(vlen & 0xff);
    *p++ = (unsigned char)(vlen >> 8);
    memcpy(p, value, vlen);
    b->len = need;
    b->count++;
    return 0;
}

bool msg_attrs_next(const msg_t *m, size_t *pos, const char **name, size_t *nlen,
                    const char **value, size_t *vlen)
{
    const unsigned char *a = msg_attrs(m);
    size_t end = m->attrs_len;
    if (*pos + 1 > end)
        return false;
    size_t nl = a[*pos];
    /* The block was built by msg_attrs_add (or read back from storage and checked with
     * msg_attrs_valid), so it is well formed; the bounds checks keep a bug from becoming an
     * overread. */
    sl_assert(*pos + 1 + nl + 2 <= end);
    *name = (const char *)a + *pos + 1;
    *nlen = nl;
    size_t vl = a[*pos + 1 + nl] | (size_t)a[*pos + 2 + nl] << 8;
    sl_assert(*pos + 3 + nl + vl <= end);
    *value = (const char *)a + *pos + 3 + nl;
    *vlen = vl;
    *pos += 3 + nl + vl;
    return true;
}

bool msg_attrs_valid(const msg_t *m)
{
    const unsigned char *a = msg_attrs(m);
    size_t pos = 0, end = m->attrs_len;
    while (pos < end) {
        size_t nl = a[pos];
        if (end - pos < 3 + nl)
            return false;
        size_t vl = a[pos + 1 + nl] | (size_t)a[pos + 2 + nl] << 8;
        if (end - pos - 3 - nl < vl)
            return false;
        pos += 3 + nl + vl;
    }
    return true;
}

const char *msg_attr_find(const msg_t *m, const char *name, size_t *vlen)
{
    size_t pos = 0, nlen, len = strlen(name);
    const char *n, *v;
    while (msg_attrs_next(m, &pos, &n, &nlen, &v, vlen))
        if (nlen == len && memcmp(n, name, len) == 0)
            return v;
    return NULL;
}
