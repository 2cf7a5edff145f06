/*
 * mpub.h — the two framings of a batch publish that are not JSON, as NSQ's /mpub takes them:
 *
 *   lines   (Content-Type: text/plain): one message per line, '\n' ends a line (the last one
 *           may go without); empty lines are skipped, as nsqd does, so `seq 100 | curl
 *           --data-binary @-` publishes 100 messages;
 *   binary  (Content-Type: application/octet-stream): a 4-byte big-endian count, then each
 *           message as a 4-byte big-endian size and that many bytes, nothing after the last.
 *
 * Splitting only points into the body: no message is copied here. Checking each message's size
 * against max_message_bytes is the caller's, which knows the limit.
 */
#ifndef SL_MPUB_H
#define SL_MPUB_H

#include <stddef.h>

#include "common.h"

typedef enum { MPUB_LINES, MPUB_BINARY } mpub_form_t;

typedef struct {
    const char *data; /* into the body given to mpub_split() */
    size_t len;
} mpub_part_t;

/* Splits the len bytes at buf into at most max messages, written to parts (room for max).
 * Returns 0 with *n >= 1; SL_ETOOBIG when there are more than max; SL_EPARAM when the body holds
 * no message or (binary) does not follow the framing. On error, err (errlen bytes) says what,
 * naming the message and the byte offset. */
int mpub_split(mpub_form_t form, const char *buf, size_t len, mpub_part_t *parts, size_t max,
               size_t *n, char *err, size_t errlen);

#endif
