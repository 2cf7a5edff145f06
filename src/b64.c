/*
 * b64.c — strict validation around nettle's base64.
 */
#include "b64.h"

#include <nettle/base64.h>
#include <stdint.h>

size_t b64_encode(const void *in, size_t n, char *out)
{
    base64_encode_raw(out, n, (const uint8_t *)in);
    out[B64_ENCODED_LEN(n)] = '\0';
    return B64_ENCODED_LEN(n);
}

static int b64_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    struct base64_decode_ctx ctx;
    size_t pad = 0;

    if (len % 4 != 0)
        return SL_EBASE64;
    if (len > 0 && in[len - 1] == '=')
        pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_alphabet(in[i]))
            return SL_EBASE64;
    base64_decode_init(&ctx);
    *outlen = 0;
    if (!base64_decode_update(&ctx, outlen, out, len, in) || !base64_decode_final(&ctx))
        return SL_EBASE64;
    return 0;
}
