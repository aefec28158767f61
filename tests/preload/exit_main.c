// SPDX-License-Identifier: MIT
/*
 * Run under LD_PRELOAD=liballocator.so ALLOCATOR_STATS=1 by exit_order.sh:
 * allocates in an atexit handler (before the report) and links exit_lib,
 * whose destructor and handler allocate after it.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int exit_lib_linked(void);

static void early_handler(void)
{
    char *p = strdup("early atexit handler allocated\n");
    (void)!write(2, p, strlen(p));
    free(p);
}

int main(void)
{
    atexit(early_handler);
    return exit_lib_linked() - 1;
}
