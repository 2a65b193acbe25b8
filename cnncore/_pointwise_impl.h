/* Included twice by _pointwise.h, once per element type (CNN_PW_T). */

#ifdef CNN_PW_MASKED
/* the lanes of a row's next vector that hold elements, `left` of them still to go */
#define CNN_PW_ROW_MASK(left) ((left) >= CNN_PW_LN ? (1u << CNN_PW_LN) - 1 : (1u << (left)) - 1)
#endif

/* d[c * ds] = s[c * ss] for c < n: rows here are short (4 to 28 elements), so
   the contiguous case moves 32 bytes at a time and never calls memcpy. */
static inline void CNN_PW_NAME(cnn_copy_row)(const CNN_PW_T *CNN_PW_RESTRICT s, ptrdiff_t ss,
                                             CNN_PW_T *CNN_PW_RESTRICT d, ptrdiff_t ds, ptrdiff_t n)
{
    ptrdiff_t c = 0;
    /* A flipped row (a full convolution's filters): each direction in a loop of its own, which the
       compiler turns into reversed vectors. A step's copy reads the filters' runs forward and writes
       them backward (ss = 1, ds = -1): cifar's second layer's 10,368 values 6.3 -> 3.9 us (AMD EPYC,
       avx2 kernels, one core), where the strided loop below moved one value at a time. */
    if (ss == -1 && ds == 1) {
        for (; c < n; c++)
            d[c] = s[-c];
        return;
    }
    if (ss == 1 && ds == -1) {
        for (; c < n; c++)
            d[-c] = s[c];
        return;
    }
    if (ss != 1 || ds != 1) {
        for (; c < n; c++)
            d[c * ds] = s[c * ss];
        return;
    }
#ifdef CNN_PW_MASKED
    for (; c < n; c += CNN_PW_LN) {
        const unsigned m = CNN_PW_ROW_MASK(n - c);
        CNN_PW_STORE(d + c, m, CNN_PW_LOAD(m, s + c));
    }
    return;
#endif
#ifdef CNN_PW_VECTORS
    typedef CNN_PW_T chunk __attribute__((vector_size(32), aligned(sizeof(CNN_PW_T)), may_alias));
    enum { L = 32 / sizeof(CNN_PW_T) };
    for (; c + L <= n; c += L)
        *(chunk *)(d + c) = *(const chunk *)(s + c);
#endif
    for (; c < n; c++)
        d[c] = s[c];
}

static inline void CNN_PW_NAME(cnn_relu_row)(const CNN_PW_T *CNN_PW_RESTRICT s, ptrdiff_t ss,
                                             CNN_PW_T *CNN_PW_RESTRICT y, ptrdiff_t n)
{
#ifdef CNN_PW_MASKED
    if (ss == 1) {
        for (ptrdiff_t c = 0; c < n; c += CNN_PW_LN) {
            const unsigned m = CNN_PW_ROW_MASK(n - c);
            const CNN_PW_VEC v = CNN_PW_LOAD(m, s + c);
            CNN_PW_STORE(y + c, m, CNN_PW_ZERO_AT(v, CNN_PW_LE0(v)));
        }
        return;
    }
#endif
    if (ss == 1)
        for (ptrdiff_t c = 0; c < n; c++)
            y[c] = s[c] <= 0 ? (CNN_PW_T)0 : s[c];
    else
        for (ptrdiff_t c = 0; c < n; c++)
            y[c] = s[c * ss] <= 0 ? (CNN_PW_T)0 : s[c * ss];
}

static inline void CNN_PW_NAME(cnn_act_plane)(const CNN_PW_T *src, ptrdiff_t sy, ptrdiff_t sx,
                                              ptrdiff_t Ho, ptrdiff_t Wo, CNN_PW_T *CNN_PW_RESTRICT z,
                                              CNN_PW_T *CNN_PW_RESTRICT y, int act)
{
    for (ptrdiff_t r = 0; r < Ho; r++) {
        if (z)
            CNN_PW_NAME(cnn_copy_row)(src + r * sy, sx, z + r * Wo, 1, Wo);
        if (act == CNN_ACT_RELU)
            CNN_PW_NAME(cnn_relu_row)(src + r * sy, sx, y + r * Wo, Wo);
    }
}

/* dz = dy * f'(z) for one (sample, filter) plane into the contiguous plane dz;
   z has rows zy and columns zx apart. */
