#include <stdio.h>

static int helper(int x)
{
	return x * 2;
}

static int base(int x)
{
	return x + 1;
}

/* Map the zero page: one read fault. */
static int zero_read(int x)
{
	if (x > 5)
		return helper(x);
	return 0;
}

int main(int argc, char **argv)
{
	printf("%d\n", base(argc));
	printf("%d\n", zero_read(argc));
	return 0;
}
