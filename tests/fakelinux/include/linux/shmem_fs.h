#if IS_ENABLED(CONFIG_SHMEM)
int shmem_fault(void);
#endif
