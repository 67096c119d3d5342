/* timeout_scale.c - MG_TEST_TIMEOUT_SCALE=F multiplies every suite's
 * Criterion timeout (TestSuite(..., .timeout = S)) by F (a number above 1,
 * at most 100; anything else leaves it alone), for slow test runs: the
 * sanitizer configurations (tests/meson.build sets it there) and the
 * kernel-6.1 VM under TCG (tests/vm/run-in-vm). Criterion's own --timeout
 * can only lower a timeout. Linked into every Criterion suite; the
 * PRE_SUITE hook runs in the runner before any test of the suite starts. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "helpers.h"

ReportHook(PRE_SUITE)(struct criterion_suite_set *set)
{
    if (set->suite.data)
        set->suite.data->timeout *= test_timeout_scale();
}