static inline void CNN_PW_NAME(cnn_slope_plane)(const CNN_PW_T *CNN_PW_RESTRICT dy, const CNN_PW_T *z,
                                                ptrdiff_t zy, ptrdiff_t zx, ptrdiff_t Ho, ptrdiff_t Wo,
                                                CNN_PW_T *CNN_PW_RESTRICT dz)
{
    for (ptrdiff_t r = 0; r < Ho; r++) {
        const CNN_PW_T *CNN_PW_RESTRICT g = dy + r * Wo;
        const CNN_PW_T *CNN_PW_RESTRICT zr = z + r * zy;
        CNN_PW_T *CNN_PW_RESTRICT d = dz + r * Wo;
#ifdef CNN_PW_MASKED
        if (zx == 1) {
            for (ptrdiff_t c = 0; c < Wo; c += CNN_PW_LN) {
                const unsigned m = CNN_PW_ROW_MASK(Wo - c);
                const CNN_PW_VEC slope = CNN_PW_ONES(CNN_PW_GT0(CNN_PW_LOAD(m, zr + c)));
                CNN_PW_STORE(d + c, m, CNN_PW_MUL(CNN_PW_LOAD(m, g + c), slope));
            }
            continue;
        }
#endif
        if (zx == 1)
            for (ptrdiff_t c = 0; c < Wo; c++)
                d[c] = g[c] * (CNN_PW_T)(zr[c] > 0);
        else
            for (ptrdiff_t c = 0; c < Wo; c++)
                d[c] = g[c] * (CNN_PW_T)(zr[c * zx] > 0);
    }
}

/* The sum of a plane's P values in a fixed order: 16 interleaved partial sums
   (element i goes to sum i mod 16), then the 16 added in order. One chain of P
   dependent adds took P times an add's latency (about 1.2 us for a 28x28 plane,
   a filter's whole db at batch 1); 16 chains run side by side, in vector lanes. */
static inline CNN_PW_T CNN_PW_NAME(cnn_plane_sum)(const CNN_PW_T *CNN_PW_RESTRICT a, ptrdiff_t P)
{
    CNN_PW_T part[16] = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= P; i += 16)
        for (int k = 0; k < 16; k++)
            part[k] += a[i + k];
    for (int k = 0; i < P; i++, k++)
        part[k] += a[i];
    CNN_PW_T s = 0;
    for (int k = 0; k < 16; k++)
        s += part[k];
    return s;
}

/* Rows r0 <= r < r1 of one plane of dz = dy * f'(z), of sample n and filter f (r0 even
   where there are codes): dy's own rows (act NONE, no codes), else formed in
   tmp[(r1-r0)*Wo]. Row r is at [(r - r0) * Wo]. With codes, dy is a 2x2 max-pool's
   gradient (a quarter of the plane) and codes its winners' places (0..3): dz is 0 + dy at
   each winner (what the pool's backward pass writes) times f'(z) there, 0 elsewhere, bit
   for bit dz of the pool's written dx; for ReLU f'(z) at a winner is (pooled > 0), pooled
   the pool's output, so z itself is never read. */
static inline const CNN_PW_T *CNN_PW_NAME(cnn_dz_rows)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *pooled, const CNN_PW_T *z,
        const ptrdiff_t *zs, int act, ptrdiff_t N, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t n,
        ptrdiff_t f, ptrdiff_t r0, ptrdiff_t r1, CNN_PW_T *tmp)
{
    const ptrdiff_t R = r1 - r0, Wq = Wo / 2;
    if (codes) {     /* (its vectors may read on past these rows: to the end of dy, codes and pooled) */
        const ptrdiff_t q = (n * F + f) * (Ho / 2) * Wq + (r0 / 2) * Wq, Rq = R / 2;
        CNN_PW_NAME(cnn_unpool2x2_plane)(dy + q, NULL, codes + q, act == CNN_ACT_RELU ? pooled + q : NULL, tmp,
                                         R, Wo, Rq, Wq, N * F * (Ho / 2) * Wq - q);
        return tmp;
    }
    const CNN_PW_T *g = dy + (n * F + f) * Ho * Wo + r0 * Wo;
    if (act == CNN_ACT_RELU) {
        CNN_PW_NAME(cnn_slope_plane)(g, z + n * zs[0] + f * zs[1] + r0 * zs[2], zs[2], zs[3], R, Wo, tmp);
        return tmp;
    }
    return g;
}

