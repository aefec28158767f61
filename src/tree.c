// SPDX-License-Identifier: MIT
/*
 * tree.c: the last size class (free blocks above 8 KiB) kept in a red-black
 * tree ordered by (size, address), so that best fit is a lower-bound search
 * in O(log n) however many large free blocks a heap holds.  The nodes live
 * inside the free blocks themselves (la_tnode_t overlays the free-block
 * header; such blocks are far bigger than a node).  Keys are unique because
 * addresses are.  The algorithms are the textbook ones (insert and delete
 * with recolouring and rotations; a NULL child is a black leaf).  Links
 * are checked before they are followed or written through (a child names
 * its parent back), since they lie where a write after free lands: a
 * broken one is reported, by the caller's function name.  Callers hold
 * the heap's lock.
 */
#include "internal.h"

_Static_assert(sizeof(la_tnode_t) + sizeof(size_t) <= ((size_t)MIN_BLOCK_SIZE << 8),
               "a node and a footer fit in any block of the last class");

enum { RED = 0, BLACK = 1 };

static size_t key_size(const la_tnode_t *n) { return la_load_relaxed(&n->head) & LA_SIZE_MASK; }

// Strict order on (size, address).
static bool less(const la_tnode_t *a, const la_tnode_t *b)
{
    size_t sa = key_size(a), sb = key_size(b);
    return sa < sb || (sa == sb && (uintptr_t)a < (uintptr_t)b);
}

static bool is_red(const la_tnode_t *n) { return n != NULL && n->color == RED; }

// A node's links are in the free block's first payload words (right is the
// first), where a write after free lands; a link followed unchecked let
// best fit return, or an unlink write to, what the program wrote there
// (issue 15).  So a child is trusted only if it names its parent back,
// and a node being removed only if its neighbours name it.
static LA_COLD LA_NORETURN void corrupt(const la_tnode_t *n, const char *func)
{
    la_fatal(func, "free list corrupted at %p (a write after free?)",
             (const void *)((const char *)n + LA_HEADER_BYTES));
}

LA_INLINE void check_node(la_tnode_t **root, const la_tnode_t *n, const char *func)
{
    const la_tnode_t *p = n->parent;
    if ((n->left != NULL && n->left->parent != n) || (n->right != NULL && n->right->parent != n) ||
        (p == NULL ? *root != n : p->left != n && p->right != n))
        corrupt(n, func);
}

// Puts `child` where `old` hung from its parent (or the root).
static void replace_child(la_tnode_t **root, la_tnode_t *parent, la_tnode_t *old, la_tnode_t *child)
{
    if (parent == NULL)
        *root = child;
    else if (parent->left == old)
        parent->left = child;
    else
        parent->right = child;
}

static void rotate_left(la_tnode_t **root, la_tnode_t *x)
{
    la_tnode_t *y = x->right;
    x->right = y->left;
    if (y->left != NULL)
        y->left->parent = x;
    y->parent = x->parent;
    replace_child(root, x->parent, x, y);
    y->left = x;
    x->parent = y;
}

static void rotate_right(la_tnode_t **root, la_tnode_t *x)
{
    la_tnode_t *y = x->left;
    x->left = y->right;
    if (y->right != NULL)
        y->right->parent = x;
    y->parent = x->parent;
    replace_child(root, x->parent, x, y);
    y->right = x;
    x->parent = y;
}

LA_HOT_TEXT void tree_insert(la_tnode_t **root, la_tnode_t *z, const char *func)
{
    la_tnode_t *parent = NULL, **link = root;
    while (*link != NULL) {
        if (LA_UNLIKELY((*link)->parent != parent))
            corrupt(parent != NULL ? parent : *link, func);
        parent = *link;
        link = less(z, parent) ? &parent->left : &parent->right;
    }
    z->parent = parent;
    z->left = z->right = NULL;
    z->color = RED;
    *link = z;
    // Restore: no red node has a red child.
    while (is_red(z->parent)) {
        la_tnode_t *p = z->parent, *g = p->parent;
        if (p == g->left) {
            la_tnode_t *uncle = g->right;
            if (is_red(uncle)) {
                p->color = uncle->color = BLACK;
                g->color = RED;
                z = g;
                continue;
            }
            if (z == p->right) {
                rotate_left(root, p);
                z = p;
                p = z->parent;
            }
            p->color = BLACK;
            g->color = RED;
            rotate_right(root, g);
        } else {
            la_tnode_t *uncle = g->left;
            if (is_red(uncle)) {
                p->color = uncle->color = BLACK;
                g->color = RED;
                z = g;
                continue;
            }
            if (z == p->left) {
                rotate_right(root, p);
                z = p;
                p = z->parent;
            }
            p->color = BLACK;
            g->color = RED;
            rotate_left(root, g);
        }
    }
    (*root)->color = BLACK;
}

