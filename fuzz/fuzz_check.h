/*
 * fuzz_check.h — CHECK(cond, fmt, ...) for the harnesses' own checks. A failed check runs
 * FUZZ_ON_FAIL() when the harness defines one (the recovery harness prints the storage's log, the
 * engine harness the operation number), prints the harness's FUZZ_NAME, the condition and the
 * message, and aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef SLUICE_FUZZ_CHECK_H
#define SLUICE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_ON_FAIL
#define FUZZ_ON_FAIL() ((void)0)
#endif

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            FUZZ_ON_FAIL();                                           \
            fprintf(stderr, FUZZ_NAME ": check failed: %s: ", #cond); \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
            abort();                                                  \
        }                                                             \
    } while (0)

#endif
