/* Included twice by _microkernels.h, once per element type (CNN_REAL). */

#ifdef CNN_VECTORS
enum { CNN_SUFFIX(CNN_LANES) = CNN_VBYTES / sizeof(CNN_REAL) };
#define LANES CNN_SUFFIX(CNN_LANES)

/* Split n vectors into the fewest runs of at most most vectors, as equal as
   possible (14 = 5 + 5 + 4, not 6 + 6 + 2): run k has q + (k < r) vectors. */
#define CNN_RUNS(n, most, runs, q, r) \
    const ptrdiff_t runs = ((n) + (most) - 1) / (most), q = (n) / (runs ? runs : 1), \
                    r = (n) - q * runs

/* CNN_FB filters x NV vectors of positions from p0, over all T taps. NV is a
   literal at every call site, so the loops unroll and the accumulators stay in
   registers; each weight is a broadcast memory operand of its FMAs. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_wide_tile)(
        const CNN_REAL *x0, const ptrdiff_t *off, ptrdiff_t T,
        const CNN_REAL *wt, ptrdiff_t wt_stride, const CNN_REAL *b,
        CNN_REAL *out, ptrdiff_t out_stride, const int NV)
{
    CNN_VEC acc[CNN_FB][CNN_NVMAX];
    for (int f = 0; f < CNN_FB; f++)
        for (int v = 0; v < NV; v++)
            acc[f][v] = (CNN_VEC){0} + b[f];
    for (ptrdiff_t t = 0; t < T; t++) {
        const CNN_REAL *xs = x0 + off[t];
        CNN_VEC xv[CNN_NVMAX];
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
            *(CNN_VEC *)(out + f * out_stride + v * LANES) = acc[f][v];
}

static inline void CNN_SUFFIX(cnn_wide_block)(
        const CNN_REAL *x0, const ptrdiff_t *off, ptrdiff_t T,
        const CNN_REAL *wt, ptrdiff_t wt_stride, const CNN_REAL *b,
        CNN_REAL *out, ptrdiff_t out_stride, ptrdiff_t Lr)
{
    CNN_RUNS(Lr / LANES, CNN_NVMAX, runs, q, r);
    ptrdiff_t p0 = 0;
    for (ptrdiff_t k = 0; k < runs; k++) {
        const ptrdiff_t nv = q + (k < r);
        const CNN_REAL *x = x0 + p0;
        CNN_REAL *o = out + p0;
        switch (nv) {
        case 1: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, 1); break;
        case 2: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, 2); break;
#if CNN_NVMAX == 6
        case 3: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, 3); break;
        case 4: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, 4); break;
        case 5: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, 5); break;
#endif
        default: CNN_SUFFIX(cnn_wide_tile)(x, off, T, wt, wt_stride, b, o, out_stride, CNN_NVMAX); break;
        }
        p0 += nv * LANES;
    }
}

/* Sum the lanes of LANES accumulator vectors: out[k] = the sum of v[k]'s lanes,
   added as a tree (lane l + lane l + LANES/2 first, then the halves of those,
   and so on: log2(LANES) dependent adds). GCC does it for LANES vectors at once:
   each round adds the two halves of every block of lanes of two vectors,
   interleaved by a pair of shuffles, and halves the number of vectors (LANES - 1
   shuffle pairs in all, not one reduction per vector). The loop for other
   compilers adds in the same order, so gives the same sums. */
#if defined(__GNUC__) && !defined(__clang__)
/* One round on n vectors: v[i] (i < n/2) = the two halves (n/2 lanes each) of
   every block of n lanes of v[i] and v[i + n/2], added. n is a literal. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_lane_round)(CNN_VEC *v, const int n)
{
    const int h = n / 2;
    CNN_MASK lo, hi;
    for (int l = 0; l < LANES; l++) {
        const int block = l / n * n, o = l % n;
        lo[l] = o < h ? block + o : LANES + block + o - h;
        hi[l] = o < h ? block + o + h : LANES + block + o;
    }
    for (int i = 0; i < h; i++)
        v[i] = __builtin_shuffle(v[i], v[i + h], lo) + __builtin_shuffle(v[i], v[i + h], hi);
}

CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_lane_sums)(CNN_VEC *v, CNN_REAL *out)
{
    if (LANES >= 16) CNN_SUFFIX(cnn_lane_round)(v, 16);
    if (LANES >= 8) CNN_SUFFIX(cnn_lane_round)(v, 8);
    if (LANES >= 4) CNN_SUFFIX(cnn_lane_round)(v, 4);
    CNN_SUFFIX(cnn_lane_round)(v, 2);
    *(CNN_VEC *)out = v[0];
}
#else
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_lane_sums)(CNN_VEC *v, CNN_REAL *out)
{
    for (int k = 0; k < LANES; k++) {
        CNN_REAL s[LANES];
        for (int q = 0; q < LANES; q++)
            s[q] = v[k][q];
        for (int h = LANES / 2; h >= 1; h /= 2)
            for (int q = 0; q < h; q++)
                s[q] += s[q + h];
        out[k] = s[0];
    }
}
#endif

/* Samples n0 <= n < n1 into the CNN_FB x J partial sums acc[f * acc_stride + j]
   (vectors, one lane per position class p mod LANES; from zero, not from acc,
   for the first chunk, n0 == 0). J is a literal at every
   call site, so the j loops unroll and the tile stays in registers. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_dw_tile)(
        const CNN_REAL *x, ptrdiff_t n0, ptrdiff_t n1, ptrdiff_t ss, const CNN_REAL *g,
        ptrdiff_t gs, ptrdiff_t gf, ptrdiff_t Lr, const ptrdiff_t *off, CNN_VEC *acc, ptrdiff_t acc_stride,
        const int J)
{
    CNN_VEC a[CNN_FB][CNN_JB];
    for (int f = 0; f < CNN_FB; f++)
        for (int j = 0; j < J; j++)
            a[f][j] = n0 == 0 ? (CNN_VEC){0} : acc[f * acc_stride + j];
    for (ptrdiff_t n = n0; n < n1; n++) {
        const CNN_REAL *gn = g + n * gs;
        const CNN_REAL *xn = x + n * ss;
        for (ptrdiff_t p = 0; p < Lr; p += LANES) {
            /* the J input vectors stay in registers and each filter's dz vector passes once:
               J + 1 registers beside the accumulators, not CNN_FB + 1 */
            CNN_VEC xv[CNN_JB];
            for (int j = 0; j < J; j++) {
                xv[j] = *(const CNN_VEC *)(xn + off[j] + p);
                CNN_IN_REGISTER(xv[j]);
            }
            for (int f = 0; f < CNN_FB; f++) {
                CNN_VEC gv = *(const CNN_VEC *)(gn + f * gf + p);
                CNN_IN_REGISTER(gv);
                for (int j = 0; j < J; j++)
                    a[f][j] += gv * xv[j];
            }
        }
    }
    for (int f = 0; f < CNN_FB; f++)
        for (int j = 0; j < J; j++)
            acc[f * acc_stride + j] = a[f][j];
}

/* The samples go by in chunks whose dz rows and input planes fit in L1 together
   (about 24 KB), and each chunk passes every tile of taps before the next: the
   dz rows come from L2 once per chunk, not once per tile. The partial sums of
   every lane are the same additions in the same order whatever the chunking. */