static la_tnode_t *leftmost(la_tnode_t *n)
{
    while (n->left != NULL)
        n = n->left;
    return n;
}

LA_HOT_TEXT void tree_remove(la_tnode_t **root, la_tnode_t *z, const char *func)
{
    check_node(root, z, func);
    // x takes the place of the node that leaves its position; it may be
    // NULL, so its parent is tracked separately.
    la_tnode_t *x, *x_parent;
    int removed_color = z->color;
    if (z->left == NULL || z->right == NULL) {
        x = z->left != NULL ? z->left : z->right;
        x_parent = z->parent;
        if (x != NULL)
            x->parent = x_parent;
        replace_child(root, z->parent, z, x);
    } else {
        // Two children: the in-order successor y takes z's place.
        la_tnode_t *y = leftmost(z->right);
        check_node(root, y, func);
        removed_color = y->color;
        x = y->right;
        if (y->parent == z) {
            x_parent = y;
        } else {
            x_parent = y->parent;
            x_parent->left = x;
            if (x != NULL)
                x->parent = x_parent;
            y->right = z->right;
            y->right->parent = y;
        }
        replace_child(root, z->parent, z, y);
        y->parent = z->parent;
        y->left = z->left;
        y->left->parent = y;
        y->color = z->color;
    }
    if (removed_color == RED)
        return;
    // A black node left: x carries an extra black until it is absorbed.
    while (x != *root && !is_red(x)) {
        if (x == x_parent->left) {
            la_tnode_t *w = x_parent->right;
            if (is_red(w)) {
                w->color = BLACK;
                x_parent->color = RED;
                rotate_left(root, x_parent);
                w = x_parent->right;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->color = RED;
                x = x_parent;
                x_parent = x->parent;
                continue;
            }
            if (!is_red(w->right)) {
                w->left->color = BLACK;
                w->color = RED;
                rotate_right(root, w);
                w = x_parent->right;
            }
            w->color = x_parent->color;
            x_parent->color = BLACK;
            w->right->color = BLACK;
            rotate_left(root, x_parent);
            x = *root;
        } else {
            la_tnode_t *w = x_parent->left;
            if (is_red(w)) {
                w->color = BLACK;
                x_parent->color = RED;
                rotate_right(root, x_parent);
                w = x_parent->left;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->color = RED;
                x = x_parent;
                x_parent = x->parent;
                continue;
            }
            if (!is_red(w->left)) {
                w->right->color = BLACK;
                w->color = RED;
                rotate_left(root, w);
                w = x_parent->left;
            }
            w->color = x_parent->color;
            x_parent->color = BLACK;
            w->left->color = BLACK;
            rotate_right(root, x_parent);
            x = *root;
        }
    }
    if (x != NULL)
        x->color = BLACK;
}

// Whether node n may take the key (size, at) where it stands: its in-order
// neighbours stay on either side of the new key.  A carve from the top of
// the heap, or a free merged into it, changes the key of the tree's last
// node without reordering it; moving the node then costs a few stores
// where a remove and an insert cost rebalancing (issue 14: two of each
// per malloc(1 MiB) + free).  The links walked are checked as walked.
LA_INLINE bool can_rekey(la_tnode_t **root, la_tnode_t *n, size_t size, const void *at,
                         const char *func)
{
    check_node(root, n, func);
    uintptr_t addr = (uintptr_t)at;
    // The predecessor: the rightmost of the left subtree, or the first
    // ancestor n hangs right of.
    const la_tnode_t *p = n->left, *c;
    if (p != NULL) {
        while (p->right != NULL) {
            if (LA_UNLIKELY(p->right->parent != p))
                corrupt(p, func);
            p = p->right;
        }
    } else {
        for (c = n, p = n->parent; p != NULL && p->left == c; c = p, p = p->parent)
            ;
        if (p != NULL && LA_UNLIKELY(p->right != c))
            corrupt(c, func);
    }
    if (p != NULL && !(key_size(p) < size || (key_size(p) == size && (uintptr_t)p < addr)))
        return false;
    // The successor, symmetrically.
    p = n->right;
    if (p != NULL) {
        while (p->left != NULL) {
            if (LA_UNLIKELY(p->left->parent != p))
                corrupt(p, func);
            p = p->left;
        }
    } else {
        for (c = n, p = n->parent; p != NULL && p->right == c; c = p, p = p->parent)
            ;
        if (p != NULL && LA_UNLIKELY(p->left != c))
            corrupt(c, func);
    }
    return p == NULL || size < key_size(p) || (size == key_size(p) && addr < (uintptr_t)p);
}

