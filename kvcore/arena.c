/*
** arena.c — a bump allocator for memory that dies all at once.
**
** A transaction's write buffer and read spans, and each generation of the
** timestamp cache, allocate many small pieces that are freed together; an
** arena turns those into a few block allocations.  Blocks double from 4 KiB
** to 2 MiB; a request larger than a quarter block gets a block of its own,
** so a 40 MB value wastes nothing.  Full-size blocks are huge-page aligned
** (a 200k-row transaction took half its page faults in its arena).  Not
** thread safe.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct kv_arena_block {
  kv_arena_block *next;
  size_t size;
  max_align_t data[];
};

#define ARENA_MIN 4096
#define ARENA_MAX (2u << 20)

void kv_arena_init(kv_arena *a) {
  memset(a, 0, sizeof(*a));
  a->next_size = ARENA_MIN;
}

/* A block of ARENA_MAX bytes in all, aligned to it and backed by one huge
** page where the kernel allows (THP "madvise"): a large transaction's
** buffer then takes one page fault per 2 MiB instead of 512. */
static kv_arena_block *arena_huge_block(void) {
  void *p = NULL;
  if (posix_memalign(&p, ARENA_MAX, ARENA_MAX) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, ARENA_MAX, MADV_HUGEPAGE);
#endif
  return p;
}

static void *arena_new_block(kv_arena *a, size_t n, bool dedicated) {
  size_t size = dedicated ? n : a->next_size;
  kv_arena_block *b;
  if (!dedicated && size == ARENA_MAX) {
    b = arena_huge_block();
    size = ARENA_MAX - sizeof(kv_arena_block);
  } else {
    b = malloc(sizeof(kv_arena_block) + size);
  }
  if (!b) return NULL;
  b->size = size;
  a->bytes += size;
  if (dedicated && a->head) {
    /* Keep bumping in the current block: link the big one behind it. */
    b->next = a->head->next;
    a->head->next = b;
    return b->data;
  }
  b->next = a->head;
  a->head = b;
  a->cur = (char *)b->data + n;
  a->left = size - n;
  if (!dedicated && a->next_size < ARENA_MAX) a->next_size *= 2;
  return b->data;
}

void *kv_arena_alloc(kv_arena *a, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n == 0) n = 8;
  if (n <= a->left) {
    void *p = a->cur;
    a->cur += n;
    a->left -= n;
    return p;
  }
  if (n > a->next_size / 4) return arena_new_block(a, n, true);
  return arena_new_block(a, n, false);
}

void *kv_arena_dup(kv_arena *a, const void *p, size_t n) {
  void *q = kv_arena_alloc(a, n);
  if (q && n) memcpy(q, p, n);
  return q;
}

void kv_arena_free(kv_arena *a) {
  kv_arena_block *b = a->head;
  while (b) {
    kv_arena_block *next = b->next;
    free(b);
    b = next;
  }
  kv_arena_init(a);
}
