/*
 * mpub.c — splits a batch publish in NSQ's line or binary framing (see mpub.h).
 *
 * Every size read from the body is checked against the bytes that remain before it is used, in
 * size_t arithmetic that cannot wrap: the body comes from the network.
 */
#include "mpub.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static int split_lines(const char *buf, size_t len, mpub_part_t *parts, size_t max, size_t *n,
                       char *err, size_t errlen)
{
    size_t count = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end > at) {
            if (count == max) {
                snprintf(err, errlen, "A batch holds at most %zu messages; this one has more.",
                         max);
                return SL_ETOOBIG;
            }
            parts[count++] = (mpub_part_t){buf + at, end - at};
        }
        at = end + 1;
    }
    if (count == 0) {
        snprintf(err, errlen, "The body holds no message (one per line; empty lines are skipped).");
        return SL_EPARAM;
    }
    *n = count;
    return 0;
}

static int split_binary(const char *buf, size_t len, mpub_part_t *parts, size_t max, size_t *n,
                        char *err, size_t errlen)
{
    if (len < 4) {
        snprintf(err, errlen, "The body is %zu bytes: too short for its 4-byte message count.",
                 len);
        return SL_EPARAM;
    }
    uint32_t count = be32(buf);
    if (count == 0) {
        snprintf(err, errlen, "The message count (the body's first 4 bytes) is 0.");
        return SL_EPARAM;
    }
    if (count > max) {
        snprintf(err, errlen, "A batch holds at most %zu messages; this one says %u.", max,
                 (unsigned)count);
        return SL_ETOOBIG;
    }
    size_t at = 4;
    for (uint32_t i = 0; i < count; i++) {
        if (len - at < 4) {
            snprintf(err, errlen,
                     "messages[%u]: the body ends at offset %zu, inside the message's 4-byte "
                     "size (the count says %u messages).",
                     (unsigned)i, len, (unsigned)count);
            return SL_EPARAM;
        }
        size_t size = be32(buf + at);
        at += 4;
        if (size > len - at) {
            snprintf(err, errlen,
                     "messages[%u]: its size %zu (at offset %zu) runs past the end of the body "
                     "(%zu bytes left).",
                     (unsigned)i, size, at - 4, len - at);
            return SL_EPARAM;
        }
        parts[i] = (mpub_part_t){buf + at, size};
        at += size;
    }
    if (at != len) {
        snprintf(err, errlen, "%zu bytes follow the last of the %u messages (at offset %zu).",
                 len - at, (unsigned)count, at);
        return SL_EPARAM;
    }
    *n = count;
    return 0;
}

int mpub_split(mpub_form_t form, const char *buf, size_t len, mpub_part_t *parts, size_t max,
               size_t *n, char *err, size_t errlen)
{
    return (form == MPUB_LINES ? split_lines : split_binary)(buf, len, parts, max, n, err, errlen);
}
