// SPDX-License-Identifier: MIT
/*
 * The interface of own_mem_lib.c: mem_* functions of a library that is not
 * liballocator (lwIP's names), and what the test needs to check them.
 */
#ifndef OWN_MEM_H
#define OWN_MEM_H

#include <stddef.h>

void *mem_malloc(size_t size);
void mem_free(void *mem);
void *mem_calloc(size_t count, size_t size);
void *mem_trim(void *mem, size_t size);

extern int own_mem_calls;         // calls that reached own_mem_lib.c
int own_mem_owns(const void *p);  // p is in own_mem_lib.c's pool

#endif
