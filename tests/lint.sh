#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Layering rules that the compiler cannot check (see ../shared/STYLE.md):
#  - only src/os.c includes the kernel-facing headers;
#  - nothing inside the allocator uses stdio (it allocates and locks);
#    preload/ may use it only where a glibc API hands us a FILE* (fp);
#  - only preload/ defines libc's malloc-family names;
#  - every source file names its licence in an SPDX-License-Identifier
#    line, the first line or the one right after the shebang.
set -u
cd "$(dirname "$0")/.." || exit 2
shopt -s nullglob
core=(src/*.c src/*.h)
preload=(preload/*.c)
if [ ${#core[@]} -lt 10 ] || [ ${#preload[@]} -lt 1 ]; then
  echo "lint: sources not found under $PWD"
  exit 2
fi

# grep ARGS...: the matching lines in $found.  A grep error (status 2) ends
# the lint: a rule that could not be checked must not pass.
scan() {
  local rc=0
  found=$(grep "$@") || rc=$?
  if [ $rc -gt 1 ]; then
    echo "lint: grep $* failed"
    exit 2
  fi
}

stdio_call='\b(v?f?printf|v?s?n?printf|dprintf|fputs|puts|putc|putchar|fputc|fwrite|fopen|fdopen|fflush)\s*\('
libc_names='malloc|free|cfree|calloc|realloc|reallocarray|memalign|valloc|pvalloc|posix_memalign|aligned_alloc|malloc_usable_size|mallinfo2?|malloc_trim|malloc_stats|malloc_info|mallopt'
fail=0

scan -lE '#include <(sys/mman|unistd|sys/syscall|linux/futex)\.h>' "${core[@]}" "${preload[@]}"
bad=$(printf '%s\n' "$found" | grep -v '^src/os\.c$' | grep .)
if [ -n "$bad" ]; then echo "lint: kernel headers outside src/os.c: $bad"; fail=1; fi

scan -HnE "#include <stdio\\.h>|$stdio_call" "${core[@]}"
if [ -n "$found" ]; then echo "lint: stdio inside the allocator:"; echo "$found"; fail=1; fi

# In preload/, a stdio call must write to the FILE * glibc's API gave us.
scan -HnE "$stdio_call" "${preload[@]}"
bad=$(printf '%s\n' "$found" | grep -vE "$stdio_call *fp," | grep .)
if [ -n "$bad" ]; then echo "lint: stdio in preload/ other than on a caller's FILE *:"; echo "$bad"; fail=1; fi

# Definitions, with or without an attribute macro before the return type.
scan -HnE "^([A-Z_]+ )?(void|int|size_t|struct mallinfo2?) \\*?($libc_names)\\s*\\(" "${core[@]}"
if [ -n "$found" ]; then echo "lint: libc names defined in the core:"; echo "$found"; fail=1; fi

# The sources: C, shell, Python, bats, CMake, the version script, the
# templates in cmake/ and the scripts without an extension.  Data (bench
# results and fixtures) and Markdown carry no SPDX line.
missing=""
while IFS= read -r -d '' f; do
  first=$(head -n 1 "$f")
  [[ $first == '#!'* ]] && first=$(sed -n 2p "$f")
  case $first in
    '// SPDX-License-Identifier: MIT' | '# SPDX-License-Identifier: MIT' | \
    '/* SPDX-License-Identifier: MIT */') ;;
    *) missing+="  $f"$'\n' ;;
  esac
done < <(find src preload include tests bench scripts examples cmake .ci CMakeLists.txt Makefile \
  -path bench/results -prune -o -path bench/tests/fixture -prune -o -type f \
  \( -name '*.[ch]' -o -name '*.cc' -o -name '*.sh' -o -name '*.bash' -o -name '*.bats' \
  -o -name '*.py' -o -name '*.map' -o -name '*.in' -o -name '*.supp' -o -name CMakeLists.txt \
  -o -name Makefile -o -perm -u+x \) -print0)
if [ -n "$missing" ]; then
  echo "lint: no SPDX-License-Identifier line (first line, or after the shebang) in:"
  printf '%s' "$missing"
  fail=1
fi

[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
