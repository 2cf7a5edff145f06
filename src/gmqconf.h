/*
 * gmqconf.h — reads GMQ's JSON configuration file (`sluiced -f gmq.json`) and turns it into
 * sluiced options (docs/config.md, "A GMQ configuration file").
 */
#ifndef SL_GMQCONF_H
#define SL_GMQCONF_H

#include <stddef.h>
#include <stdio.h>

/* Sets option name (as in the INI file) to the text value. Returns 0, or SL_EPARAM with the
 * reason in why (without the option's name). */
typedef int (*gmqconf_set_fn)(void *ctx, const char *name, const char *value, char *why,
                              size_t whylen);

/* Reads the GMQ JSON configuration from f (positioned at its start; not closed), named path in
 * messages, and applies each setting through set(ctx, ...). Returns 0, or SL_EPARAM with a
 * message in err that starts with path and names the key ("gmq.json: network.port: 'x' is not
 * a port"), or the line and column of a JSON syntax error. Settings applied before an error
 * stay applied; the caller stops anyway. */
int gmqconf_load(FILE *f, const char *path, gmqconf_set_fn set, void *ctx, char *err,
                 size_t errlen);

#endif
