#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: sampled guard pages (issue 15) raise no false alarm.  Stock
# programs and tests of the suite run with ALLOCATOR_GUARD_SAMPLE=1 (every
# allocation guarded while the pool has a free slot) and must behave as on
# glibc; the statistics prove that blocks really were guarded (a guard
# sampler silently off would pass every comparison).  See helper.bash.

load helper

setup() {
    smoke_setup
    export ALLOCATOR_GUARD_SAMPLE=1
}

# guarded_some: the last run under the allocator guarded at least one block.
guarded_some() {
    local made
    made=$(smoke_stats_field "$SMOKE_ERR" "$smoke_pid" guard_blocks)
    if [ -z "$made" ] || [ "$made" -eq 0 ]; then
        echo "smoke: no block was guarded (guard_blocks '${made}'); the statistics:" >&2
        head -n 60 "$SMOKE_ERR" >&2
        return 1
    fi
}

@test "guard pages: ls -la, sort, find" {
    compare_under_allocator ls -la /usr/bin /usr/lib
    expect_output
    guarded_some
    seq 20000 | awk '{ print ($1 * 7919) % 10007, $1 }' >numbers.txt
    compare_under_allocator sort -n numbers.txt
    expect_output
    guarded_some
    compare_under_allocator find /usr/share/doc -name '*.gz' -size +1k
    guarded_some
}

@test "guard pages: python3 -c, with strings, dicts and lists" {
    skip_unless_installed /usr/bin/python3
    compare_under_allocator /usr/bin/python3 -c '
import json, re, collections
words = collections.Counter()
for i in range(30000):
    words[str(i * 7919 % 1009)] += 1
    s = json.dumps({"k": list(range(i % 50)), "s": "x" * (i % 300)})
    assert json.loads(s)["s"] == "x" * (i % 300)
print(len(words), sum(words.values()), re.sub(r"[0-9]", "d", "a1b22c333"))'
    expect_output
    guarded_some
}

@test "guard pages: bash, sed, awk" {
    compare_under_allocator bash -c 'for i in $(seq 300); do x="$x$i"; done; echo ${#x}'
    expect_output
    guarded_some
    compare_under_allocator sed -e 's/a/b/g' /etc/services
    expect_output
    guarded_some
    compare_under_allocator awk '{ n[$1]++ } END { for (k in n) c++; print c }' /etc/services
    expect_output
    guarded_some
}

# A JVM installs its own SIGSEGV handler when it starts, after the
# allocator's, and takes faults on purpose (implicit null checks of
# compiled code throw NullPointerException through it).  It must run as
# on glibc; a fault on a guard page would reach its handler (an hs_err
# crash report), docs/DEBUGGING.md "Guard pages".
@test "guard pages: java with its own SIGSEGV handler and NullPointerExceptions" {
    skip_unless_installed java javac
    cat >Npe.java <<'JAVA'
public class Npe {
    static int len(String s) { return s.length(); }
    public static void main(String[] a) {
        int caught = 0;
        long sum = 0;
        for (int i = 0; i < 200000; i++) {
            String s = (i % 3 == 0) ? null : ("x" + i);
            try { sum += len(s); } catch (NullPointerException e) { caught++; }
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20000; i++) sb.append(i % 10);
        System.out.println("caught " + caught + " sum " + sum + " len " + sb.length());
    }
}
JAVA
    env -u LD_PRELOAD javac Npe.java
    compare_under_allocator java -cp . Npe
    expect_output
    guarded_some
}
