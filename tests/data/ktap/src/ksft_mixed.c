/* kselftest.h program reporting pass, fail (with a metric), skip, xfail and a named skip. */
#include "kselftest.h"
int main(void)
{
	ksft_print_header();
	ksft_set_plan(4);
	ksft_test_result_pass("read_hole_anon\n");
	ksft_print_msg("read fault on a shmem hole allocated memory\n");
	ksft_print_msg("metric: shmem_delta_kb=65536\n");
	ksft_test_result_fail("read_hole_shmem\n");
	ksft_test_result_skip("THP not available\n");
	ksft_test_result_xfail("zero page not mapped yet\n");
	ksft_finished();
}
