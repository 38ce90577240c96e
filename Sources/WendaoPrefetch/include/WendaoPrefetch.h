#ifndef WENDAO_PREFETCH_H
#define WENDAO_PREFETCH_H

/// Asks the processor to bring the cache line holding `p` into its caches ahead of a read
/// (`prefetcht0` on x86-64; a no-op where the compiler has no such instruction). Never faults,
/// whatever `p` is. Swift has no spelling for it: clang's `_mm_prefetch` is a macro, and the
/// `_m_prefetch` builtin that Swift does import is dropped by its compiler.
static inline __attribute__((always_inline)) void wendao_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

#endif
