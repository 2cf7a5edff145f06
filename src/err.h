/*
 * err.h — the text, JSON code and HTTP status of every SL_E* error (generated from the one list
 * in common.h). Shared by the server and the CLI.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

#include "common.h"

/* Returns a static human description of err ("no such queue"); "success" for 0 and
 * "unknown error" for a value outside the list. Never NULL. */
const char *err_text(int err);

/* Returns the static snake_case JSON code of err ("queue_not_found"); "internal_error" for an
 * unknown value. Never NULL. */
const char *err_code(int err);

/* Returns the HTTP status that answers err (404 for SL_ENOQUEUE); 200 for 0, 500 for unknown. */
int err_status(int err);

/* Returns the SL_E* value whose JSON code is code, or 0 when no error has that code. Used by the
 * CLI to turn a server's error reply back into an exit code. */
int err_from_code(const char *code);

/* Writes the printf-style message into buf (len bytes) and returns SL_EPARAM: how a parser says
 * what is wrong with its input in one statement. */
int err_param(char *buf, size_t len, const char *fmt, ...) SL_PRINTF(3, 4);

#endif
