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

/* One plane of dz from a 2x2, stride-2 max-pool's gradient: dyp (Ho/2 x Wo/2)
   and the winners' codes (place in the window, 0..3): 0 + dyp at each winner
   (what the pool's backward pass writes) times f'(z) there, 0 elsewhere, so dz
   is bit for bit that of the pool's written dx. Rows of a dozen windows or
   more go through the pool's vector tile into `spread` and then f'; narrower
   ones (where that tile's lanes would mostly idle) are scattered one by one. */
static inline void CNN_PW_NAME(cnn_unpool_slope_plane)(
        const CNN_PW_T *dyp, const unsigned char *codes, const CNN_PW_T *z, ptrdiff_t zy,
        ptrdiff_t zx, int act, ptrdiff_t Ho, ptrdiff_t Wo, CNN_PW_T *spread, CNN_PW_T *dz)
{
    const ptrdiff_t Hq = Ho / 2, Wq = Wo / 2;
    if (Wq >= 12) {
        CNN_PW_NAME(cnn_unpool2x2_plane)(dyp, NULL, codes, act == CNN_ACT_RELU ? spread : dz, Ho, Wo,
                                         Hq, Wq, Hq * Wq);
        if (act == CNN_ACT_RELU)
            CNN_PW_NAME(cnn_slope_plane)(spread, z, zy, zx, Ho, Wo, dz);
        return;
    }
    for (ptrdiff_t i = 0; i < Ho * Wo; i++)
        dz[i] = 0;
    for (ptrdiff_t oy = 0; oy < Hq; oy++)
        for (ptrdiff_t ox = 0; ox < Wq; ox++) {
            const int c = codes[oy * Wq + ox] & 3;
            const ptrdiff_t r = 2 * oy + (c >> 1), col = 2 * ox + (c & 1);
            CNN_PW_T g = (CNN_PW_T)0 + dyp[oy * Wq + ox];
            if (act == CNN_ACT_RELU)
                g = g * (CNN_PW_T)(z[r * zy + col * zx] > 0);
            dz[r * Wo + col] = g;
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

static inline void CNN_PW_NAME(cnn_grad_filter)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *z, const ptrdiff_t *zs, int act,
        ptrdiff_t N, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t f, CNN_PW_T *d1, const ptrdiff_t *s1,
        CNN_PW_T *d2, const ptrdiff_t *s2, CNN_PW_T *CNN_PW_RESTRICT acc, CNN_PW_T *CNN_PW_RESTRICT tmp,
        CNN_PW_T *db)
{
    const ptrdiff_t P = Ho * Wo;
    for (ptrdiff_t i = 0; i < P; i++)
        acc[i] = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const CNN_PW_T *plane = dy + (n * F + f) * P;
        if (codes) {       /* dy is a 2x2 max-pool's gradient, a quarter of the plane */
            const ptrdiff_t Q = (Ho / 2) * (Wo / 2);
            CNN_PW_NAME(cnn_unpool_slope_plane)(dy + (n * F + f) * Q, codes + (n * F + f) * Q,
                                                z + n * zs[0] + f * zs[1], zs[2], zs[3], act, Ho, Wo,
                                                tmp + P, tmp);
            plane = tmp;
        }
#if defined(__GNUC__) || defined(__clang__)
        if (n + 1 < N) {   /* the next sample's planes are F planes away: fetch them early */
            const ptrdiff_t Q = codes ? (Ho / 2) * (Wo / 2) : P;
            const char *next = (const char *)(dy + ((n + 1) * F + f) * Q);
            for (ptrdiff_t b = 0; b < Q * (ptrdiff_t)sizeof(CNN_PW_T); b += 64)
                __builtin_prefetch(next + b);
            if (codes)
                for (ptrdiff_t b = 0; b < Q; b += 64)
                    __builtin_prefetch(codes + ((n + 1) * F + f) * Q + b);
            if (act == CNN_ACT_RELU)
                for (ptrdiff_t r = 0; r < Ho; r++)
                    __builtin_prefetch(z + (n + 1) * zs[0] + f * zs[1] + r * zs[2]);
        }
#endif
        if (!codes && act == CNN_ACT_RELU) {
            CNN_PW_NAME(cnn_slope_plane)(plane, z + n * zs[0] + f * zs[1], zs[2], zs[3], Ho, Wo, tmp);
            plane = tmp;
        }
        for (ptrdiff_t i = 0; i < P; i++)
            acc[i] += plane[i];
        for (ptrdiff_t r = 0; r < Ho; r++) {
            if (d1)
                CNN_PW_NAME(cnn_copy_row)(plane + r * Wo, 1, d1 + n * s1[0] + f * s1[1] + r * s1[2],
                                          s1[3], Wo);
            if (d2)
                CNN_PW_NAME(cnn_copy_row)(plane + r * Wo, 1, d2 + n * s2[0] + f * s2[1] + r * s2[2],
                                          s2[3], Wo);
        }
    }
    db[f] = CNN_PW_NAME(cnn_plane_sum)(acc, P);
}

