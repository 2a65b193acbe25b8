# Private loop nests of cnncore. Compiler directives live in setup.py.
#
# Every function here trusts its caller: cnncore.kernels checks ndim, dtype,
# contiguity and every shape relation before it calls in, because with bounds
# checks off a wrong shape is a segfault. The loops run without the GIL, so
# the app's window keeps painting while a worker thread trains.
#
# Every parallel loop hands out items with schedule="guided": on a laptop the
# GUI thread and other programs share the cores, and a statically assigned
# share would make each call wait for whichever thread was descheduled
# (measured: 1 ms calls taking 20 ms on a loaded 2-core machine). Each item
# owns its outputs, so the schedule never changes a result. With one thread the
# same items run in a plain loop: entering an OpenMP region costs about 0.6 µs,
# a good part of a whole layer at batch 1.
#
# One convolution loop serves the whole layer, the way the texts derive it:
#   forward      z  = x ⋆ w                        (stride 1; stride S keeps every S-th output)
#   to the input dx = pad(dilate(dz), K−1) ⋆ rot180(w)ᵀ, padding stripped
# and a second, reduction loop gives the filter gradient
#   dw(f, c, i, j) = Σ_n Σ_y Σ_x dilate(dz)(n, f, y, x) · xp(n, c, y + i, x + j).
#
# Both loops use "wide rows": output position (y, x) and input position
# (y + i, x + j) are both addressed in rows of the padded input width Wp, so
# for one filter tap (c, i, j) a whole output plane is one contiguous run of
# memory that reads one contiguous run of the input. The compiler turns those
# runs into full-width vector code. The Wp − Wo extra columns of each output
# row are computed and dropped by the caller (forward) or fed zeros (dw).

from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf

ctypedef fused real:
    float
    double

cdef extern from "_microkernels.h" nogil:
    # the register tiles (C, see the header for why)
    enum:
        FB "CNN_FB"     # filters per tile
        TC "CNN_TC"     # filter taps per filter-gradient call at most
    void cnn_wide_block_f(const float* x0, const Py_ssize_t* off, Py_ssize_t T,
                          const float* wt, Py_ssize_t wt_stride, const float* b,
                          float* out, Py_ssize_t out_stride, Py_ssize_t Lr)
    void cnn_wide_block_d(const double* x0, const Py_ssize_t* off, Py_ssize_t T,
                          const double* wt, Py_ssize_t wt_stride, const double* b,
                          double* out, Py_ssize_t out_stride, Py_ssize_t Lr)
    void cnn_dw_taps_f(const float* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                       const float* g, Py_ssize_t gs, Py_ssize_t Lr, const Py_ssize_t* off,
                       Py_ssize_t T, float* dw, Py_ssize_t dw_stride)
    void cnn_dw_taps_d(const double* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                       const double* g, Py_ssize_t gs, Py_ssize_t Lr, const Py_ssize_t* off,
                       Py_ssize_t T, double* dw, Py_ssize_t dw_stride)
    void cnn_maxpool2x2_plane_f(const float* x, float* y, long long* argmax, unsigned char* codes,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t x_avail)
    void cnn_maxpool2x2_plane_d(const double* x, double* y, long long* argmax, unsigned char* codes,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t x_avail)
    void cnn_unpool2x2_plane_f(const float* dy, const long long* argmax, const unsigned char* codes,
                               float* dx, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                               Py_ssize_t dy_avail)
    void cnn_unpool2x2_plane_d(const double* dy, const long long* argmax, const unsigned char* codes,
                               double* dx, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                               Py_ssize_t dy_avail)


cdef inline void _wide_block(const real* x0, const Py_ssize_t* off, Py_ssize_t T,
                             const real* wt, Py_ssize_t wt_stride, const real* b,
                             real* out, Py_ssize_t out_stride, Py_ssize_t Lr) noexcept nogil:
    """out[f, p] = b[f] + Σ_t wt[f, t] · x0[off[t] + p] for FB filters and p < Lr."""
    if real is float:
        cnn_wide_block_f(x0, off, T, wt, wt_stride, b, out, out_stride, Lr)
    else:
        cnn_wide_block_d(x0, off, T, wt, wt_stride, b, out, out_stride, Lr)


cdef inline void _dw_taps(const real* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                          const real* g, Py_ssize_t gs, Py_ssize_t Lr, const Py_ssize_t* off,
                          Py_ssize_t T, real* dw, Py_ssize_t dw_stride) noexcept nogil:
    """dw[f·dw_stride + t] = Σ_n Σ_p g[n·gs + f·Lr + p] · x[n·ss + off[t] + p] for FB filters, t < T."""
    if real is float:
        cnn_dw_taps_f(x, N, ss, plane, g, gs, Lr, off, T, dw, dw_stride)
    else:
        cnn_dw_taps_d(x, N, ss, plane, g, gs, Lr, off, T, dw, dw_stride)


