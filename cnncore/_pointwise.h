/* The cheap passes of a training step, for float and double: what happens to
 * a convolution's output before the next layer reads it, and to the gradient
 * arriving at a convolution before its dw and dx loops read it. Each is one
 * pass over the maps where NumPy took several (copy, activation, copy, sum).
 *
 * Activation codes (CNN_ACTIVATIONS below): CNN_ACT_NONE (y = z, dz = dy) and CNN_ACT_RELU
 * (y = z <= 0 ? 0 : z, dz = dy * (z > 0)); element by element these are
 * NumPy's np.maximum(z, 0) and dy * (z > 0), bit for bit (NaN passes through
 * the forward ReLU, -0 becomes +0), so a layer gives the same numbers whether
 * its plan or NumPy applied the activation.
 *
 * cnn_act_plane_<t>:    one (sample, filter) plane of src (rows sy apart, columns
 *                       sx apart): z = src unless z is NULL, y = f(src) (y
 *                       unused for NONE).
 * cnn_dz_item_<t>:      dz = dy * f'(z) (z with strides zs; for NONE dz is dy) of a
 *                       few filters and rows of their planes, over the whole batch,
 *                       copied to up to two destinations (the layouts the dw and dx
 *                       loops read), with the sums over samples n (in order) of each
 *                       position kept in acc; db[f] is then the sum over positions
 *                       (cnn_plane_sum): one order whatever the thread count.
 * cnn_slope_plane_<t>:  dz = dy * (z > 0) (ReLU's slope) of one plane.
 * cnn_softmax_xent_<t>: softmax cross-entropy of a batch of logits in one pass.
 */
#ifndef CNNCORE_POINTWISE_H
#define CNNCORE_POINTWISE_H

#include <math.h>
#include <stddef.h>

#include "_microkernels.h"       /* the max-pool tiles */

/* The activations the compiled passes apply: one row each (NAME, name, code). Their
   codes are CNN_ACT_<NAME>, and cnncore.activations reads the names and codes from
   this table (cnncore._kernels.ACTIVATION_CODES): there is no second list. */
#define CNN_ACTIVATIONS(X) X(NONE, none, 0) X(RELU, relu, 1)

#define CNN_ACT_ENUM(NAME, name, code) CNN_ACT_##NAME = code,
#define CNN_ACT_NAME(NAME, name, code) [code] = #name,
#define CNN_ACT_ONE(NAME, name, code) + 1
enum { CNN_ACTIVATIONS(CNN_ACT_ENUM) CNN_ACT_COUNT = 0 CNN_ACTIVATIONS(CNN_ACT_ONE) };
static const char *const cnn_act_names[] = { CNN_ACTIVATIONS(CNN_ACT_NAME) };
#undef CNN_ACT_ENUM
#undef CNN_ACT_NAME
#undef CNN_ACT_ONE

#if defined(__GNUC__) || defined(__clang__)
#define CNN_PW_RESTRICT __restrict__
#define CNN_PW_VECTORS 1
#else
#define CNN_PW_RESTRICT
#endif

/* Short rows: a loop turned into a memcpy call costs more than the copy. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* With AVX-512 a short row is whole vectors with a masked last one, instead of a
   vector loop that rows of 7 to 28 elements mostly skip and a scalar remainder. */
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CNN_PW_MASKED 1
#endif

#define CNN_PW_T float
#define CNN_PW_NAME(name) name##_f
#define CNN_PW_EXP expf
#define CNN_PW_LOG logf
#ifdef CNN_PW_MASKED
#define CNN_PW_LN 16
#define CNN_PW_VEC __m512
#define CNN_PW_LOAD(m, p) _mm512_maskz_loadu_ps((__mmask16)(m), p)
#define CNN_PW_STORE(p, m, v) _mm512_mask_storeu_ps(p, (__mmask16)(m), v)
#define CNN_PW_GT0(v) _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ)
#define CNN_PW_LE0(v) _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LE_OQ)
#define CNN_PW_ONES(m) _mm512_maskz_mov_ps((__mmask16)(m), _mm512_set1_ps(1.0f))
#define CNN_PW_ZERO_AT(v, m) _mm512_mask_mov_ps(v, (__mmask16)(m), _mm512_setzero_ps())
#define CNN_PW_MUL(a, b) _mm512_mul_ps(a, b)
#endif
#include "_pointwise_impl.h"
#undef CNN_PW_T
#undef CNN_PW_NAME

#undef CNN_PW_EXP
#undef CNN_PW_LOG
#define CNN_PW_T double
#define CNN_PW_NAME(name) name##_d
#define CNN_PW_EXP exp
#define CNN_PW_LOG log
#ifdef CNN_PW_MASKED
#undef CNN_PW_LN
#undef CNN_PW_VEC
#undef CNN_PW_LOAD
#undef CNN_PW_STORE
#undef CNN_PW_GT0
#undef CNN_PW_LE0
#undef CNN_PW_ONES
#undef CNN_PW_ZERO_AT
#define CNN_PW_LN 8
#define CNN_PW_VEC __m512d
#define CNN_PW_LOAD(m, p) _mm512_maskz_loadu_pd((__mmask8)(m), p)
#define CNN_PW_STORE(p, m, v) _mm512_mask_storeu_pd(p, (__mmask8)(m), v)
#define CNN_PW_GT0(v) _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_GT_OQ)
#define CNN_PW_LE0(v) _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_LE_OQ)
#define CNN_PW_ONES(m) _mm512_maskz_mov_pd((__mmask8)(m), _mm512_set1_pd(1.0))
#define CNN_PW_ZERO_AT(v, m) _mm512_mask_mov_pd(v, (__mmask8)(m), _mm512_setzero_pd())
#undef CNN_PW_MUL
#define CNN_PW_MUL(a, b) _mm512_mul_pd(a, b)
#endif
#include "_pointwise_impl.h"
#undef CNN_PW_T
#undef CNN_PW_NAME

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
