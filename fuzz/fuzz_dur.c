/*
 * fuzz_dur.c — libFuzzer harness for dur_parse() and dur_parse_time() (src/dur.h).
 *
 * Both parsers get the input as it comes, in a buffer of exactly its size with no NUL after it,
 * so any read past len is an ASan error. On top of memory safety the harness checks:
 *
 *   - dur_parse agrees with an independent reading of the documented grammar (digits, then ms, s,
 *     m, h, d or nothing, at most DUR_MAX_MS); an accepted duration is 0..DUR_MAX_MS and
 *     dur_format() of it parses back to the same value;
 *   - dur_parse_time agrees with an independent RFC 3339 reader whose calendar arithmetic is
 *     days-from-civil rather than timegm(3); an accepted time is at or after the epoch and
 *     before 10000-01-01T00:00:00Z once its offset is applied; dur_format_time() of every
 *     accepted time is a 24-byte "YYYY-MM-DDTHH:MM:SS.mmmZ", and that text parses back to the
 *     same value (the format has millisecond precision and the parser keeps only milliseconds,
 *     so the round trip is exact).
 *
 * A failed check prints the input and aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dur.h"

/* 10000-01-01T00:00:00Z in seconds: the first instant dur_format_time would write with a
 * five-digit year, so the first one dur_parse_time refuses (after applying the offset). */
#define DUR_YEAR_10000_S 253402300800LL

#define FUZZ_NAME "fuzz_dur"
#include "fuzz_check.h"

/* The reference reading of a duration as dur.h documents it: digits (any number), then ms, s, m,
 * h, d or nothing, at most DUR_MAX_MS. Returns 1 when valid, 0 when not, and -1 when either
 * answer is acceptable: more than 11 digits can only be valid with leading zeros, and a parser
 * may cap the digits it reads (it needs to, to avoid overflow). */