def conv_wide(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off,
              const real[:, ::1] wt, const real[::1] b, real[:, :, ::1] out, int nthreads):
    """Wide-row convolution of N stacked samples.

    xbuf     IN  N samples of ``sample_stride`` elements each (C planes Hp×Wp), plus
                 slack at the end so the last block may read past the last plane
    off      IN  (T,) offset of tap t = (c, i, j) within a sample: c·Hp·Wp + i·Wp + j
    wt       IN  (Fr, T) weights, Fr a multiple of FB (zero rows pad the last block)
    b        IN  (Fr,) biases
    out      OUT (N, Fr, Lr) wide-row outputs, Lr a multiple of PB
    Items are (sample, block of FB filters) pairs; each item owns its outputs.
    """
    cdef Py_ssize_t N = out.shape[0], Fr = out.shape[1], Lr = out.shape[2]
    cdef Py_ssize_t T = off.shape[0], blocks = Fr // FB
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * blocks):
                _wide_item(item, blocks, &xbuf[0], sample_stride, &off[0], T, &wt[0, 0], &b[0],
                           &out[0, 0, 0], Fr, Lr)
        return
    for item in prange(N * blocks, nogil=True, num_threads=nthreads, schedule="guided"):
        _wide_item(item, blocks, &xbuf[0], sample_stride, &off[0], T, &wt[0, 0], &b[0],
                   &out[0, 0, 0], Fr, Lr)


cdef inline void _wide_item(Py_ssize_t item, Py_ssize_t blocks, const real* xbuf,
                            Py_ssize_t sample_stride, const Py_ssize_t* off, Py_ssize_t T,
                            const real* wt, const real* b, real* out, Py_ssize_t Fr,
                            Py_ssize_t Lr) noexcept nogil:
    """One (sample, block of FB filters) item of :func:`conv_wide`."""
    cdef Py_ssize_t n = item // blocks, fb = item % blocks
    _wide_block(xbuf + n * sample_stride, off, T, wt + fb * FB * T, T, b + fb * FB,
                out + (n * Fr + fb * FB) * Lr, Lr, Lr)


def conv_filter_grad(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off,
                     Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                     const real[:, :, ::1] dzw, real[:, ::1] dw, int nthreads):
    """Filter gradient as a reduction over the batch and the wide rows.

    xbuf  IN  as in :func:`conv_wide` (N samples of C planes Hp×Wp, plus slack)
    off   IN  (T,) tap offsets as in :func:`conv_wide`, channel by channel
    dzw   IN  (N, Fr, Lr) the (dilated) dz laid out in wide rows, zeros elsewhere
    dw    OUT (Fr, T), columns in (c, i, j) row-major order
    Items are (block of FB filters, channel, run of at most TC taps); each owns its
    dw elements, so the sums run in a fixed order whatever the thread count.
    """
    cdef Py_ssize_t N = dzw.shape[0], Fr = dzw.shape[1], Lr = dzw.shape[2]
    cdef Py_ssize_t T = off.shape[0], blocks = Fr // FB
    cdef Py_ssize_t KK = T // C
    cdef Py_ssize_t runs = (KK + TC - 1) // TC
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(blocks * C * runs):
                _dw_item(item, C, runs, KK, &xbuf[0], sample_stride, N, Hp * Wp, &off[0],
                         &dzw[0, 0, 0], Fr, Lr, &dw[0, 0], T)
        return
    for item in prange(blocks * C * runs, nogil=True, num_threads=nthreads, schedule="guided"):
        _dw_item(item, C, runs, KK, &xbuf[0], sample_stride, N, Hp * Wp, &off[0],
                 &dzw[0, 0, 0], Fr, Lr, &dw[0, 0], T)


cdef inline void _dw_item(Py_ssize_t item, Py_ssize_t C, Py_ssize_t runs, Py_ssize_t KK,
                          const real* xbuf, Py_ssize_t sample_stride, Py_ssize_t N,
                          Py_ssize_t plane, const Py_ssize_t* off, const real* dzw,
                          Py_ssize_t Fr, Py_ssize_t Lr, real* dw, Py_ssize_t T) noexcept nogil:
    """One (block of FB filters, channel c, run k of taps) item of :func:`conv_filter_grad`:
    the KK taps of a channel go in ``runs`` runs as equal as possible."""
    cdef Py_ssize_t fb = item // (C * runs), c = (item // runs) % C, k = item % runs
    cdef Py_ssize_t q = KK // runs, r = KK % runs
    cdef Py_ssize_t t0 = c * KK + k * q + (k if k < r else r)
    _dw_taps(xbuf, N, sample_stride, plane, dzw + fb * FB * Lr, Fr * Lr, Lr, off + t0,
             q + (1 if k < r else 0), dw + fb * FB * T + t0, T)


