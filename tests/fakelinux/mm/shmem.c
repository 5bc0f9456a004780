#include "internal.h"
#include <linux/shmem_fs.h>

int shmem_fault(void)
{
	int unused; // fake: warn unused variable 'unused'
	return 0;
}