static int ref_dur(const char *s, size_t len, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    size_t i = 0, sig = 0;
    int64_t v = 0;
    bool big = false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (sig == 0 && s[i] == '0')
            continue;
        if (++sig > 12)
            big = true;
        else
            v = v * 10 + (s[i] - '0');
    }
    if (i == 0)
        return 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t ul = strlen(units[k].unit);
        if (len - i == ul && memcmp(s + i, units[k].unit, ul) == 0) {
            if (big || v > DUR_MAX_MS / units[k].mult)
                return 0;
            *ms = v * units[k].mult;
            return i > 11 ? -1 : 1;
        }
    }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool ref_num(const char *s, size_t len, size_t *pos, int ndig, int lo, int hi, int *out)
{
    int v = 0;
    for (int k = 0; k < ndig; k++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return false;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool ref_char(const char *s, size_t len, size_t *pos, const char *set)
{
    if (*pos >= len || s[*pos] == '\0' || strchr(set, s[*pos]) == NULL)
        return false;
    (*pos)++;
    return true;
}

/* The reference reading of the RFC 3339 profile dur.h documents: years 1970-9999, real calendar
 * days, 'T', 't' or ' ' between date and time, second 60 read as 59, 1 to 9 fraction digits of
 * which milliseconds are kept, 'Z', 'z' or +-HH:MM, and a result not before the epoch and, once
 * the offset is applied, before 10000-01-01T00:00:00Z (so "9999-12-31T23:00:00-01:00" is out). */
static bool ref_time(const char *s, size_t len, int64_t *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t pos = 0;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;
    if (!ref_num(s, len, &pos, 4, 1970, 9999, &y) || !ref_char(s, len, &pos, "-") ||
        !ref_num(s, len, &pos, 2, 1, 12, &mo) || !ref_char(s, len, &pos, "-") ||
        !ref_num(s, len, &pos, 2, 1, 31, &d) || !ref_char(s, len, &pos, "Tt ") ||
        !ref_num(s, len, &pos, 2, 0, 23, &h) || !ref_char(s, len, &pos, ":") ||
        !ref_num(s, len, &pos, 2, 0, 59, &mi) || !ref_char(s, len, &pos, ":") ||
        !ref_num(s, len, &pos, 2, 0, 60, &se))
        return false;
    if (pos < len && s[pos] == '.') {
        int nd = 0;
        pos++;
        while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
            if (nd < 3)
                frac = frac * 10 + (s[pos] - '0');
            nd++;
            pos++;
        }
        if (nd == 0 || nd > 9)
            return false;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    if (pos < len && (s[pos] == 'Z' || s[pos] == 'z')) {
        pos++;
    } else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        sign = s[pos++] == '+' ? 1 : -1;
        if (!ref_num(s, len, &pos, 2, 0, 23, &oh) || !ref_char(s, len, &pos, ":") ||
            !ref_num(s, len, &pos, 2, 0, 59, &om))
            return false;
    } else {
        return false;
    }
    if (pos != len)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (se == 60 ? 59 : se);
    t -= sign * (oh * 3600 + om * 60);
    if (t < 0 || t >= DUR_YEAR_10000_S)
        return false;
    *ms = t * 1000 + frac;
    return true;
}

static void check_dur(const char *s, size_t len)
{
    int64_t ms = -12345, ref = -1;
    int r = dur_parse(s, len, &ms);
    int ok = ref_dur(s, len, &ref);
    CHECK(r == 0 || r == SL_EPARAM, "dur_parse('%.*s') returned %d", (int)len, s, r);
    CHECK(ok < 0 || (r == 0) == ok, "dur_parse('%.*s') returned %d, the grammar says %s", (int)len,
          s, r, ok ? "valid" : "invalid");
    if (r != 0)
        return;
    CHECK(ms == ref, "dur_parse('%.*s') = %lld, want %lld", (int)len, s, (long long)ms,
          (long long)ref);
    CHECK(ms >= 0 && ms <= DUR_MAX_MS, "dur_parse('%.*s') = %lld", (int)len, s, (long long)ms);

    char buf[DUR_LEN + 8];
    memset(buf, 0x5a, sizeof buf);
    dur_format(ms, buf);
    size_t flen = strnlen(buf, DUR_LEN);
    CHECK(flen < DUR_LEN, "dur_format(%lld) is not terminated within DUR_LEN", (long long)ms);
    int64_t back = -1;
    CHECK(dur_parse(buf, flen, &back) == 0 && back == ms,
          "dur_format(%lld) = '%s' parses back to %lld", (long long)ms, buf, (long long)back);
}

static void check_time(const char *s, size_t len)
{
    int64_t ms = -12345, ref = -1;
    int r = dur_parse_time(s, len, &ms);
    bool ok = ref_time(s, len, &ref);
    CHECK(r == 0 || r == SL_EPARAM, "dur_parse_time('%.*s') returned %d", (int)len, s, r);
    CHECK((r == 0) == ok, "dur_parse_time('%.*s') returned %d, the reference says %s", (int)len, s,
          r, ok ? "valid" : "invalid");
    if (r != 0)
        return;
    CHECK(ms == ref, "dur_parse_time('%.*s') = %lld, want %lld", (int)len, s, (long long)ms,
          (long long)ref);
    CHECK(ms >= 0 && ms < DUR_YEAR_10000_S * 1000, "dur_parse_time('%.*s') = %lld", (int)len, s,
          (long long)ms);

    char buf[DUR_TIME_LEN];
    dur_format_time(ms, buf);
    size_t flen = strnlen(buf, DUR_TIME_LEN);
    CHECK(flen == 24 && buf[10] == 'T' && buf[19] == '.' && buf[23] == 'Z',
          "dur_format_time(%lld) = '%s' (from '%.*s') is not YYYY-MM-DDTHH:MM:SS.mmmZ",
          (long long)ms, buf, (int)len, s);
    int64_t back = -1;
    CHECK(dur_parse_time(buf, flen, &back) == 0 && back == ms,
          "dur_format_time(%lld) = '%s' (from '%.*s') parses back to %lld", (long long)ms, buf,
          (int)len, s, (long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer's buffer is exactly size bytes, so the parsers see no terminator. */
    const char *s = (const char *)data;
    check_dur(s, size);
    check_time(s, size);
    return 0;
}
