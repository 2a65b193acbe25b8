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
 *                     for CNN_FB filters and p < Lr (Lr a multiple of CNN_PB).
 * cnn_dw_row_<t>:     dw[f][j] = sum_n sum_p dzw[n][f0 + f][p] * xrow[n*ss + j + p]
 *                     for CNN_FB filters and j < KW (Lr a multiple of CNN_PB).
 */
#ifndef CNNCORE_MICROKERNELS_H
#define CNNCORE_MICROKERNELS_H

#include <stddef.h>
#include <string.h>

#define CNN_FB 4     /* filters per tile */
#define CNN_PB 32    /* wide-row positions per forward tile */
#define CNN_JB 7     /* filter columns per filter-gradient pass */
#define CNN_VBYTES 64

#if defined(__GNUC__) || defined(__clang__)
#define CNN_VECTORS 1
typedef float cnn_vec_f __attribute__((vector_size(CNN_VBYTES), aligned(4), may_alias));
typedef double cnn_vec_d __attribute__((vector_size(CNN_VBYTES), aligned(8), may_alias));
typedef int cnn_mask_f __attribute__((vector_size(CNN_VBYTES)));          /* lane indices */
typedef long long cnn_mask_d __attribute__((vector_size(CNN_VBYTES)));
#define CNN_ALWAYS_INLINE static inline __attribute__((always_inline))
#define CNN_RESTRICT __restrict__
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
