/* kselftest.h program that plans 5 results and aborts after 2: the shape of a test killed mid-way. */
#include <stdlib.h>
#include "kselftest.h"
int main(void)
{
	ksft_print_header();
	ksft_set_plan(5);
	ksft_print_msg("metric: rss_kb=1024 faults=3\n");
	ksft_test_result_pass("read_hole_anon\n");
	ksft_test_result_fail("read_hole_shmem\n");
	fflush(stdout);
	abort();
}
