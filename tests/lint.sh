#!/usr/bin/env bash
# Layering rules that the compiler cannot check (see ../shared/STYLE.md):
#  - only src/os.c includes the kernel-facing headers;
#  - nothing inside the allocator uses stdio (it allocates and locks);
#    preload/ may use it only where a glibc API hands us a FILE*;
#  - only preload/ defines libc's malloc-family names.
set -u
cd "$(dirname "$0")/.."
fail=0
bad=$(grep -lE '#include <(sys/mman|unistd|sys/syscall|linux/futex)\.h>' src/*.c src/*.h preload/*.c 2>/dev/null | grep -v '^src/os\.c$')
if [ -n "$bad" ]; then echo "lint: kernel headers outside src/os.c: $bad"; fail=1; fi
bad=$(grep -nE '#include <stdio\.h>|\b(f?printf|fputs|puts|fopen|sprintf|snprintf)\s*\(' src/*.c src/*.h | grep -v 'log_printf')
if [ -n "$bad" ]; then echo "lint: stdio inside the allocator:"; echo "$bad"; fail=1; fi
bad=$(grep -nE '^(void|int|size_t|struct mallinfo2?) \*?(malloc|free|calloc|realloc|memalign|valloc|pvalloc|posix_memalign|aligned_alloc|malloc_usable_size)\s*\(' src/*.c)
if [ -n "$bad" ]; then echo "lint: libc names defined in the core:"; echo "$bad"; fail=1; fi
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
