/*
 * table.h — column-aligned text tables for the CLI's human output.
 *
 * Cells are added row by row, left to right; the table is printed once it is complete, since a
 * column's width is that of its widest cell. Columns whose cells are all numbers are aligned
 * right, as ps(1) and docker(1) do, so counters line up by magnitude.
 */
#ifndef SL_CLI_TABLE_H
#define SL_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct table table_t;

/* Returns a new empty table of ncols columns, whose first row is a header row when header is
 * true (it is then left out when deciding which columns are numeric). Never NULL (aborts on
 * out-of-memory). The caller frees it with table_free(). */
table_t *table_new(size_t ncols, bool header);

/* Frees the table; NULL is fine. */
void table_free(table_t *t);

/* Adds the next cell (copied), filling rows left to right; NULL is shown as "-". Cells must not
 * contain newlines (callers pass previews, not raw bodies). */
void table_add(table_t *t, const char *cell);

/* Returns the number of complete rows, the header row included. */
size_t table_rows(const table_t *t);

/* Writes the table to f, columns separated by two spaces, with no trailing spaces. A last row
 * left incomplete is padded with empty cells. */
void table_print(const table_t *t, FILE *f);

#endif