static inline void CNN_SUFFIX(cnn_dw_taps)(
        const CNN_REAL *x, ptrdiff_t N, ptrdiff_t ss, ptrdiff_t plane, const CNN_REAL *g,
        ptrdiff_t gs, ptrdiff_t gf, ptrdiff_t Lr, const ptrdiff_t *off, ptrdiff_t T,
        CNN_REAL *dw, ptrdiff_t dw_stride)
{
    /* LANES zero vectors past the last partial sum pad the last block of lane sums */
    CNN_VEC acc[CNN_FB * CNN_TC + LANES] __attribute__((aligned(CNN_VBYTES)));
    CNN_REAL sums[CNN_FB * CNN_TC + LANES];
    const ptrdiff_t per_sample = (CNN_FB * Lr + plane) * (ptrdiff_t)sizeof(CNN_REAL);
    const ptrdiff_t chunk = per_sample >= 24576 ? 1 : 24576 / per_sample;
    CNN_RUNS(T, CNN_JB, runs, q, r);
    for (int k = 0; k < LANES; k++)        /* the first chunk's tiles start from zero */
        acc[CNN_FB * T + k] = (CNN_VEC){0};
    for (ptrdiff_t n0 = 0; n0 < N; n0 += chunk) {
        const ptrdiff_t n1 = N - n0 < chunk ? N : n0 + chunk;
        ptrdiff_t t0 = 0;
        for (ptrdiff_t k = 0; k < runs; k++) {
            const ptrdiff_t J = q + (k < r);
            CNN_VEC *a = acc + t0;
            const ptrdiff_t *o = off + t0;
            switch (J) {
            case 1: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, 1); break;
#if CNN_JB >= 3
            case 2: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, 2); break;
#endif
#if CNN_JB == 6
            case 3: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, 3); break;
            case 4: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, 4); break;
            case 5: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, 5); break;
#endif
            default: CNN_SUFFIX(cnn_dw_tile)(x, n0, n1, ss, g, gs, gf, Lr, o, a, T, CNN_JB); break;
            }
            t0 += J;
        }
    }
    for (ptrdiff_t k0 = 0; k0 < CNN_FB * T; k0 += LANES) {
        CNN_VEC v[LANES];
        for (int k = 0; k < LANES; k++)
            v[k] = acc[k0 + k];
        CNN_SUFFIX(cnn_lane_sums)(v, sums + k0);
    }
    for (int f = 0; f < CNN_FB; f++)
        for (ptrdiff_t t = 0; t < T; t++)
            dw[f * dw_stride + t] = sums[f * T + t];
}

/* A dense layer's three products (cnn_dense_dot, cnn_dense_rows; the loops over tiles
   are in _kernels.pyx). Every output is one sum in a fixed order, whatever the tiling
   and the thread count. */

/* z[r][u] = (the sum over j < D of x[r][j] * w[u][j]) + b[u] for R rows of x (R <=
   CNN_DR, rows D apart) and U units of w (U <= 4, rows D apart), z's rows K apart. The
   sum runs in LANES interleaved partial sums (element j in lane j mod LANES; a last,
   partial vector reads zeros past D), added as a tree (cnn_lane_sums: the CNN_DR x 4
   tile is whole blocks of LANES accumulators). R and U are literals at every call site. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_dot_tile)(
        const CNN_REAL *x, const CNN_REAL *w, const CNN_REAL *b, CNN_REAL *z, ptrdiff_t K, ptrdiff_t D,
        const int R, const int U)
{
    enum { TILE = CNN_DR * 4 };
    CNN_VEC acc[TILE + LANES];
    CNN_REAL sums[TILE + LANES];
    for (int k = 0; k < TILE + LANES; k++)
        acc[k] = (CNN_VEC){0};
    ptrdiff_t j = 0;
    for (; j + LANES <= D; j += LANES) {
        CNN_VEC xv[CNN_DR], wv[4];
        for (int r = 0; r < R; r++)
            xv[r] = *(const CNN_VEC *)(x + r * D + j);
        for (int u = 0; u < U; u++)
            wv[u] = *(const CNN_VEC *)(w + u * D + j);
        for (int r = 0; r < R; r++)
            for (int u = 0; u < U; u++)
                acc[r * 4 + u] += xv[r] * wv[u];
    }
    if (j < D) {
        CNN_VEC xv[CNN_DR], wv[4];
        for (int r = 0; r < R; r++) {
            xv[r] = (CNN_VEC){0};
            for (ptrdiff_t l = 0; l < D - j; l++)
                xv[r][l] = x[r * D + j + l];
        }
        for (int u = 0; u < U; u++) {
            wv[u] = (CNN_VEC){0};
            for (ptrdiff_t l = 0; l < D - j; l++)
                wv[u][l] = w[u * D + j + l];
        }
        for (int r = 0; r < R; r++)
            for (int u = 0; u < U; u++)
                acc[r * 4 + u] += xv[r] * wv[u];
    }
    for (int k = 0; k < R * 4; k += LANES)
        CNN_SUFFIX(cnn_lane_sums)(acc + k, sums + k);
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++)
            z[r * K + u] = sums[r * 4 + u] + b[u];
}

/* Units u0 <= u < u0 + 4 (fewer at the end) of every row of z (N x K):
   z = x w^T + b for x (N x D) and w (K x D). */
static inline void CNN_SUFFIX(cnn_dense_dot)(
        const CNN_REAL *x, const CNN_REAL *w, const CNN_REAL *b, CNN_REAL *z, ptrdiff_t N, ptrdiff_t K,
        ptrdiff_t D, ptrdiff_t u0)
{
    const int U = K - u0 < 4 ? (int)(K - u0) : 4;
    const CNN_REAL *wu = w + u0 * D;
    for (ptrdiff_t n = 0; n < N; n += CNN_DR) {
        const int R = N - n < CNN_DR ? (int)(N - n) : CNN_DR;
        const CNN_REAL *xn = x + n * D;
        CNN_REAL *zn = z + n * K + u0;
#define CNN_DOT_CASE(r, u) case 4 * (r) + (u): \
        CNN_SUFFIX(cnn_dot_tile)(xn, wu, b + u0, zn, K, D, r, u); break;
        switch (4 * R + U) {
        CNN_DOT_CASE(1, 1) CNN_DOT_CASE(1, 2) CNN_DOT_CASE(1, 3) CNN_DOT_CASE(1, 4)
        CNN_DOT_CASE(2, 1) CNN_DOT_CASE(2, 2) CNN_DOT_CASE(2, 3) CNN_DOT_CASE(2, 4)
#if CNN_DR == 4
        CNN_DOT_CASE(3, 1) CNN_DOT_CASE(3, 2) CNN_DOT_CASE(3, 3) CNN_DOT_CASE(3, 4)
        CNN_DOT_CASE(4, 1) CNN_DOT_CASE(4, 2) CNN_DOT_CASE(4, 3) CNN_DOT_CASE(4, 4)
#endif
        }
#undef CNN_DOT_CASE
    }
}

