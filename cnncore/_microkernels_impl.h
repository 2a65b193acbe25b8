/* Included twice by _microkernels.h, once per element type (CNN_REAL). */

#ifdef CNN_VECTORS
enum { CNN_SUFFIX(CNN_LANES) = CNN_VBYTES / sizeof(CNN_REAL),
       CNN_SUFFIX(CNN_NV) = CNN_PB / (CNN_VBYTES / sizeof(CNN_REAL)) };
#define LANES CNN_SUFFIX(CNN_LANES)
#define NV CNN_SUFFIX(CNN_NV)

static inline void CNN_SUFFIX(cnn_wide_block)(
        const CNN_REAL *x0, const ptrdiff_t *off, ptrdiff_t T,
        const CNN_REAL *wt, ptrdiff_t wt_stride, const CNN_REAL *b,
        CNN_REAL *out, ptrdiff_t out_stride, ptrdiff_t Lr)
{
    for (ptrdiff_t p0 = 0; p0 < Lr; p0 += CNN_PB) {
        CNN_VEC acc[CNN_FB][NV];
        for (int f = 0; f < CNN_FB; f++)
            for (int v = 0; v < NV; v++)
                acc[f][v] = (CNN_VEC){0} + b[f];
        for (ptrdiff_t t = 0; t < T; t++) {
            const CNN_REAL *xs = x0 + off[t] + p0;
            CNN_VEC xv[NV];
            for (int v = 0; v < NV; v++)
                xv[v] = *(const CNN_VEC *)(xs + v * LANES);
            for (int f = 0; f < CNN_FB; f++) {
                const CNN_REAL w = wt[f * wt_stride + t];
                for (int v = 0; v < NV; v++)
                    acc[f][v] += w * xv[v];
            }
        }
        for (int f = 0; f < CNN_FB; f++)
            for (int v = 0; v < NV; v++)
                *(CNN_VEC *)(out + f * out_stride + p0 + v * LANES) = acc[f][v];
    }
}

#if defined(__GNUC__) && !defined(__clang__)
/* Sum the lanes of K accumulator vectors into one scalar each, in the order
   0 + v[0] + v[1] + ... + v[LANES-1] the scalar loop uses, LANES outputs at a
   time: transpose a LANES x LANES block of accumulators with interleaving
   shuffles (log2(LANES) rounds), then add the transposed vectors in order. The
   same additions, so the same results, without a scalar add per lane. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_lane_sums)(CNN_VEC *v, CNN_REAL *out)
{
    CNN_MASK lo, hi;
    for (int i = 0; i < LANES / 2; i++) {
        lo[2 * i] = i;
        lo[2 * i + 1] = LANES + i;
        hi[2 * i] = LANES / 2 + i;
        hi[2 * i + 1] = LANES + LANES / 2 + i;
    }
    for (int round = 1; round < LANES; round *= 2) {
        CNN_VEC t[LANES];
        for (int i = 0; i < LANES / 2; i++) {
            t[2 * i] = __builtin_shuffle(v[i], v[i + LANES / 2], lo);
            t[2 * i + 1] = __builtin_shuffle(v[i], v[i + LANES / 2], hi);
        }
        for (int i = 0; i < LANES; i++)
            v[i] = t[i];
    }
    CNN_VEC s = (CNN_VEC){0};
    for (int q = 0; q < LANES; q++)
        s += v[q];
    for (int k = 0; k < LANES; k++)
        out[k] = s[k];
}
#define CNN_TRANSPOSED_SUMS 1
#endif

/* J is a literal at every call site, so the j loops unroll and the
   CNN_FB x J accumulators stay in registers. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_dw_row_j)(
        const CNN_REAL *xrow, ptrdiff_t N, ptrdiff_t ss, const CNN_REAL *dzw,
        ptrdiff_t Fr, ptrdiff_t Lr, ptrdiff_t f0, CNN_REAL *dw, ptrdiff_t dw_stride,
        const int J)
{
    CNN_VEC acc[CNN_FB][CNN_JB];
    for (int f = 0; f < CNN_FB; f++)
        for (int j = 0; j < J; j++)
            acc[f][j] = (CNN_VEC){0};
    for (ptrdiff_t n = 0; n < N; n++) {
        const CNN_REAL *xn = xrow + n * ss;
        const CNN_REAL *gn = dzw + (n * Fr + f0) * Lr;
        for (ptrdiff_t p = 0; p < Lr; p += LANES) {
            CNN_VEC g[CNN_FB];
            for (int f = 0; f < CNN_FB; f++)
                g[f] = *(const CNN_VEC *)(gn + f * Lr + p);
            for (int j = 0; j < J; j++) {
                const CNN_VEC xv = *(const CNN_VEC *)(xn + j + p);
                for (int f = 0; f < CNN_FB; f++)
                    acc[f][j] += g[f] * xv;
            }
        }
    }
#ifdef CNN_TRANSPOSED_SUMS
    for (int k0 = 0; k0 < CNN_FB * J; k0 += LANES) {
        CNN_VEC v[LANES];
        CNN_REAL s[LANES];
        for (int k = 0; k < LANES; k++)
            v[k] = k0 + k < CNN_FB * J ? acc[(k0 + k) / J][(k0 + k) % J] : (CNN_VEC){0};
        CNN_SUFFIX(cnn_lane_sums)(v, s);
        for (int k = 0; k < LANES && k0 + k < CNN_FB * J; k++)
            dw[(k0 + k) / J * dw_stride + (k0 + k) % J] = s[k];
    }
#else
    for (int f = 0; f < CNN_FB; f++)
        for (int j = 0; j < J; j++) {
            CNN_REAL s = 0;
            for (int q = 0; q < LANES; q++)
                s += acc[f][j][q];
            dw[f * dw_stride + j] = s;
        }
#endif
}

static inline void CNN_SUFFIX(cnn_dw_row)(
        const CNN_REAL *xrow, ptrdiff_t N, ptrdiff_t ss, const CNN_REAL *dzw,
        ptrdiff_t Fr, ptrdiff_t Lr, ptrdiff_t f0, ptrdiff_t KW,
        CNN_REAL *dw, ptrdiff_t dw_stride)
{
    for (ptrdiff_t j0 = 0; j0 < KW; j0 += CNN_JB) {
        const ptrdiff_t jn = KW - j0 < CNN_JB ? KW - j0 : CNN_JB;
        const CNN_REAL *x = xrow + j0;
        CNN_REAL *d = dw + j0;
        switch (jn) {
        case 1: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 1); break;
        case 2: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 2); break;
        case 3: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 3); break;
        case 4: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 4); break;
        case 5: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 5); break;
        case 6: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 6); break;
        default: CNN_SUFFIX(cnn_dw_row_j)(x, N, ss, dzw, Fr, Lr, f0, d, dw_stride, 7); break;
        }
    }
}
#undef LANES
#undef NV

#else  /* no vector extensions: the same sums as plain loops */

