/*
 * err.c — tables generated from SL_ERRORS in common.h, the assert handler, and err_param().
 *
 * Keeping the tables generated is the point of the module: a new error is one line in common.h
 * and it has its text, its JSON code and its status everywhere at once.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct err_info {
    int status;
    const char *code;
    const char *text;
};

static const struct err_info err_table[] = {
#define SL_ERR_ROW(name, status, code, text) {status, code, text},
    SL_ERRORS(SL_ERR_ROW)
#undef SL_ERR_ROW
};

static const struct err_info *err_find(int err)
{
    if (err <= SL_ERR_FIRST_ || err >= SL_ERR_LAST_) /* before subtracting: no overflow */
        return NULL;
    return &err_table[err - SL_ERR_FIRST_ - 1];
}

const char *err_text(int err)
{
    const struct err_info *e = err_find(err);
    if (err == 0)
        return "success";
    return e ? e->text : "unknown error";
}

const char *err_code(int err)
{
    const struct err_info *e = err_find(err);
    return e ? e->code : "internal_error";
}

int err_status(int err)
{
    const struct err_info *e = err_find(err);
    if (err == 0)
        return 200;
    return e ? e->status : 500;
}

int err_from_code(const char *code)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(err_table); i++)
        if (strcmp(err_table[i].code, code) == 0)
            return SL_ERR_FIRST_ + 1 + (int)i;
    return 0;
}

void sl_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "sluice: assertion failed at %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

int err_param(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return SL_EPARAM;
}
