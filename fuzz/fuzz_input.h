/*
 * fuzz_input.h — reading a fuzzer's input as a stream of choices, shared by the harnesses that
 * drive a sequence of operations (engine, qlog, recovery). Past the end every read gives zeros,
 * so any input, however short, is a complete program.
 */
#ifndef SLUICE_FUZZ_INPUT_H
#define SLUICE_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} rd_t;

static inline uint8_t u8(rd_t *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

/* n bytes (at most 8), little-endian. */
static inline uint64_t un(rd_t *r, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)u8(r) << (8 * i);
    return v;
}

/* Up to want bytes of the input (fewer when it runs out). */
static inline const unsigned char *take(rd_t *r, size_t want, size_t *got)
{
    *got = want < r->n ? want : r->n;
    const unsigned char *p = r->p;
    r->p += *got;
    r->n -= *got;
    return p;
}

#endif
