// SPDX-License-Identifier: MIT
/*
 * The last class's red-black tree (src/tree.c) against a shadow model: a
 * flat array of the nodes in the tree.  Random inserts and removals of
 * nodes with random, often equal, sizes; after every step the tree must be
 * sound (tree_check) and hold exactly the shadow's nodes in (size,
 * address) order, and lower-bound queries must return the smallest node of
 * at least the asked size, the lowest address among equal sizes.  Then the
 * same through a heap: 5,000 free blocks of distinct sizes (the benchmark
 * goes to 100,000).
 */
#include "internal.h"

#include "../testhelper.h"

#define NODES 4096

static la_tnode_t nodes[NODES];
static bool in_tree[NODES];

static size_t size_of(const la_tnode_t *n) { return n->head & LA_SIZE_MASK; }

// The shadow's answer to a lower-bound query.
static la_tnode_t *shadow_lower_bound(size_t bytes)
{
    la_tnode_t *best = NULL;
    for (int i = 0; i < NODES; i++) {
        if (!in_tree[i] || size_of(&nodes[i]) < bytes)
            continue;
        if (best == NULL || size_of(&nodes[i]) < size_of(best) ||
            (size_of(&nodes[i]) == size_of(best) && &nodes[i] < best))
            best = &nodes[i];
    }
    return best;
}

static void test_against_shadow(void)
{
    la_tnode_t *root = NULL;
    uint64_t rng = 42;
    size_t live = 0;
    for (int step = 0; step < 60000; step++) {
        int i = (int)(rng_next(&rng) % NODES);
        if (in_tree[i]) {
            tree_remove(&root, &nodes[i], "free");
            in_tree[i] = false;
            live--;
        } else {
            // Few distinct sizes, so that equal keys are common.
            nodes[i].head = (8192 + 16 * (rng_next(&rng) % 300)) | LA_FREE;
            tree_insert(&root, &nodes[i], "free");
            in_tree[i] = true;
            live++;
        }
        if (step % 97 == 0 || step < 300) {
            size_t count;
            const la_tnode_t *bad;
            const char *why = tree_check(root, &count, &bad);
            if (why != NULL) {
                fprintf(stderr, "step %d: %s\n", step, why);
                CHECK(!"tree sound");
                return;
            }
            CHECK_EQ(count, live);
            // In-order traversal is sorted and covers exactly the shadow.
            size_t seen = 0;
            const la_tnode_t *prev = NULL;
            for (la_tnode_t *n = tree_first(root); n != NULL; n = tree_next(n), seen++) {
                CHECK(in_tree[n - nodes]);
                if (prev != NULL)
                    CHECK(size_of(prev) < size_of(n) || (size_of(prev) == size_of(n) && prev < n));
                prev = n;
            }
            CHECK_EQ(seen, live);
        }
        size_t ask = 8000 + 16 * (rng_next(&rng) % 320);
        CHECK(tree_lower_bound(root, ask, "malloc") == shadow_lower_bound(ask));
        if (test_failures > 10)
            return;
    }
}

static bool key_less(size_t sa, const void *a, size_t sb, const void *b)
{
    return sa < sb || (sa == sb && (uintptr_t)a < (uintptr_t)b);
}

// tree_can_rekey and tree_move (issue 14: the heap's top carved and merged
// where it stands): a node may take a new key at a new address exactly
// when no other node's key lies between its old and its new one, and the
// tree stays sound after the move.
static void test_rekey(void)
{
    la_tnode_t *root = NULL;
    uint64_t rng = 7;
    memset(in_tree, 0, sizeof in_tree);
    for (int i = 0; i < NODES; i += 2) {
        nodes[i].head = (8192 + 16 * (rng_next(&rng) % 300)) | LA_FREE;
        tree_insert(&root, &nodes[i], "free");
        in_tree[i] = true;
    }
    int moved = 0, refused = 0;
    for (int step = 0; step < 20000; step++) {
        int i = (int)(rng_next(&rng) % NODES), j = (int)(rng_next(&rng) % NODES);
        if (!in_tree[i] || in_tree[j])
            continue;
        // Mostly a key near the old one, as a carve or a merge makes when
        // few nodes are near; sometimes anywhere.
        size_t old = size_of(&nodes[i]);
        size_t want = step % 4 == 0 ? 8192 + 16 * (rng_next(&rng) % 300)
                                    : LA_MAX(old - 16 + 16 * (rng_next(&rng) % 3), (size_t)8208);
        bool expect = true;
        for (int k = 0; k < NODES && expect; k++)
            if (in_tree[k] && k != i &&
                key_less(size_of(&nodes[k]), &nodes[k], old, &nodes[i]) !=
                    key_less(size_of(&nodes[k]), &nodes[k], want, &nodes[j]))
                expect = false;
        bool can = tree_can_rekey(&root, &nodes[i], want, &nodes[j], "free");
        CHECK(can == expect);
        if (!can) {
            refused++;
            continue;
        }
        tree_move(&root, &nodes[i], &nodes[j]);
        nodes[j].head = want | LA_FREE;
        in_tree[i] = false;
        in_tree[j] = true;
        moved++;
        size_t count;
        const la_tnode_t *bad;
        const char *why = tree_check(root, &count, &bad);
        if (why != NULL) {
            fprintf(stderr, "rekey step %d: %s\n", step, why);
            CHECK(why == NULL);
            return;
        }
    }
    CHECK(moved > 100 && refused > 100);
}

static void test_many_large_free_blocks(void)
{
    // Free blocks of distinct sizes above 8 KiB, each kept apart by a small
    // live block, then best fit for each size.  The biggest (170 KB) stay
    // in the heap under a raised mmap threshold.
    enum { N = 5000 };
    REQUIRE(la_set_mmap_threshold(1 << 20));
    static void *big[N], *sep[N];
    for (int i = 0; i < N; i++) {
        big[i] = mem_malloc(8200 + 16 * (size_t)i);
        sep[i] = mem_malloc(16);
        REQUIRE(big[i] != NULL && sep[i] != NULL);
    }
    for (int i = 0; i < N; i++)
        mem_free(big[i]);
    CHECK_EQ(mem_check_heap(), 0);
    // Each request takes the block of exactly its size (the best fit),
    // at the same address.
    uint64_t rng = 7;
    for (int k = 0; k < 2000; k++) {
        int i = (int)(rng_next(&rng) % N);
        if (big[i] == NULL)
            continue;
        void *p = mem_malloc(8200 + 16 * (size_t)i);
        CHECK(p == big[i]);
        mem_free(p);
    }
    CHECK_EQ(mem_check_heap(), 0);
    for (int i = 0; i < N; i++)
        mem_free(sep[i]);
    CHECK_EQ(mem_check_heap(), 0);
    la_set_mmap_threshold(MMAP_THRESHOLD);
}

int main(void)
{
    test_against_shadow();
    test_rekey();
    test_many_large_free_blocks();
    return test_report("test_tree");
}