/* out[r][j] = the sum over t < T of a[r * ar + t * at] * B[t * D + j], for R rows
   (R <= 4; out's rows D apart) and NV vectors of columns from j0: the first product,
   then each next one added, in t order (one chain per element, so the same sum in
   every lane and in the scalar columns past the last whole vector). */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_rows_tile)(
        const CNN_REAL *a, ptrdiff_t ar, ptrdiff_t at, const CNN_REAL *B, ptrdiff_t T, ptrdiff_t D,
        CNN_REAL *out, ptrdiff_t j0, const int R, const int NV)
{
    CNN_VEC acc[4][CNN_RV];
    for (int v = 0; v < NV; v++) {
        const CNN_VEC bv = *(const CNN_VEC *)(B + j0 + v * LANES);
        for (int r = 0; r < R; r++)
            acc[r][v] = a[r * ar] * bv;
    }
    for (ptrdiff_t t = 1; t < T; t++) {
        const CNN_REAL *Bt = B + t * D + j0;
        for (int v = 0; v < NV; v++) {
            const CNN_VEC bv = *(const CNN_VEC *)(Bt + v * LANES);
            for (int r = 0; r < R; r++)
                acc[r][v] += a[r * ar + t * at] * bv;
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++)
            *(CNN_VEC *)(out + r * D + j0 + v * LANES) = acc[r][v];
}

/* Rows r0 <= r < r0 + 4 (fewer at the end, out of `rows`) of out (rows x D):
   out[r][j] = sum_t a[r * ar + t * at] * B[t][j] (see cnn_rows_tile). A dense layer's
   dx = dz W (a = dz, ar = K, at = 1, B = W) and dW = dz^T x (a = dz, ar = 1, at = K,
   B = x). */
static inline void CNN_SUFFIX(cnn_dense_rows)(
        const CNN_REAL *a, ptrdiff_t ar, ptrdiff_t at, const CNN_REAL *B, ptrdiff_t T, ptrdiff_t D,
        CNN_REAL *out, ptrdiff_t rows, ptrdiff_t r0)
{
    const int R = rows - r0 < 4 ? (int)(rows - r0) : 4;
    const CNN_REAL *ar0 = a + r0 * ar;
    CNN_REAL *o = out + r0 * D;
    ptrdiff_t j = 0;
#define CNN_ROWS_CASE(r, nv) case r: \
    CNN_SUFFIX(cnn_rows_tile)(ar0, ar, at, B, T, D, o, j, r, nv); break;
    for (; j + CNN_RV * LANES <= D; j += CNN_RV * LANES)
        switch (R) {
        CNN_ROWS_CASE(1, CNN_RV) CNN_ROWS_CASE(2, CNN_RV) CNN_ROWS_CASE(3, CNN_RV) default: CNN_ROWS_CASE(4, CNN_RV)
        }
    for (; j + LANES <= D; j += LANES)
        switch (R) { CNN_ROWS_CASE(1, 1) CNN_ROWS_CASE(2, 1) CNN_ROWS_CASE(3, 1) default: CNN_ROWS_CASE(4, 1) }
#undef CNN_ROWS_CASE
    for (; j < D; j++)
        for (int r = 0; r < R; r++) {
            CNN_REAL s = ar0[r * ar] * B[j];
            for (ptrdiff_t t = 1; t < T; t++)
                s += ar0[r * ar + t * at] * B[t * D + j];
            o[r * D + j] = s;
        }
}

/* The filter gradient by vectors of filters (see _microkernels.h): LANES filters from
   g (rows of Fp filters per position, samples P rows apart) and J taps from off,
   samples n0 <= n < n1, into out[l * T + j] (filter l of the vector, tap j). Every
   multiply-add reads one input element, broadcast to the lanes: no position is
   computed and dropped. Each lane sums a sample's positions in one chain, in order,
   and adds that sum to its total for the samples, in order (one chain over all
   of them lost digits: 3,000 terms of float32). J is a literal at every call site. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_dwf_tile)(
        const CNN_REAL *x, ptrdiff_t ss, const ptrdiff_t *pos, ptrdiff_t P, const CNN_REAL *g,
        ptrdiff_t Fp, ptrdiff_t n0, ptrdiff_t n1, const ptrdiff_t *off, CNN_REAL *out, ptrdiff_t T,
        const int J)
{
    CNN_VEC acc[CNN_FJ], total[CNN_FJ];
    for (int j = 0; j < J; j++)
        total[j] = (CNN_VEC){0};
    for (ptrdiff_t n = n0; n < n1; n++) {
        const CNN_REAL *xn = x + n * ss;
        const CNN_REAL *gn = g + n * P * Fp;
        for (int j = 0; j < J; j++)
            acc[j] = (CNN_VEC){0};
        for (ptrdiff_t p = 0; p < P; p++) {
            const CNN_VEC d = *(const CNN_VEC *)(gn + p * Fp);
            const CNN_REAL *xp = xn + pos[p];
            for (int j = 0; j < J; j++)
                acc[j] += d * xp[off[j]];
        }
        for (int j = 0; j < J; j++)
            total[j] += acc[j];
    }
    for (int j = 0; j < J; j++)
        for (int l = 0; l < LANES; l++)
            out[l * T + j] = total[j][l];
}

/* cnn_dwf_tile for R whole filter rows of KW taps (KW and R literals): each row's
   taps are KW neighbouring inputs, read at constant displacements from one pointer
   per row, so the tile needs R address registers instead of one offset per tap (24
   offsets do not fit the general registers: the compiler moved them through vector
   registers, one transfer per multiply-add on a port the multiply-adds need). */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_dwr_tile)(
        const CNN_REAL *x, ptrdiff_t ss, const ptrdiff_t *pos, ptrdiff_t P, const CNN_REAL *g,
        ptrdiff_t Fp, ptrdiff_t n0, ptrdiff_t n1, const ptrdiff_t *off, CNN_REAL *out, ptrdiff_t T,
        const int R, const int KW)
{
    CNN_VEC acc[CNN_FJ], total[CNN_FJ];
    ptrdiff_t row[CNN_FJ];
    for (int r = 0; r < R; r++)
        row[r] = off[r * KW];
    for (int k = 0; k < R * KW; k++)
        total[k] = (CNN_VEC){0};
    for (ptrdiff_t n = n0; n < n1; n++) {
        const CNN_REAL *xn = x + n * ss;
        const CNN_REAL *gn = g + n * P * Fp;
        for (int k = 0; k < R * KW; k++)
            acc[k] = (CNN_VEC){0};
        for (ptrdiff_t p = 0; p < P; p++) {
            const CNN_VEC d = *(const CNN_VEC *)(gn + p * Fp);
            const CNN_REAL *xp = xn + pos[p];
            for (int r = 0; r < R; r++) {
                const CNN_REAL *xr = xp + row[r];
                for (int j = 0; j < KW; j++)
                    acc[r * KW + j] += d * xr[j];
            }
        }
        for (int k = 0; k < R * KW; k++)
            total[k] += acc[k];
    }
    for (int k = 0; k < R * KW; k++)
        for (int l = 0; l < LANES; l++)
            out[l * T + k] = total[k][l];
}

/* J taps from off (a run of whole rows of KW taps where KW is 3 or 5: see cnn_dwr_tile). */
static inline void CNN_SUFFIX(cnn_dwf_taps)(
        const CNN_REAL *x, ptrdiff_t ss, const ptrdiff_t *pos, ptrdiff_t P, const CNN_REAL *g,
        ptrdiff_t Fp, ptrdiff_t n0, ptrdiff_t n1, const ptrdiff_t *off, ptrdiff_t J, ptrdiff_t KW,
        CNN_REAL *out, ptrdiff_t T)
{
#define CNN_DWR(r, kw) case r: CNN_SUFFIX(cnn_dwr_tile)(x, ss, pos, P, g, Fp, n0, n1, off, out, T, r, kw); return;
    if (KW == 3 && J % 3 == 0)
        switch (J / 3) {
        CNN_DWR(1, 3) CNN_DWR(2, 3) CNN_DWR(3, 3)
#if CNN_FJ == 24
        CNN_DWR(4, 3) CNN_DWR(5, 3) CNN_DWR(6, 3) CNN_DWR(7, 3) CNN_DWR(8, 3)
#else
        CNN_DWR(4, 3)
#endif
        }
    if (KW == 5 && J % 5 == 0)
        switch (J / 5) {
        CNN_DWR(1, 5) CNN_DWR(2, 5)
#if CNN_FJ == 24
        CNN_DWR(3, 5) CNN_DWR(4, 5)
#endif
        }
#undef CNN_DWR
#define CNN_DWF(j) case j: CNN_SUFFIX(cnn_dwf_tile)(x, ss, pos, P, g, Fp, n0, n1, off, out, T, j); break;
    switch (J) {
    CNN_DWF(1) CNN_DWF(2) CNN_DWF(3) CNN_DWF(4) CNN_DWF(5) CNN_DWF(6) CNN_DWF(7) CNN_DWF(8)
    CNN_DWF(9) CNN_DWF(10) CNN_DWF(11)
#if CNN_FJ == 24
    CNN_DWF(12) CNN_DWF(13) CNN_DWF(14) CNN_DWF(15) CNN_DWF(16) CNN_DWF(17) CNN_DWF(18) CNN_DWF(19)
    CNN_DWF(20) CNN_DWF(21) CNN_DWF(22) CNN_DWF(23)
#endif
    default: CNN_DWF(CNN_FJ)
    }
#undef CNN_DWF
}

