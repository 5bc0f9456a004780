/* kselftest.h program that bails out after 1 of 3 results (ksft_exit_fail_msg). */
#include "kselftest.h"
int main(void)
{
	ksft_print_header();
	ksft_set_plan(3);
	ksft_test_result_pass("setup\n");
	ksft_exit_fail_msg("cannot open /proc/self/pagemap: %s\n", "Permission denied");
}
