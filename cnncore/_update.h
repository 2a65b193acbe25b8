/* The Adam update as one pass over the parameters, for float and double.
 *
 * It does, element by element and in the same order, the operations
 * cnncore.optim.Adam did as a dozen NumPy array passes, each result rounded
 * to the element type, so the weights come out bit for bit the same (the
 * test compares it with the NumPy twin in cnncore.reference). For that the
 * compiler must not fuse a multiply and an add into one rounding (FMA):
 * contraction is switched off for this function only; the convolution tiles
 * keep it.
 *
 *   g  = grad, or  (p·wd)[·mask] + grad          weight decay (decay = 1, 2 with a mask)
 *   m  = m·b1 + g·(1 − b1)                       then 0 where |m| < tiny (flush_m)
 *   v  = v·b2 + (g·g)·(1 − b2)                   then 0 where |v| < tiny (flush_v)
 *   p -= (m / ((√v)·inv_sqrt_c2 + eps))·step
 */
#ifndef CNNCORE_UPDATE_H
#define CNNCORE_UPDATE_H

#include <math.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
/* (clang contracts only within one expression, and every operation below is a
   statement of its own) */

#define CNN_ADAM(NAME, REAL, ABS, SQRT)                                                     \
static void NAME(REAL *p, const REAL *grad, REAL *m, REAL *v, const REAL *mask,            \
                 ptrdiff_t n, int decay, REAL wd, REAL b1, REAL omb1, REAL b2, REAL omb2,   \
                 REAL inv_sqrt_c2, REAL eps, REAL step, REAL tiny, int flush_m, int flush_v) \
{                                                                                          \
    for (ptrdiff_t i = 0; i < n; i++) {                                                    \
        REAL g = grad[i], t, mi, vi;                                                       \
        if (decay) {                                                                       \
            t = p[i] * wd;                                                                 \
            if (decay == 2)                                                                \
                t = t * mask[i];                                                           \
            g = t + g;                                                                     \
        }                                                                                  \
        mi = m[i] * b1;                                                                    \
        t = g * omb1;                                                                      \
        mi = mi + t;                                                                       \
        if (flush_m && ABS(mi) < tiny)                                                     \
            mi = 0;                                                                        \
        vi = v[i] * b2;                                                                    \
        t = g * g;                                                                         \
        t = t * omb2;                                                                      \
        vi = vi + t;                                                                       \
        if (flush_v && ABS(vi) < tiny)                                                     \
            vi = 0;                                                                        \
        m[i] = mi;                                                                         \
        v[i] = vi;                                                                         \
        t = SQRT(vi);                                                                      \
        t = t * inv_sqrt_c2;                                                               \
        t = t + eps;                                                                       \
        t = mi / t;                                                                        \
        t = t * step;                                                                      \
        p[i] = p[i] - t;                                                                   \
    }                                                                                      \
}

CNN_ADAM(cnn_adam_f, float, fabsf, sqrtf)
CNN_ADAM(cnn_adam_d, double, fabs, sqrt)
#undef CNN_ADAM

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