def all_finite(const real[::1] a):
    """True when no element of ``a`` is NaN or ±inf (the exponent bits are not all ones)."""
    cdef Py_ssize_t i, n = a.shape[0]
    cdef const unsigned int* u32
    cdef const unsigned long long* u64
    cdef unsigned int bad32 = 0
    cdef unsigned long long bad64 = 0
    if n == 0:
        return True
    with nogil:
        if real is float:
            u32 = <const unsigned int*> &a[0]
            for i in range(n):
                bad32 |= (u32[i] & 0x7f800000u) == 0x7f800000u
        else:
            u64 = <const unsigned long long*> &a[0]
            for i in range(n):
                bad64 |= (u64[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull
    return bad32 == 0 and bad64 == 0


# --------------------------------------------------------------------------
# Max pooling. argmax holds the flat index row·W + col of each window's
# winner within its H×W input plane. Ties go to the first element in
# row-major order; a NaN wins its window (as np.argmax / np.max do).
# --------------------------------------------------------------------------

cdef inline bint _wins(real v, real best) noexcept nogil:
    # strict '>' keeps the first of equal values (row-major order); a NaN
    # replaces a number, never the reverse
    return (v > best) | ((v != v) & (best == best))


cdef inline void _maxpool_2x2_plane(const real* x, real* y, long long* argmax, unsigned char* codes,
                                    Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                                    Py_ssize_t x_avail) noexcept nogil:
    """The common 2×2, stride-2 case (a branch-free vector tile in C), writing ``argmax`` or
    (``argmax`` NULL) window codes; ``x_avail`` elements from ``x`` on may be read."""
    if real is float:
        cnn_maxpool2x2_plane_f(x, y, argmax, codes, W, Ho, Wo, x_avail)
    else:
        cnn_maxpool2x2_plane_d(x, y, argmax, codes, W, Ho, Wo, x_avail)


def maxpool2x2_codes(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                     unsigned char[:, :, :, ::1] codes, int nthreads):
    """2×2, stride-2 max pooling that records each winner as its place in its window,
    0..3 in row-major order (``argmax = (2r + code // 2)·W + 2c + code % 2``), one byte
    instead of eight. Items are (sample, channel) planes."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = y.shape[2], Wo = y.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _maxpool_2x2_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo, NULL,
                                   &codes[0, 0, 0, 0] + item * Ho * Wo, W, Ho, Wo, (N * C - item) * H * W)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _maxpool_2x2_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo, NULL,
                           &codes[0, 0, 0, 0] + item * Ho * Wo, W, Ho, Wo, (N * C - item) * H * W)


def maxpool_forward(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                    long long[:, :, :, ::1] argmax,
                    Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                    int nthreads):
    """Each output row starts from its windows' top-left elements, then takes in
    the other window members one (i, j) at a time across the whole row, so the
    inner loop is branch-free and vectorises. Items are (sample, channel) planes."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = y.shape[2], Wo = y.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _maxpool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                               &argmax[0, 0, 0, 0] + item * Ho * Wo, W, Ho, Wo, KH, KW, SH, SW,
                               (N * C - item) * H * W)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _maxpool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                       &argmax[0, 0, 0, 0] + item * Ho * Wo, W, Ho, Wo, KH, KW, SH, SW,
                       (N * C - item) * H * W)


cdef inline void _maxpool_plane(const real* x, real* y, long long* argmax, Py_ssize_t W,
                                Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH, Py_ssize_t KW,
                                Py_ssize_t SH, Py_ssize_t SW, Py_ssize_t x_avail) noexcept nogil:
    cdef Py_ssize_t oy, ox, i, j, r
    cdef long long base
    cdef const real* src
    cdef real* yrow
    cdef long long* arow
    cdef real v, best
    cdef bint take
    if KH == 2 and KW == 2 and SH == 2 and SW == 2:
        _maxpool_2x2_plane(x, y, argmax, NULL, W, Ho, Wo, x_avail)
        return
    for oy in range(Ho):
        r = oy * SH
        yrow = y + oy * Wo
        arow = argmax + oy * Wo
        src = x + r * W
        for ox in range(Wo):
            yrow[ox] = src[ox * SW]
            arow[ox] = r * W + ox * SW
        for i in range(KH):
            src = x + (r + i) * W
            for j in range(KW):
                if i == 0 and j == 0:
                    continue
                base = (r + i) * W + j
                for ox in range(Wo):
                    v = src[ox * SW + j]
                    best = yrow[ox]
                    take = _wins(v, best)
                    yrow[ox] = v if take else best
                    arow[ox] = (base + ox * SW) if take else arow[ox]