/* a[i] += g[i] for i < n */
static inline void CNN_PW_NAME(cnn_add_row)(const CNN_PW_T *CNN_PW_RESTRICT g, CNN_PW_T *CNN_PW_RESTRICT a,
                                            ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        a[i] += g[i];
}

/* Fetch early what cnn_dz_rows reads of sample n: the same filter's planes of one sample
   and the next are F planes apart, too far for the hardware's own prefetch to follow. */
static inline void CNN_PW_NAME(cnn_dz_prefetch)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *pooled, const CNN_PW_T *z,
        const ptrdiff_t *zs, int act, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t n, ptrdiff_t f,
        ptrdiff_t r0, ptrdiff_t r1)
{
#if defined(__GNUC__) || defined(__clang__)
    const ptrdiff_t Wq = Wo / 2;
    if (codes) {
        const ptrdiff_t q = (n * F + f) * (Ho / 2) * Wq + (r0 / 2) * Wq, Q = ((r1 - r0) / 2) * Wq;
        for (ptrdiff_t b = 0; b < Q * (ptrdiff_t)sizeof(CNN_PW_T); b += 64) {
            __builtin_prefetch((const char *)(dy + q) + b);
            if (act == CNN_ACT_RELU)
                __builtin_prefetch((const char *)(pooled + q) + b);
        }
        for (ptrdiff_t b = 0; b < Q; b += 64)
            __builtin_prefetch(codes + q + b);
        return;
    }
    const CNN_PW_T *g = dy + (n * F + f) * Ho * Wo + r0 * Wo;
    for (ptrdiff_t b = 0; b < (r1 - r0) * Wo * (ptrdiff_t)sizeof(CNN_PW_T); b += 64)
        __builtin_prefetch((const char *)g + b);
    if (act == CNN_ACT_RELU)
        for (ptrdiff_t r = r0; r < r1; r++)
            __builtin_prefetch(z + n * zs[0] + f * zs[1] + r * zs[2]);
#else
    (void)dy; (void)codes; (void)pooled; (void)z; (void)zs; (void)act; (void)F; (void)Ho; (void)Wo; (void)n;
    (void)f; (void)r0; (void)r1;
#endif
}

/* One item of a convolution's gradient pass: the filters f0 <= f < f0 + B (B <= 16) and the
   rows r0 <= r < r1 of their planes, over every sample in order. dz is written where the dw
   and dx loops read it: into d2 (strides s2; NULL: not wanted) and d1, which is
   positions-major (N, Ho*Wo, F) when `pm` (the B values of a position written together, by a
   transposition in registers where B fills a vector or is every filter), else has strides s1;
   and acc[f*Ho*Wo + p] = 0 + the sum over samples (in order) of dz at p, for those rows'
   positions p, added up in the item's own scratch and stored once. tmp: 2 * B * (r1-r0) *
   (Wo + CNN_VBYTES / sizeof(T)) scratch. */
