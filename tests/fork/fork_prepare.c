// SPDX-License-Identifier: MIT
/*
 * fork_prepare: fork in a program that links a library (prep_lib.c) whose
 * atfork prepare handler allocates and joins a thread that allocated.
 * Before issue 12's fix every fork hung: the allocator's own prepare
 * handler ran first and held every lock.  Run under LD_PRELOAD.
 */
#include "forkhelper.h"

#include <sys/wait.h>

int prep_lib_forks(void);

int main(void)
{
    require_liballocator("fork_prepare");
    watchdog(30);
    if (!prep_lib_forks()) {
        fprintf(stderr, "fork_prepare: the library's worker did not start\n");
        return 1;
    }
    int failures = 0;
    for (int i = 0; i < 50; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            char *p = malloc(1000);
            char *q = malloc(200000);
            if (p == NULL || q == NULL)
                _exit(3);
            memset(p, 1, 1000);
            memset(q, 2, 200000);
            free(q);
            free(p);
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failures++;
    }
    if (failures) {
        fprintf(stderr, "fork_prepare: %d of 50 children failed\n", failures);
        return 1;
    }
    printf("fork_prepare: 50 forks with an allocating prepare handler\n");
    return 0;
}
