# Shared by scripts/run and scripts/debug: finds liballocator.so, building
# it first when it is missing or older than its sources.  Sets $lib.
# LIBALLOCATOR=/path/liballocator.so overrides the search (no build).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${LIBALLOCATOR:-}" ]; then
  lib=$LIBALLOCATOR
elif [ -f "$root/CMakeLists.txt" ]; then
  # A source tree: build when needed.  Build output goes to stderr so that
  # the program's stdout stays its own.
  lib="$root/build/liballocator.so"
  if [ ! -e "$lib" ] ||
     [ -n "$(find "$root/src" "$root/preload" "$root/include" "$root/CMakeLists.txt" -newer "$lib" -print -quit)" ]; then
    make -s -C "$root" liballocator.so >&2
  fi
else
  # An installed prefix: PREFIX/bin/scripts -> PREFIX/lib*/liballocator.so
  lib=$(ls "$root"/lib*/liballocator.so "$root"/lib/*/liballocator.so 2>/dev/null | head -n 1)
fi
if [ ! -e "$lib" ]; then
  echo "liballocator: cannot find liballocator.so (set LIBALLOCATOR=/path/to/it)" >&2
  exit 127
fi
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