CNN_ALWAYS_INLINE void CNN_PW_NAME(cnn_dz_item_b)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *pooled, const CNN_PW_T *z,
        const ptrdiff_t *zs, int act,
        ptrdiff_t N, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t f0, ptrdiff_t B, ptrdiff_t r0,
        ptrdiff_t r1, CNN_PW_T *d1, const ptrdiff_t *s1, int pm, CNN_PW_T *d2, const ptrdiff_t *s2,
        CNN_PW_T *acc, CNN_PW_T *tmp)
{
    const ptrdiff_t P = Ho * Wo, R = r1 - r0, L = R * Wo;
    const CNN_PW_T *planes[16] = {0};
    /* from a pool's gradient into rows of unit stride: tile by tile, no plane in between, the
       sums' rows whole vectors apart (except where several rows of windows fill a tile: there
       the plane's tiles have no idle lanes, and were faster) */
    const int into = codes && !pm && s1[3] == 1 && (!d2 || s2[3] == 1) && !CNN_PW_NAME(cnn_unpool_folds)(Wo / 2);
    const ptrdiff_t lanes = CNN_VBYTES / (ptrdiff_t)sizeof(CNN_PW_T), ps = into ? (Wo + lanes - 1) / lanes * lanes : Wo;
    CNN_PW_T *sum = into ? tmp : tmp + B * L;
    for (ptrdiff_t i = 0; i < B * R * ps; i++)
        sum[i] = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        for (ptrdiff_t b = 0; b < B; b++) {
            const ptrdiff_t f = f0 + b;
            if (n + 1 < N)
                CNN_PW_NAME(cnn_dz_prefetch)(dy, codes, pooled, z, zs, act, F, Ho, Wo, n + 1, f, r0, r1);
            if (into) {
                const ptrdiff_t Wq = Wo / 2, q = (n * F + f) * (Ho / 2) * Wq + (r0 / 2) * Wq;
                CNN_PW_NAME(cnn_unpool_into)(dy + q, codes + q, act == CNN_ACT_RELU ? pooled + q : NULL, R, Wo, Wq,
                                             sum + b * R * ps, ps, d1 + n * s1[0] + f * s1[1] + r0 * s1[2], s1[2],
                                             d2 ? d2 + n * s2[0] + f * s2[1] + r0 * s2[2] : NULL, d2 ? s2[2] : 0,
                                             N * F * (Ho / 2) * Wq - q);
                continue;
            }
            const CNN_PW_T *rows = CNN_PW_NAME(cnn_dz_rows)(dy, codes, pooled, z, zs, act, N, F, Ho, Wo, n, f, r0, r1,
                                                            tmp + b * L);
            CNN_PW_NAME(cnn_add_row)(rows, sum + b * L, L);
            for (ptrdiff_t r = 0; r < R; r++) {
                if (!pm)
                    CNN_PW_NAME(cnn_copy_row)(rows + r * Wo, 1, d1 + n * s1[0] + f * s1[1] + (r0 + r) * s1[2],
                                              s1[3], Wo);
                if (d2)
                    CNN_PW_NAME(cnn_copy_row)(rows + r * Wo, 1, d2 + n * s2[0] + f * s2[1] + (r0 + r) * s2[2],
                                              s2[3], Wo);
            }
            planes[b] = rows;
        }
        if (!pm)
            continue;
        CNN_PW_T *out = d1 + (n * P + r0 * Wo) * F + f0;
        ptrdiff_t p = 0;
        if (B == lanes)
            for (; p + B <= L; p += B)
                CNN_PW_NAME(cnn_transpose_block)(planes, p, out + p * F, F);
        else if (B == F) {
            /* fewer filters than lanes, all of them this item's: each position's row of
               the block runs on into the next positions', stored after it (so the block's
               last row must end inside this item's positions) */
            for (ptrdiff_t b = B; b < lanes; b++)
                planes[b] = planes[0];
            for (; (p + lanes - 1) * F + lanes <= L * F; p += lanes)
                CNN_PW_NAME(cnn_transpose_block)(planes, p, out + p * F, F);
        }
        for (; p < L; p++)
            for (ptrdiff_t b = 0; b < B; b++)
                out[p * F + b] = planes[b][p];
    }
    for (ptrdiff_t b = 0; b < B; b++)
        for (ptrdiff_t r = 0; r < R; r++)
            CNN_PW_NAME(cnn_copy_row)(sum + (b * R + r) * ps, 1, acc + (f0 + b) * P + (r0 + r) * Wo, 1, Wo);
}

static inline void CNN_PW_NAME(cnn_dz_item)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *pooled, const CNN_PW_T *z,
        const ptrdiff_t *zs, int act,
        ptrdiff_t N, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t f0, ptrdiff_t B, ptrdiff_t r0,
        ptrdiff_t r1, CNN_PW_T *d1, const ptrdiff_t *s1, int pm, CNN_PW_T *d2, const ptrdiff_t *s2,
        CNN_PW_T *acc, CNN_PW_T *tmp)
{
    if (B == 1)     /* (one filter an item: the compiler's own copy of the loops, for B = 1) */
        CNN_PW_NAME(cnn_dz_item_b)(dy, codes, pooled, z, zs, act, N, F, Ho, Wo, f0, 1, r0, r1, d1, s1, pm, d2, s2,
                                   acc, tmp);
    else
        CNN_PW_NAME(cnn_dz_item_b)(dy, codes, pooled, z, zs, act, N, F, Ho, Wo, f0, B, r0, r1, d1, s1, pm, d2, s2,
                                   acc, tmp);
}

