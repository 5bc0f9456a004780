int arch_only(void)
{
	return 42;
}
