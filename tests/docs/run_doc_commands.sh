#!/usr/bin/env bash
# Runs every shell command the documentation shows, so that the docs cannot
# rot: each ```sh block of docs/*.md and README.md runs from the repository
# root with `bash -e -o pipefail` (any failing command, also inside a
# pipeline, fails the block), in a fresh HOME and TMPDIR, under a timeout,
# and must exit 0.  Illustrative text goes in ```text blocks, never run.
#
# Markers, an HTML comment on a line of its own before a block (blank lines
# may separate them; any other text cancels the marker):
#   <!-- test-command -->        README's suite command (make check): not
#                                run here, it would run this test again
#   <!-- no-doc-test -->         cannot run in a test (keep these rare)
#   <!-- doc-test-status: N -->  the block must exit with status N (a
#                                misuse report ends in abort: 134)
#   <!-- doc-test-needs: gdb-calls -->  gdb calls functions in the program
#                                (`heap ... --inferior`, `call`): skipped,
#                                saying why, where this machine's gdb cannot
#                                call functions at all (issue 12; the probe is
#                                tests/smoke/gdb_call_probe.sh, run once)
# In docs/*.md every fence must name its language and shell blocks must be
# ```sh, so that no command hides from this test in a ```bash block.
#
# Blocks that need gdb or valgrind are skipped, saying so, when the tool is
# missing (CI installs both).  ALLOCATOR_* variables, LD_PRELOAD and the
# calling make's MAKEFLAGS are cleared, so the blocks see what a user sees.
#
# Usage: tests/docs/run_doc_commands.sh [--list] [BUILD_DIR [FILE.md...]]
#   BUILD_DIR defaults to build/; FILE.md limits the run to those files.
#   DOCS_TEST_TIMEOUT: seconds per block (default 120).
#   DOCS_TEST_VERBOSE=1: print every block's output, to refresh the docs'
#   sample output.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
list_only=0
if [ "${1:-}" = "--list" ]; then
  list_only=1
  shift
