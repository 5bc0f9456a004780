int gmap(void) { return 0; }
