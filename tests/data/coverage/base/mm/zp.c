#include <stdio.h>

static int base(int x)
{
	return x + 1;
}

int main(int argc, char **argv)
{
	printf("%d\n", base(argc));
	return 0;
}
