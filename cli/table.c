/*
 * table.c — column-aligned text tables.
 *
 * Widths are counted in UTF-8 characters, not bytes, so a queue name or a body preview with
 * accents does not push its row out of line. (East Asian wide characters still take two
 * columns; the tables stay readable, just not perfectly aligned, which is not worth a wcwidth
 * table.)
 */
#include "table.h"

#include <string.h>

#include "buf.h"
#include "common.h"
#include "mem.h"

struct table {
    size_t ncols;
    bool header;
    char **cells; /* row-major; owned, as is each cell */
    size_t ncells, cap;
};

table_t *table_new(size_t ncols, bool header)
{
    table_t *t = sl_calloc(1, sizeof *t);
    sl_assert(ncols > 0);
    t->ncols = ncols;
    t->header = header;
    return t;
}

void table_free(table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ncells; i++)
        sl_free(t->cells[i]);
    sl_free(t->cells);
    sl_free(t);
}

void table_add(table_t *t, const char *cell)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->cells = sl_realloc(t->cells, t->cap * sizeof *t->cells);
    }
    t->cells[t->ncells++] = sl_strdup(cell ? cell : "-");
}

size_t table_rows(const table_t *t)
{
    return t->ncells / t->ncols;
}

static size_t table_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static bool table_is_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '.')
            return false;
    return true;
}

/* A column is numeric when every body cell is a number or "-" and at least one is a number. */
static bool table_numeric(const table_t *t, size_t col, size_t rows)
{
    bool any = false;
    for (size_t r = t->header ? 1 : 0; r < rows; r++) {
        const char *s = r * t->ncols + col < t->ncells ? t->cells[r * t->ncols + col] : "";
        if (strcmp(s, "-") == 0)
            continue;
        if (!table_is_number(s))
            return false;
        any = true;
    }
    return any;
}

void table_print(const table_t *t, FILE *f)
{
    size_t rows = (t->ncells + t->ncols - 1) / t->ncols;
    size_t *width = sl_calloc(t->ncols, sizeof *width);
    bool *right = sl_calloc(t->ncols, sizeof *right);

    for (size_t i = 0; i < t->ncells; i++) {
        size_t w = table_width(t->cells[i]);
        if (w > width[i % t->ncols])
            width[i % t->ncols] = w;
    }
    for (size_t c = 0; c < t->ncols; c++)
        right[c] = table_numeric(t, c, rows);

    buf_t line;
    buf_init(&line);
    for (size_t r = 0; r < rows; r++) {
        buf_cleanup(&line);
        for (size_t c = 0; c < t->ncols; c++) {
            size_t i = r * t->ncols + c;
            const char *s = i < t->ncells ? t->cells[i] : "";
            size_t pad = width[c] - table_width(s);
            if (c > 0)
                buf_adds(&line, "  ");
            if (right[c])
                buf_printf(&line, "%*s", (int)pad, "");
            buf_adds(&line, s);
            if (!right[c])
                buf_printf(&line, "%*s", (int)pad, "");
        }
        /* Padding is written for every column and trimmed here, which also covers a row whose
         * last cells are empty. */
        while (line.len > 0 && line.data[line.len - 1] == ' ')
            line.len--;
        fwrite(buf_str(&line), 1, line.len, f);
        fputc('\n', f);
    }
    buf_cleanup(&line);
    sl_free(right);
    sl_free(width);
}
