# SPDX-License-Identifier: MIT
# Shared by scripts/run, scripts/debug and scripts/valgrind/run: finds
# liballocator.so and sets $lib.  In a source tree it builds the library
# first when it is missing or older than its sources; installed, the file
# installed-libdir beside this one says where the library is.
# LIBALLOCATOR=/path/liballocator.so overrides the search (no build).
# (Its variables are prefixed: the scripts that source it have their own.)
lib=""
lib_sh_dir=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$lib_sh_dir/.." && pwd)
if [ -n "${LIBALLOCATOR:-}" ]; then
  lib=$LIBALLOCATOR
elif [ -f "$lib_sh_dir/installed-libdir" ]; then
  lib="$lib_sh_dir/$(cat "$lib_sh_dir/installed-libdir")/liballocator.so"
elif [ -f "$root/CMakeLists.txt" ]; then
  # A source tree: build when needed.  Build output goes to stderr so that
  # the program's stdout stays its own.
  lib="$root/build/liballocator.so"
  if [ ! -e "$lib" ] ||
     [ -n "$(find "$root/src" "$root/preload" "$root/include" -newer "$lib" -print -quit)" ]; then
    make -s -C "$root" liballocator.so >&2
  fi
fi
if [ ! -e "$lib" ]; then
  echo "liballocator: cannot find liballocator.so (set LIBALLOCATOR=/path/to/it)" >&2
  exit 127
fi
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
