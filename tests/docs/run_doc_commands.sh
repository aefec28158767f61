#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
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
#
# Output the docs show is checked too.  A ```text block right after the
# marker <!-- doc-test-output --> (blank lines may separate them) is what
# the last ```sh block before it in the same file prints, stdout and
# stderr together; several such blocks may follow one command.  The check
# is loose: every line shown must be a whole line of the output,
# somewhere, in any order, where
#   - runs of blanks count as one, and leading and trailing ones as none;
#   - a line that is just `...` shows elided output and is not checked;
#     `...` inside a line stands for any text;
#   - numbers match any number (pids, addresses, counts, sizes), unless
#     the marker says `exact`; then only hex addresses, `pid N`, `process
#     N`, `LWP N` and valgrind's `==N==` do;
#   - the source tree reads as /path/to/liballocator and the block's HOME
#     as /home/you;
#   - `variable 2,5` in the marker leaves out those lines of the block
#     (1 is the first), for lines whose text is not the doc's to keep
#     (a source line gdb prints, say).
# Example: <!-- doc-test-output: exact; variable 3 -->
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
# The output a block must show goes to blocks/N.expect, one line each:
# e|l (exact or loose) <TAB> line of the .md <TAB> the text.  Marker and
# style problems go to problems.txt (style ones in docs/*.md only).
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "docs: no such file: $f" >&2; exit 1; }
  awk -v file="$f" -v dir="$work/blocks" -v strict="$([[ $f == docs/* ]] && echo 1 || echo 0)" '
    BEGIN { n = 0; while ((getline line < (dir "/count")) > 0) n = line + 0; close(dir "/count") }
    function problem(msg) { print file ":" FNR ": " msg >> (dir "/problems.txt") }
    inblock {
      if ($0 ~ /^```[ \t]*$/) {
        inblock = 0
        if (is_sh) close(out)
        if (is_expect) {
          close(expect)
          for (v in var) if (v + 0 > exp_line) problem("doc-test-output: no line " v " in the block below it")
        }
        is_expect = 0
        next
      }
      if (is_sh) print > out
      if (is_expect && !(++exp_line in var)) printf "%s\t%d\t%s\n", exp_exact ? "e" : "l", FNR, $0 > expect
      next
    }
    /^[ \t]*<!--[ \t]*doc-test-output[ \t]*(:[^>]*)?-->[ \t]*$/ {
      opts = $0
      sub(/^[ \t]*<!--[ \t]*doc-test-output[ \t]*:?/, "", opts); sub(/-->.*$/, "", opts)
      exp_pending = FNR; exp_exact = 0; delete var
      nopt = split(opts, words, /[ \t]*;[ \t]*/)
      for (i = 1; i <= nopt; i++) {
        w = words[i]; gsub(/^[ \t]+|[ \t]+$/, "", w)
        if (w == "") continue
        if (w == "exact") exp_exact = 1
        else if (w ~ /^variable[ \t]+[0-9]+(,[0-9]+)*$/) {
          sub(/^variable[ \t]+/, "", w); nv = split(w, vs, ",")
          for (j = 1; j <= nv; j++) var[vs[j] + 0] = 1
        } else problem("doc-test-output: not understood: " w " (exact; variable N,N...)")
      }
      next
    }
    exp_pending && !/^[ \t]*$/ && !/^```/ {
      problem("doc-test-output: no ```text block right after the marker of line " exp_pending)
      exp_pending = 0
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
      if (exp_pending) {
        if (info != "text") problem("doc-test-output: the block after the marker of line " exp_pending " is not ```text")
        else if (last_sh == "") problem("doc-test-output: no ```sh block before the marker of line " exp_pending)
        else { is_expect = 1; exp_line = 0; expect = sprintf("%s/%s.expect", dir, last_sh) }
        exp_pending = 0
      }
      if (strict && info == "") problem("a fence without a language (use sh or text)")
      if (strict && info ~ /^(bash|shell|console|zsh|sh-session|shell-session)$/)
        problem("```" info ": shell commands go in ```sh blocks (run by this test) or ```text")
      if (is_sh) {
        n++
        last_sh = sprintf("%03d", n)
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
      if (exp_pending) problem("doc-test-output: no ```text block after the marker of line " exp_pending)
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
    if [ -f "$work/blocks/$n.expect" ]; then
      echo "-- must print (e: exact, l: loose; line of $file):"
      cat "$work/blocks/$n.expect"
    fi
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

# missing_lines EXPECT OUT HOME: prints the lines of EXPECT (see the
# extraction) that OUT does not show, by the rules at the top; fails if
# there are any.
missing_lines() {
  awk -v root="$root" -v home="$3" '
    function replace_all(s, from, to,   i, r) {
      if (from == "") return s
      r = ""
      while ((i = index(s, from)) > 0) { r = r substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
      return r s
    }
    function norm(s, exact) {
      gsub(/[ \t\r]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
      gsub(/==[0-9]+==/, "==PID==", s)
      gsub(/0x[0-9a-fA-F]+/, "0xADDR", s)
      gsub(/pid [0-9]+/, "pid PID", s); gsub(/process [0-9]+/, "process PID", s)
      gsub(/LWP [0-9]+/, "LWP PID", s)
      if (!exact) gsub(/[0-9]+/, "N", s)
      return s
    }
    # s matches pat, where each ... of pat stands for any text.
    function glob_match(s, pat,   k, parts, i, pos, p, last) {
      k = split(pat, parts, /\.\.\./)
      if (k == 1) return s == pat
      if (substr(s, 1, length(parts[1])) != parts[1]) return 0
      pos = length(parts[1]) + 1
      for (i = 2; i < k; i++) {
        p = index(substr(s, pos), parts[i])
        if (p == 0) return 0
        pos += p - 1 + length(parts[i])
      }
      last = parts[k]
      if (length(s) - pos + 1 < length(last)) return 0
      return substr(s, length(s) - length(last) + 1) == last
    }
    FNR == NR {
      tab1 = index($0, "\t"); rest = substr($0, tab1 + 1); tab2 = index(rest, "\t")
      ne++; e_exact[ne] = (substr($0, 1, tab1 - 1) == "e")
      e_line[ne] = substr(rest, 1, tab2 - 1); e_text[ne] = substr(rest, tab2 + 1)
      next
    }
    {
      s = replace_all(replace_all($0, home, "/home/you"), root, "/path/to/liballocator")
      no++; o_loose[no] = norm(s, 0); o_exact[no] = norm(s, 1)
    }
    END {
      for (i = 1; i <= ne; i++) {
        want = norm(e_text[i], e_exact[i])
        if (want == "" || want == "...") continue
        found = 0
        for (j = 1; j <= no && !found; j++)
          found = glob_match(e_exact[i] ? o_exact[j] : o_loose[j], want)
        if (!found) { printf "  line %d: %s\n", e_line[i], e_text[i]; missing++ }
      }
      exit missing > 0
    }' "$1" "$2"
}

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
  lacking=""
  if [ "$rc" -eq "$status" ] && [ -f "$work/blocks/$n.expect" ]; then
    lacking=$(missing_lines "$work/blocks/$n.expect" "$dir/out" "$dir/home")
  fi
  if [ "$rc" -eq "$status" ] && [ -z "$lacking" ]; then
    echo "ok   $where ($((SECONDS - t0)) s)"
    [ "${DOCS_TEST_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$dir/out"
  else
    failed=$((failed + 1))
    why="exit status $rc, expected $status"
    [ "$rc" -eq 124 ] && why="timed out after $timeout_s s"
    [ -n "$lacking" ] && why="the output lacks lines $file shows (see the top of $0):
$lacking"
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