/* out[q * F + b] = planes[b][p0 + q] for b, q < LANES: LANES positions of LANES planes
   written positions-major (rows F apart), as a transposition in registers (log2(LANES)
   rounds of two-source shuffles) instead of one scattered store per element. Clang has
   no __builtin_shuffle (its __builtin_shufflevector wants constant lanes): there, the
   element loop. */
static inline void CNN_SUFFIX(cnn_transpose_block)(const CNN_REAL *const *planes, ptrdiff_t p0, CNN_REAL *out,
                                                   ptrdiff_t F)
{
#if defined(__clang__)
    for (int q = 0; q < LANES; q++)
        for (int b = 0; b < LANES; b++)
            out[q * F + b] = planes[b][p0 + q];
#else
    CNN_VEC v[LANES];
    for (int b = 0; b < LANES; b++)
        v[b] = *(const CNN_VEC *)(planes[b] + p0);
#define CNN_TRANSPOSE_ROUND(s) do { \
        CNN_MASK lo, hi; \
        for (int l = 0; l < LANES; l++) { \
            lo[l] = (l & (s)) ? LANES + l - (s) : l; \
            hi[l] = (l & (s)) ? LANES + l : l + (s); \
        } \
        for (int i = 0; i < LANES; i++) \
            if (!(i & (s))) { \
                const CNN_VEC a = v[i], c = v[i + (s)]; \
                v[i] = __builtin_shuffle(a, c, lo); \
                v[i + (s)] = __builtin_shuffle(a, c, hi); \
            } \
    } while (0)
    if (LANES >= 16) CNN_TRANSPOSE_ROUND(8);
    if (LANES >= 8) CNN_TRANSPOSE_ROUND(4);
    if (LANES >= 4) CNN_TRANSPOSE_ROUND(2);
    CNN_TRANSPOSE_ROUND(1);
#undef CNN_TRANSPOSE_ROUND
    for (int q = 0; q < LANES; q++)
        *(CNN_VEC *)(out + q * F) = v[q];
#endif
}
#undef LANES

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

static inline void CNN_SUFFIX(cnn_dw_taps)(
        const CNN_REAL *x, ptrdiff_t N, ptrdiff_t ss, ptrdiff_t plane, const CNN_REAL *g,
        ptrdiff_t gs, ptrdiff_t gf, ptrdiff_t Lr, const ptrdiff_t *off, ptrdiff_t T,
        CNN_REAL *dw, ptrdiff_t dw_stride)
{
    (void)plane;
    for (int f = 0; f < CNN_FB; f++)
        for (ptrdiff_t t = 0; t < T; t++) {
            CNN_REAL s = 0;
            for (ptrdiff_t n = 0; n < N; n++) {
                const CNN_REAL *gp = g + n * gs + f * gf;
                const CNN_REAL *xp = x + n * ss + off[t];
                for (ptrdiff_t p = 0; p < Lr; p++) s += gp[p] * xp[p];
            }
            dw[f * dw_stride + t] = s;
        }
}

static inline void CNN_SUFFIX(cnn_dense_dot)(
        const CNN_REAL *x, const CNN_REAL *w, const CNN_REAL *b, CNN_REAL *z, ptrdiff_t N, ptrdiff_t K,
        ptrdiff_t D, ptrdiff_t u0)
{
    const ptrdiff_t u1 = K - u0 < 4 ? K : u0 + 4;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t u = u0; u < u1; u++) {
            CNN_REAL s = 0;
            for (ptrdiff_t j = 0; j < D; j++)
                s += x[n * D + j] * w[u * D + j];
            z[n * K + u] = s + b[u];
        }
}

static inline void CNN_SUFFIX(cnn_dense_rows)(
        const CNN_REAL *a, ptrdiff_t ar, ptrdiff_t at, const CNN_REAL *B, ptrdiff_t T, ptrdiff_t D,
        CNN_REAL *out, ptrdiff_t rows, ptrdiff_t r0)
{
    const ptrdiff_t r1 = rows - r0 < 4 ? rows : r0 + 4;
    for (ptrdiff_t r = r0; r < r1; r++)
        for (ptrdiff_t j = 0; j < D; j++) {
            CNN_REAL s = a[r * ar] * B[j];
            for (ptrdiff_t t = 1; t < T; t++)
                s += a[r * ar + t * at] * B[t * D + j];
            out[r * D + j] = s;
        }
}


static inline void CNN_SUFFIX(cnn_dwf_taps)(
        const CNN_REAL *x, ptrdiff_t ss, const ptrdiff_t *pos, ptrdiff_t P, const CNN_REAL *g,
        ptrdiff_t Fp, ptrdiff_t n0, ptrdiff_t n1, const ptrdiff_t *off, ptrdiff_t J, ptrdiff_t KW,
        CNN_REAL *out, ptrdiff_t T)
{
    (void)KW;
    for (ptrdiff_t l = 0; l < CNN_VBYTES / (ptrdiff_t)sizeof(CNN_REAL); l++)
        for (ptrdiff_t j = 0; j < J; j++) {
            CNN_REAL total = 0;
            for (ptrdiff_t n = n0; n < n1; n++) {
                CNN_REAL s = 0;
                for (ptrdiff_t p = 0; p < P; p++)
                    s += g[n * P * Fp + p * Fp + l] * x[n * ss + pos[p] + off[j]];
                total += s;
            }
            out[l * T + j] = total;
        }
}


static inline void CNN_SUFFIX(cnn_transpose_block)(const CNN_REAL *const *planes, ptrdiff_t p0, CNN_REAL *out,
                                                   ptrdiff_t F)
{
    const int L = CNN_VBYTES / (int)sizeof(CNN_REAL);
    for (int q = 0; q < L; q++)
        for (int b = 0; b < L; b++)
            out[q * F + b] = planes[b][p0 + q];
}

#endif

/* 2x2, stride-2 max-pool backward of one plane, one window at a time: zeros,
   then 0 + dy at each winner (given as argmax, or as codes 0..3 with argmax
   NULL); with `pooled` (the pool's output, not NULL), that times (pooled > 0):
   dz of a ReLU before the pool, whose slope at a winner is f'(z) = (z > 0) =
   (f(z) > 0), f(z) being what the pool output. For rows of few windows, where a
   vector tile's lanes would idle. */
static inline void CNN_SUFFIX(cnn_unpool2x2_scatter)(
        const CNN_REAL *dy, const long long *argmax, const unsigned char *codes, const CNN_REAL *pooled,
        CNN_REAL *dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Ho, ptrdiff_t Wo)
{
    for (ptrdiff_t i = 0; i < H * W; i++)
        dx[i] = 0;
    for (ptrdiff_t oy = 0; oy < Ho; oy++)
        for (ptrdiff_t ox = 0; ox < Wo; ox++) {
            const ptrdiff_t q = oy * Wo + ox;
            const int c = codes ? codes[q] & 3 : 0;
            const ptrdiff_t k = argmax ? (ptrdiff_t)argmax[q]
                                       : (2 * oy + (c >> 1)) * W + 2 * ox + (c & 1);
            if (0 <= k && k < H * W)      /* (an argmax changed by its owner stays harmless) */
                dx[k] = pooled ? ((CNN_REAL)0 + dy[q]) * (CNN_REAL)(pooled[q] > 0) : (CNN_REAL)0 + dy[q];
        }
}

