#include "internal.h"

int gup(void) { return 0; }
