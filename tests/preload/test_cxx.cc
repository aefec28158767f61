// SPDX-License-Identifier: MIT
/*
 * operator new and delete as liballocator.so exports them (preload/
 * interpose.c), in a C++ program linked against it: they are the
 * library's, not libstdc++'s; new(0) gives distinct blocks; new[], sized
 * and aligned delete work; an over-aligned type's new is an aligned slot;
 * a new that cannot be served calls the new
 * handler until the handler unsets itself, then throws std::bad_alloc
 * through the library's frames; libstdc++'s nothrow new (which calls ours
 * and catches) returns nullptr; a second delete is reported as a double
 * free and aborts, under operator delete's name when the delete is sized.
 * Run again by ctest with ALLOCATOR_CHECK=1 (test_cxx_check): then a sized
 * delete whose size is not the one the block was allocated with is
 * reported and aborts, for slots, heap blocks and mapped ones.
 */
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "allocator.h"
#include "../testhelper.h"

// Hides a size from the compiler, which would otherwise reject an
// impossible one at compile time, or see through a new/delete pair.
static std::size_t opaque(std::size_t v)
{
    volatile std::size_t x = v;
    return x;
}

// The operators, called through pointers the compiler cannot see
// through: it may delete a new/delete pair whose block is unused.
static void *(*volatile op_new)(std::size_t) = &::operator new;
static void *(*volatile op_new_array)(std::size_t) = &::operator new[];
static void (*volatile op_delete)(void *) noexcept = &::operator delete;
static void (*volatile op_delete_array)(void *) noexcept = &::operator delete[];
static void (*volatile op_delete_sized)(void *, std::size_t) noexcept = &::operator delete;
static void (*volatile op_delete_array_sized)(void *, std::size_t) noexcept =
    &::operator delete[];
// The aligned ones (C++17).
static void *(*volatile op_new_aligned)(std::size_t, std::align_val_t) = &::operator new;
static void *(*volatile op_new_array_aligned)(std::size_t, std::align_val_t) = &::operator new[];
static void (*volatile op_delete_aligned)(void *, std::align_val_t) noexcept = &::operator delete;
static void (*volatile op_delete_array_aligned)(void *, std::align_val_t) noexcept =
    &::operator delete[];
static void (*volatile op_delete_sized_aligned)(void *, std::size_t, std::align_val_t) noexcept =
    &::operator delete;
static void (*volatile op_delete_array_sized_aligned)(void *, std::size_t,
                                                      std::align_val_t) noexcept =
    &::operator delete[];

static bool in_liballocator(void *fn)
{
    Dl_info info;
    return dladdr(fn, &info) != 0 && info.dli_fname != nullptr &&
           strstr(info.dli_fname, "liballocator") != nullptr;
}

static void test_binding()
{
    void *const ops[] = {(void *)op_new,
                         (void *)op_new_array,
                         (void *)op_delete,
                         (void *)op_delete_array,
                         (void *)op_delete_sized,
                         (void *)op_delete_array_sized,
                         (void *)op_new_aligned,
                         (void *)op_new_array_aligned,
                         (void *)op_delete_aligned,
                         (void *)op_delete_array_aligned,
                         (void *)op_delete_sized_aligned,
                         (void *)op_delete_array_sized_aligned};
    for (void *op : ops)
        CHECK(in_liballocator(op));
    // And they count as the library's allocations and frees.
    mem_stats_t before = mem_get_stats();
    void *p = op_new(opaque(24));
    CHECK(p != nullptr && mem_usable_size(p) >= 24);
    mem_stats_t mid = mem_get_stats();
    op_delete(p);
    mem_stats_t after = mem_get_stats();
    CHECK_EQ(mid.num_allocations, before.num_allocations + 1);
    CHECK_EQ(after.num_frees, mid.num_frees + 1);
    // 16-aligned, as clang assumes of every operator new: it zeroes a new
    // 24-byte object with a movaps, which faulted on the 8-aligned slots
    // of a 24-byte class.  Three: a run of slots, odd ones among them.
    void *q[3];
    for (void *&one : q) {
        one = op_new(opaque(24));
        CHECK((uintptr_t)one % 16 == 0);
    }
    for (void *one : q)
        op_delete(one);
}

