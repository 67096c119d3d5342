/* yara_module.c - what YARA's modules and external variables give in a
 * Linux process scan, as yara 4.2.3 answers (measured with /usr/bin/yara on
 * a live process; tests/test_yara.c keeps the cases):
 *
 *   pe, dotnet    parsed only from a block that starts with a non-DLL PE
 *                 image: in a Linux process every value is undefined but
 *                 the constants (pe.DLL...) and pe.is_pe (0)
 *   elf           parsed only from a block that starts with an ET_EXEC ELF
 *                 header (not a PIE): otherwise undefined, constants defined
 *   math, hash    over process memory (offset, size: virtual addresses,
 *                 walked as yara walks its blocks: yara_memfn.c); math's
 *                 numeric helpers (abs, min, max, to_number, in_range)
 *   time          now()
 *   console       log(...) is true (yara also prints; memgrep does not)
 *   string, hash, math  folded over text constants
 *
 * A loop over a module array (for any s in pe.sections) is false in every
 * quantifier, as yara's over an empty array. Rules reading pe or elf values
 * are marked (yara_rule.modules) so that a process where yara would parse
 * an image gets an event instead of a silent difference (yara_eval.c).
 *
 * External variables and string operators are in yara_extern.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "yara/yara.h"
#include "yara/yara_internal.h"

/* ---- module references ------------------------------------------------ */

typedef struct named_value {
    const char *name;
    int64_t v;
} named_value;

/* Constants that yara defines whatever it parsed (a selection: others are
 * taken as undefined values). */
static const named_value constants[] = {
    {"pe.MACHINE_UNKNOWN", 0},
    {"pe.MACHINE_I386", 0x14c},
    {"pe.MACHINE_AMD64", 0x8664},
    {"pe.MACHINE_ARM", 0x1c0},
    {"pe.MACHINE_ARM64", 0xaa64},
    {"pe.MACHINE_IA64", 0x200},
    {"pe.RELOCS_STRIPPED", 0x1},
    {"pe.EXECUTABLE_IMAGE", 0x2},
    {"pe.LARGE_ADDRESS_AWARE", 0x20},
    {"pe.MACHINE_32BIT", 0x100},
    {"pe.SYSTEM", 0x1000},
    {"pe.DLL", 0x2000},
    {"pe.SUBSYSTEM_UNKNOWN", 0},
    {"pe.SUBSYSTEM_NATIVE", 1},
    {"pe.SUBSYSTEM_WINDOWS_GUI", 2},
    {"pe.SUBSYSTEM_WINDOWS_CUI", 3},
    {"pe.RESOURCE_TYPE_CURSOR", 1},
    {"pe.RESOURCE_TYPE_BITMAP", 2},
    {"pe.RESOURCE_TYPE_ICON", 3},
    {"pe.RESOURCE_TYPE_MENU", 4},
    {"pe.RESOURCE_TYPE_DIALOG", 5},
    {"pe.RESOURCE_TYPE_STRING", 6},
    {"pe.RESOURCE_TYPE_RCDATA", 10},
    {"pe.RESOURCE_TYPE_GROUP_ICON", 14},
    {"pe.RESOURCE_TYPE_VERSION", 16},
    {"pe.RESOURCE_TYPE_MANIFEST", 24},
    {"pe.SECTION_CNT_CODE", 0x20},
    {"pe.SECTION_CNT_INITIALIZED_DATA", 0x40},
    {"pe.SECTION_MEM_EXECUTE", 0x20000000},
    {"pe.SECTION_MEM_READ", 0x40000000},
    {"pe.SECTION_MEM_WRITE", 0x80000000},
    {"pe.IMPORT_STANDARD", 1},
    {"pe.IMPORT_DELAYED", 2},
    {"pe.IMPORT_ANY", 3},
    {"pe.is_pe", 0}, /* set to 0 when no PE was parsed */
    {"elf.ET_NONE", 0},
    {"elf.ET_REL", 1},
    {"elf.ET_EXEC", 2},
    {"elf.ET_DYN", 3},
    {"elf.ET_CORE", 4},
    {"elf.EM_386", 3},
    {"elf.EM_MIPS", 8},
    {"elf.EM_PPC", 20},
    {"elf.EM_PPC64", 21},
    {"elf.EM_ARM", 40},
    {"elf.EM_X86_64", 62},
    {"elf.EM_AARCH64", 183},
    {"elf.SHT_NULL", 0},
    {"elf.SHT_PROGBITS", 1},
    {"elf.SHT_SYMTAB", 2},
    {"elf.SHT_STRTAB", 3},
    {"elf.SHT_DYNAMIC", 6},
    {"elf.SHT_NOTE", 7},
    {"elf.SHT_NOBITS", 8},
    {"elf.SHT_DYNSYM", 11},
    {"elf.SHF_WRITE", 1},
    {"elf.SHF_ALLOC", 2},
    {"elf.SHF_EXECINSTR", 4},
    {"elf.PT_NULL", 0},
    {"elf.PT_LOAD", 1},
    {"elf.PT_DYNAMIC", 2},
    {"elf.PT_INTERP", 3},
    {"elf.PT_NOTE", 4},
    {"elf.PT_PHDR", 6},
    {"elf.PT_TLS", 7},
    {"elf.PF_X", 1},
    {"elf.PF_W", 2},
    {"elf.PF_R", 4},
};

