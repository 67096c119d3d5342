/* test_dedupe.c - the table of results kept for shared memory
 * (engine/src/sweep/dedupe.c): lookups by whole key, immutable entries, the
 * memory cap, growth, and concurrent inserts. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/dedupe.h"

static mg_dedupe *table(size_t max_bytes)
{
    mg_dedupe *d = NULL;
    cr_assert_eq(mg_dedupe_new(&d, max_bytes), 0);
    cr_assert_not_null(d);
    return d;
}

/* The records stored under key must be exactly rec[0..len). */
static void expect_found(mg_dedupe *d, const uint64_t *key, size_t n, const void *rec, size_t len)
{
    size_t got = 12345;
    const uint8_t *r = mg_dedupe_find(d, key, n, &got);
    cr_assert_not_null(r, "key of %zu words (first %llx) not found", n, (unsigned long long)key[0]);
    cr_assert_eq(got, len);
    if (len)
        cr_assert_eq(memcmp(r, rec, len), 0);
}

static void expect_missing(mg_dedupe *d, const uint64_t *key, size_t n)
{
    size_t got = 0;
    cr_assert_null(mg_dedupe_find(d, key, n, &got), "key of %zu words (first %llx) found", n,
                   (unsigned long long)key[0]);
}

Test(dedupe, insert_then_find)
{
    mg_dedupe *d = table(1 << 20);
    uint64_t k1[3] = {0x1000, 0x2000, 17}, k2[3] = {0x1000, 0x2000, 18};
    const char r1[] = "records one", r2[] = "two";
    expect_missing(d, k1, 3);
    cr_assert(mg_dedupe_insert(d, k1, 3, (const uint8_t *)r1, sizeof r1));
    expect_found(d, k1, 3, r1, sizeof r1);
    expect_missing(d, k2, 3);
    cr_assert(mg_dedupe_insert(d, k2, 3, (const uint8_t *)r2, sizeof r2));
    expect_found(d, k2, 3, r2, sizeof r2);
    expect_found(d, k1, 3, r1, sizeof r1);
    mg_dedupe_free(&d);
    cr_assert_null(d);
    mg_dedupe_free(&d);
    mg_dedupe_free(NULL);
}

/* A key matches only as a whole: same words but fewer or more, or one word
 * different, is another key. */
Test(dedupe, key_mismatch)
{
    mg_dedupe *d = table(1 << 20);
    uint64_t k[4] = {7, 8, 9, 10};
    const char r[] = "abc";
    cr_assert(mg_dedupe_insert(d, k, 3, (const uint8_t *)r, 3));
    expect_found(d, k, 3, r, 3);
    expect_missing(d, k, 2); /* a prefix */
    expect_missing(d, k, 4); /* longer */
    for (int i = 0; i < 3; i++) {
        uint64_t x[3] = {7, 8, 9};
        x[i] ^= 1;
        expect_missing(d, x, 3);
        x[i] ^= 1ull << 63;
        expect_missing(d, x, 3);
    }
    uint64_t swapped[3] = {8, 7, 9};
    expect_missing(d, swapped, 3);
    mg_dedupe_free(&d);
}

/* Entries are immutable: a second insert of a key keeps the first records
 * (same bytes, same results) and reports success. No records is a valid
 * entry ("scanned, nothing found"), distinct from no entry. */
Test(dedupe, first_insert_wins_and_empty_records_count)
{
    mg_dedupe *d = table(1 << 20);
    uint64_t k[2] = {42, 43}, e[1] = {99};
    cr_assert(mg_dedupe_insert(d, k, 2, (const uint8_t *)"first", 5));
    cr_assert(mg_dedupe_insert(d, k, 2, (const uint8_t *)"second!", 7));
    expect_found(d, k, 2, "first", 5);
    cr_assert(mg_dedupe_insert(d, e, 1, NULL, 0));
    expect_found(d, e, 1, NULL, 0);
    /* the caller's buffer is copied */
    uint8_t buf[4] = {1, 2, 3, 4};
    uint64_t k3[1] = {5};
    cr_assert(mg_dedupe_insert(d, k3, 1, buf, 4));
    memset(buf, 0, sizeof buf);
    expect_found(d, k3, 1, (const uint8_t[]){1, 2, 3, 4}, 4);
    mg_dedupe_free(&d);
}

