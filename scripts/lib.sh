# SPDX-License-Identifier: MIT
# Shared by scripts/run, scripts/debug and scripts/valgrind/run.  The
# caller sets $me (its name in messages) and calls:
#   la_version         prints "liballocator X.Y.Z", from ../VERSION (the
#                      source root, or share/liballocator when installed)
#   la_need_program P  exits 127 saying "$me: no such program: P" unless P
#                      is an executable file or a command on PATH, so that
#                      a typo is not reported by env, gdb or valgrind
#   la_find_lib [NAME] sets $lib to the absolute path of NAME (default
#                      liballocator.so): beside LIBALLOCATOR when that is
#                      set (no build; LIBALLOCATOR itself for the default
#                      NAME), in the installed libdir (the file
#                      installed-libdir beside this one says where), or in
#                      build/ of a source tree, built first when it is
#                      missing or older than its sources.
# (Its variables are prefixed: the scripts that source it have their own.)
lib=""
me=${me:-liballocator}
lib_sh_dir=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$lib_sh_dir/.." && pwd)

la_version() {
  local version
  version=$(head -n 1 "$root/VERSION" 2>/dev/null) || true
  if [ -z "$version" ]; then
    echo "$me: no VERSION file in $root" >&2
    exit 1
  fi
  echo "liballocator $version"
}

la_need_program() {
  if [[ $1 == */* ]]; then
    if [ ! -e "$1" ]; then
      echo "$me: no such program: $1" >&2
      exit 127
    fi
    if [ -d "$1" ] || [ ! -x "$1" ]; then
      echo "$me: not an executable program: $1" >&2
      exit 126
    fi
  elif ! type -P -- "$1" >/dev/null; then
    echo "$me: no such program: $1" >&2
    exit 127
  fi
}

la_find_lib() {
  local name=${1:-liballocator.so}
  if [ -n "${LIBALLOCATOR:-}" ]; then
    if [ ! -f "$LIBALLOCATOR" ]; then
      echo "$me: LIBALLOCATOR=$LIBALLOCATOR: no such file" >&2
      exit 127
    fi
    lib=$LIBALLOCATOR
    [ "$name" = liballocator.so ] || lib="$(dirname "$LIBALLOCATOR")/$name"
  elif [ -f "$lib_sh_dir/installed-libdir" ]; then
    lib="$lib_sh_dir/$(cat "$lib_sh_dir/installed-libdir")/$name"
  elif [ -f "$root/CMakeLists.txt" ]; then
    # A source tree: build when needed.  Build output goes to stderr so
    # that the program's stdout stays its own.
    # -newer compares with the file that build/liballocator.so links to:
    # the link itself keeps the time of the first build.
    lib="$root/build/$name"
    if [ ! -e "$lib" ] ||
       [ -n "$(find "$root/src" "$root/preload" "$root/include" -type f -newer "$(readlink -f "$lib")" \
               -print -quit)" ]; then
      make -s -C "$root" "$name" >&2
    fi
  fi
  if [ ! -f "$lib" ]; then
    echo "$me: cannot find ${lib:-$name} (set LIBALLOCATOR=/path/to/liballocator.so)" >&2
    exit 127
  fi
  lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
}