// Moves node `from` to `to` (the two may overlap), keeping its place: the
// caller checked with tree_can_rekey and writes to's head (its key) next.
LA_INLINE void move(la_tnode_t **root, la_tnode_t *from, la_tnode_t *to)
{
    la_tnode_t *left = from->left, *right = from->right, *parent = from->parent;
    int color = from->color;
    replace_child(root, parent, from, to);
    to->left = left;
    to->right = right;
    to->parent = parent;
    to->color = color;
    if (left != NULL)
        left->parent = to;
    if (right != NULL)
        right->parent = to;
}

bool tree_can_rekey(la_tnode_t **root, la_tnode_t *n, size_t size, const void *at,
                    const char *func)
{
    return can_rekey(root, n, size, at, func);
}

void tree_move(la_tnode_t **root, la_tnode_t *from, la_tnode_t *to) { move(root, from, to); }

// Both in one call, for the heap's big-block paths.
LA_HOT_TEXT bool tree_rekey(la_tnode_t **root, la_tnode_t *from, la_tnode_t *to, size_t size,
                            const char *func)
{
    if (!can_rekey(root, from, size, to, func))
        return false;
    move(root, from, to);
    return true;
}

LA_HOT_TEXT la_tnode_t *tree_lower_bound(la_tnode_t *root, size_t bytes, const char *func)
{
    // The smallest node whose size is at least `bytes` (lowest address
    // among equals, since any of them would do and it keeps the heap low).
    la_tnode_t *best = NULL, *parent = NULL;
    while (root != NULL) {
        if (LA_UNLIKELY(root->parent != parent))
            corrupt(parent != NULL ? parent : root, func);
        parent = root;
        if (key_size(root) >= bytes) {
            best = root;
            root = root->left;
        } else {
            root = root->right;
        }
    }
    return best;
}

LA_HOT_TEXT la_tnode_t *tree_first(la_tnode_t *root)
{
    return root == NULL ? NULL : leftmost(root);
}

la_tnode_t *tree_next(la_tnode_t *n)
{
    if (n->right != NULL)
        return leftmost(n->right);
    while (n->parent != NULL && n == n->parent->right)
        n = n->parent;
    return n->parent;
}

// Checks one subtree; returns its black height, or -1 after a report.
static int check_subtree(const la_tnode_t *n, const la_tnode_t *parent, size_t *count,
                         const la_tnode_t **bad, const char **why)
{
    if (n == NULL)
        return 1;
    (*count)++;
    if (n->parent != parent) {
        *bad = n, *why = "parent link broken";
        return -1;
    }
    if (n->color != RED && n->color != BLACK) {
        *bad = n, *why = "colour neither red nor black";
        return -1;
    }
    if (n->color == RED && (is_red(n->left) || is_red(n->right))) {
        *bad = n, *why = "red node with a red child";
        return -1;
    }
    if ((n->left != NULL && !less(n->left, n)) || (n->right != NULL && !less(n, n->right))) {
        *bad = n, *why = "nodes out of (size, address) order";
        return -1;
    }
    int lh = check_subtree(n->left, n, count, bad, why);
    if (lh < 0)
        return -1;
    int rh = check_subtree(n->right, n, count, bad, why);
    if (rh < 0)
        return -1;
    if (lh != rh) {
        *bad = n, *why = "black heights differ";
        return -1;
    }
    return lh + (n->color == BLACK);
}

const char *tree_check(const la_tnode_t *root, size_t *count, const la_tnode_t **bad)
{
    const char *why = NULL;
    *count = 0;
    *bad = root;
    if (root != NULL && (root->color != BLACK || root->parent != NULL))
        return "root not black, or has a parent";
    return check_subtree(root, NULL, count, bad, &why) < 0 ? why : NULL;
}