/* Past max_bytes inserts are refused; what is in stays findable, what was
 * refused is not there; the bound is not exceeded by the records alone. */
Test(dedupe, capacity_cap)
{
    const size_t max = 16 * 1024, rec_len = 200;
    mg_dedupe *d = table(max);
    uint8_t rec[200];
    size_t in = 0;
    bool refused = false;
    for (uint64_t i = 0; i < 1000; i++) {
        memset(rec, (int)(i & 0xff), sizeof rec);
        uint64_t key[2] = {i, ~i};
        bool ok = mg_dedupe_insert(d, key, 2, rec, rec_len);
        if (ok) {
            cr_assert_not(refused, "insert %llu accepted after one was refused",
                          (unsigned long long)i);
            in++;
        } else {
            refused = true;
        }
    }
    cr_assert(refused, "1000 x 200 bytes fit in a 16 KiB table");
    cr_assert_geq(in, 1u);
    cr_assert_leq(in * (rec_len + 2 * sizeof(uint64_t)), max, "%zu entries exceed the cap", in);
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t key[2] = {i, ~i};
        memset(rec, (int)(i & 0xff), sizeof rec);
        if (i < in)
            expect_found(d, key, 2, rec, rec_len);
        else
            expect_missing(d, key, 2);
    }
    /* an entry larger than the whole cap, into an empty table */
    mg_dedupe *small = table(64);
    uint64_t k[1] = {1};
    cr_assert_not(mg_dedupe_insert(small, k, 1, rec, sizeof rec));
    expect_missing(small, k, 1);
    mg_dedupe_free(&small);
    mg_dedupe_free(&d);
}

/* More entries than the initial slots: the table grows, and every entry is
 * found after growing. */
Test(dedupe, grows)
{
    mg_dedupe *d = table(64u << 20);
    enum {
        N = 20000
    };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t key[1] = {i * 0x9e3779b97f4a7c15ull};
        cr_assert(mg_dedupe_insert(d, key, 1, (const uint8_t *)&i, sizeof i), "insert %llu",
                  (unsigned long long)i);
    }
    for (uint64_t i = 0; i < N; i++) {
        uint64_t key[1] = {i * 0x9e3779b97f4a7c15ull};
        expect_found(d, key, 1, &i, sizeof i);
    }
    uint64_t none[1] = {N * 0x9e3779b97f4a7c15ull};
    expect_missing(d, none, 1);
    mg_dedupe_free(&d);
}

typedef struct worker_arg {
    mg_dedupe *d;
    uint64_t id;
} worker_arg;

enum {
    THREADS = 4,
    PER_THREAD = 3000,
    SHARED = 500
};

/* Each thread inserts its own keys and the shared keys (same records for
 * the same key, as for the same bytes). */
static void *worker(void *p)
{
    worker_arg *a = p;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        uint64_t key[2] = {a->id, i}, rec = a->id * 1000000 + i;
        if (!mg_dedupe_insert(a->d, key, 2, (const uint8_t *)&rec, sizeof rec))
            return (void *)1;
        uint64_t sk[2] = {999, i % SHARED}, srec = i % SHARED;
        if (!mg_dedupe_insert(a->d, sk, 2, (const uint8_t *)&srec, sizeof srec))
            return (void *)1;
    }
    return NULL;
}

Test(dedupe, concurrent_inserts)
{
    mg_dedupe *d = table(64u << 20);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (worker_arg){d, (uint64_t)t};
        cr_assert_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *rv;
        pthread_join(th[t], &rv);
        cr_assert_null(rv, "thread %d: an insert failed", t);
    }
    for (uint64_t t = 0; t < THREADS; t++)
        for (uint64_t i = 0; i < PER_THREAD; i++) {
            uint64_t key[2] = {t, i}, rec = t * 1000000 + i;
            expect_found(d, key, 2, &rec, sizeof rec);
        }
    for (uint64_t i = 0; i < SHARED; i++) {
        uint64_t key[2] = {999, i};
        expect_found(d, key, 2, &i, sizeof i);
    }
    mg_dedupe_free(&d);
}