def maxpool_backward(const real[:, :, :, ::1] dy, const long long[:, :, :, ::1] argmax,
                     real[:, :, :, ::1] dx, int nthreads):
    """``dx`` (zeroed by the caller) += dy at each recorded winner.

    Returns the number of argmax entries outside the H×W plane (skipped); the
    caller turns a non-zero count into a ValueError.
    """
    cdef Py_ssize_t N = dy.shape[0], C = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3]
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t item
    cdef Py_ssize_t bad = 0
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                bad += _maxpool_route(&dy[0, 0, 0, 0] + item * Ho * Wo, &argmax[0, 0, 0, 0] + item * Ho * Wo,
                                      &dx[0, 0, 0, 0] + item * H * W, Ho * Wo, H * W)
        return bad
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        bad += _maxpool_route(&dy[0, 0, 0, 0] + item * Ho * Wo, &argmax[0, 0, 0, 0] + item * Ho * Wo,
                              &dx[0, 0, 0, 0] + item * H * W, Ho * Wo, H * W)
    return bad


cdef inline Py_ssize_t _maxpool_route(const real* dy, const long long* argmax, real* dst,
                                      Py_ssize_t outputs, long long plane) noexcept nogil:
    """One plane of :func:`maxpool_backward`; returns the count of indices outside it."""
    cdef Py_ssize_t q, bad = 0
    cdef long long k
    for q in range(outputs):
        k = argmax[q]
        if 0 <= k < plane:
            dst[k] += dy[q]
        else:
            bad += 1
    return bad


# --------------------------------------------------------------------------
# Mean pooling: y = (1 / (KH·KW)) Σ window; backward spreads dy·1/(KH·KW) over
# every member of the window, += where windows overlap.
# --------------------------------------------------------------------------

def avgpool_forward(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                    Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                    int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = y.shape[2], Wo = y.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _avgpool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                               W, Ho, Wo, KH, KW, SH, SW)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _avgpool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                       W, Ho, Wo, KH, KW, SH, SW)


cdef inline void _avgpool_plane(const real* x, real* y, Py_ssize_t W, Py_ssize_t Ho,
                                Py_ssize_t Wo, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH,
                                Py_ssize_t SW) noexcept nogil:
    cdef Py_ssize_t oy, ox, i, j
    cdef real s
    cdef real scale = <real> 1.0 / <real> (KH * KW)
    for oy in range(Ho):
        for ox in range(Wo):
            s = 0
            for i in range(KH):
                for j in range(KW):
                    s = s + x[(oy * SH + i) * W + ox * SW + j]
            y[oy * Wo + ox] = s * scale


def avgpool_backward(const real[:, :, :, ::1] dy, real[:, :, :, ::1] dx,
                     Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW,
                     int nthreads):
    """``dx`` (zeroed by the caller) += dy / (KH·KW) over each window."""
    cdef Py_ssize_t N = dy.shape[0], C = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3]
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _avgpool_spread(&dy[0, 0, 0, 0] + item * Ho * Wo, &dx[0, 0, 0, 0] + item * H * W,
                                W, Ho, Wo, KH, KW, SH, SW)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _avgpool_spread(&dy[0, 0, 0, 0] + item * Ho * Wo, &dx[0, 0, 0, 0] + item * H * W,
                        W, Ho, Wo, KH, KW, SH, SW)


cdef inline void _avgpool_spread(const real* dy, real* dx, Py_ssize_t W, Py_ssize_t Ho,
                                 Py_ssize_t Wo, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH,
                                 Py_ssize_t SW) noexcept nogil:
    cdef Py_ssize_t oy, ox, i, j
    cdef real g
    cdef real scale = <real> 1.0 / <real> (KH * KW)
    for oy in range(Ho):
        for ox in range(Wo):
            g = dy[oy * Wo + ox] * scale
            for i in range(KH):
                for j in range(KW):
                    dx[(oy * SH + i) * W + ox * SW + j] += g


# --------------------------------------------------------------------------
# L2-norm pooling: y = sqrt(Σ window x²); backward dx += dy · x / y over every
# member of the window (+= where windows overlap), and nothing where y = 0: a
# window of zeros has no slope to follow. A NaN in y (from a NaN in x) is data
# and reaches its window's dx.
# --------------------------------------------------------------------------