fi
build=${1:-$root/build}
[ $# -gt 0 ] && shift
build=$(cd "$build" 2>/dev/null && pwd) || { echo "docs: no build directory ${1:-build}" >&2; exit 1; }
timeout_s=${DOCS_TEST_TIMEOUT:-120}

# The docs name build/...: they describe the default build tree only.
if [ "$build" != "$(cd "$root" && pwd)/build" ]; then
  echo "docs: the documented commands use build/; skipped for $build"
  exit 77
fi
if [ ! -f "$build/liballocator.so" ]; then
  echo "docs: $build/liballocator.so is missing (make all first)" >&2
  exit 1
fi

cd "$root" || exit 1
if [ $# -gt 0 ]; then
  files=("$@")
else
  shopt -s nullglob
  files=(README.md docs/*.md)
  shopt -u nullglob
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/docs-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blocks"

# Extraction: one file per ```sh block (blocks/N.sh) and one index line per
# block: N <TAB> file <TAB> line of the fence <TAB> run|skip <TAB> status
# <TAB> 1 if it needs gdb calls, else 0.
# Style problems in docs/*.md go to problems.txt.
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "docs: no such file: $f" >&2; exit 1; }
  awk -v file="$f" -v dir="$work/blocks" -v strict="$([[ $f == docs/* ]] && echo 1 || echo 0)" '
    BEGIN { n = 0; while ((getline line < (dir "/count")) > 0) n = line + 0; close(dir "/count") }
    function problem(msg) { print file ":" FNR ": " msg >> (dir "/problems.txt") }
    inblock {
      if ($0 ~ /^```[ \t]*$/) {
        inblock = 0
        if (is_sh) close(out)
        next
      }
      if (is_sh) print > out
      next
    }
    /^[ \t]*<!--[ \t]*(test-command|no-doc-test)[ \t]*-->[ \t]*$/ { mode = "skip"; next }
    /^[ \t]*<!--[ \t]*doc-test-status:[ \t]*[0-9]+[ \t]*-->[ \t]*$/ {
      s = $0; gsub(/[^0-9]/, "", s); status = s + 0; next
    }
    /^[ \t]*<!--[ \t]*doc-test-needs:[ \t]*gdb-calls[ \t]*-->[ \t]*$/ { calls = 1; next }
    /^[ \t]*<!--[ \t]*run-command[ \t]*-->[ \t]*$/ { next }
    /^[ \t]*$/ { next }
    /^```/ {
      info = substr($0, 4); gsub(/^[ \t]+|[ \t]+$/, "", info)
      inblock = 1; is_sh = (info == "sh")
      if (strict && info == "") problem("a fence without a language (use sh or text)")
      if (strict && info ~ /^(bash|shell|console|zsh|sh-session|shell-session)$/)
        problem("```" info ": shell commands go in ```sh blocks (run by this test) or ```text")
      if (is_sh) {
        n++
        out = sprintf("%s/%03d.sh", dir, n)
        printf "" > out
        printf "%03d\t%s\t%d\t%s\t%d\t%d\n", n, file, FNR, mode == "" ? "run" : mode, status,
          calls >> (dir "/index.tsv")
      }
      mode = ""; status = 0; calls = 0
      next
    }
    strict && /^[ \t]+```/ { problem("an indented fence: start fences at column 0") }
    { mode = ""; status = 0; calls = 0 }
    END {
      if (inblock) problem("a fence that is never closed")
      print n > (dir "/count")
    }
  ' "$f"
done

if [ -s "$work/blocks/problems.txt" ]; then
  echo "docs: fix these fences first:" >&2
  cat "$work/blocks/problems.txt" >&2
  exit 1
fi
if [ ! -s "$work/blocks/index.tsv" ]; then
  echo "docs: no \`\`\`sh block found in ${files[*]} (is the extractor broken?)" >&2
  exit 1
fi

if [ $list_only -eq 1 ]; then
  while IFS=$'\t' read -r n file line mode status calls; do
    echo "== $file:$line ($mode$([ "$status" != 0 ] && echo ", status $status")$([ "$calls" = 1 ] && echo ", gdb calls"))"
    cat "$work/blocks/$n.sh"
  done <"$work/blocks/index.tsv"
  exit 0
fi

# The environment of a block: a user's shell in the source tree, with the
# library just built (LIBALLOCATOR: scripts/ use it without rebuilding;
# BUILD: the Makefile's build directory).
clear_env=(-u LD_PRELOAD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u VALGRIND_OPTS)
while IFS='=' read -r name _; do
  clear_env+=(-u "$name")
done < <(env | grep -E '^ALLOCATOR_[A-Z_]*=')

needs() { grep -Eq "$1" "$2"; }

# gdb_cannot_call: true, with the reason in $no_calls_why, when this
# machine's gdb cannot call functions in a program.  Asked once, and only
# when a block needs it.  Where the probe's call works, the blocks run and
# fail on their own if our code is wrong.
calls_probed=0 no_calls_why=""
gdb_cannot_call() {
  if [ $calls_probed -eq 0 ]; then
    calls_probed=1
    local rc=0
    no_calls_why=$("$root/tests/smoke/gdb_call_probe.sh") || rc=$?
    # Only the probe's exit 1 means "cannot call".
    [ "$rc" -eq 1 ] || no_calls_why=""
  fi
  [ -n "$no_calls_why" ]
}

ran=0 skipped=0 missing=0 nocalls=0 failed=0
started=$SECONDS
while IFS=$'\t' read -r n file line mode status calls; do
  block="$work/blocks/$n.sh"
  where="$file:$line"
  if [ "$mode" = skip ]; then
    echo "skip $where (marked)"
    skipped=$((skipped + 1))
    continue
  fi
  tool=""
  if needs '(^|[^[:alnum:]_/-])(gdb|scripts/debug)([^[:alnum:]_-]|$)' "$block" && ! command -v gdb >/dev/null; then
    tool=gdb
  elif needs 'valgrind' "$block" && ! command -v valgrind >/dev/null; then
    tool=valgrind
  fi
  if [ -n "$tool" ]; then
    echo "skip $where ($tool is not installed)"
    missing=$((missing + 1))
    continue
  fi
  if [ "$calls" = 1 ] && gdb_cannot_call; then
    echo "skip $where ($no_calls_why)"
    nocalls=$((nocalls + 1))
    continue
  fi
  dir=$(mktemp -d "$work/run.XXXXXX")
  mkdir "$dir/home" "$dir/tmp"
  t0=$SECONDS
  (
    ulimit -c 0 # misuse demonstrations abort: no core files
    exec env "${clear_env[@]}" HOME="$dir/home" TMPDIR="$dir/tmp" \
      LIBALLOCATOR="$build/liballocator.so" BUILD="$build" \
      timeout -k 10 "$timeout_s" bash -e -o pipefail "$block"
  ) </dev/null >"$dir/out" 2>&1
  rc=$?
  ran=$((ran + 1))
  if [ "$rc" -eq "$status" ]; then
    echo "ok   $where ($((SECONDS - t0)) s)"
    [ "${DOCS_TEST_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$dir/out"
  else
    failed=$((failed + 1))
    why="exit status $rc, expected $status"
    [ "$rc" -eq 124 ] && why="timed out after $timeout_s s"
    echo "FAIL $where: $why"
    echo "---- the block:"
    cat -n "$block"
    echo "---- its output (last 40 lines):"
    tail -n 40 "$dir/out"
    echo "----"
  fi
  rm -rf "$dir"
done <"$work/blocks/index.tsv"

echo "docs: $ran blocks run in $((SECONDS - started)) s, $failed failed," \
  "$skipped skipped by marker, $missing skipped for a missing tool," \
  "$nocalls skipped because gdb cannot call functions here"
[ "$failed" -eq 0 ]