static inline void CNN_SUFFIX(cnn_wide_block)(
        const CNN_REAL *x0, const ptrdiff_t *off, ptrdiff_t T,
        const CNN_REAL *wt, ptrdiff_t wt_stride, const CNN_REAL *b,
        CNN_REAL *out, ptrdiff_t out_stride, ptrdiff_t Lr)
{
    for (int f = 0; f < CNN_FB; f++) {
        CNN_REAL *o = out + f * out_stride;
        for (ptrdiff_t p = 0; p < Lr; p++) o[p] = b[f];
        for (ptrdiff_t t = 0; t < T; t++) {
            const CNN_REAL w = wt[f * wt_stride + t];
            const CNN_REAL *xs = x0 + off[t];
            for (ptrdiff_t p = 0; p < Lr; p++) o[p] += w * xs[p];
        }
    }
}

static inline void CNN_SUFFIX(cnn_dw_row)(
        const CNN_REAL *xrow, ptrdiff_t N, ptrdiff_t ss, const CNN_REAL *dzw,
        ptrdiff_t Fr, ptrdiff_t Lr, ptrdiff_t f0, ptrdiff_t KW,
        CNN_REAL *dw, ptrdiff_t dw_stride)
{
    for (int f = 0; f < CNN_FB; f++)
        for (ptrdiff_t j = 0; j < KW; j++) {
            CNN_REAL s = 0;
            for (ptrdiff_t n = 0; n < N; n++) {
                const CNN_REAL *g = dzw + (n * Fr + f0 + f) * Lr;
                const CNN_REAL *x = xrow + n * ss + j;
                for (ptrdiff_t p = 0; p < Lr; p++) s += g[p] * x[p];
            }
            dw[f * dw_stride + j] = s;
        }
}
#endif

/* One output row of 2x2, stride-2 max pooling. Window members are taken in
   row-major order; a member wins when it is greater, or when it is NaN and the
   current best is not: !(v <= best) is true for v > best and for a NaN on either
   side, and (best == best) rules out a NaN best. The winner's offset is kept as
   int (gcc does not vectorise stride-2 float loads next to 64-bit lanes) and
   widened to the flat int64 index in a second pass. */
static inline void CNN_SUFFIX(cnn_maxpool2x2_row)(
        const CNN_REAL *CNN_RESTRICT r0, const CNN_REAL *CNN_RESTRICT r1, CNN_REAL *CNN_RESTRICT y,
        long long *CNN_RESTRICT argmax, ptrdiff_t Wo, long long base, int W)
{
    int k[256];
    for (ptrdiff_t o0 = 0; o0 < Wo; o0 += 256) {
        const ptrdiff_t n = Wo - o0 < 256 ? Wo - o0 : 256;
        const CNN_REAL *CNN_RESTRICT a0 = r0 + 2 * o0;
        const CNN_REAL *CNN_RESTRICT a1 = r1 + 2 * o0;
        CNN_REAL *CNN_RESTRICT yo = y + o0;
        for (ptrdiff_t i = 0; i < n; i++) {
            CNN_REAL best = a0[2 * i], v;
            int kk = 0;
            v = a0[2 * i + 1];
            if (!(v <= best) && best == best) { best = v; kk = 1; }
            v = a1[2 * i];
            if (!(v <= best) && best == best) { best = v; kk = W; }
            v = a1[2 * i + 1];
            if (!(v <= best) && best == best) { best = v; kk = W + 1; }
            yo[i] = best;
            k[i] = kk;
        }
        for (ptrdiff_t i = 0; i < n; i++)
            argmax[o0 + i] = base + 2 * (o0 + i) + k[i];
    }
}
