/* yara_base64.c - a text string's base64 and base64wide forms (YARA's),
 * each a literal of the string's pattern. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "yara/yara_internal.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 forms of s (YARA's): s shifted by 0, 1, 2 bytes, encoded, and
 * the characters that depend on the unknown bytes around it trimmed. */
static int add_base64(parser *P, unsigned id, const uint8_t *s, size_t n, const char *alpha,
                      bool wide)
{
    static const int lead[] = {0, 2, 3};
    for (int shift = 0; shift < 3; shift++) {
        size_t m = n + (size_t)shift;
        uint8_t *in = calloc(1, m + 3);
        char *out = malloc(4 * (m / 3 + 1) + 1);
        if (!in || !out) {
            free(in), free(out);
            FAIL(P, "out of memory");
            return -ENOMEM;
        }
        memcpy(in + shift, s, n);
        size_t o = 0;
        for (size_t i = 0; i < m; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
            size_t chars = m - i >= 3 ? 4 : m - i + 1;
            for (size_t k = 0; k < chars; k++)
                out[o++] = alpha[(v >> (18 - 6 * k)) & 63];
        }
        /* trailing: with 1 or 2 bytes in the last group, its last char depends on what follows */
        size_t rem = m % 3;
        size_t trail = rem ? 1 : 0;
        size_t start = (size_t)lead[shift];
        int rc = 0;
        if (o > start + trail) {
            size_t len = o - start - trail;
            uint8_t *form = (uint8_t *)out + start;
            uint8_t *w = wide ? yara_widen(form, len) : NULL;
            if (wide && !w)
                rc = -ENOMEM;
            else
                rc = yara_add_literal(P, id, wide ? w : form, wide ? 2 * len : len, 0, wide, 0);
            free(w);
        }
        free(in);
        free(out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int yara_text_base64(parser *P, unsigned id, const uint8_t *s, const uint8_t *w, size_t n,
                     unsigned m, const char *alphabet)
{
    /* as yara: wide encodes the text's UTF-16LE form, ascii (or neither)
     * the text; base64 gives the encoding, base64wide its wide form */
    bool ascii = (m & SM_ASCII) || !(m & SM_WIDE);
    const char *alpha = alphabet[0] ? alphabet : b64_std;
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        const uint8_t *in = k == 0 ? w : ascii ? s : NULL;
        size_t len = k == 0 ? 2 * n : n;
        if (in && (m & SM_BASE64))
            rc = add_base64(P, id, in, len, alpha, false);
        if (in && rc == 0 && (m & SM_BASE64WIDE))
            rc = add_base64(P, id, in, len, alpha, true);
    }
    return rc;
}