def l2pool_forward(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                   Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW, int nthreads):
    """Items are (sample, channel) planes; each owns its outputs."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = y.shape[2], Wo = y.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _l2pool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                              W, Ho, Wo, KH, KW, SH, SW)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _l2pool_plane(&x[0, 0, 0, 0] + item * H * W, &y[0, 0, 0, 0] + item * Ho * Wo,
                      W, Ho, Wo, KH, KW, SH, SW)


cdef inline void _l2pool_plane(const real* x, real* y, Py_ssize_t W, Py_ssize_t Ho,
                               Py_ssize_t Wo, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH,
                               Py_ssize_t SW) noexcept nogil:
    """y = sqrt of the window's sum of squares, the members taken in row-major order."""
    cdef Py_ssize_t oy, ox, i, j
    cdef real s, v
    for oy in range(Ho):
        for ox in range(Wo):
            s = 0
            for i in range(KH):
                for j in range(KW):
                    v = x[(oy * SH + i) * W + ox * SW + j]
                    s = s + v * v
            if real is float:
                y[oy * Wo + ox] = sqrtf(s)
            else:
                y[oy * Wo + ox] = sqrt(s)


def l2pool_backward(const real[:, :, :, ::1] dy, const real[:, :, :, ::1] x,
                    const real[:, :, :, ::1] y, real[:, :, :, ::1] dx,
                    Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW, int nthreads):
    """``dx`` (zeroed by the caller) += (dy / y) · x over each window with y ≠ 0.
    ``dy`` and ``y`` have the pooled shape, ``x`` and ``dx`` the input's."""
    cdef Py_ssize_t N = dy.shape[0], C = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3]
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t item
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _l2pool_spread(&dy[0, 0, 0, 0] + item * Ho * Wo, &x[0, 0, 0, 0] + item * H * W,
                               &y[0, 0, 0, 0] + item * Ho * Wo, &dx[0, 0, 0, 0] + item * H * W,
                               W, Ho, Wo, KH, KW, SH, SW)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _l2pool_spread(&dy[0, 0, 0, 0] + item * Ho * Wo, &x[0, 0, 0, 0] + item * H * W,
                       &y[0, 0, 0, 0] + item * Ho * Wo, &dx[0, 0, 0, 0] + item * H * W,
                       W, Ho, Wo, KH, KW, SH, SW)


cdef inline void _l2pool_spread(const real* dy, const real* x, const real* y, real* dx,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH,
                                Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW) noexcept nogil:
    cdef Py_ssize_t oy, ox, i, j, k
    cdef real g, n
    for oy in range(Ho):
        for ox in range(Wo):
            n = y[oy * Wo + ox]
            if n == 0:
                continue
            g = dy[oy * Wo + ox] / n
            for i in range(KH):
                for j in range(KW):
                    k = (oy * SH + i) * W + ox * SW + j
                    dx[k] += g * x[k]


# --------------------------------------------------------------------------
# The cheap passes of a training step (C in _pointwise.h): a convolution's
# activation, straight from its wide-row outputs; the gradient arriving at a
# convolution turned into dz and written where its dw and dx loops read it,
# with db summed on the way; max-pool 2×2 backward in one pass; a dense
# layer's outer product at batch 1. Activation codes: 0 none, 1 ReLU.
# --------------------------------------------------------------------------

cdef extern from "_pointwise.h" nogil:
    void cnn_act_plane_f(const float* src, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t Ho,
                         Py_ssize_t Wo, float* z, float* y, int act)
    void cnn_act_plane_d(const double* src, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t Ho,
                         Py_ssize_t Wo, double* z, double* y, int act)
    void cnn_grad_filter_f(const float* dy, const unsigned char* codes, const float* z,
                           const Py_ssize_t* zs, int act,
                           Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f,
                           float* d1, const Py_ssize_t* s1, float* d2, const Py_ssize_t* s2,
                           float* acc, float* tmp, float* db)
    void cnn_grad_filter_d(const double* dy, const unsigned char* codes, const double* z,
                           const Py_ssize_t* zs, int act,
                           Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t f,
                           double* d1, const Py_ssize_t* s1, double* d2, const Py_ssize_t* s2,
                           double* acc, double* tmp, double* db)
    double cnn_softmax_xent_f(const float* z, const Py_ssize_t* labels, Py_ssize_t N, Py_ssize_t K,
                              float* p, float* dz, Py_ssize_t* bad)
    double cnn_softmax_xent_d(const double* z, const Py_ssize_t* labels, Py_ssize_t N, Py_ssize_t K,
                              double* p, double* dz, Py_ssize_t* bad)
    void cnn_outer_f(const float* a, Py_ssize_t m, const float* b, Py_ssize_t n, float* out)
    void cnn_outer_d(const double* a, Py_ssize_t m, const double* b, Py_ssize_t n, double* out)


cdef inline void _act_item(Py_ssize_t item, Py_ssize_t F, const real* src, const Py_ssize_t* ss,
                           Py_ssize_t Ho, Py_ssize_t Wo, real* z, real* y, int act, real* pooled,
                           unsigned char* codes) noexcept nogil:
    cdef Py_ssize_t n = item // F, f = item % F, P = Ho * Wo, Q = (Ho // 2) * (Wo // 2)
    cdef real* zp = NULL
    if z != NULL:
        zp = z + item * P
    if real is float:
        cnn_act_plane_f(src + n * ss[0] + f * ss[1], ss[2], ss[3], Ho, Wo, zp, y + item * P, act)
    else:
        cnn_act_plane_d(src + n * ss[0] + f * ss[1], ss[2], ss[3], Ho, Wo, zp, y + item * P, act)
    if pooled != NULL:      # the plane just written is in L1: pool it now (reads stay in the plane)
        _maxpool_2x2_plane(y + item * P if act else zp, pooled + item * Q, NULL, codes + item * Q,
                           Wo, Ho // 2, Wo // 2, P)


cdef inline void _strides(const Py_ssize_t* strides, Py_ssize_t itemsize, Py_ssize_t* out) noexcept nogil:
    cdef int k
    for k in range(4):
        out[k] = strides[k] // itemsize


def conv_activate(const real[:, :, :, :] src, real[:, :, :, ::1] z, real[:, :, :, ::1] y,
                  int act, real[:, :, :, ::1] pooled, unsigned char[:, :, :, ::1] codes,
                  int nthreads):
    """``z = src`` (any strides: the wide-row outputs of a convolution; ``z`` may be None,
    then nothing is copied) and ``y = f(src)`` (``y`` untouched for act 0). All have the
    shape (N, F, Ho, Wo); items are (sample, filter) planes. With ``pooled`` and ``codes``
    (not None; (N, F, Ho/2, Wo/2)) each plane of y (z for act 0) is max-pooled 2×2, stride 2,
    as :func:`maxpool2x2_codes` does, while it is still in cache."""
    cdef Py_ssize_t N = y.shape[0], F = y.shape[1], Ho = y.shape[2], Wo = y.shape[3]
    cdef Py_ssize_t ss[4]
    cdef real* zp = NULL
    cdef real* pp = NULL
    cdef unsigned char* cp = NULL
    cdef Py_ssize_t item
    _strides(&src.strides[0], sizeof(real), ss)
    if z is not None:
        zp = &z[0, 0, 0, 0]
    if pooled is not None:
        pp = &pooled[0, 0, 0, 0]
        cp = &codes[0, 0, 0, 0]
    if nthreads == 1:
        with nogil:
            for item in range(N * F):
                _act_item(item, F, &src[0, 0, 0, 0], ss, Ho, Wo, zp, &y[0, 0, 0, 0], act, pp, cp)
        return
    for item in prange(N * F, nogil=True, num_threads=nthreads, schedule="guided"):
        _act_item(item, F, &src[0, 0, 0, 0], ss, Ho, Wo, zp, &y[0, 0, 0, 0], act, pp, cp)


cdef inline void _grad_filter(const real* dy, const unsigned char* codes, const real* z,
                              const Py_ssize_t* zs, int act, Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho,
                              Py_ssize_t Wo, Py_ssize_t f, real* d1, const Py_ssize_t* s1, real* d2,
                              const Py_ssize_t* s2, real* acc, real* tmp, real* db) noexcept nogil:
    cdef Py_ssize_t P = Ho * Wo
    if real is float:
        cnn_grad_filter_f(dy, codes, z, zs, act, N, F, Ho, Wo, f, d1, s1, d2, s2, acc + f * P,
                          tmp + 2 * f * P, db)
    else:
        cnn_grad_filter_d(dy, codes, z, zs, act, N, F, Ho, Wo, f, d1, s1, d2, s2, acc + f * P,
                          tmp + 2 * f * P, db)


def conv_grad_prologue(const real[:, :, :, ::1] dy, const unsigned char[:, :, :, ::1] codes,
                       const real[:, :, :, :] z, int act, real[:, :, :, :] d1, real[:, :, :, :] d2,
                       real[:, ::1] acc, real[:, ::1] tmp, real[::1] db, int nthreads):
    """``dz = dy ⊙ f′(z)`` (act 0: ``dz`` is ``dy``; ``z`` (N, F, Ho, Wo) may have any strides)
    written into ``d1`` and ``d2`` (views of z's shape with any strides, or None), and
    ``db(f) = Σ dz(·, f, ·, ·)``. With ``codes`` (not None), ``dy`` is the gradient of a 2×2,
    stride-2 max-pool of y = f(z), (N, F, Ho/2, Wo/2), and ``codes`` its winners
    (:func:`maxpool2x2_codes`): dz is formed from them directly, as if the pool's backward
    pass had written its dx first. ``acc`` (F, Ho·Wo) and ``tmp`` (F, 2·Ho·Wo) are scratch. Items are
    filters; each owns its dz planes and its db, so the sums run in one order."""
    cdef Py_ssize_t N = z.shape[0], F = z.shape[1], Ho = z.shape[2], Wo = z.shape[3]
    cdef const unsigned char* cp = NULL
    cdef Py_ssize_t zs[4]
    cdef Py_ssize_t s1[4]
    cdef Py_ssize_t s2[4]
    cdef real* p1 = NULL
    cdef real* p2 = NULL
    cdef Py_ssize_t f
    _strides(&z.strides[0], sizeof(real), zs)
    if codes is not None:
        cp = &codes[0, 0, 0, 0]
    if d1 is not None:
        p1 = &d1[0, 0, 0, 0]
        _strides(&d1.strides[0], sizeof(real), s1)
    if d2 is not None:
        p2 = &d2[0, 0, 0, 0]
        _strides(&d2.strides[0], sizeof(real), s2)
    if nthreads == 1:
        with nogil:
            for f in range(F):
                _grad_filter(&dy[0, 0, 0, 0], cp, &z[0, 0, 0, 0], zs, act, N, F, Ho, Wo, f,
                             p1, s1, p2, s2, &acc[0, 0], &tmp[0, 0], &db[0])
        return
    for f in prange(F, nogil=True, num_threads=nthreads, schedule="guided"):
        _grad_filter(&dy[0, 0, 0, 0], cp, &z[0, 0, 0, 0], zs, act, N, F, Ho, Wo, f,
                     p1, s1, p2, s2, &acc[0, 0], &tmp[0, 0], &db[0])


cdef inline void _unpool_item(Py_ssize_t item, const real* dy, const long long* argmax,
                              const unsigned char* codes, real* dx, Py_ssize_t H, Py_ssize_t W,
                              Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t dy_avail) noexcept nogil:
    cdef Py_ssize_t q = item * Ho * Wo
    cdef const long long* a = NULL
    cdef const unsigned char* c = NULL
    if argmax != NULL:
        a = argmax + q
    else:
        c = codes + q
    if real is float:
        cnn_unpool2x2_plane_f(dy + q, a, c, dx + item * H * W, H, W, Ho, Wo, dy_avail - q)
    else:
        cnn_unpool2x2_plane_d(dy + q, a, c, dx + item * H * W, H, W, Ho, Wo, dy_avail - q)


def maxpool2x2_backward(const real[:, :, :, ::1] dy, const long long[:, :, :, ::1] argmax,
                        const unsigned char[:, :, :, ::1] codes, real[:, :, :, ::1] dx,
                        int nthreads):
    """``dx`` (any contents) = ``0 + dy`` at each window's winner and 0 elsewhere, for the
    2×2, stride-2 windows, the winners given as ``argmax`` (each in its own window, as
    :func:`maxpool_forward` writes them) or, with ``argmax`` None, as the ``codes`` of
    :func:`maxpool2x2_codes`. Items are (sample, channel) planes."""
    cdef Py_ssize_t N = dy.shape[0], C = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3]
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3]
    cdef const long long* a = NULL
    cdef const unsigned char* c = NULL
    cdef Py_ssize_t item
    if argmax is not None:
        a = &argmax[0, 0, 0, 0]
    else:
        c = &codes[0, 0, 0, 0]
    if nthreads == 1:
        with nogil:
            for item in range(N * C):
                _unpool_item(item, &dy[0, 0, 0, 0], a, c, &dx[0, 0, 0, 0], H, W, Ho, Wo, N * C * Ho * Wo)
        return
    for item in prange(N * C, nogil=True, num_threads=nthreads, schedule="guided"):
        _unpool_item(item, &dy[0, 0, 0, 0], a, c, &dx[0, 0, 0, 0], H, W, Ho, Wo, N * C * Ho * Wo)


def softmax_xent(const real[:, ::1] z, const Py_ssize_t[::1] labels, real[:, ::1] p,
                 real[:, ::1] dz):
    """``(Σ_n log p(n, label_n), bad)`` with ``p = softmax(z)`` and ``dz = (p − onehot) / N``
    written for every row whose label lies in 0..K−1; ``bad`` counts the other rows."""
    cdef Py_ssize_t N = z.shape[0], K = z.shape[1], bad = 0
    cdef double s
    with nogil:
        if real is float:
            s = cnn_softmax_xent_f(&z[0, 0], &labels[0], N, K, &p[0, 0], &dz[0, 0], &bad)
        else:
            s = cnn_softmax_xent_d(&z[0, 0], &labels[0], N, K, &p[0, 0], &dz[0, 0], &bad)
    return s, bad


def outer(const real[::1] a, const real[::1] b, real[:, ::1] out):
    """``out(i, j) = a(i) · b(j)``; ``out`` has the shape (len(a), len(b))."""
    with nogil:
        if real is float:
            cnn_outer_f(&a[0], a.shape[0], &b[0], b.shape[0], &out[0, 0])
        else:
            cnn_outer_d(&a[0], a.shape[0], &b[0], b.shape[0], &out[0, 0])


# --------------------------------------------------------------------------
# The Adam update in one pass (see _update.h): bit for bit the NumPy array
# operations of cnncore.reference.adam_step, without a dozen passes over memory.
# --------------------------------------------------------------------------

