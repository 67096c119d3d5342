/* yara_hash.c - the digests of YARA's hash module (md5, sha1, sha256,
 * crc32, checksum32), streamed: mg_yhash_update takes the bytes of one
 * memory block after another (yara_memfn.c), or of a text constant
 * (yara_module.c folds hash.md5("text")). md5, sha1 and sha256 are
 * Debian's libnettle; crc32 (zlib's, reflected 0xedb88320) and checksum32
 * (a byte sum) are a few lines here. Digests are lowercase hex, as yara
 * returns them. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "yara/yara.h"

void mg_yhash_init(mg_yhash *s, int fn)
{
    memset(s, 0, sizeof(*s));
    s->fn = fn;
    if (fn == MG_YFN_MD5)
        md5_init(&s->u.md5);
    else if (fn == MG_YFN_SHA1)
        sha1_init(&s->u.sha1);
    else if (fn == MG_YFN_SHA256)
        sha256_init(&s->u.sha256);
    else if (fn == MG_YFN_CRC32)
        s->u.sum = 0xffffffffu;
}

void mg_yhash_update(mg_yhash *s, const uint8_t *d, size_t n)
{
    if (s->fn == MG_YFN_MD5)
        md5_update(&s->u.md5, n, d);
    else if (s->fn == MG_YFN_SHA1)
        sha1_update(&s->u.sha1, n, d);
    else if (s->fn == MG_YFN_SHA256)
        sha256_update(&s->u.sha256, n, d);
    else if (s->fn == MG_YFN_CHECKSUM32)
        for (size_t i = 0; i < n; i++)
            s->u.sum += d[i];
    else
        for (size_t i = 0; i < n; i++) {
            s->u.sum ^= d[i];
            for (int k = 0; k < 8; k++)
                s->u.sum = (s->u.sum >> 1) ^ (0xedb88320u & (0u - (s->u.sum & 1)));
        }
}

/* The value of crc32 and checksum32. */
uint32_t mg_yhash_value(const mg_yhash *s)
{
    return s->fn == MG_YFN_CRC32 ? s->u.sum ^ 0xffffffffu : s->u.sum;
}

void mg_yhash_hex(mg_yhash *s, char out[MG_YHASH_HEX])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    size_t n = s->fn == MG_YFN_MD5    ? MD5_DIGEST_SIZE
               : s->fn == MG_YFN_SHA1 ? SHA1_DIGEST_SIZE
                                      : SHA256_DIGEST_SIZE;
    if (s->fn == MG_YFN_MD5)
        md5_digest(&s->u.md5, n, d);
    else if (s->fn == MG_YFN_SHA1)
        sha1_digest(&s->u.sha1, n, d);
    else
        sha256_digest(&s->u.sha256, n, d);
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}
