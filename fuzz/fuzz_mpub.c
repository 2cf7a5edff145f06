/*
 * fuzz_mpub.c — libFuzzer harness for mpub_split() (src/mpub.h), the non-JSON batch framings.
 *
 * Byte 0 picks the framing (bit 0) and the limit on messages (the other 7 bits: 1 to 127, or
 * 1000 when they are 0); the rest is the body, in a heap block of exactly its size, so a read past
 * it is an ASan error. The result must agree with a reference reading written here from the format
 * description (lines: pieces between '\n' that are not empty; binary: count, then size and bytes,
 * with 64-bit arithmetic so nothing can wrap):
 *
 *   - success exactly when the reference finds 1..max messages and, for binary, consumes the body
 *     exactly; SL_ETOOBIG exactly when there are more than max; SL_EPARAM otherwise;
 *   - on success, each part is the reference's part, pointing into the body at the same place;
 *   - on failure, a non-empty NUL-terminated message.
 *
 * A failed check prints the input and aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpub.h"

#define FUZZ_NAME "fuzz_mpub"
#include "fuzz_check.h"

#define MAXP 1000

/* The reference: fills off/len (room for max + 1) and returns how many messages it saw, max + 1
 * meaning "more than max" (for binary, as soon as the count says so), or -1 when the binary
 * framing is broken. */
static long reference(int binary, const uint8_t *b, size_t n, size_t max, size_t *off, size_t *len)
{
    long count = 0;
    if (!binary) {
        size_t start = 0;
        for (size_t i = 0; i <= n && count <= (long)max; i++)
            if (i == n || b[i] == '\n') {
                if (i > start) {
                    off[count] = start;
                    len[count++] = i - start;
                }
                start = i + 1;
            }
        return count;
    }
    if (n < 4)
        return -1;
    uint64_t want = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
    if (want == 0)
        return -1;
    if (want > max)
        return (long)max + 1;
    uint64_t at = 4;
    for (uint64_t i = 0; i < want; i++) {
        if (at + 4 > n)
            return -1;
        uint64_t size = (uint64_t)b[at] << 24 | (uint64_t)b[at + 1] << 16 |
                        (uint64_t)b[at + 2] << 8 | b[at + 3];
        at += 4;
        if (at + size > n)
            return -1;
        off[count] = (size_t)at;
        len[count++] = (size_t)size;
        at += size;
    }
    return at == n ? count : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int binary = data[0] & 1;
    size_t max = data[0] >> 1 ? data[0] >> 1 : MAXP;
    size_t n = size - 1;
    char *body = malloc(n ? n : 1);
    memcpy(body, data + 1, n);

    static size_t off[MAXP + 1], len[MAXP + 1];
    static mpub_part_t parts[MAXP];
    long want = reference(binary, (const uint8_t *)body, n, max, off, len);
    size_t got = 0;
    char err[200];
    memset(err, 'x', sizeof err);
    int rc =
        mpub_split(binary ? MPUB_BINARY : MPUB_LINES, body, n, parts, max, &got, err, sizeof err);

    if (want > (long)max) {
        CHECK(rc == SL_ETOOBIG, "%ld messages over a limit of %zu gave %d", want, max, rc);
    } else if (want <= 0) {
        CHECK(rc == SL_EPARAM, "reference says %ld, split gave %d", want, rc);
    } else {
        CHECK(rc == 0, "reference found %ld messages (limit %zu), split gave %d: %s", want, max, rc,
              err);
        CHECK(got == (size_t)want, "%zu parts, reference %ld", got, want);
        for (size_t i = 0; i < got; i++)
            CHECK(parts[i].data == body + off[i] && parts[i].len == len[i],
                  "part %zu at %td+%zu, reference %zu+%zu", i, parts[i].data - body, parts[i].len,
                  off[i], len[i]);
    }
    if (rc != 0)
        CHECK(memchr(err, '\0', sizeof err) && err[0] != '\0', "no error message for %d", rc);
    free(body);
    return 0;
}
