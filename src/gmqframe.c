/*
 * gmqframe.c — where a GMQ request's JSON object ends.
 *
 * GMQ has no framing: the client writes one JSON object and waits for the reply without closing
 * its side, so the server must notice by itself that the object is complete, however the bytes
 * were split into TCP segments. The parsing proper is jansson's (gmqwire.c); this only finds the
 * closing brace, by tracking four facts per byte: inside a string or not, after a backslash in a
 * string or not, and the nesting depth of '{' and '[' outside strings.
 *
 * Why not ask jansson directly on every arrival (json_loadb with JSON_DISABLE_EOF_CHECK, and a
 * "premature end of input" error meaning "wait")? Each attempt parses the whole buffer again, so a
 * client that trickles a request of n bytes in n segments costs O(n^2): with the default limit
 * (the base64 of a 1 MiB message) that is about 10^12 byte steps, and one connection could pin the
 * loop that every client shares. This scanner keeps its state between arrivals, so each byte is
 * looked at once; jansson then runs once, on the complete object. A bracket mismatch ("{]") or any
 * other mistake still ends the scan where the depth returns to zero, and jansson's error names
 * the defect. Fuzzed by fuzz/fuzz_gmq.c against jansson.
 */
#include "gmqframe.h"

void gmqframe_init(gmqframe_t *f)
{
    *f = (gmqframe_t){0};
}

int gmqframe_scan(gmqframe_t *f, const char *buf, size_t len)
{
    if (f->refused)
        return GMQFRAME_NOT_OBJECT;
    if (f->started && f->depth == 0)
        return GMQFRAME_END;
    while (f->pos < len) {
        char c = buf[f->pos++];
        if (!f->started) {
            /* JSON's four blanks only: anything else is where the value starts */
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                continue;
            f->started = true;
            if (c != '{') {
                f->refused = true;
                return GMQFRAME_NOT_OBJECT;
            }
            f->depth = 1;
        } else if (f->in_string) {
            if (f->escape)
                f->escape = false;
            else if (c == '\\')
                f->escape = true;
            else if (c == '"')
                f->in_string = false;
        } else if (c == '"') {
            f->in_string = true;
        } else if (c == '{' || c == '[') {
            f->depth++;
        } else if (c == '}' || c == ']') {
            if (--f->depth == 0)
                return GMQFRAME_END;
        }
    }
    return GMQFRAME_MORE;
}
