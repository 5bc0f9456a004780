#include "internal.h"

#ifdef CONFIG_KSM
int ksm(void) { return 1; }
#endif