/* 2x2, stride-2 max pooling of one H x W plane into Ho x Wo outputs.

   Window members are taken in row-major order; a member wins when it is
   greater, or when it is NaN and the current best is not: !(v <= best) is true
   for v > best and for a NaN on either side, and (best == best) rules out a
   NaN best. So ties go to the first member and a NaN wins its window, as
   np.argmax does. argmax gets the flat index row*W + col of each winner, or
   (argmax NULL) codes gets its place in its window, 0..3 in row-major order,
   an eighth of the bytes.

   The vector tile takes LANES outputs at once, branch-free: it loads 2*LANES
   inputs of each of the window's two rows, splits them into even and odd
   columns, and picks with compares and blends. A tile near the end of a row
   reads into the next row and computes lanes nobody asked for: they are
   stored too (into the next output rows, which are written after them)
   unless they would land past the plane's outputs; and a tile that would read
   past the x_avail elements the caller owns reads through a small buffer. */
#if defined(CNN_VECTORS) && defined(__GNUC__) && !defined(__clang__)
#define LANES CNN_SUFFIX(CNN_LANES)
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_mp_tile)(
        const CNN_REAL *r0, const CNN_REAL *r1, CNN_VEC *best, CNN_MASK *code)
{
    CNN_MASK ev, od;
    for (int i = 0; i < LANES; i++) {
        ev[i] = 2 * i;
        od[i] = 2 * i + 1;
    }
    const CNN_VEC a0 = *(const CNN_VEC *)r0, a1 = *(const CNN_VEC *)(r0 + LANES);
    const CNN_VEC b0 = *(const CNN_VEC *)r1, b1 = *(const CNN_VEC *)(r1 + LANES);
    const CNN_VEC v[3] = {__builtin_shuffle(a0, a1, od), __builtin_shuffle(b0, b1, ev),
                          __builtin_shuffle(b0, b1, od)};
    const CNN_MASK k[3] = {(CNN_MASK){0} + 1, (CNN_MASK){0} + 2, (CNN_MASK){0} + 3};
    CNN_VEC m = __builtin_shuffle(a0, a1, ev);
    CNN_MASK c = (CNN_MASK){0};
    for (int t = 0; t < 3; t++) {
        const CNN_MASK take = ~(v[t] <= m) & (m == m);
        m = (CNN_VEC)(((CNN_MASK)m & ~take) | ((CNN_MASK)v[t] & take));
        c = (c & ~take) | (k[t] & take);
    }
    *best = m;
    *code = c;
}

/* The LANES window codes (0..3) of c as LANES bytes at dst. GCC narrows a whole vector
   in one instruction only with AVX-512 (vpmovdb); with 32-byte vectors below it (AVX2) it
   would move each lane out through a general register, so the low bytes are gathered by a
   byte shuffle, and with SSE2 by two saturating packs (exact: the codes are small). */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_store_codes)(CNN_MASK c, unsigned char *dst)
{
#if CNN_VBYTES == 32 && !defined(__AVX512F__)
    typedef unsigned char bytes_t __attribute__((vector_size(CNN_VBYTES)));
    bytes_t pick;
    for (int i = 0; i < CNN_VBYTES; i++)
        pick[i] = i < LANES ? i * (CNN_VBYTES / LANES) : 0;
    const bytes_t b = __builtin_shuffle((bytes_t)c, pick);
    memcpy(dst, &b, LANES);
#elif CNN_VBYTES == 16 && defined(__SSE2__)
    if (LANES == 4) {
        const __m128i w = _mm_packs_epi32((__m128i)c, (__m128i)c);
        const int b = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
        memcpy(dst, &b, 4);
    } else {
        dst[0] = (unsigned char)c[0];
        dst[1] = (unsigned char)c[1];
    }
#else
    typedef unsigned char code_t __attribute__((vector_size(LANES), aligned(1), may_alias));
    *(code_t *)dst = __builtin_convertvector(c, code_t);
#endif
}

/* LANES one-byte window codes at src as the lanes of a CNN_MASK. GCC 12 widens bytes by
   __builtin_convertvector one lane at a time through general registers (16 loads, inserts
   and shuffles for AVX-512: the most of a pool's backward pass); on x86 the bytes are
   loaded together and zero-extended in one or three instructions. */
CNN_ALWAYS_INLINE CNN_MASK CNN_SUFFIX(cnn_widen_codes)(const unsigned char *src)
{
#if defined(__SSE2__)
    __m128i b;
    if (LANES >= 16) {
        b = _mm_loadu_si128((const __m128i *)src);
    } else if (LANES == 8) {
        b = _mm_loadl_epi64((const __m128i *)src);
    } else {
        int v = 0;
        memcpy(&v, src, LANES);
        b = _mm_cvtsi32_si128(v);
    }
#if CNN_VBYTES == 64 && defined(__AVX512F__)
    return sizeof(CNN_REAL) == 4 ? (CNN_MASK)_mm512_cvtepu8_epi32(b) : (CNN_MASK)_mm512_cvtepu8_epi64(b);
#elif CNN_VBYTES == 32 && defined(__AVX2__)
    return sizeof(CNN_REAL) == 4 ? (CNN_MASK)_mm256_cvtepu8_epi32(b) : (CNN_MASK)_mm256_cvtepu8_epi64(b);
#elif CNN_VBYTES == 16
    const __m128i zero = _mm_setzero_si128();
    const __m128i w = _mm_unpacklo_epi16(_mm_unpacklo_epi8(b, zero), zero);
    return sizeof(CNN_REAL) == 4 ? (CNN_MASK)w : (CNN_MASK)_mm_unpacklo_epi32(w, zero);
#endif
#endif
    typedef unsigned char code_t __attribute__((vector_size(LANES), aligned(1), may_alias));
    return __builtin_convertvector(*(const code_t *)src, CNN_MASK);
}

