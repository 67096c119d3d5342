/* findings_textrel.c - a library with a text relocation (DT_TEXTREL,
 * linked -z notext): an 8-byte pointer in .text that the loader writes
 * when it maps the library, which makes a private copy of that text page.
 * test_findings preloads it: patched_code, explained (textrel, low). */
int mgt_textrel_target = 1;
__asm__(".pushsection .text\n"
        ".globl mgt_textrel_slot\n"
        ".type mgt_textrel_slot, @object\n"
        ".balign 8\n"
        "mgt_textrel_slot:\n"
        ".quad mgt_textrel_target\n"
        ".popsection\n");