static void test_shapes()
{
    void *a = op_new(opaque(0)), *b = op_new(opaque(0));
    CHECK(a != nullptr && b != nullptr && a != b);
    op_delete(a);
    op_delete(b);
    char *arr = static_cast<char *>(op_new_array(opaque(100)));
    arr[0] = arr[99] = 'x';
    op_delete_array(arr);
    void *s = op_new(opaque(48));
    op_delete_sized(s, 48);
    void *t = op_new_array(opaque(3000)); // above the slab classes
    op_delete_array_sized(t, 3000);
    // The aligned new and delete (ours: aligned_alloc's path and free's).
    void *al = ::operator new(opaque(100), std::align_val_t(256));
    CHECK(((std::uintptr_t)al & 255) == 0 && mem_usable_size(al) >= 100);
    ::operator delete(al, std::align_val_t(256));
    // Objects, the usual way.
    int *obj = new int(7);
    CHECK(*obj == 7);
    delete obj;
}

// An over-aligned type (C++17: the aligned new, which takes aligned_alloc's
// path; libstdc++'s rounds the size up and calls it) is a slot of a class whose
// slots are all so aligned, its usable size the class's: many at once,
// each where the others are not, and no heap block split for each (a
// heap block aligned by splitting off its front was the way before).
struct alignas(64) line_t {
    unsigned char bytes[72];
};

static void test_aligned_new()
{
    enum { N = 500 };
    static line_t *v[N];
    std::size_t splits = mem_get_stats().num_splits;
    for (int i = 0; i < N; i++) {
        v[i] = new line_t();
        CHECK(((std::uintptr_t)v[i] & 63) == 0);
        CHECK_EQ(mem_usable_size(v[i]), 128); // 72 rounded to 128: the 128-byte class
        v[i]->bytes[0] = v[i]->bytes[71] = (unsigned char)i;
    }
    CHECK(mem_get_stats().num_splits - splits < N / 10); // slab refills only
    for (int i = 0; i < N; i++)
        CHECK(v[i]->bytes[0] == (unsigned char)i && v[i]->bytes[71] == (unsigned char)i);
    for (int i = 0; i < N; i++)
        delete v[i];
    line_t *arr = new line_t[3];
    CHECK(((std::uintptr_t)arr & 63) == 0);
    delete[] arr;
}

static int handler_calls;
static void give_up_on_third_call()
{
    if (++handler_calls == 3)
        std::set_new_handler(nullptr);
}

// Whether f() throws std::bad_alloc.
template <class F> static bool throws_bad_alloc(F f)
{
    try {
        f();
    } catch (const std::bad_alloc &) {
        return true;
    }
    return false;
}

static void test_failure()
{
    const std::size_t huge = opaque(SIZE_MAX / 2);
    CHECK(throws_bad_alloc([&] { op_new(huge); }));
    // The new handler runs after each failed attempt until it is unset.
    std::set_new_handler(give_up_on_third_call);
    CHECK(throws_bad_alloc([&] { op_new_array(huge); }));
    CHECK_EQ(handler_calls, 3);
    CHECK(std::get_new_handler() == nullptr);
    // The aligned new: the same handler loop, then std::bad_alloc; an
    // alignment that is not a power of two (0 included) throws without a
    // handler call.
    std::set_new_handler(give_up_on_third_call);
    handler_calls = 0;
    CHECK(throws_bad_alloc([&] { op_new_aligned(huge, std::align_val_t(64)); }));
    CHECK_EQ(handler_calls, 3);
    std::set_new_handler(give_up_on_third_call);
    handler_calls = 0;
    CHECK(throws_bad_alloc([] { op_new_aligned(opaque(64), std::align_val_t(opaque(48))); }));
    CHECK(throws_bad_alloc([] { op_new_aligned(opaque(64), std::align_val_t(opaque(0))); }));
    CHECK_EQ(handler_calls, 0);
    std::set_new_handler(nullptr);
    // libstdc++'s nothrow new catches what ours throws.
    CHECK(::operator new(huge, std::nothrow) == nullptr);
    CHECK(::operator new[](huge, std::nothrow) == nullptr);
    CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
    // And the library still serves afterwards.
    void *p = op_new(opaque(64));
    CHECK(p != nullptr);
    op_delete(p);
}