/* cnn_grad_filter for the B filters f0 <= f < f0 + B (B <= 16) with d1 laid out
   positions-major, (N, Ho*Wo, F): the B values of a position are written together, one
   cache line, instead of B lines a value each (the filter gradient by vectors of
   filters reads this layout). acc and tmp are the bases of every filter's scratch
   (acc + f*P, tmp + 2*f*P as cnn_grad_filter has them); each filter's dz and db are
   those cnn_grad_filter gives. */
static inline void CNN_PW_NAME(cnn_grad_block)(
        const CNN_PW_T *dy, const unsigned char *codes, const CNN_PW_T *z, const ptrdiff_t *zs, int act,
        ptrdiff_t N, ptrdiff_t F, ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t f0, ptrdiff_t B, CNN_PW_T *d1,
        CNN_PW_T *d2, const ptrdiff_t *s2, CNN_PW_T *acc, CNN_PW_T *tmp, CNN_PW_T *db)
{
    const ptrdiff_t P = Ho * Wo, Q = (Ho / 2) * (Wo / 2);
    const CNN_PW_T *planes[16];
    for (ptrdiff_t b = 0; b < B; b++)
        for (ptrdiff_t i = 0; i < P; i++)
            acc[(f0 + b) * P + i] = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        for (ptrdiff_t b = 0; b < B; b++) {
            const ptrdiff_t f = f0 + b;
            const CNN_PW_T *plane = dy + (n * F + f) * P;
            CNN_PW_T *t = tmp + 2 * f * P, *CNN_PW_RESTRICT a = acc + f * P;
            if (codes) {
                CNN_PW_NAME(cnn_unpool_slope_plane)(dy + (n * F + f) * Q, codes + (n * F + f) * Q,
                                                    z + n * zs[0] + f * zs[1], zs[2], zs[3], act, Ho, Wo,
                                                    t + P, t);
                plane = t;
            } else if (act == CNN_ACT_RELU) {
                CNN_PW_NAME(cnn_slope_plane)(plane, z + n * zs[0] + f * zs[1], zs[2], zs[3], Ho, Wo, t);
                plane = t;
            }
            for (ptrdiff_t i = 0; i < P; i++)
                a[i] += plane[i];
            if (d2)
                for (ptrdiff_t r = 0; r < Ho; r++)
                    CNN_PW_NAME(cnn_copy_row)(plane + r * Wo, 1, d2 + n * s2[0] + f * s2[1] + r * s2[2],
                                              s2[3], Wo);
            planes[b] = plane;
        }
        CNN_PW_T *out = d1 + n * P * F + f0;
        ptrdiff_t p = 0;
        if (B == CNN_VBYTES / (ptrdiff_t)sizeof(CNN_PW_T))
            for (; p + B <= P; p += B)
                CNN_PW_NAME(cnn_transpose_block)(planes, p, out + p * F, F);
        for (; p < P; p++)
            for (ptrdiff_t b = 0; b < B; b++)
                out[p * F + b] = planes[b][p];
    }
    for (ptrdiff_t b = 0; b < B; b++)
        db[f0 + b] = CNN_PW_NAME(cnn_plane_sum)(acc + (f0 + b) * P, P);
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
