// SPDX-License-Identifier: MIT
/*
 * A library whose destructor runs after liballocator printed its exit
 * statistics (it was initialised before the preloaded allocator, so it is
 * finalised after it).  The destructor allocates and registers an atexit
 * handler that allocates again, as real libraries do at exit.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *what)
{
    char *line = malloc(strlen(what) + 2); // allocation after the report
    strcpy(line, what);
    strcat(line, "\n");
    (void)!write(2, line, strlen(line));
    free(line);
}

static void late_handler(void) { say("late atexit handler allocated"); }

__attribute__((destructor)) static void late_destructor(void)
{
    say("late destructor allocated");
    atexit(late_handler);
}

int exit_lib_linked(void);
int exit_lib_linked(void) { return 1; }
