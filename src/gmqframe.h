/*
 * gmqframe.h — finds where the one JSON object of a GMQ request ends, in bytes that arrive in
 * pieces, without parsing it (jansson parses it once it is whole; see gmqframe.c for why).
 */
#ifndef SL_GMQFRAME_H
#define SL_GMQFRAME_H

#include <stdbool.h>
#include <stddef.h>

/* The scanner's state; the caller owns it. Zero it (gmqframe_init) before the first byte. */
typedef struct gmqframe {
    size_t pos;   /* bytes consumed so far */
    size_t depth; /* open '{' and '[' outside strings */
    bool started; /* the first byte other than blanks has been seen */
    bool in_string;
    bool escape;  /* the previous byte in a string was a backslash */
    bool refused; /* GMQFRAME_NOT_OBJECT was returned */
} gmqframe_t;

enum gmqframe_result {
    GMQFRAME_MORE,       /* the object is not complete yet: feed more bytes */
    GMQFRAME_END,        /* the object ends after byte pos - 1 (pos bytes make the object) */
    GMQFRAME_NOT_OBJECT, /* the first byte other than blanks, at pos - 1, is not '{' */
};

/* Prepares f for a new request. */
void gmqframe_init(gmqframe_t *f);

/* Scans buf[f->pos .. len): buf holds every byte of the request received so far (the bytes before
 * f->pos were scanned by earlier calls and must not have changed). Returns GMQFRAME_END with
 * f->pos at the end of the object (the bytes after it are not looked at), GMQFRAME_NOT_OBJECT with
 * f->pos just past the offending byte, or GMQFRAME_MORE with f->pos == len. Once END or
 * NOT_OBJECT was returned, later calls return the same without moving. The end found is where a
 * well-formed object ends; for malformed input it is only where the brackets balance, and the
 * JSON parser says what is wrong. */
int gmqframe_scan(gmqframe_t *f, const char *buf, size_t len);

#endif
