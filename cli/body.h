/*
 * body.h — message bodies as the CLI shows them.
 *
 * Bodies arrive base64-encoded inside JSON replies (docs/api.md, "Bodies"); this module decodes
 * them with nettle and decides how a human sees one: verbatim when it is printable UTF-8 text,
 * otherwise as its size and a hex preview, so binary bytes never reach a terminal.
 */
#ifndef SL_CLI_BODY_H
#define SL_CLI_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "common.h"

/* Decodes the len bytes of standard padded base64 at b64 into a new buffer stored in *out (the
 * caller frees it with sl_free()) holding *out_len bytes. Returns 0, or SL_EBASE64 when b64 is
 * not valid base64 (*out is then untouched). */
int body_decode(const char *b64, size_t len, unsigned char **out, size_t *out_len);

/* Returns true when the n bytes at p are valid UTF-8 made only of printable characters, tab,
 * newline and carriage return; false for anything a terminal might misread (other control
 * characters, invalid or overlong sequences, surrogates). An empty body is text. */
bool body_is_text(const unsigned char *p, size_t n);

/* Appends to b a one-line preview of the n bytes at p: for text, at most max_chars characters
 * with tab, newline and carriage return shown as \t, \n, \r and "..." when cut short; for
 * binary, "(binary, N bytes)" and the first bytes in hex; "(empty)" for no bytes. */
void body_preview(buf_t *b, const unsigned char *p, size_t n, size_t max_chars);

/* Appends to b "(binary, N bytes)" followed by the first max_bytes bytes in hex, and "..." when
 * there are more. */
void body_describe_binary(buf_t *b, const unsigned char *p, size_t n, size_t max_bytes);

#endif
