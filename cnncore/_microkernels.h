/* Register tiles of the convolution loops, for float and double.
 *
 * The loop nests, threading and memoryviews live in _kernels.pyx; these two
 * innermost tiles are written in C because their accumulators must stay in
 * vector registers for the whole reduction, and gcc does not keep an array
 * tile in registers when it is written as the plain loops Cython generates
 * (measured: 16 GFLOP/s there against several times that here). With GCC or
 * Clang the tiles use the compilers' portable vector extensions, which map
 * to whatever vector width the build targets (see setup.py, CNNCORE_ARCH);
 * other compilers get the same arithmetic as scalar loops.
 *
 * cnn_wide_block_<t>: out[f][p] = b[f] + sum_t wt[f][t] * x0[off[t] + p]
 *                     for CNN_FB filters and p < Lr (Lr a multiple of CNN_PB),
 *                     in tiles of CNN_FB filters x up to CNN_NVMAX vectors.
 * cnn_dw_taps_<t>:    dw[f][t] = sum_n sum_p g[n*gs + f*gf + p] * x[n*ss + off[t] + p]
 *                     for CNN_FB filters and T <= CNN_TC taps (p < Lr, a multiple of CNN_PB;
 *                     a filter's rows gf >= Lr apart),
 *                     in tiles of CNN_FB filters x up to CNN_JB taps whose partial
 *                     sums wait in L1 while the tile moves on to the next taps.
 * cnn_dwf_taps_<t>:   the same sums by vectors of filters, for layers whose filters
 *                     fill whole vectors: out[f][t] = sum_n sum_p g[n][p][f] *
 *                     x[n*ss + pos[p] + off[t]] over the valid positions p only (dz
 *                     laid out positions-major, pos[] the input offset of each), each
 *                     a chain of multiply-adds in (n, p) order, up to CNN_FJ taps a tile.
 */
#ifndef CNNCORE_MICROKERNELS_H
#define CNNCORE_MICROKERNELS_H

#include <stddef.h>
#include <string.h>
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#define CNN_FB 4     /* filters per tile */
#define CNN_PB 16    /* wide rows are padded to a multiple of this many positions */
#define CNN_TC 30    /* taps per filter-gradient call at most (their partial sums stay in L1) */
/* The target's vector width and register file. With AVX-512's 32 registers a
   forward tile holds CNN_FB x CNN_NVMAX = 24 accumulators and the 6 input vectors
   they share, a filter-gradient tile CNN_FB x CNN_JB = 24, its 6 input vectors and a dz vector;
   with 16 registers (AVX2, SSE, NEON) smaller tiles fit without spills. 64-byte
   vectors on a narrower target would be emulated with two or four registers each
   (and spilled). */
#if defined(__AVX512F__)
#define CNN_VBYTES 64
#define CNN_NVMAX 6  /* vectors of positions per forward tile */
#define CNN_JB 6     /* taps per filter-gradient tile */
#define CNN_FJ 24    /* taps per tile of the filter gradient by vectors of filters */
#define CNN_DR 4     /* rows per tile of a dense layer's dot products (x 4 units) */
#define CNN_RV 4     /* vectors of columns per tile of a dense layer's sums of rows (x 4 rows) */
#else
#if defined(__AVX__)
#define CNN_VBYTES 32
#else
#define CNN_VBYTES 16
#endif
#if defined(__FMA__) || defined(__aarch64__)
#define CNN_NVMAX 3  /* 4 x 3 accumulators, 3 input vectors and a weight: 16 registers */
#define CNN_JB 3     /* 4 x 3 accumulators, 3 input vectors and a dz vector: 16 registers */
#else
/* Without FMA each product needs a register of its own: 4 x 3 accumulators spilt, and gcc
   moved them round the registers at every tap (SSE2: the forward pass 20 % slower than with
   4 x 2, measured on an AMD EPYC, Zen 4). */
#define CNN_NVMAX 2
#define CNN_JB 2
#endif
#define CNN_FJ 12
#define CNN_DR 2
#define CNN_RV 2     /* (4 rows x 4 vectors would spill 16 registers) */
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CNN_VECTORS 1
typedef float cnn_vec_f __attribute__((vector_size(CNN_VBYTES), aligned(4), may_alias));
typedef double cnn_vec_d __attribute__((vector_size(CNN_VBYTES), aligned(8), may_alias));
typedef int cnn_mask_f __attribute__((vector_size(CNN_VBYTES)));          /* lane indices */
typedef long long cnn_mask_d __attribute__((vector_size(CNN_VBYTES)));
#define CNN_ALWAYS_INLINE static inline __attribute__((always_inline))
#define CNN_RESTRICT __restrict__
/* CNN_IN_REGISTER(v): v stays in a vector register from here on. Some tunings (gcc 12's
   -march=native on AMD Zen 4, which it takes for Zen 3) load a tile's input vectors again
   for every filter, as memory operands, rather than keep them: twice the loads, each split
   over two cache lines, for the same multiply-adds (the filter gradient at half speed). An
   empty asm that claims to change v leaves the compiler no copy in memory to load again. */
#if defined(__AVX512F__)
#define CNN_IN_REGISTER(v) __asm__("" : "+v"(v))
#elif defined(__SSE2__)
#define CNN_IN_REGISTER(v) __asm__("" : "+x"(v))
#elif defined(__aarch64__)
#define CNN_IN_REGISTER(v) __asm__("" : "+w"(v))
#else
#define CNN_IN_REGISTER(v) ((void)0)
#endif
#else
#define CNN_ALWAYS_INLINE static inline
#define CNN_RESTRICT
#endif

#define CNN_REAL float
#define CNN_VEC cnn_vec_f
#define CNN_MASK cnn_mask_f
#define CNN_SUFFIX(name) name##_f
#include "_microkernels_impl.h"
#undef CNN_REAL
#undef CNN_VEC
#undef CNN_MASK
#undef CNN_SUFFIX

#define CNN_REAL double
#define CNN_VEC cnn_vec_d
#define CNN_MASK cnn_mask_d
#define CNN_SUFFIX(name) name##_d
#include "_microkernels_impl.h"
#undef CNN_REAL
#undef CNN_VEC
#undef CNN_MASK
#undef CNN_SUFFIX

#endif