/* One channel's plane of dx (H x W) from its KH x KW rows of the transposed convolution's
   products, cols[(i * KW + j) * Lr + y * Wo + x] = the sum over filters of w(f, c, i, j) *
   dz(f, y, x): each added, tap by tap, at (y * SH + i - PH, x * SW + j - PW), where
   that lies in dx, from zero. Every sum of dx is over the windows' own products. The taps
   go column by column (j outer): the adds of one j into a row are at the same places, and
   a load that overlaps part of a store still in flight (the next j's) would wait for it. */
static inline void CNN_PW_NAME(cnn_fold_plane)(const CNN_PW_T *CNN_PW_RESTRICT cols, ptrdiff_t Lr, ptrdiff_t Ho,
                                               ptrdiff_t Wo, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t SH,
                                               ptrdiff_t SW, ptrdiff_t PH, ptrdiff_t PW,
                                               CNN_PW_T *CNN_PW_RESTRICT dx, ptrdiff_t H, ptrdiff_t W)
{
    for (ptrdiff_t k = 0; k < H * W; k++)
        dx[k] = 0;
    for (ptrdiff_t j = 0; j < KW; j++) {
        /* the columns x with 0 <= x * SW + j - PW < W */
        const ptrdiff_t x0 = j >= PW ? 0 : (PW - j + SW - 1) / SW;
        ptrdiff_t x1 = W - 1 - j + PW < 0 ? 0 : (W - 1 - j + PW) / SW + 1;
        x1 = x1 < Wo ? x1 : Wo;
        for (ptrdiff_t i = 0; i < KH; i++) {
            /* the rows y with 0 <= y * SH + i - PH < H */
            const ptrdiff_t y0 = i >= PH ? 0 : (PH - i + SH - 1) / SH;
            ptrdiff_t y1 = H - 1 - i + PH < 0 ? 0 : (H - 1 - i + PH) / SH + 1;
            y1 = y1 < Ho ? y1 : Ho;
            if (x0 >= x1 || y0 >= y1)
                continue;
            const CNN_PW_T *CNN_PW_RESTRICT g = cols + (i * KW + j) * Lr + y0 * Wo + x0;
            CNN_PW_T *CNN_PW_RESTRICT d = dx + (y0 * SH + i - PH) * W + x0 * SW + j - PW;
            const ptrdiff_t n = x1 - x0;
            if (SW == 1)
                for (ptrdiff_t y = y0; y < y1; y++, g += Wo, d += SH * W)
                    for (ptrdiff_t x = 0; x < n; x++)
                        d[x] += g[x];
            else
                for (ptrdiff_t y = y0; y < y1; y++, g += Wo, d += SH * W)
                    for (ptrdiff_t x = 0; x < n; x++)
                        d[x * SW] += g[x];
        }
    }
}

/* Softmax cross-entropy of N rows of K logits, as cnncore.network.softmax_cross_entropy
   defines it: p = softmax(z) (shifted by the row's maximum; a NaN in a row makes the
   row NaN), dz = (p - onehot) / N, and the returned sum over rows of
   log p[label] (in double). *bad counts labels outside 0..K-1 (their rows are left). */
static inline double CNN_PW_NAME(cnn_softmax_xent)(const CNN_PW_T *z, const ptrdiff_t *labels,
                                                   ptrdiff_t N, ptrdiff_t K, CNN_PW_T *p,
                                                   CNN_PW_T *dz, ptrdiff_t *bad)
{
    double sum = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const CNN_PW_T *zr = z + n * K;
        CNN_PW_T *pr = p + n * K, *dr = dz + n * K;
        const ptrdiff_t label = labels[n];
        if (label < 0 || label >= K) {
            *bad += 1;
            continue;
        }
        CNN_PW_T m = zr[0], total = 0;
        for (ptrdiff_t k = 1; k < K; k++)
            m = (zr[k] > m || zr[k] != zr[k]) && m == m ? zr[k] : m;
        for (ptrdiff_t k = 0; k < K; k++) {
            pr[k] = CNN_PW_EXP(zr[k] - m);
            total += pr[k];
        }
        sum += (double)((zr[label] - m) - CNN_PW_LOG(total));
        for (ptrdiff_t k = 0; k < K; k++) {
            pr[k] = pr[k] / total;
            dr[k] = (k == label ? pr[k] - 1 : pr[k]) / (CNN_PW_T)N;
        }
    }
    return sum;
}

#ifdef CNN_PW_MASKED
#undef CNN_PW_ROW_MASK
#endif