static void delete_twice()
{
    void *p = op_new(opaque(40));
    op_delete(p);
    op_delete(p);
}

static void delete_sized_twice()
{
    void *p = op_new(opaque(40));
    op_delete_sized(p, 40);
    op_delete_sized(p, 40);
}

static void test_double_delete()
{
    char err[4096];
    int status = run_child(delete_twice, err, sizeof err);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(err, "double free") != nullptr);
    status = run_child(delete_sized_twice, err, sizeof err);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(err, "operator delete(): double free") != nullptr);
}

// Checking mode: sized deletes of the size allocated pass, at every
// layout (slots, medium and big heap blocks, a mapped block, an array).
static void test_sized_deletes_pass()
{
    const std::size_t sizes[] = {1, 24, 40, 300, 1032, 3000, 20000, 100000, 300000};
    mem_stats_t before = mem_get_stats();
    for (std::size_t n : sizes) {
        void *p = op_new(opaque(n));
        CHECK(mem_usable_size(p) == n); // checking mode: the request
        op_delete_sized(p, n);
        void *a = op_new_array(opaque(n));
        op_delete_array_sized(a, n);
        void *al = op_new_aligned(opaque(n), std::align_val_t(64));
        CHECK(((std::uintptr_t)al & 63) == 0);
        op_delete_sized_aligned(al, n, std::align_val_t(64));
        void *aa = op_new_array_aligned(opaque(n), std::align_val_t(128));
        op_delete_array_sized_aligned(aa, n, std::align_val_t(128));
    }
    mem_stats_t after = mem_get_stats();
    CHECK_EQ(after.current_usage, before.current_usage);
    CHECK_EQ(after.num_frees, before.num_frees + 4 * (sizeof sizes / sizeof sizes[0]));
}

static std::size_t mismatch_alloc, mismatch_delete;
static void delete_with_wrong_size() { op_delete_sized(op_new(mismatch_alloc), mismatch_delete); }
static void delete_aligned_with_wrong_size()
{
    const std::align_val_t al = std::align_val_t(64);
    op_delete_sized_aligned(op_new_aligned(mismatch_alloc, al), mismatch_delete, al);
}

static void test_sized_delete_mismatch()
{
    // A slot (a derived object deleted as its base), a medium heap block,
    // a mapped block, and a size that rounds to the same slot class.
    const std::size_t cases[][2] = {{40, 24}, {5000, 4096}, {300000, 1}, {40, 48}};
    for (const auto &c : cases) {
        mismatch_alloc = opaque(c[0]);
        mismatch_delete = opaque(c[1]);
        char err[4096];
        int status = run_child(delete_with_wrong_size, err, sizeof err);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        char want[96];
        snprintf(want, sizeof want, "deleted as %zu bytes, allocated as %zu", c[1], c[0]);
        CHECK(strstr(err, "operator delete(): size mismatch at 0x") != nullptr);
        CHECK(strstr(err, want) != nullptr);
    }
    // The aligned sized delete is checked the same way.
    mismatch_alloc = opaque(192);
    mismatch_delete = opaque(128);
    char err[4096];
    int status = run_child(delete_aligned_with_wrong_size, err, sizeof err);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(err, "deleted as 128 bytes, allocated as 192") != nullptr);
}

int main()
{
    const char *check = getenv("ALLOCATOR_CHECK");
    if (check != nullptr && strcmp(check, "1") == 0) { // test_cxx_check
        test_binding();
        test_sized_deletes_pass();
        test_sized_delete_mismatch();
        test_double_delete();
        return test_report("test_cxx_check");
    }
    test_binding();
    test_shapes();
    test_aligned_new();
    test_failure();
    test_double_delete();
    return test_report("test_cxx");
}
