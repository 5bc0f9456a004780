/* Small kselftest_harness program used to capture real TAP output for zpfarm's parser tests. */
#include <signal.h>
#include <stdio.h>
#include "kselftest_harness.h"

TEST(passes) { ASSERT_EQ(4, 2 + 2); }
TEST(fails) { TH_LOG("metric: shmem_delta_kb=65536"); EXPECT_EQ(0, 1) TH_LOG("hole read allocated memory"); }
TEST(skips) { SKIP(return, "THP not available"); }
TEST(crashes) { raise(SIGSEGV); }
TEST_HARNESS_MAIN