static const named_value functions[] = {
    {"math.entropy()", MG_YFN_ENTROPY},
    {"math.mean()", MG_YFN_MEAN},
    {"math.deviation()", MG_YFN_DEVIATION},
    {"math.serial_correlation()", MG_YFN_SERIAL},
    {"math.monte_carlo_pi()", MG_YFN_PI},
    {"math.count()", MG_YFN_COUNT},
    {"math.percentage()", MG_YFN_PERCENT},
    {"math.mode()", MG_YFN_MODE},
    {"math.abs()", MG_YFN_ABS},
    {"math.min()", MG_YFN_MIN},
    {"math.max()", MG_YFN_MAX},
    {"math.to_number()", MG_YFN_TO_NUMBER},
    {"math.in_range()", MG_YFN_IN_RANGE},
    {"time.now()", MG_YFN_NOW},
    {"hash.md5()", MG_YFN_MD5},
    {"hash.sha1()", MG_YFN_SHA1},
    {"hash.sha256()", MG_YFN_SHA256},
    {"hash.crc32()", MG_YFN_CRC32},
    {"hash.checksum32()", MG_YFN_CHECKSUM32},
};

static unsigned module_bit(const char *mod)
{
    if (!strcmp(mod, "pe") || !strcmp(mod, "dotnet"))
        return MG_YMOD_PE;
    return !strcmp(mod, "elf") ? MG_YMOD_ELF : MG_YMOD_OTHER;
}

/* A function over text constants (math.entropy("..."), string.length,
 * hash.md5("...")): a leaf, or NULL with nothing failed. */
static yx *fold_text_call(parser *P, const char *path, yx **args, int n)
{
    if (n < 1 || args[0]->op != YX_STR)
        return NULL;
    const uint8_t *d = (const uint8_t *)args[0]->s;
    size_t len = args[0]->slen;
    if (!strcmp(path, "string.length()"))
        return yara_leaf(P, YX_INT, (int64_t)len);
    if (!strcmp(path, "string.to_int()")) {
        char *end;
        int base = n > 1 && args[1]->op == YX_INT ? (int)args[1]->i : 0;
        long long v = strtoll(args[0]->s, &end, base);
        return *end || end == args[0]->s ? yara_leaf(P, YX_UNDEF, 0) : yara_leaf(P, YX_INT, v);
    }
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (!strcmp(path, functions[i].name) && functions[i].v >= MG_YFN_MD5) {
            mg_yhash h;
            char hex[MG_YHASH_HEX];
            mg_yhash_init(&h, (int)functions[i].v);
            mg_yhash_update(&h, d, len);
            if (functions[i].v >= MG_YFN_CRC32)
                return yara_leaf(P, YX_INT, mg_yhash_value(&h));
            mg_yhash_hex(&h, hex);
            return yara_str_leaf(P, hex, strlen(hex));
        }
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (!strcmp(path, functions[i].name) && functions[i].v <= MG_YFN_MODE) {
            double arg = n > 1 && args[1]->op == YX_FLOAT ? args[1]->f
                         : n > 1                          ? (double)args[1]->i
                                                          : 0;
            yx *e = yara_leaf(P, YX_FLOAT, 0);
            if (e)
                e->f = mg_yara_math((int)functions[i].v, d, len, arg);
            return e;
        }
    return NULL;
}

