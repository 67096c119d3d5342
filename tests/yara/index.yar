/* What `yara` is given in the differential test; memgrep takes the rules/
 * directory instead (both paths: include and directory loading). */
include "rules/miners.yar"
include "rules/webshells.yar"
include "rules/backdoors.yar"
include "rules/semantics.yar"
