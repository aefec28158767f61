#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Smoke: bigger programs (sqlite3, xz, gcc, git) on liballocator give the
# same stdout and exit status as on glibc.  See helper.bash.

load helper

setup() { smoke_setup; }

@test "sqlite3: inserts and a GROUP BY" {
    skip_unless_installed sqlite3
    {
        echo "CREATE TABLE t(id INTEGER PRIMARY KEY, grp TEXT, val INTEGER, pad TEXT);"
        echo "BEGIN;"
        awk 'BEGIN { for (i = 0; i < 20000; i++)
            printf "INSERT INTO t(grp, val, pad) VALUES (%c%s%c, %d, %c%s%c);\n",
                39, "g" (i * 7919 % 97), 39, i * 31 % 1000, 39, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), 39 }'
        echo "COMMIT;"
        cat <<'SQL'
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 150000)
INSERT INTO t(grp, val, pad) SELECT 'g' || (i * 7919 % 97), i * 31 % 1000,
    substr(printf('%0400d', 0), 1, i % 400) FROM c;
CREATE INDEX t_grp ON t(grp, val);
SELECT grp, count(*), sum(val), max(length(pad)), group_concat(DISTINCT val % 7)
    FROM t GROUP BY grp ORDER BY grp;
DELETE FROM t WHERE val % 3 = 0;
SELECT count(*), total(val), count(DISTINCT pad) FROM t;
SELECT grp, avg(val) FROM t WHERE grp LIKE 'g1%' GROUP BY grp HAVING count(*) > 100 ORDER BY 2 DESC, 1;
SQL
    } >script.sql
    compare_under_allocator --stdin script.sql sqlite3 -batch :memory:
    expect_status 0
    expect_output
}

@test "xz -T2: compress and decompress round trip" {
    skip_unless_installed xz
    # 12 MB of compressible text: four 3 MiB blocks at -1, so both threads
    # get work.
    awk 'BEGIN { x = 7; for (i = 0; i < 250000; i++) {
        x = (x * 16807) % 2147483647
        printf "%08d %s %d\n", i, substr("the quick brown fox jumps over the lazy dog", 1 + x % 20), x % 1000 } }' >input
    compare_under_allocator xz -T2 -1 -c input
    expect_status 0
    expect_output
    cp "$SMOKE_OUT" input.xz
    compare_under_allocator xz -T2 -dc input.xz
    expect_status 0
    cmp input "$SMOKE_OUT"
    compare_under_allocator xz -T2 -t -v input.xz
    expect_status 0
}

@test "gcc: compile and run a small C program" {
    skip_unless_installed gcc
    cat >prog.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char *text; unsigned key; };

static int by_key(const void *a, const void *b)
{
    unsigned x = (*(struct node *const *)a)->key, y = (*(struct node *const *)b)->key;
    return (x > y) - (x < y);
}

int main(void)
{
    enum { N = 100000 };
    struct node *head = NULL, **all = malloc(N * sizeof *all);
    unsigned x = 1;
    unsigned long sum = 0;
    for (int i = 0; i < N; i++) {
        struct node *n = malloc(sizeof *n);
        x = x * 1103515245u + 12345u;
        n->key = x >> 8;
        n->text = malloc(1 + x % 300);
        memset(n->text, 'a' + i % 26, x % 300);
        n->text[x % 300] = '\0';
        n->next = head;
        head = all[i] = n;
    }
    qsort(all, N, sizeof *all, by_key);
    for (int i = 0; i < N; i += 2) {
        all[i]->text = realloc(all[i]->text, 5000 + i % 3000);
        strcat(all[i]->text, "!");
    }
    for (int i = 0; i < N; i++) sum += all[i]->key % 1000 + strlen(all[i]->text);
    printf("%u %u %lu\n", all[0]->key, all[N - 1]->key, sum);
    for (struct node *n = head, *next; n; n = next) {
        next = n->next;
        free(n->text);
        free(n);
    }
    free(all);
    return 7;
}
C
    # The compiler proper, its output on stdout.
    compare_under_allocator gcc -O2 -S -o - prog.c
    expect_status 0
    expect_output
    # The whole driver (cc1, as, collect2, ld all run on the allocator);
    # the executable must be the one glibc's gcc links.
    gcc -O2 -Wall -o prog.glibc prog.c
    run_under_allocator gcc -O2 -Wall -o prog prog.c
    cmp prog.glibc prog
    compare_under_allocator ./prog
    expect_status 7
    expect_output
}

@test "git: init, add, commit and read back" {
    skip_unless_installed git
    # Everything a commit hash depends on, fixed; no user or system config.
    export HOME="$BATS_TEST_TMPDIR/home" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/home/.config"
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    export GIT_AUTHOR_NAME="Smoke Test" GIT_AUTHOR_EMAIL=smoke@example.invalid
    export GIT_COMMITTER_NAME="Smoke Test" GIT_COMMITTER_EMAIL=smoke@example.invalid
    export GIT_AUTHOR_DATE="2024-01-02T03:04:05+00:00" GIT_COMMITTER_DATE="2024-01-02T03:04:05+00:00"
    mkdir -p "$HOME"
    make_tree tree
    # The same repository twice: with git on glibc (ref) and on the allocator.
    cp -a tree ref
    git init -q -b main ref
    git -C ref add -A
    git -C ref commit -q -m "smoke: first commit"
    git -C ref rm -q -r d1
    git -C ref commit -q -m "smoke: drop d1"
    cp -a tree repo
    run_under_allocator git init -q -b main repo
    run_under_allocator git -C repo add -A
    run_under_allocator git -C repo commit -q -m "smoke: first commit"
    run_under_allocator git -C repo rm -q -r d1
    run_under_allocator git -C repo commit -q -m "smoke: drop d1"

    compare_under_allocator git -C repo log --format=%H%n%s
    expect_status 0
    expect_output
    # Deterministic hashes: the allocator's git made the same commits.
    [ "$(cat "$SMOKE_OUT")" = "$(git -C ref log --format=%H%n%s)" ]
    compare_under_allocator git -C repo cat-file -p HEAD
    expect_status 0
    compare_under_allocator git -C repo cat-file -p 'HEAD~1^{tree}'
    expect_status 0
    expect_output
    compare_under_allocator git -C repo cat-file --batch-all-objects --batch-check
    expect_status 0
    expect_output
    compare_under_allocator git -C repo fsck --full --strict
    expect_status 0
}
