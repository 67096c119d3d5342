/* Webshell rules for the differential test: our own, shaped like the public
 * sets. */

rule Webshell_PHP_Eval_MGT : webshell
{
    meta:
        description = "eval of a request parameter"
    strings:
        $e1 = "eval($_POST['mgt" nocase
        $e2 = "assert($_REQUEST[\"mgt" nocase
        $e3 = "base64_decode(\"bWd0" fullword
        $h1 = { 3c 3f 70 68 70 20 [0-16] 40 65 76 61 6c 28 }
    condition:
        any of ($e*) or ($h1 and $e3)
}

rule Webshell_JSP_MGT : webshell
{
    strings:
        $j1 = "Runtime.getRuntime().exec(mgt" fullword
        $j2 = "<%@ page import=\"java.io.mgt" ascii wide
        $h1 = { 6a 61 76 61 2e 6c 61 6e 67 2e ( 50 | 52 ) 72 6f }
    condition:
        $j1 and ($j2 or $h1)
}

rule Webshell_China_Chopper_MGT
{
    strings:
        $c1 = "<%eval request(\"mgt\")%>" nocase
        $c2 = { 3c 25 40 20 50 61 67 65 20 4c 61 6e 67 75 61 67 65 3d ?? 4a 73 63 72 69 70 74 ?? 25 3e }
    condition:
        $c1 or $c2
}

rule Webshell_Generic_Cmd_MGT
{
    strings:
        $g1 = "system($_GET['mgtcmd'])" fullword
        $g2 = "passthru(mgt" fullword
        $g3 = "shell_exec(mgt" fullword
        $g4 = "mgt_uploader" xor
        $h1 = { 6d 67 74 5f 73 68 65 6c 6c [4-12] 23 21 }
    condition:
        2 of ($g*) or ($h1 and 1 of ($g*))
}

rule Webshell_Regex_MGT
{
    strings:
        $r1 = /mgt-cmd=[a-z]{3,8}&arg=[0-9]{1,4}/ // e.g. "mgt-cmd=whoami&arg=12"
        $r2 = /MGT_SHELL_v[0-9]\.[0-9]/ nocase // e.g. "mgt_shell_V2.7"
    condition:
        any of them
}

rule Webshell_Offset_MGT
{
    strings:
        $a = "mgt-offset-head" fullword
        $b = "mgt-offset-tail" fullword
    condition:
        $a and $b and @b[1] > @a[1] and $b in (@a[1]..@a[1] + 65536)
}
