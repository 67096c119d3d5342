rule untouched { condition: uint32(140502192521216) == 0 }
rule touched { condition: uint8(140502192525312) == 7 }
