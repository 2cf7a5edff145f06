/*
 * dur.c — the duration and time grammar of the API.
 *
 * Written here rather than taken from a library because the grammar is ours (Go-like units,
 * bare numbers meaning seconds) and tiny; RFC 3339 uses timegm(3) for the calendar arithmetic.
 * Both parsers take a length, never rely on NUL termination, and are fuzzed
 * (fuzz/fuzz_dur.c).
 */
#include "dur.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int dur_digits(const char *s, size_t len, size_t *pos, int64_t *out, size_t maxdig)
{
    size_t start = *pos;
    int64_t v = 0;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (*pos - start >= maxdig)
            return SL_EPARAM;
        v = v * 10 + (s[*pos] - '0');
        (*pos)++;
    }
    if (*pos == start)
        return SL_EPARAM;
    *out = v;
    return 0;
}

int dur_parse(const char *s, size_t len, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    size_t pos = 0;
    int64_t v;

    if (dur_digits(s, len, &pos, &v, 15) < 0)
        return SL_EPARAM;
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++) {
        size_t ulen = strlen(units[i].unit);
        if (len - pos == ulen && memcmp(s + pos, units[i].unit, ulen) == 0) {
            if (v > DUR_MAX_MS / units[i].mult) /* checked before multiplying: no overflow */
                return SL_EPARAM;
            *ms = v * units[i].mult;
            return 0;
        }
    }
    return SL_EPARAM;
}

static int dur_expect(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c)
        return SL_EPARAM;
    (*pos)++;
    return 0;
}

static int dur_fixed(const char *s, size_t len, size_t *pos, int ndig, int64_t lo, int64_t hi,
                     int *out)
{
    int64_t v;
    size_t start = *pos;
    if (dur_digits(s, len, pos, &v, (size_t)ndig) < 0 || *pos - start != (size_t)ndig || v < lo ||
        v > hi)
        return SL_EPARAM;
    *out = (int)v;
    return 0;
}

int dur_parse_time(const char *s, size_t len, int64_t *ms)
{
    struct tm tm;
    size_t pos = 0;
    int year, mon, day, hour, min, sec, frac_ms = 0, off_h = 0, off_m = 0, sign = 0;

    memset(&tm, 0, sizeof tm);
    if (dur_fixed(s, len, &pos, 4, 1970, 9999, &year) || dur_expect(s, len, &pos, '-') ||
        dur_fixed(s, len, &pos, 2, 1, 12, &mon) || dur_expect(s, len, &pos, '-') ||
        dur_fixed(s, len, &pos, 2, 1, 31, &day))
        return SL_EPARAM;
    if (pos >= len || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
        return SL_EPARAM;
    pos++;
    if (dur_fixed(s, len, &pos, 2, 0, 23, &hour) || dur_expect(s, len, &pos, ':') ||
        dur_fixed(s, len, &pos, 2, 0, 59, &min) || dur_expect(s, len, &pos, ':') ||
        dur_fixed(s, len, &pos, 2, 0, 60, &sec))
        return SL_EPARAM;
    if (pos < len && s[pos] == '.') {
        int scale = 100, ndig = 0;
        pos++;
        while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
            if (ndig++ >= 9)
                return SL_EPARAM;
            frac_ms += (s[pos] - '0') * scale;
            scale /= 10;
            pos++;
        }
        if (ndig == 0)
            return SL_EPARAM;
    }
    if (pos < len && (s[pos] == 'Z' || s[pos] == 'z')) {
        pos++;
    } else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        sign = s[pos] == '+' ? 1 : -1;
        pos++;
        if (dur_fixed(s, len, &pos, 2, 0, 23, &off_h) || dur_expect(s, len, &pos, ':') ||
            dur_fixed(s, len, &pos, 2, 0, 59, &off_m))
            return SL_EPARAM;
    } else {
        return SL_EPARAM;
    }
    if (pos != len)
        return SL_EPARAM;

    /* Reject days that do not exist (Feb 30): timegm would silently normalise them. */
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] || (mon == 2 && day == 29 && !leap))
        return SL_EPARAM;

    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second is read as the second before it */
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return SL_EPARAM;
    t -= sign * (off_h * 3600 + off_m * 60);
    /* 253402300800 is 10000-01-01T00:00:00Z: an offset may push 9999-12-31 past it, and that time
     * could not be written back in four digits. */
    if (t < 0 || t >= 253402300800)
        return SL_EPARAM;
    *ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

char *dur_format_time(int64_t ms, char *buf)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    snprintf(buf, DUR_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return buf;
}

char *dur_format(int64_t ms, char *buf)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms == 0) {
        snprintf(buf, DUR_LEN, "0s");
        return buf;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++) {
        if (ms % units[i].mult == 0) {
            snprintf(buf, DUR_LEN, "%lld%s", (long long)(ms / units[i].mult), units[i].unit);
            return buf;
        }
    }
    snprintf(buf, DUR_LEN, "%lldms", (long long)ms);
    return buf;
}

int64_t dur_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