/* One tile of outputs o0.. of row oy: n of them are wanted (n <= LANES); the
   tile stores all LANES lanes unless `exact`, and reads through a buffer
   unless `direct`. It writes argmax, or (argmax NULL) each winner's place in
   its window as a code 0..3 (row-major), a byte. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_mp_put)(
        const CNN_REAL *r0, const CNN_REAL *r1, CNN_REAL *y, void *winners, int coded,
        ptrdiff_t n, long long first, int W, int direct, int exact)
{
    unsigned char *codes = (unsigned char *)winners;
    long long *argmax = (long long *)winners;
    CNN_VEC m;
    CNN_MASK c;
    if (direct) {
        CNN_SUFFIX(cnn_mp_tile)(r0, r1, &m, &c);
    } else {
        CNN_REAL t0[2 * LANES] = {0}, t1[2 * LANES] = {0};
        for (ptrdiff_t i = 0; i < 2 * n; i++) {
            t0[i] = r0[i];
            t1[i] = r1[i];
        }
        CNN_SUFFIX(cnn_mp_tile)(t0, t1, &m, &c);
    }
    if (!exact) {
        *(CNN_VEC *)y = m;
        if (coded)
            CNN_SUFFIX(cnn_store_codes)(c, codes);
        else
            for (int i = 0; i < LANES; i++)
                argmax[i] = first + 2 * i + (c[i] & 1) + (c[i] >> 1) * W;
    } else {
        for (ptrdiff_t i = 0; i < n; i++) {
            y[i] = m[i];
            if (coded)
                codes[i] = (unsigned char)c[i];
            else
                argmax[i] = first + 2 * i + (c[i] & 1) + (c[i] >> 1) * W;
        }
    }
}

static inline void CNN_SUFFIX(cnn_maxpool2x2_plane)(
        const CNN_REAL *x, CNN_REAL *y, long long *argmax, unsigned char *codes, ptrdiff_t W,
        ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t x_avail)
{
    for (ptrdiff_t oy = 0; oy < Ho; oy++) {
        const CNN_REAL *r0 = x + 2 * oy * W;
        for (ptrdiff_t o0 = 0; o0 < Wo; o0 += LANES) {
            const ptrdiff_t n = Wo - o0 < LANES ? Wo - o0 : LANES;
            const int direct = (2 * oy + 1) * W + 2 * o0 + 2 * LANES <= x_avail;
            const int exact = oy * Wo + o0 + LANES > Ho * Wo;
            const ptrdiff_t q = oy * Wo + o0;
            void *winners = codes ? (void *)(codes + q) : (void *)(argmax + q);
            CNN_SUFFIX(cnn_mp_put)(r0 + 2 * o0, r0 + W + 2 * o0, y + q, winners, codes != NULL, n,
                                   2 * oy * W + 2 * o0, (int)W, direct, exact);
        }
    }
}

/* 2x2, stride-2 max-pool backward of one plane, for winners that each lie in
   their own window (as cnn_maxpool2x2_plane finds them): every dx is written
   once, 0 + dy at the winner (what += into zeros gives) and 0 elsewhere, with
   no zeroing pass first. The winners come as argmax or (argmax NULL) as
   codes. A tile takes LANES windows and one of their two rows: it compares
   each winner's place in its window with the row's two places and
   interleaves the picks for even and odd columns (cnn_unpool_pair gives the
   two vectors: the row's values of the LANES windows, in order).
   The top rows of a row pair are written before the bottom rows, and those
   before the next pair, so lanes past a row's end may be stored (later tiles
   overwrite them) unless they would land past the plane; reads of dy and
   argmax past the dy_avail elements the caller owns go through a buffer.
   Rows of windows that divide a vector go several rows a tile
   (cnn_unpool2x2_folded); rows of at most half a vector and fewer than 12
   windows that do not, one window at a time (cnn_unpool2x2_scatter). */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_unpool_pair)(
        const CNN_REAL *dy, const long long *argmax, const unsigned char *codes, const CNN_REAL *pooled,
        long long first, int W, int r, ptrdiff_t n, int direct, CNN_VEC out[2])
{
    typedef long long idx_t __attribute__((vector_size(LANES * 8), aligned(8), may_alias));
    CNN_REAL tg[LANES], ty[LANES];
    long long ta[LANES];
    unsigned char tb[LANES];
    if (!direct) {     /* the n windows there are, through a buffer; the other lanes win nowhere */
        for (ptrdiff_t i = 0; i < LANES; i++) {
            tg[i] = i < n ? dy[i] : 0;
            ty[i] = i < n && pooled ? pooled[i] : 0;
            ta[i] = i < n && argmax ? argmax[i] : -1;
            tb[i] = i < n && codes ? codes[i] : 255;
        }
        dy = tg;
        pooled = pooled ? ty : NULL;
        argmax = argmax ? ta : NULL;
        codes = codes ? tb : NULL;
    }
    CNN_VEC g = *(const CNN_VEC *)dy;
    CNN_MASK lane, lo, hi;
    for (int i = 0; i < LANES; i++) {
        lane[i] = 2 * i;
        lo[i] = i / 2 + (i % 2) * LANES;
        hi[i] = LANES / 2 + i / 2 + (i % 2) * LANES;
    }
    g = g + 0;
    if (pooled) {      /* times ReLU's slope at the winner: y = f(z) there is what the pool output */
        const CNN_VEC y = *(const CNN_VEC *)pooled;
        g = g * (CNN_VEC)((y > 0) & (CNN_MASK)((CNN_VEC){0} + 1));
    }
    const CNN_MASK gb = (CNN_MASK)g;
    /* the winner's place in its window as an offset (0, 1, W, W + 1) or a code (0..3) */
    const CNN_MASK k = argmax ? __builtin_convertvector(*(const idx_t *)argmax - first, CNN_MASK) - lane
                              : CNN_SUFFIX(cnn_widen_codes)(codes);
    const int place = argmax ? r * W : 2 * r;
    const CNN_VEC even = (CNN_VEC)(gb & (k == place)), odd = (CNN_VEC)(gb & (k == place + 1));
    out[0] = __builtin_shuffle(even, odd, lo);
    out[1] = __builtin_shuffle(even, odd, hi);
}

CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_unpool_tile)(
        const CNN_REAL *dy, const long long *argmax, const unsigned char *codes, const CNN_REAL *pooled,
        long long first, int W, int r, CNN_REAL *dst, ptrdiff_t n, int direct, int exact)
{
    CNN_VEC out[2];
    CNN_SUFFIX(cnn_unpool_pair)(dy, argmax, codes, pooled, first, W, r, n, direct, out);
    if (!exact) {
        *(CNN_VEC *)dst = out[0];
        *(CNN_VEC *)(dst + LANES) = out[1];
    } else {
        for (ptrdiff_t i = 0; i < 2 * n; i++)
            dst[i] = out[i / LANES][i % LANES];
    }
}

/* Planes whose rows hold fewer windows than a vector has lanes, a whole fraction of them
   (Wo = LANES / K, K = 2, 4, ...; coded winners, W = 2 Wo): a tile takes K rows of windows,
   and its two output vectors for the windows' row r are rows 2 oy + r, 2 (oy + 1) + r, ... of
   dx, K / 2 whole rows each, stored as they are (instead of a tile a row with most lanes idle,
   or one window at a time). */
#define CNN_UNPOOL_ROWS(K) \
    case K: \
        for (ptrdiff_t j = 0; j < rows; j++) \
            memcpy(dx + (2 * (oy + j) + r) * W, (const CNN_REAL *)out + j * (2 * LANES / (K)), \
                   (2 * LANES / (K)) * sizeof(CNN_REAL)); \
        break;
static inline void CNN_SUFFIX(cnn_unpool2x2_folded)(
        const CNN_REAL *dy, const unsigned char *codes, const CNN_REAL *pooled, CNN_REAL *dx, ptrdiff_t Ho,
        ptrdiff_t Wo, ptrdiff_t dy_avail)
{
    const ptrdiff_t K = LANES / Wo, W = 2 * Wo;
    for (ptrdiff_t oy = 0; oy < Ho; oy += K) {
        const ptrdiff_t rows = Ho - oy < K ? Ho - oy : K, q = oy * Wo;
        const int direct = q + LANES <= dy_avail;
        for (int r = 0; r < 2; r++) {
            CNN_VEC out[2];
            CNN_SUFFIX(cnn_unpool_pair)(dy + q, NULL, codes + q, pooled ? pooled + q : NULL, 0, (int)W, r,
                                        rows * Wo, direct, out);
            switch (K) {
            CNN_UNPOOL_ROWS(2) CNN_UNPOOL_ROWS(4) CNN_UNPOOL_ROWS(8) CNN_UNPOOL_ROWS(16)
            default: break;
            }
        }
    }
}
#undef CNN_UNPOOL_ROWS

/* Whether rows of Wq windows go several rows a tile (cnn_unpool2x2_folded). */
static inline int CNN_SUFFIX(cnn_unpool_folds)(ptrdiff_t Wq)
{
    return 0 < Wq && Wq < LANES && LANES % Wq == 0;
}

