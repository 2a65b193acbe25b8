/* The cheap passes of a training step, for float and double: what happens to
 * a convolution's output before the next layer reads it, and to the gradient
 * arriving at a convolution before its dw and dx loops read it. Each is one
 * pass over the maps where NumPy took several (copy, activation, copy, sum).
 *
 * Activation codes: CNN_ACT_NONE (y = z, dz = dy) and CNN_ACT_RELU
 * (y = z <= 0 ? 0 : z, dz = dy * (z > 0)); element by element these are
 * NumPy's np.maximum(z, 0) and dy * (z > 0), bit for bit (NaN passes through
 * the forward ReLU, -0 becomes +0), so a layer gives the same numbers whether
 * its plan or NumPy applied the activation.
 *
 * cnn_act_plane_<t>:    one (sample, filter) plane: z = src (rows sy apart,
 *                       columns sx apart), y = f(z) (y unused for NONE).
 * cnn_grad_filter_<t>:  one filter f over the whole batch: dz = dy * f'(z),
 *                       dz copied to up to two strided destinations (the
 *                       layouts the dw and dx loops read), and db[f] = the sum
 *                       over positions p (in order) of the sums over samples n
 *                       (in order) of dz, the inner sums kept in acc[Ho*Wo]:
 *                       one order whatever the thread count.
 * cnn_outer_<t>:        out[i][j] = a[i] * b[j].
 */
#ifndef CNNCORE_POINTWISE_H
#define CNNCORE_POINTWISE_H

#include <stddef.h>

#define CNN_ACT_NONE 0
#define CNN_ACT_RELU 1

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

#define CNN_PW_T float
#define CNN_PW_NAME(name) name##_f
#include "_pointwise_impl.h"
#undef CNN_PW_T
#undef CNN_PW_NAME

#define CNN_PW_T double
#define CNN_PW_NAME(name) name##_d
#include "_pointwise_impl.h"
#undef CNN_PW_T
#undef CNN_PW_NAME

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
