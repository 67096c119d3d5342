/* test_parse.c - the CLI's size and duration parsers (cli/parse.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"

static const struct {
    const char *s;
    uint64_t v;
} good_sizes[] = {
    {"0", 0},
    {"1", 1},
    {"65536", 65536},
    {"007", 7},
    {"1k", 1024},
    {"64K", 64 * 1024},
    {"1m", 1 << 20},
    {"1M", 1 << 20},
    {"2G", 2ull << 30},
    {"2g", 2ull << 30},
    {"0K", 0},
    {"18446744073709551615", UINT64_MAX},
    {"00000000000000000000000000018446744073709551615", UINT64_MAX},
    {"17179869183G", 17179869183ull << 30}, /* the largest that fits with G */
    {"18014398509481983K", 18014398509481983ull << 10},
};

static const struct {
    const char *s;
    int rc;
} bad_sizes[] = {
    {"", -EINVAL},
    {" 1", -EINVAL},
    {"1 ", -EINVAL},
    {"-1", -EINVAL},
    {"+1", -EINVAL},
    {"K", -EINVAL},
    {"1KB", -EINVAL},
    {"1KiB", -EINVAL},
    {"1T", -EINVAL},
    {"1.5M", -EINVAL},
    {"0x10", -EINVAL},
    {"1e3", -EINVAL},
    {"12abc", -EINVAL},
    {"1K ", -EINVAL},
    {"18446744073709551616", -ERANGE},
    {"99999999999999999999999", -ERANGE},
    {"17179869184G", -ERANGE},
    {"18014398509481984K", -ERANGE},
    {"17592186044416M", -ERANGE},
    {"99999999999999999999999x", -EINVAL}, /* junk wins over range */
};

Test(parse, sizes_good)
{
    for (size_t i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
        uint64_t v = 12345;
        int rc = mg_cli_parse_size(good_sizes[i].s, &v);
        cr_expect_eq(rc, 0, "size \"%s\": rc %d", good_sizes[i].s, rc);
        cr_expect_eq(v, good_sizes[i].v, "size \"%s\": %llu, expected %llu", good_sizes[i].s,
                     (unsigned long long)v, (unsigned long long)good_sizes[i].v);
    }
}

Test(parse, sizes_bad)
{
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        uint64_t v = 12345;
        int rc = mg_cli_parse_size(bad_sizes[i].s, &v);
        cr_expect_eq(rc, bad_sizes[i].rc, "size \"%s\": rc %d, expected %d", bad_sizes[i].s, rc,
                     bad_sizes[i].rc);
        cr_expect_eq(v, 12345, "size \"%s\": output written on failure", bad_sizes[i].s);
    }
}

static const struct {
    const char *s;
    double seconds;
} good_durations[] = {
    {"0", 0},
    {"1", 1},
    {"1.5", 1.5},
    {"0.25", 0.25},
    {"30s", 30},
    {"2m", 120},
    {"1h", 3600},
    {"500ms", 0.5},
    {"1.5ms", 0.0015},
    {"0.5h", 1800},
    {"007s", 7},
    {"10.000000000000000000000000001", 10},
    {"0.000000000000000000000000000000001", 1e-33},
    {"000.00000100000000000000000001ms", 1e-9}, /* found by fuzz_duration */
    {"1000000000", 1e9}, /* MG_CLI_MAX_DURATION */
    {"16666666.5m", 999999990},
    {"277777h", 999997200},
    {"999999999999ms", 999999999.999},
};

static const struct {
    const char *s;
    int rc;
} bad_durations[] = {
    {"", -EINVAL},
    {"s", -EINVAL},
    {"ms", -EINVAL},
    {".5", -EINVAL},
    {"5.", -EINVAL},
    {"5.s", -EINVAL},
    {"-1", -EINVAL},
    {"+1", -EINVAL},
    {" 1", -EINVAL},
    {"1 ", -EINVAL},
    {"1 s", -EINVAL},
    {"1S", -EINVAL},
    {"1H", -EINVAL},
    {"1sec", -EINVAL},
    {"1d", -EINVAL},
    {"1ss", -EINVAL},
    {"1mss", -EINVAL},
    {"1e3", -EINVAL},
    {"0x10", -EINVAL},
    {"inf", -EINVAL},
    {"nan", -EINVAL},
    {"infinity", -EINVAL},
    {"1.2.3", -EINVAL},
    {"1,5", -EINVAL},
    {"1000000000.001", -ERANGE},
    {"1000000001", -ERANGE},
    {"16666667m", -ERANGE},
    {"277778h", -ERANGE},
    {"99999999999999999999999999999999h", -ERANGE},
    {"99999999999999999999999999999999x", -EINVAL}, /* junk wins over range */
};

Test(parse, durations_good)
{
    for (size_t i = 0; i < sizeof(good_durations) / sizeof(good_durations[0]); i++) {
        double v = -1;
        int rc = mg_cli_parse_duration(good_durations[i].s, &v);
        cr_expect_eq(rc, 0, "duration \"%s\": rc %d", good_durations[i].s, rc);
        /* within one part in 1e15 (two roundings at most) */
        double want = good_durations[i].seconds, diff = v > want ? v - want : want - v;
        cr_expect(diff <= want * 1e-15, "duration \"%s\": %.17g s, expected %.17g",
                  good_durations[i].s, v, want);
    }
}

Test(parse, durations_bad)
{
    for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
        double v = -1;
        int rc = mg_cli_parse_duration(bad_durations[i].s, &v);
        cr_expect_eq(rc, bad_durations[i].rc, "duration \"%s\": rc %d, expected %d",
                     bad_durations[i].s, rc, bad_durations[i].rc);
        cr_expect_eq(v, -1, "duration \"%s\": output written on failure", bad_durations[i].s);
    }
}

Test(parse, null_arguments)
{
    uint64_t u;
    double d;
    cr_expect_eq(mg_cli_parse_size(NULL, &u), -EINVAL);
    cr_expect_eq(mg_cli_parse_size("1", NULL), -EINVAL);
    cr_expect_eq(mg_cli_parse_duration(NULL, &d), -EINVAL);
    cr_expect_eq(mg_cli_parse_duration("1", NULL), -EINVAL);
}

/* Exact values where the result is exactly representable. */
Test(parse, durations_exact)
{
    double v;
    cr_assert_eq(mg_cli_parse_duration("1.5", &v), 0);
    cr_expect(v == 1.5);
    cr_assert_eq(mg_cli_parse_duration("500ms", &v), 0);
    cr_expect(v == 0.5);
    cr_assert_eq(mg_cli_parse_duration("0.3", &v), 0);
    cr_expect(v == 0.3, "0.3 parsed as %.17g", v);
}
