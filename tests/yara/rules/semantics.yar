/* Rules for the differential test that pin down semantics a small bug
 * hides in: negative meta integers, hex jumps with an open bound, signed
 * integer reads, wide fullword strings. */

rule Edge_Meta_Signs_MGT
{
    meta:
        score = -12
        delta = -0x10
        weight = 70
        note = "-12"
        active = true
    strings:
        $m = "mgt-edge-meta-signs"
    condition:
        $m
}

rule Edge_Hex_Open_Jumps_MGT
{
    strings:
        $j1 = { 4d 47 54 2d 4f 50 45 4e [-] 2f 45 31 }
        $j2 = { 4d 47 54 2d 5a 45 52 4f [0-] 2f 45 32 }
        $j3 = { 4d 47 54 2d 4c 4f 57 [3-] 2f 45 33 }
    condition:
        any of them
}

rule Edge_Signed_Reads_MGT
{
    strings:
        $i = { 4d 47 54 2d 49 4e 54 80 00 00 00 01 80 }
    condition:
        $i and int32be(@i[1] + 7) == -2147483648 and uint32be(@i[1] + 7) == 2147483648 and
        int32(@i[1] + 7) == 128 and int16(@i[1] + 11) == -32767 and
        int16be(@i[1] + 11) == 384 and int16be(@i[1] + 7) == -32768 and int8(@i[1] + 7) == -128
}

rule Edge_Wide_Fullword_MGT
{
    strings:
        $w1 = "mgt-wide-word" wide fullword
        $w2 = "mgt-both-word" wide ascii fullword
        $w3 = /mgt-wide-re[0-9]{2}/ wide fullword // e.g. "mgt-wide-re42"
    condition:
        any of them
}
