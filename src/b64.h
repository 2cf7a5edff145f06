/*
 * b64.h — standard padded base64 (RFC 4648 §4), encoded and strictly decoded with nettle.
 *
 * The codec is nettle's; what is ours is the strictness the API promises: input whose length is
 * not a multiple of four, characters outside the alphabet (whitespace included) or padding
 * anywhere but at the end is refused, where nettle alone would skip whitespace.
 */
#ifndef SL_B64_H
#define SL_B64_H

#include <stddef.h>

#include "common.h"

/* Bytes b64_encode() writes for n input bytes, without the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Bytes b64_decode() may write for len input characters. */
#define B64_DECODED_MAX(len) (((len) / 4) * 3)

/* Encodes n bytes into out (room for B64_ENCODED_LEN(n) + 1), NUL-terminated. Returns the
 * encoded length. */
size_t b64_encode(const void *in, size_t n, char *out);

/* Decodes len characters into out (room for B64_DECODED_MAX(len)) and sets *outlen. Returns 0
 * or SL_EBASE64. */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif
