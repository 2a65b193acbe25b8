/* Included twice by _pointwise.h, once per element type (CNN_PW_T). */

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
#ifdef CNN_PW_VECTORS
    typedef CNN_PW_T chunk __attribute__((vector_size(32), aligned(sizeof(CNN_PW_T)), may_alias));
    enum { L = 32 / sizeof(CNN_PW_T) };
    for (; c + L <= n; c += L)
        *(chunk *)(d + c) = *(const chunk *)(s + c);
#endif
    for (; c < n; c++)
        d[c] = s[c];
}

static inline void CNN_PW_NAME(cnn_act_plane)(const CNN_PW_T *src, ptrdiff_t sy, ptrdiff_t sx,
                                              ptrdiff_t Ho, ptrdiff_t Wo, CNN_PW_T *CNN_PW_RESTRICT z,
                                              CNN_PW_T *CNN_PW_RESTRICT y, int act)
{
    for (ptrdiff_t r = 0; r < Ho; r++)
        CNN_PW_NAME(cnn_copy_row)(src + r * sy, sx, z + r * Wo, 1, Wo);
    if (act == CNN_ACT_RELU)
        for (ptrdiff_t i = 0; i < Ho * Wo; i++)
            y[i] = z[i] <= 0 ? (CNN_PW_T)0 : z[i];
}

static inline void CNN_PW_NAME(cnn_grad_filter)(
        const CNN_PW_T *dy, const CNN_PW_T *z, int act, CNN_PW_T *dz, ptrdiff_t N, ptrdiff_t F,
        ptrdiff_t Ho, ptrdiff_t Wo, ptrdiff_t f, CNN_PW_T *d1, const ptrdiff_t *s1, CNN_PW_T *d2,
        const ptrdiff_t *s2, CNN_PW_T *CNN_PW_RESTRICT acc, CNN_PW_T *db)
{
    const ptrdiff_t P = Ho * Wo;
    for (ptrdiff_t i = 0; i < P; i++)
        acc[i] = 0;
    for (ptrdiff_t n = 0; n < N; n++) {
        const ptrdiff_t o = (n * F + f) * P;
        const CNN_PW_T *CNN_PW_RESTRICT g = dy + o;
        const CNN_PW_T *plane = g;
        if (act == CNN_ACT_RELU) {
            const CNN_PW_T *CNN_PW_RESTRICT zp = z + o;
            CNN_PW_T *CNN_PW_RESTRICT dp = dz + o;
            for (ptrdiff_t i = 0; i < P; i++)
                dp[i] = g[i] * (CNN_PW_T)(zp[i] > 0);
            plane = dp;
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
    CNN_PW_T s = 0;
    for (ptrdiff_t i = 0; i < P; i++)
        s += acc[i];
    db[f] = s;
}

static inline void CNN_PW_NAME(cnn_outer)(const CNN_PW_T *a, ptrdiff_t m,
                                          const CNN_PW_T *CNN_PW_RESTRICT b, ptrdiff_t n,
                                          CNN_PW_T *CNN_PW_RESTRICT out)
{
    for (ptrdiff_t i = 0; i < m; i++) {
        const CNN_PW_T ai = a[i];
        CNN_PW_T *CNN_PW_RESTRICT o = out + i * n;
        for (ptrdiff_t j = 0; j < n; j++)
            o[j] = ai * b[j];
    }
}
