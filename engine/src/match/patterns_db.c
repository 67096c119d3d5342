/* patterns_db.c - the pattern set's Hyperscan database: compiling it (the
 * lazy-regex plan it compiles is in patterns_lazy.c; the compiler runs in
 * a child process, vault.c) and placing it, or a cached one (dbcache.c),
 * in the vault. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "match/patterns.h"
#include "match/patterns_internal.h"
#include "util.h"
#include "match/vault.h"

static int compile_db(mg_patterns *p, mg_error *err);
static int compile_one(mg_patterns *p, bool extra, hs_database_t **slot, mg_error *err);

MG_API int mg_patterns_compile(mg_patterns *p, mg_error *err)
{
    int rc = compile_db(p, err);
    mg_scrub_stack(); /* the parser's dead frames (match/vault.h) */
    return rc;
}

static int compile_db(mg_patterns *p, mg_error *err)
{
    if (!p)
        return mg_fail(err, -EINVAL, "invalid argument");
    if (p->db)
        return 0;
    if (p->n_exprs == 0)
        return mg_fail(err, MG_ENOPATTERNS, "no patterns to compile");
    if (mg_patterns_plan(p) < 0)
        return mg_fail(err, -ENOMEM, "out of memory");
    /* the extra database first: p->db set means compiled */
    int rc = compile_one(p, true, &p->xdb, err);
    if (rc == 0)
        rc = compile_one(p, false, &p->db, err);
    if (rc < 0)
        p->xdb = NULL; /* in the vault, freed with it */
    return rc;
}

/* The main database (extra false) or the extra one into *slot; the extra
 * one is left NULL if no expression is in it. */
static int compile_one(mg_patterns *p, bool extra, hs_database_t **slot, mg_error *err)
{
    const char **res = NULL;
    unsigned *fl = NULL, *ids = NULL;
    int n_main = mg_patterns_main_exprs(p, extra, &res, &fl, &ids);
    if (n_main < 0)
        return mg_fail(err, -ENOMEM, "out of memory");
    if (n_main == 0 && extra) {
        free(res), free(fl), free(ids);
        return 0;
    }
    /* In a child process first (vault.h: the compiler's scratch memory
     * holds the patterns, and is freed unwiped); here if that can't be. */
    char *bytes = NULL, msg[512];
    size_t len = 0;
    int bad = -1;
    int rc = mg_vault_compile(&p->vault, res, fl, ids, (unsigned)n_main, &bytes, &len, &bad, msg,
                              sizeof(msg));
    hs_compile_error_t *cerr = NULL;
    bool reported = false; /* err filled */
    if (rc == 0 && (rc = mg_patterns_db_from_bytes(p, slot, bytes, len)) < 0) {
        mg_fail(err, rc, "cannot load the compiled patterns: %s", mg_strerror(rc));
        reported = true;
    } else if (rc < 0 && rc != MG_EPATTERN) {
        if (hs_compile_multi(res, fl, ids, (unsigned)n_main, HS_MODE_BLOCK, NULL, slot, &cerr) ==
            HS_SUCCESS) {
            rc = mg_patterns_db_to_vault(p, slot, err);
            reported = true;
        } else {
            rc = MG_EPATTERN;
            bad = cerr ? cerr->expression : -1;
            snprintf(msg, sizeof(msg), "%s",
                     cerr && cerr->message ? cerr->message : "unknown error");
            hs_free_compile_error(cerr);
        }
    }
    unsigned bad_id = bad >= 0 && bad < n_main ? ids[bad] : UINT_MAX;
    free(res), free(fl), free(ids);
    if (rc == MG_EPATTERN) {
        char shown[128];
        *slot = NULL;
        if (bad_id < p->n_exprs) {
            const mg_pat *pat = &p->pats[p->exprs[bad_id].pattern_id];
            return mg_fail(err, MG_EPATTERN, "%s: invalid %s pattern '%s': %s", pat->source,
                           mg_pattern_kind_name(pat->kind),
                           mg_pattern_show(pat->text, pat->len, shown, sizeof(shown)), msg);
        }
        return mg_fail(err, MG_EHYPERSCAN, "cannot compile patterns: %s", msg);
    }
    return rc < 0 && !reported ? mg_fail(err, rc, "cannot compile patterns: %s", mg_strerror(rc))
                               : rc;
}

/* The database's bytes, wiped before free: hs_free_database checks the
 * magic (the first 4 bytes) and nothing else before freeing. */
static void wipe_free_db(hs_database_t *db)
{
    size_t size = 0;
    uint32_t magic;
    if (db && hs_database_size(db, &size) == HS_SUCCESS && size > sizeof(magic)) {
        memcpy(&magic, db, sizeof(magic));
        explicit_bzero(db, size);
        memcpy(db, &magic, sizeof(magic));
    }
    hs_free_database(db);
}

int mg_patterns_db_from_bytes(mg_patterns *p, hs_database_t **slot, const char *bytes, size_t len)
{
    size_t size = 0;
    if (hs_serialized_database_size(bytes, len, &size) != HS_SUCCESS)
        return MG_EHYPERSCAN;
    hs_database_t *db = mg_vault_alloc(&p->vault, size, 64);
    if (!db)
        return -ENOMEM;
    if (hs_deserialize_database_at(bytes, len, db) != HS_SUCCESS)
        return MG_EHYPERSCAN;
    *slot = db;
    p->db_in_vault = true;
    if (getrandom(&p->keep_id, sizeof(p->keep_id), GRND_NONBLOCK) != (ssize_t)sizeof(p->keep_id))
        p->keep_id = 0;
    return 0;
}

int mg_patterns_db_to_vault(mg_patterns *p, hs_database_t **slot, mg_error *err)
{
    char *bytes = NULL;
    size_t len = 0;
    if (!*slot)
        return 0;
    hs_database_t *old = *slot;
    int rc = hs_serialize_database(old, &bytes, &len) == HS_SUCCESS
                 ? mg_patterns_db_from_bytes(p, slot, bytes, len)
                 : -ENOMEM;
    mg_wipe_free(bytes, len);
    if (rc < 0) {
        *slot = NULL;
        p->db_in_vault = false;
        hs_free_database(old);
        return mg_fail(err, rc, "cannot place the compiled patterns: %s", mg_strerror(rc));
    }
    wipe_free_db(old);
    return 0;
}