static inline void CNN_SUFFIX(cnn_unpool2x2_plane)(
        const CNN_REAL *dy, const long long *argmax, const unsigned char *codes, const CNN_REAL *pooled,
        CNN_REAL *dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t dy_avail)
{
    if (codes && CNN_SUFFIX(cnn_unpool_folds)(Wo) && W == 2 * Wo) {
        CNN_SUFFIX(cnn_unpool2x2_folded)(dy, codes, pooled, dx, Ho, Wo, dy_avail);
        for (ptrdiff_t i = 2 * Ho * W; i < H * W; i++)
            dx[i] = 0;
        return;
    }
    if (2 * Wo <= LANES && Wo < 12) {     /* a tile a row would leave most lanes idle: one window at a time */
        CNN_SUFFIX(cnn_unpool2x2_scatter)(dy, argmax, codes, pooled, dx, H, W, Ho, Wo);
        return;
    }
    for (ptrdiff_t oy = 0; oy < Ho; oy++) {
        for (int r = 0; r < 2; r++) {
            CNN_REAL *row = dx + (2 * oy + r) * W;
            for (ptrdiff_t o0 = 0; o0 < Wo; o0 += LANES) {
                const ptrdiff_t n = Wo - o0 < LANES ? Wo - o0 : LANES;
                const int direct = oy * Wo + o0 + LANES <= dy_avail;
                const int exact = (2 * oy + r) * W + 2 * o0 + 2 * LANES > H * W;
                const ptrdiff_t q = oy * Wo + o0;
                CNN_SUFFIX(cnn_unpool_tile)(dy + q, argmax ? argmax + q : NULL, codes ? codes + q : NULL,
                                            pooled ? pooled + q : NULL, 2 * oy * W + 2 * o0, (int)W, r,
                                            row + 2 * o0, n,
                                            direct, exact);
            }
        }
        for (ptrdiff_t c = 2 * Wo; c < W; c++)
            dx[2 * oy * W + c] = dx[(2 * oy + 1) * W + c] = 0;
    }
    for (ptrdiff_t i = 2 * Ho * W; i < H * W; i++)
        dx[i] = 0;
}

/* dst[i] = v[i] for i < k (0 < k <= LANES): the whole vector, or a masked store where the
   target has one (the lanes past k may be another thread's), else lane by lane. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_store_first)(CNN_REAL *dst, CNN_VEC v, ptrdiff_t k)
{
    if (k == LANES) {
        *(CNN_VEC *)dst = v;
        return;
    }
#if CNN_VBYTES == 64 && defined(__AVX512F__)
    if (sizeof(CNN_REAL) == 4)
        _mm512_mask_storeu_ps((void *)dst, (__mmask16)((1u << k) - 1), (__m512)v);
    else
        _mm512_mask_storeu_pd((void *)dst, (__mmask8)((1u << k) - 1), (__m512d)v);
#elif CNN_VBYTES == 32 && defined(__AVX2__)
    CNN_MASK lane;
    for (int i = 0; i < LANES; i++)
        lane[i] = i;
    const CNN_MASK m = lane < (CNN_MASK){0} + (int)k;
    if (sizeof(CNN_REAL) == 4)
        _mm256_maskstore_ps((float *)dst, (__m256i)m, (__m256)v);
    else
        _mm256_maskstore_pd((double *)dst, (__m256i)m, (__m256d)v);
#else
    for (ptrdiff_t i = 0; i < k; i++)
        dst[i] = v[i];
#endif
}

/* The first m (0 < m <= 2 LANES) values of out[0], out[1] stored at a and b (NULL: none) and
   added into s (which has room for whole vectors). */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_put_row)(const CNN_VEC out[2], ptrdiff_t m, CNN_REAL *s, CNN_REAL *a,
                                               CNN_REAL *b)
{
    *(CNN_VEC *)s += out[0];
    if (m <= LANES) {
        CNN_SUFFIX(cnn_store_first)(a, out[0], m);
        if (b)
            CNN_SUFFIX(cnn_store_first)(b, out[0], m);
        return;
    }
    *(CNN_VEC *)(s + LANES) += out[1];
    *(CNN_VEC *)a = out[0];
    CNN_SUFFIX(cnn_store_first)(a + LANES, out[1], m - LANES);
    if (b) {
        *(CNN_VEC *)b = out[0];
        CNN_SUFFIX(cnn_store_first)(b + LANES, out[1], m - LANES);
    }
}

/* Rows 0 <= j < R of one plane of dz from a 2x2, stride-2 max-pool's gradient, the values
   cnn_unpool2x2_plane gives them (coded winners; dy, codes and pooled from the rows' first
   window, rows of Wq windows; Wo = 2 Wq or 2 Wq + 1 columns: an odd last column, or an odd
   last row, lies in no window and is 0), each tile's two vectors of a row stored straight
   into that row of d1 (rows p1 apart) and of d2 (p2 apart; NULL: none) and added into sum,
   with no plane in between. sum's rows are ps apart, ps a whole number of vectors, at least
   Wo: no vector of a row overlaps the row before, whose store a load would wait for. A tile's
   lanes past its windows add other windows' values past column 2 Wq: into the scratch past
   Wo, and into an odd last column, whose sum (0: it is in no window) is set back. Reads past
   the windows as there (dy_avail). */
static inline void CNN_SUFFIX(cnn_unpool_into)(
        const CNN_REAL *dy, const unsigned char *codes, const CNN_REAL *pooled, ptrdiff_t R, ptrdiff_t Wo,
        ptrdiff_t Wq, CNN_REAL *sum, ptrdiff_t ps, CNN_REAL *d1, ptrdiff_t p1, CNN_REAL *d2, ptrdiff_t p2,
        ptrdiff_t dy_avail)
{
    for (ptrdiff_t oy = 0; 2 * oy + 1 < R; oy++) {
        for (ptrdiff_t o0 = 0; o0 < Wq; o0 += LANES) {
            const ptrdiff_t n = Wq - o0 < LANES ? Wq - o0 : LANES, q = oy * Wq + o0;
            const int direct = q + LANES <= dy_avail;
            for (int r = 0; r < 2; r++) {
                CNN_VEC out[2];
                CNN_SUFFIX(cnn_unpool_pair)(dy + q, NULL, codes + q, pooled ? pooled + q : NULL, 0, (int)(2 * Wq), r,
                                            n, direct, out);
                const ptrdiff_t j = 2 * oy + r, c = 2 * o0, m = 2 * n;     /* the row's values here */
                CNN_SUFFIX(cnn_put_row)(out, m, sum + j * ps + c, d1 + j * p1 + c, d2 ? d2 + j * p2 + c : NULL);
            }
        }
        for (ptrdiff_t j = 2 * oy; j < 2 * oy + 2 && 2 * Wq < Wo; j++) {
            d1[j * p1 + Wo - 1] = 0;
            if (d2)
                d2[j * p2 + Wo - 1] = 0;
            sum[j * ps + Wo - 1] = 0;     /* (the last tile's lanes past its windows reach it) */
        }
    }
    for (ptrdiff_t x = 0; R % 2 && x < Wo; x++) {
        d1[(R - 1) * p1 + x] = 0;
        if (d2)
            d2[(R - 1) * p2 + x] = 0;
    }
}

/* NC channels' planes of dx (H x W, one after another) from their KH x KW rows of the transposed
   convolution's products (cnn_fold_plane's cols, a channel's rows cs = KH KW Lr apart; row
   (i, j) holds Ho x Wo values y * Wo + x), for a layer of stride 1: dx(r, s) = the sum over the
   taps, j outer and i inner, of cols(i, j)(y, x) with y = r + PH - i and x = s + PW - j, where
   both lie in the maps. Each vector of a row of dx sums in a register and is stored once, the
   NC channels' sums side by side (independent chains of adds: one chain waits on each add's
   latency): a tap's row is read as a whole vector from x = s0 + PW - j, its lanes whose x lies
   outside 0..Wo-1 zeroed (they read a neighbouring row's values, or past the last row: the
   caller leaves slack after cols; none lies before, as tap (i, j)'s reads start at least
   j Lr - j in). Each sum gets cnn_fold_plane's terms in cnn_fold_plane's order, so
   the same bits: a zeroed lane adds +0, which changes no sum that starts from +0. */
