/* mm's internal declarations */
int zero_pfn(void);
