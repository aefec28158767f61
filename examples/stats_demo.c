// SPDX-License-Identifier: MIT
/*
 * stats_demo: the explicit mem_* API in a few lines.  Allocates a linked
 * list, grows a buffer with realloc, frees everything and prints the
 * allocator's statistics (to stderr).  Built by `make all`; the install
 * test also builds it against an installed liballocator.
 */
#include <stdio.h>
#include <string.h>

#include "allocator.h"

struct node {
    struct node *next;
    char name[24];
};

int main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 1000; i++) {
        struct node *n = mem_malloc(sizeof *n);
        if (n == NULL)
            return 1;
        snprintf(n->name, sizeof n->name, "node %d", i);
        n->next = head;
        head = n;
    }
    char *buf = NULL;
    size_t len = 0;
    for (struct node *n = head; n != NULL; n = n->next) {
        size_t add = strlen(n->name) + 1;
        char *grown = mem_realloc(buf, len + add);
        if (grown == NULL)
            return 1;
        buf = grown;
        memcpy(buf + len, n->name, add);
        len += add;
    }
    printf("joined %zu bytes of names; first is \"%s\"\n", len, buf);
    while (head != NULL) {
        struct node *next = head->next;
        mem_free(head);
        head = next;
    }
    mem_free(buf);
    fflush(stdout); // the statistics go to stderr: keep the lines in order
    mem_print_stats();
    return mem_check_heap();
}
