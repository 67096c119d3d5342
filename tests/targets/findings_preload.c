/* findings_preload.c - the library test_findings preloads (LD_PRELOAD) into
 * its fixture: preload finds it mapped. It does nothing. */
int mgt_preload_marker(void);
int mgt_preload_marker(void)
{
    return 42;
}