/* What module path (with its arguments) is worth in a Linux process. */
static yx *resolve(parser *P, const char *mod, const char *path, yx **args, int n)
{
    unsigned bit = module_bit(mod);
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
        if (!strcmp(path, constants[i].name)) {
            if (!strcmp(path, "pe.is_pe"))
                P->rule->modules |= bit;
            return yara_leaf(P, YX_INT, constants[i].v);
        }
    if (bit != MG_YMOD_OTHER || !strcmp(mod, "macho") || !strcmp(mod, "dex") ||
        !strcmp(mod, "magic") || !strcmp(mod, "cuckoo")) {
        P->rule->modules |= bit;
        return yara_leaf(P, YX_MODULE, bit);
    }
    if (!strncmp(path, "console.", 8) && n >= 1)
        return yara_leaf(P, YX_BOOL, 1);
    yx *f = fold_text_call(P, path, args, n);
    if (f || P->failed)
        return f;
    for (int i = 0; i < n; i++)
        if (args[i]->op == YX_UNDEF || args[i]->op == YX_MODULE)
            return yara_leaf(P, YX_UNDEF, 0); /* hash.md5(0, filesize) */
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (!strcmp(path, functions[i].name)) {
            if (functions[i].v >= MG_YFN_MD5 && n != 2)
                return FAIL(P, "%s takes (offset, size) or a text", path);
            yx *e = yara_leaf(P, YX_CALL, functions[i].v);
            if (e) {
                e->a = n > 0 ? args[0] : NULL;
                e->b = n > 1 ? args[1] : NULL;
                e->c = n > 2 ? args[2] : NULL;
                for (int k = 0; k < n && k < 3; k++)
                    args[k] = NULL;
            }
            return e;
        }
    char what[400];
    snprintf(what, sizeof(what), "%s over process memory", path);
    return UNSUPPORTED(P, what);
}

/* One argument of a module function: an expression, text or a regex. */
static yx *parse_arg(parser *P)
{
    if (P->L->tok != T_REGEX)
        return yara_parse_or(P);
    yx *e = yara_str_leaf(P, P->L->text, P->L->tlen);
    next(P);
    return e;
}

/* A module reference from its name (the current token): name ('.' ident
 * | '[' index ']' | '(' args ')')*. alias: a loop variable over a module
 * array (its fields are undefined). */
yx *yara_parse_module(parser *P, const char *alias)
{
    char mod[64], path[320];
    snprintf(mod, sizeof(mod), "%.63s", alias ? alias : P->L->name);
    bool imported = alias != NULL;
    for (size_t i = 0; !imported && i < P->n_modules; i++)
        imported = !strcmp(P->modules[i], mod);
    if (!imported)
        return FAIL(P, "undefined identifier \"%s\"", mod);
    snprintf(path, sizeof(path), "%s", mod);
    next(P);
    yx *args[8] = {0};
    int n = 0;
    while (!P->failed) {
        size_t pl = strlen(path);
        if (pl > 200) {
            FAIL(P, "module reference %s too long", mod);
            break;
        }
        if (accept(P, '.')) {
            if (P->L->tok != T_IDENT) {
                yara_expect(P, T_IDENT, "a module field");
                break;
            }
            snprintf(path + pl, sizeof(path) - pl, ".%.100s", P->L->name);
            next(P);
        } else if (accept(P, '[')) {
            yx_free(parse_arg(P)); /* arrays and dictionaries: undefined */
            yara_expect(P, ']', "']'");
            snprintf(path + pl, sizeof(path) - pl, "[]");
        } else if (accept(P, '(')) {
            for (int i = 0; i < n; i++)
                yx_free(args[i]), args[i] = NULL;
            n = 0;
            while (!P->failed && P->L->tok != ')') {
                yx *a = parse_arg(P);
                if (a && n < 8)
                    args[n++] = a;
                else
                    yx_free(a);
                if (!accept(P, ','))
                    break;
            }
            yara_expect(P, ')', "')'");
            snprintf(path + pl, sizeof(path) - pl, "()");
        } else
            break;
    }
    yx *e = P->failed ? NULL
            : alias   ? (P->rule->modules |= module_bit(mod), yara_leaf(P, YX_MODULE, 0))
                      : resolve(P, mod, path, args, n);
    if (e && alias)
        e->i = (int64_t)module_bit(mod);
    for (int i = 0; i < n; i++)
        yx_free(args[i]);
    return e;
}

/* ---- math over bytes ---------------------------------------------------- */

