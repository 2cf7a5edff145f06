/*
 * body.c — decoding and previewing message bodies.
 *
 * The UTF-8 check is written here rather than taken from a library because it is a display
 * decision, not a parser of anything we accept: it follows RFC 3629 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and then refuses the C0 and C1 control characters, which
 * could move a terminal's cursor or change its state if printed.
 */
#include "body.h"

#include <stdint.h>

#include "b64.h"
#include "mem.h"

int body_decode(const char *b64, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *p = sl_malloc(B64_DECODED_MAX(len) + 1);
    int err = b64_decode(b64, len, p, out_len);
    if (err) {
        sl_free(p);
        return err;
    }
    *out = p;
    return 0;
}

/* Decodes the UTF-8 sequence at the start of the n > 0 bytes at p into *cp. Returns its length
 * in bytes, or 0 when it is invalid or truncated. */
static size_t body_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t c = p[0], min;
    size_t len;

    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static bool body_printable(uint32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return true;
    return !(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f));
}

bool body_is_text(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = body_utf8_next(p + i, n - i, &cp);
        if (len == 0 || !body_printable(cp))
            return false;
        i += len;
    }
    return true;
}

void body_describe_binary(buf_t *b, const unsigned char *p, size_t n, size_t max_bytes)
{
    buf_printf(b, "(binary, %zu bytes)", n);
    for (size_t i = 0; i < n && i < max_bytes; i++)
        buf_printf(b, " %02x", p[i]);
    if (n > max_bytes)
        buf_adds(b, " ...");
}

void body_preview(buf_t *b, const unsigned char *p, size_t n, size_t max_chars)
{
    size_t i = 0, chars = 0;

    if (n == 0) {
        buf_adds(b, "(empty)");
        return;
    }
    if (!body_is_text(p, n)) {
        body_describe_binary(b, p, n, 8);
        return;
    }
    while (i < n && chars < max_chars) {
        uint32_t cp;
        size_t len = body_utf8_next(p + i, n - i, &cp);
        if (cp == '\n')
            buf_adds(b, "\\n");
        else if (cp == '\r')
            buf_adds(b, "\\r");
        else if (cp == '\t')
            buf_adds(b, "\\t");
        else
            buf_add(b, p + i, len);
        i += len;
        chars++;
    }
    if (i < n)
        buf_adds(b, "...");
}
