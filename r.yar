rule c1 { condition: filesize > 0 }
rule c2 { condition: not (filesize > 0) }
rule c3 { condition: filesize > 0 or true }
rule c4 { condition: not (filesize > 0 and true) }
rule c5 { condition: filesize == filesize }
rule c6 { condition: uint32(0) == 0 or true }
rule c7 { condition: not (uint32(0) == 0) }
rule c8 { condition: defined filesize }
rule c9 { condition: not defined filesize }
rule c10 { condition: not (filesize > 0 or filesize < 0) }
rule c11 { condition: not (not (filesize > 0)) }
rule c12 { condition: (filesize > 0) or (filesize < 0) or false }
rule c13 { condition: not ((filesize > 0) and (filesize < 0)) }
rule c14 { condition: true and not (filesize > 0) }
rule c15 { condition: (filesize > 0) == false }
rule c16 { condition: 1 of (c1, c3) }
rule c17 { condition: not c1 }
rule c18 { condition: c2 or c3 }
rule c19 { condition: filesize }
rule c20 { condition: not filesize }
rule c21 { condition: 5 \ 0 == 1 or true }
rule c22 { condition: not (5 \ 0 == 1) }