double mg_yara_math(int fn, const uint8_t *d, size_t n, double arg)
{
    double counts[256] = {0}, sum = 0;
    for (size_t i = 0; i < n; i++) {
        counts[d[i]]++;
        sum += d[i];
    }
    switch (fn) {
    case MG_YFN_ENTROPY: {
        double e = 0;
        for (int i = 0; i < 256 && n; i++)
            if (counts[i] > 0) {
                double x = counts[i] / (double)n;
                e -= x * log2(x);
            }
        return e;
    }
    case MG_YFN_MEAN:
        return n ? sum / (double)n : 0;
    case MG_YFN_DEVIATION: {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += fabs(d[i] - arg);
        return n ? s / (double)n : 0;
    }
    case MG_YFN_SERIAL: {
        /* yara's math.c: scc over consecutive bytes, the last paired with the first */
        double t1 = 0, t2 = 0, t3 = 0;
        for (size_t i = 0; i < n; i++) {
            double a = d[i], b = d[(i + 1) % n];
            t1 += a * b;
            t2 += a;
            t3 += a * a;
        }
        double den = (double)n * t3 - t2 * t2;
        return den == 0 ? -100000 : ((double)n * t1 - t2 * t2) / den;
    }
    case MG_YFN_PI: {
        /* yara's: 6-byte groups as (x, y) of 24 bits, inside the circle */
        const double r = 256.0 * 256.0 * 256.0 - 1;
        size_t in = 0, tries = 0;
        for (size_t i = 0; i + 6 <= n; i += 6, tries++) {
            double x = 0, y = 0;
            for (int k = 0; k < 3; k++) {
                x = x * 256 + d[i + (size_t)k];
                y = y * 256 + d[i + 3 + (size_t)k];
            }
            x /= r, y /= r;
            in += x * x + y * y <= 1;
        }
        return tries ? fabs(4.0 * (double)in / (double)tries - M_PI) / M_PI : 0;
    }
    case MG_YFN_COUNT:
        return counts[(uint8_t)arg];
    case MG_YFN_PERCENT:
        return n ? counts[(uint8_t)arg] / (double)n : 0;
    case MG_YFN_MODE: {
        int m = 0;
        for (int i = 1; i < 256; i++)
            if (counts[i] > counts[m])
                m = i;
        return m;
    }
    default:
        return 0;
    }
}

/* ---- images yara would parse ------------------------------------------- */

static bool read_at(mg_yara_read_fn read, void *ctx, uint64_t a, void *out, size_t n)
{
    return read(ctx, a, out, n) == 0;
}

unsigned mg_yara_images(mg_yara_read_fn read, void *ctx, const mg_region *regions, size_t n,
                        unsigned want, uint64_t *where)
{
    unsigned found = 0;
    for (size_t i = 0; i < n && (found & want) != want; i++) {
        const mg_region *r = &regions[i];
        uint8_t h[64];
        if (r->perms[0] != 'r' || r->end - r->start < sizeof(h) ||
            !read_at(read, ctx, r->start, h, sizeof(h)))
            continue;
        if ((want & MG_YMOD_PE) && h[0] == 'M' && h[1] == 'Z') {
            /* pe.c pe_get_header: "PE\0\0" at e_lfanew, inside the block;
             * in a process, only an image that is not a DLL is parsed */
            uint32_t lfanew = (uint32_t)h[60] | (uint32_t)h[61] << 8 | (uint32_t)h[62] << 16 |
                              (uint32_t)h[63] << 24;
            uint8_t pe[24];
            if (lfanew < INT32_MAX && lfanew + sizeof(pe) <= r->end - r->start &&
                read_at(read, ctx, r->start + lfanew, pe, sizeof(pe)) && !memcmp(pe, "PE\0\0", 4) &&
                !((pe[22] | pe[23] << 8) & 0x2000)) {
                found |= MG_YMOD_PE;
                *where = r->start;
            }
        }
        /* elf.c: an ET_EXEC header (a PIE is ET_DYN and is not parsed) */
        if ((want & MG_YMOD_ELF) &&
            !memcmp(h,
                    "\x7f"
                    "ELF",
                    4) &&
            (h[5] == 1 ? h[16] | h[17] << 8 : h[16] << 8 | h[17]) == 2) {
            found |= MG_YMOD_ELF;
            *where = r->start;
        }
    }
    return found;
}