CNN_ALWAYS_INLINE void CNN_SUFFIX(cnn_fold_rows_of)(const CNN_REAL *CNN_RESTRICT cols, ptrdiff_t Lr, ptrdiff_t Ho,
                                                    ptrdiff_t Wo, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t PH,
                                                    ptrdiff_t PW, CNN_REAL *CNN_RESTRICT dx, ptrdiff_t H,
                                                    ptrdiff_t W, const int NC)
{
    CNN_MASK lane;
    for (int l = 0; l < LANES; l++)
        lane[l] = l;
    const ptrdiff_t cs = KH * KW * Lr;
    for (ptrdiff_t r = 0; r < H; r++) {
        /* the taps i that reach row r (none where i0 > i1) */
        const ptrdiff_t i0 = r + PH - (Ho - 1) > 0 ? r + PH - (Ho - 1) : 0;
        const ptrdiff_t i1 = r + PH < KH - 1 ? r + PH : KH - 1;
        for (ptrdiff_t s0 = 0; s0 < W; s0 += LANES) {
            CNN_VEC acc[4];
            for (int c = 0; c < NC; c++)
                acc[c] = (CNN_VEC){0};
            for (ptrdiff_t j = 0; j < KW; j++) {
                const ptrdiff_t x0 = s0 + PW - j;
                const CNN_MASK keep = (lane + (int)x0 >= 0) & (lane + (int)x0 < (int)Wo);
                const CNN_REAL *t = cols + (i0 * KW + j) * Lr + (r + PH - i0) * Wo + x0;
                for (ptrdiff_t i = i0; i <= i1; i++, t += KW * Lr - Wo)
                    for (int c = 0; c < NC; c++)
                        acc[c] += (CNN_VEC)((CNN_MASK)(*(const CNN_VEC *)(t + c * cs)) & keep);
            }
            for (int c = 0; c < NC; c++)
                CNN_SUFFIX(cnn_store_first)(dx + c * H * W + r * W + s0, acc[c], W - s0 < LANES ? W - s0 : LANES);
        }
    }
}

/* C channels' planes of dx by cnn_fold_rows_of, four at a time. (A function of its own: inlined
   into the loop of products around it, it ran 4 % slower, lenet's second layer, Zen 4.) */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void CNN_SUFFIX(cnn_fold_rows)(const CNN_REAL *CNN_RESTRICT cols, ptrdiff_t Lr, ptrdiff_t Ho, ptrdiff_t Wo,
                                      ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t PH, ptrdiff_t PW,
                                      CNN_REAL *CNN_RESTRICT dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C)
{
    const ptrdiff_t cs = KH * KW * Lr;
    ptrdiff_t c = 0;
    for (; c + 4 <= C; c += 4)
        CNN_SUFFIX(cnn_fold_rows_of)(cols + c * cs, Lr, Ho, Wo, KH, KW, PH, PW, dx + c * H * W, H, W, 4);
    for (; c + 2 <= C; c += 2)
        CNN_SUFFIX(cnn_fold_rows_of)(cols + c * cs, Lr, Ho, Wo, KH, KW, PH, PW, dx + c * H * W, H, W, 2);
    for (; c < C; c++)
        CNN_SUFFIX(cnn_fold_rows_of)(cols + c * cs, Lr, Ho, Wo, KH, KW, PH, PW, dx + c * H * W, H, W, 1);
}

#undef LANES

#else  /* plain loops, the same choices */

/* cnn_fold_rows's sums (see there), one value at a time. */
static inline void CNN_SUFFIX(cnn_fold_rows)(const CNN_REAL *cols, ptrdiff_t Lr, ptrdiff_t Ho, ptrdiff_t Wo,
                                             ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t PH, ptrdiff_t PW,
                                             CNN_REAL *dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C)
{
    for (ptrdiff_t c = 0; c < C; c++, cols += KH * KW * Lr, dx += H * W)
        for (ptrdiff_t r = 0; r < H; r++)
            for (ptrdiff_t s = 0; s < W; s++) {
                CNN_REAL acc = 0;
                for (ptrdiff_t j = 0; j < KW; j++)
                    for (ptrdiff_t i = 0; i < KH; i++) {
                        const ptrdiff_t y = r + PH - i, x = s + PW - j;
                        if (y >= 0 && y < Ho && x >= 0 && x < Wo)
                            acc += cols[(i * KW + j) * Lr + y * Wo + x];
                    }
                dx[r * W + s] = acc;
            }
}

static inline void CNN_SUFFIX(cnn_maxpool2x2_plane)(
        const CNN_REAL *x, CNN_REAL *y, long long *argmax, unsigned char *codes, ptrdiff_t W,
        ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t x_avail)
{
    (void)x_avail;
    for (ptrdiff_t oy = 0; oy < Ho; oy++) {
        const CNN_REAL *r0 = x + 2 * oy * W, *r1 = r0 + W;
        for (ptrdiff_t i = 0; i < Wo; i++) {
            const CNN_REAL v[3] = {r0[2 * i + 1], r1[2 * i], r1[2 * i + 1]};
            CNN_REAL best = r0[2 * i];
            int kk = 0;
            for (int t = 0; t < 3; t++) {
                const int take = !(v[t] <= best) && best == best;
                best = take ? v[t] : best;
                kk = take ? t + 1 : kk;
            }
            y[oy * Wo + i] = best;
            if (codes)
                codes[oy * Wo + i] = (unsigned char)kk;
            else
                argmax[oy * Wo + i] = 2 * oy * W + 2 * i + (kk & 1) + (kk >> 1) * W;
        }
    }
}
static inline int CNN_SUFFIX(cnn_unpool_folds)(ptrdiff_t Wq)
{
    (void)Wq;
    return 0;
}

static inline void CNN_SUFFIX(cnn_unpool2x2_plane)(
        const CNN_REAL *dy, const long long *argmax, const unsigned char *codes, const CNN_REAL *pooled,
        CNN_REAL *dx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t dy_avail)
{
    (void)dy_avail;
    CNN_SUFFIX(cnn_unpool2x2_scatter)(dy, argmax, codes, pooled, dx, H, W, Ho, Wo);
}

static inline void CNN_SUFFIX(cnn_unpool_into)(
        const CNN_REAL *dy, const unsigned char *codes, const CNN_REAL *pooled, ptrdiff_t R, ptrdiff_t Wo,
        ptrdiff_t Wq, CNN_REAL *sum, ptrdiff_t ps, CNN_REAL *d1, ptrdiff_t p1, CNN_REAL *d2, ptrdiff_t p2,
        ptrdiff_t dy_avail)
{
    (void)dy_avail;
    for (ptrdiff_t j = 0; j < R; j++)
        for (ptrdiff_t x = 0; x < Wo; x++) {
            const ptrdiff_t q = (j / 2) * Wq + x / 2;
            CNN_REAL v = 0;
            if (j < R - R % 2 && x < 2 * Wq && (codes[q] & 3) == 2 * (j % 2) + x % 2)
                v = pooled ? ((CNN_REAL)0 + dy[q]) * (CNN_REAL)(pooled[q] > 0) : (CNN_REAL)0 + dy[q];
            sum[j * ps + x] += v;
            d1[j * p1 + x] = v;
            if (d2)
                d2[j * p2 + x] = v;
        }
}
#endif