cdef extern from "_update.h" nogil:
    void cnn_adam_f(float* p, const float* grad, float* m, float* v, const float* mask,
                    Py_ssize_t n, int decay, float wd, float b1, float omb1, float b2, float omb2,
                    float inv_sqrt_c2, float eps, float step, float tiny, int flush_m, int flush_v)
    void cnn_adam_d(double* p, const double* grad, double* m, double* v, const double* mask,
                    Py_ssize_t n, int decay, double wd, double b1, double omb1, double b2,
                    double omb2, double inv_sqrt_c2, double eps, double step, double tiny,
                    int flush_m, int flush_v)


cdef enum:
    ADAM_RUN = 4096     # elements per item of a parallel Adam step (its four arrays: 64 KB in float32)


def adam_update(real[::1] p, const real[::1] grad, real[::1] m, real[::1] v,
                const real[::1] mask, int decay, real wd, real b1, real omb1, real b2, real omb2,
                real inv_sqrt_c2, real eps, real step, real tiny, bint flush_m, bint flush_v,
                int nthreads=1):
    """One Adam step on flat arrays of equal length (the caller checks that).

    decay  0: none; 1: ``+ wd·p``; 2: ``+ (wd·p)·mask``. ``mask`` is read only for 2.
    Scalars arrive as Python floats and are rounded to the element type, as
    NumPy does with a Python scalar next to an array. Each element's update is
    its own, so ``nthreads`` > 1 splits the arrays into runs of ``ADAM_RUN``
    elements without changing a bit.
    """
    cdef Py_ssize_t n = p.shape[0], runs = (n + ADAM_RUN - 1) // ADAM_RUN, r
    if nthreads == 1 or runs < 2:
        with nogil:
            _adam_run(0, n, &p[0], &grad[0], &m[0], &v[0], &mask[0], decay, wd, b1, omb1, b2, omb2,
                      inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)
        return
    for r in prange(runs, nogil=True, num_threads=nthreads, schedule="guided"):
        _adam_run(r * ADAM_RUN, min(n, (r + 1) * ADAM_RUN), &p[0], &grad[0], &m[0], &v[0], &mask[0], decay,
                  wd, b1, omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)


cdef inline void _adam_run(Py_ssize_t a, Py_ssize_t b, real* p, const real* grad, real* m, real* v,
                           const real* mask, int decay, real wd, real b1, real omb1, real b2, real omb2,
                           real inv_sqrt_c2, real eps, real step, real tiny, bint flush_m,
                           bint flush_v) noexcept nogil:
    """Elements ``a`` to ``b`` of :func:`adam_update`."""
    if real is float:
        cnn_adam_f(p + a, grad + a, m + a, v + a, mask + a if decay == 2 else mask, b - a, decay, wd, b1,
                   omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)
    else:
        cnn_adam_d(p + a, grad + a, m + a, v + a, mask + a if decay == 2 else mask, b - a, decay, wd, b1,
                   omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)


cdef extern from *:
    """
    #ifdef _OPENMP
    #define CNNCORE_OPENMP 1
    #else
    #define CNNCORE_OPENMP 0
    #endif
    """
    int CNNCORE_OPENMP


def openmp_enabled():
    """True when this build was compiled with OpenMP (its loops can use several threads)."""
    return CNNCORE_OPENMP == 1
