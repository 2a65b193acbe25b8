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
#                (or, where that would mostly multiply padding, as the same sums scattered:
#                each tap's Σ_f w(f, c, i, j)·dz(f, ·) added where its window lies, conv_fold)
# and a second, reduction loop gives the filter gradient
#   dw(f, c, i, j) = Σ_n Σ_y Σ_x dilate(dz)(n, f, y, x) · xp(n, c, y + i, x + j).
#
# Both loops use "wide rows": output position (y, x) and input position
# (y + i, x + j) are both addressed in rows of the padded input width Wp, so
# for one filter tap (c, i, j) a whole output plane is one contiguous run of
# memory that reads one contiguous run of the input. The compiler turns those
# runs into full-width vector code. The Wp − Wo extra columns of each output
# row are computed and dropped by the caller (forward) or fed zeros (dw).

from cython.parallel cimport prange, threadid
from libc.math cimport sqrt, sqrtf
from libc.string cimport memcpy

ctypedef fused real:
    float
    double

cdef extern from "_microkernels.h" nogil:
    # the register tiles (C, see the header for why)
    enum:
        FB "CNN_FB"     # filters per tile
        TC "CNN_TC"     # filter taps per filter-gradient call at most
        FJ "CNN_FJ"     # taps per tile of the filter gradient by vectors of filters
        VBYTES "CNN_VBYTES"
    void cnn_dwf_taps_f(const float* x, Py_ssize_t ss, const Py_ssize_t* pos, Py_ssize_t P, const float* g,
                        Py_ssize_t Fp, Py_ssize_t n0, Py_ssize_t n1, const Py_ssize_t* off, Py_ssize_t J,
                        Py_ssize_t KW, float* out, Py_ssize_t T)
    void cnn_dwf_taps_d(const double* x, Py_ssize_t ss, const Py_ssize_t* pos, Py_ssize_t P, const double* g,
                        Py_ssize_t Fp, Py_ssize_t n0, Py_ssize_t n1, const Py_ssize_t* off, Py_ssize_t J,
                        Py_ssize_t KW, double* out, Py_ssize_t T)
    void cnn_wide_block_f(const float* x0, const Py_ssize_t* off, Py_ssize_t T,
                          const float* wt, Py_ssize_t wt_stride, const float* b,
                          float* out, Py_ssize_t out_stride, Py_ssize_t Lr)
    void cnn_wide_block_d(const double* x0, const Py_ssize_t* off, Py_ssize_t T,
                          const double* wt, Py_ssize_t wt_stride, const double* b,
                          double* out, Py_ssize_t out_stride, Py_ssize_t Lr)
    void cnn_dw_taps_f(const float* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                       const float* g, Py_ssize_t gs, Py_ssize_t gf, Py_ssize_t Lr, const Py_ssize_t* off,
                       Py_ssize_t T, float* dw, Py_ssize_t dw_stride)
    void cnn_dw_taps_d(const double* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                       const double* g, Py_ssize_t gs, Py_ssize_t gf, Py_ssize_t Lr, const Py_ssize_t* off,
                       Py_ssize_t T, double* dw, Py_ssize_t dw_stride)
    void cnn_fold_rows_f(const float* cols, Py_ssize_t Lr, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH,
                         Py_ssize_t KW, Py_ssize_t PH, Py_ssize_t PW, float* dx, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t C)
    void cnn_fold_rows_d(const double* cols, Py_ssize_t Lr, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH,
                         Py_ssize_t KW, Py_ssize_t PH, Py_ssize_t PW, double* dx, Py_ssize_t H,
                         Py_ssize_t W, Py_ssize_t C)
    void cnn_maxpool2x2_plane_f(const float* x, float* y, long long* argmax, unsigned char* codes,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t x_avail)
    void cnn_maxpool2x2_plane_d(const double* x, double* y, long long* argmax, unsigned char* codes,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t x_avail)
    void cnn_unpool2x2_plane_f(const float* dy, const long long* argmax, const unsigned char* codes,
                               const float* pooled, float* dx, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho,
                               Py_ssize_t Wo, Py_ssize_t dy_avail)
    void cnn_unpool2x2_plane_d(const double* dy, const long long* argmax, const unsigned char* codes,
                               const double* pooled, double* dx, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho,
                               Py_ssize_t Wo, Py_ssize_t dy_avail)
    void cnn_dense_dot_f(const float* x, const float* w, const float* b, float* z, Py_ssize_t N,
                         Py_ssize_t K, Py_ssize_t D, Py_ssize_t u0)
    void cnn_dense_dot_d(const double* x, const double* w, const double* b, double* z, Py_ssize_t N,
                         Py_ssize_t K, Py_ssize_t D, Py_ssize_t u0)
    void cnn_dense_rows_f(const float* a, Py_ssize_t ar, Py_ssize_t at, const float* B, Py_ssize_t T,
                          Py_ssize_t D, float* out, Py_ssize_t rows, Py_ssize_t r0)
    void cnn_dense_rows_d(const double* a, Py_ssize_t ar, Py_ssize_t at, const double* B, Py_ssize_t T,
                          Py_ssize_t D, double* out, Py_ssize_t rows, Py_ssize_t r0)


cdef inline void _wide_block(const real* x0, const Py_ssize_t* off, Py_ssize_t T,
                             const real* wt, Py_ssize_t wt_stride, const real* b,
                             real* out, Py_ssize_t out_stride, Py_ssize_t Lr) noexcept nogil:
    """out[f, p] = b[f] + Σ_t wt[f, t] · x0[off[t] + p] for FB filters and p < Lr."""
    if real is float:
        cnn_wide_block_f(x0, off, T, wt, wt_stride, b, out, out_stride, Lr)
    else:
        cnn_wide_block_d(x0, off, T, wt, wt_stride, b, out, out_stride, Lr)


cdef inline void _dw_taps(const real* x, Py_ssize_t N, Py_ssize_t ss, Py_ssize_t plane,
                          const real* g, Py_ssize_t gs, Py_ssize_t gf, Py_ssize_t Lr, const Py_ssize_t* off,
                          Py_ssize_t T, real* dw, Py_ssize_t dw_stride) noexcept nogil:
    """dw[f·dw_stride + t] = Σ_n Σ_p g[n·gs + f·gf + p] · x[n·ss + off[t] + p] for FB filters, t < T, p < Lr."""
    if real is float:
        cnn_dw_taps_f(x, N, ss, plane, g, gs, gf, Lr, off, T, dw, dw_stride)
    else:
        cnn_dw_taps_d(x, N, ss, plane, g, gs, gf, Lr, off, T, dw, dw_stride)


cdef void _conv_wide_loop(const real* xbuf, Py_ssize_t sample_stride, const Py_ssize_t* off, Py_ssize_t T,
                          const real* wt, const real* b, real* out, Py_ssize_t N, Py_ssize_t Fr,
                          Py_ssize_t Lr, Py_ssize_t runs, Py_ssize_t pitch, int nthreads) noexcept nogil:
    """The loop of :func:`conv_wide` (also an op of a compiled step)."""
    cdef Py_ssize_t blocks = Fr // FB
    cdef Py_ssize_t item
    if nthreads == 1:
        for item in range(N * blocks):
            _wide_item(item, blocks, xbuf, sample_stride, off, T, wt, b, out, Fr, Lr, runs, pitch)
        return
    for item in prange(N * blocks, num_threads=nthreads, schedule="guided"):
        _wide_item(item, blocks, xbuf, sample_stride, off, T, wt, b, out, Fr, Lr, runs, pitch)


def conv_wide(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off,
              const real[:, ::1] wt, const real[::1] b, real[:, :, ::1] out, int nthreads,
              Py_ssize_t runs=1, Py_ssize_t pitch=0):
    """Wide-row convolution of N stacked samples.

    xbuf     IN  N samples of ``sample_stride`` elements each (C planes Hp×Wp), plus
                 slack at the end so the last block may read past the last plane
    off      IN  (T,) offset of tap t = (c, i, j) within a sample: c·Hp·Wp + i·Wp + j
    wt       IN  (Fr, T) weights, Fr a multiple of FB (zero rows pad the last block)
    b        IN  (Fr,) biases
    out      OUT (N, Fr, Lr) wide-row outputs, Lr a multiple of PB
    runs     IN  the outputs of a filter as ``runs`` runs of Lr/runs positions, run r from
                 input position r·``pitch`` on (one run: every row; a row a run, ``pitch`` S·Wp:
                 only every S-th row, for a stride of S)
    Items are (sample, block of FB filters) pairs; each item owns its outputs.
    """
    if runs < 1 or out.shape[2] % runs:
        raise ValueError("conv_wide: the outputs do not split into the runs")
    with nogil:
        _conv_wide_loop(&xbuf[0], sample_stride, &off[0], off.shape[0], &wt[0, 0], &b[0], &out[0, 0, 0],
                        out.shape[0], out.shape[1], out.shape[2], runs, pitch, nthreads)


cdef inline void _wide_item(Py_ssize_t item, Py_ssize_t blocks, const real* xbuf,
                            Py_ssize_t sample_stride, const Py_ssize_t* off, Py_ssize_t T,
                            const real* wt, const real* b, real* out, Py_ssize_t Fr,
                            Py_ssize_t Lr, Py_ssize_t runs, Py_ssize_t pitch) noexcept nogil:
    """One (sample, block of FB filters) item of :func:`conv_wide`."""
    cdef Py_ssize_t n = item // blocks, fb = item % blocks, run = Lr // runs, r
    for r in range(runs):
        _wide_block(xbuf + n * sample_stride + r * pitch, off, T, wt + fb * FB * T, T, b + fb * FB,
                    out + (n * Fr + fb * FB) * Lr + r * run, Lr, run)


cdef void _filter_grad_loop(const real* xbuf, Py_ssize_t sample_stride, const Py_ssize_t* off, Py_ssize_t T,
                            Py_ssize_t C, Py_ssize_t plane, const real* dzw, Py_ssize_t N, Py_ssize_t Fr,
                            Py_ssize_t Lr, Py_ssize_t gs, Py_ssize_t gf, real* dw, int nthreads) noexcept nogil:
    """The loop of :func:`conv_filter_grad` (also an op of a compiled step): dzw's samples ``gs``
    apart, its filters' rows ``gf``."""
    cdef Py_ssize_t blocks = Fr // FB
    cdef Py_ssize_t KK = T // C
    cdef Py_ssize_t runs = (KK + TC - 1) // TC
    cdef Py_ssize_t item
    if nthreads == 1:
        for item in range(blocks * C * runs):
            _dw_item(item, C, runs, KK, xbuf, sample_stride, N, plane, off, dzw, Lr, gs, gf, dw, T)
        return
    for item in prange(blocks * C * runs, num_threads=nthreads, schedule="guided"):
        _dw_item(item, C, runs, KK, xbuf, sample_stride, N, plane, off, dzw, Lr, gs, gf, dw, T)


def conv_filter_grad(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off,
                     Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp,
                     const real[:, :, :] dzw, real[:, ::1] dw, int nthreads):
    """Filter gradient as a reduction over the batch and the wide rows.

    xbuf  IN  as in :func:`conv_wide` (N samples of C planes Hp×Wp, plus slack)
    off   IN  (T,) tap offsets as in :func:`conv_wide`, channel by channel
    dzw   IN  (N, Fr, Lr) the (dilated) dz laid out in wide rows, zeros elsewhere (its rows
              may lie further apart than Lr: the planes of a padded dz that dx reads too)
    dw    OUT (Fr, T), columns in (c, i, j) row-major order
    Items are (block of FB filters, channel, run of at most TC taps); each owns its
    dw elements, so the sums run in a fixed order whatever the thread count.
    """
    cdef Py_ssize_t gs = dzw.strides[0] // sizeof(real), gf = dzw.strides[1] // sizeof(real)
    if dzw.strides[2] != sizeof(real) or gf < dzw.shape[2] or gs < dzw.shape[1] * gf:
        raise ValueError("conv_filter_grad: dzw's rows must be contiguous and apart")
    with nogil:
        _filter_grad_loop(&xbuf[0], sample_stride, &off[0], off.shape[0], C, Hp * Wp, &dzw[0, 0, 0],
                          dzw.shape[0], dzw.shape[1], dzw.shape[2], gs, gf, &dw[0, 0], nthreads)


cdef inline void _dw_item(Py_ssize_t item, Py_ssize_t C, Py_ssize_t runs, Py_ssize_t KK,
                          const real* xbuf, Py_ssize_t sample_stride, Py_ssize_t N,
                          Py_ssize_t plane, const Py_ssize_t* off, const real* dzw,
                          Py_ssize_t Lr, Py_ssize_t gs, Py_ssize_t gf, real* dw, Py_ssize_t T) noexcept nogil:
    """One (block of FB filters, channel c, run k of taps) item of :func:`conv_filter_grad`:
    the KK taps of a channel go in ``runs`` runs as equal as possible."""
    cdef Py_ssize_t fb = item // (C * runs), c = (item // runs) % C, k = item % runs
    cdef Py_ssize_t q = KK // runs, r = KK % runs
    cdef Py_ssize_t t0 = c * KK + k * q + (k if k < r else r)
    _dw_taps(xbuf, N, sample_stride, plane, dzw + fb * FB * gf, gs, gf, Lr, off + t0,
             q + (1 if k < r else 0), dw + fb * FB * T + t0, T)


#: Elements of one vector of this build, by element size (float32: 4, float64: 8): a layer whose
#: filters fill whole vectors takes the filter gradient by vectors of filters.
VECTOR_LANES = {4: VBYTES // 4, 8: VBYTES // 8}

cdef enum:
    DWF_CHUNK = 16      # samples per item of conv_filter_grad_vf (their sums are added in order)

FILTER_GRAD_SAMPLES = DWF_CHUNK


cdef void _dwf_loop(const real* xbuf, Py_ssize_t ss, const Py_ssize_t* off, Py_ssize_t T, Py_ssize_t KW,
                    const Py_ssize_t* pos, Py_ssize_t P, const real* g, Py_ssize_t N, Py_ssize_t F, real* dw,
                    real* partial, int nthreads) noexcept nogil:
    """The loop of :func:`conv_filter_grad_vf` (also an op of a compiled step). The taps go in runs of
    whole filter rows (KW taps each) where the tiles read rows, of single taps elsewhere."""
    cdef Py_ssize_t unit = KW if KW == 3 or KW == 5 else 1
    cdef Py_ssize_t units = T // unit, most = FJ // unit
    cdef Py_ssize_t runs = (units + most - 1) // most, chunks = (N + DWF_CHUNK - 1) // DWF_CHUNK
    cdef Py_ssize_t items = (F // (VBYTES // sizeof(real))) * runs * chunks
    cdef Py_ssize_t item, c, i
    if nthreads == 1:
        for item in range(items):
            _dwf_item(item, runs, chunks, unit, units, xbuf, ss, off, T, KW, pos, P, g, N, F, dw, partial)
    else:
        for item in prange(items, num_threads=nthreads, schedule="guided"):
            _dwf_item(item, runs, chunks, unit, units, xbuf, ss, off, T, KW, pos, P, g, N, F, dw, partial)
    for c in range(1, chunks):          # the chunks' sums, added in order
        for i in range(F * T):
            dw[i] = dw[i] + partial[(c - 1) * F * T + i]


cdef inline void _dwf_item(Py_ssize_t item, Py_ssize_t runs, Py_ssize_t chunks, Py_ssize_t unit, Py_ssize_t units,
                           const real* xbuf, Py_ssize_t ss, const Py_ssize_t* off, Py_ssize_t T, Py_ssize_t KW,
                           const Py_ssize_t* pos, Py_ssize_t P, const real* g, Py_ssize_t N, Py_ssize_t F, real* dw,
                           real* partial) noexcept nogil:
    """One (vector of filters, run of taps, chunk of samples) item: chunk 0 writes dw, chunk c > 0
    its own part of ``partial``. The runs are as equal as possible, in whole units of taps."""
    cdef Py_ssize_t lanes = VBYTES // sizeof(real)
    cdef Py_ssize_t v = item // (runs * chunks), k = (item // chunks) % runs, c = item % chunks
    cdef Py_ssize_t q = units // runs, r = units % runs
    cdef Py_ssize_t t0 = (k * q + (k if k < r else r)) * unit, J = (q + (1 if k < r else 0)) * unit
    cdef Py_ssize_t n0 = c * DWF_CHUNK, n1 = min(N, (c + 1) * DWF_CHUNK)
    cdef real* out = (dw if c == 0 else partial + (c - 1) * F * T) + v * lanes * T + t0
    if real is float:
        cnn_dwf_taps_f(xbuf, ss, pos, P, g + v * lanes, F, n0, n1, off + t0, J, KW, out, T)
    else:
        cnn_dwf_taps_d(xbuf, ss, pos, P, g + v * lanes, F, n0, n1, off + t0, J, KW, out, T)


def conv_filter_grad_vf(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off, Py_ssize_t KW,
                        const Py_ssize_t[::1] pos, const real[:, :, ::1] dzt, real[:, ::1] dw, real[::1] partial,
                        int nthreads):
    """Filter gradient by vectors of filters, for F a multiple of ``VECTOR_LANES``.

    xbuf     IN  as in :func:`conv_wide` (N samples of C padded planes)
    off      IN  (T,) tap offsets as in :func:`conv_wide`, filter rows of KW taps
    pos      IN  (P,) offset in a padded plane of the input each output position starts at
    dzt      IN  (N, P, F) dz, positions-major
    dw       OUT (F, T)
    partial  scratch of (ceil(N / 16) − 1)·F·T elements (at least 1)
    Items are (vector of filters, run of taps, 16 samples); the runs of samples are added in order.
    """
    with nogil:
        _dwf_loop(&xbuf[0], sample_stride, &off[0], off.shape[0], KW, &pos[0], pos.shape[0], &dzt[0, 0, 0],
                  dzt.shape[0], dzt.shape[2], &dw[0, 0], &partial[0], nthreads)


cdef bint _all_finite(const real* a, Py_ssize_t n) noexcept nogil:
    """True when no element of ``a[:n]`` is NaN or ±inf (the exponent bits are not all ones)."""
    cdef Py_ssize_t i
    cdef const unsigned int* u32
    cdef const unsigned long long* u64
    cdef unsigned int bad32 = 0
    cdef unsigned long long bad64 = 0
    if real is float:
        u32 = <const unsigned int*> a
        for i in range(n):
            bad32 |= (u32[i] & 0x7f800000u) == 0x7f800000u
    else:
        u64 = <const unsigned long long*> a
        for i in range(n):
            bad64 |= (u64[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull
    return bad32 == 0 and bad64 == 0


def all_finite(const real[::1] a):
    """True when no element of ``a`` is NaN or ±inf (the exponent bits are not all ones)."""
    cdef bint ok = True
    if a.shape[0] == 0:
        return True
    with nogil:
        ok = _all_finite(&a[0], a.shape[0])
    return ok


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
# layer's activation and its slope (codes: ACTIVATION_CODES).
# --------------------------------------------------------------------------

cdef extern from "_pointwise.h" nogil:
    void cnn_copy_row_f(const float* s, Py_ssize_t ss, float* d, Py_ssize_t ds, Py_ssize_t n)
    void cnn_act_plane_f(const float* src, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t Ho,
                         Py_ssize_t Wo, float* z, float* y, int act)
    void cnn_act_plane_d(const double* src, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t Ho,
                         Py_ssize_t Wo, double* z, double* y, int act)
    void cnn_dz_item_f(const float* dy, const unsigned char* codes, const float* pooled, const float* z,
                       const Py_ssize_t* zs, int act, Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo,
                       Py_ssize_t f0,
                       Py_ssize_t B, Py_ssize_t r0, Py_ssize_t r1, float* d1, const Py_ssize_t* s1, int pm,
                       float* d2, const Py_ssize_t* s2, float* acc, float* tmp)
    void cnn_dz_item_d(const double* dy, const unsigned char* codes, const double* pooled, const double* z,
                       const Py_ssize_t* zs, int act, Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo,
                       Py_ssize_t f0,
                       Py_ssize_t B, Py_ssize_t r0, Py_ssize_t r1, double* d1, const Py_ssize_t* s1, int pm,
                       double* d2, const Py_ssize_t* s2, double* acc, double* tmp)
    void cnn_fold_plane_f(const float* cols, Py_ssize_t Lr, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH,
                          Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW, Py_ssize_t PH, Py_ssize_t PW, float* dx,
                          Py_ssize_t H, Py_ssize_t W)
    void cnn_fold_plane_d(const double* cols, Py_ssize_t Lr, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t KH,
                          Py_ssize_t KW, Py_ssize_t SH, Py_ssize_t SW, Py_ssize_t PH, Py_ssize_t PW, double* dx,
                          Py_ssize_t H, Py_ssize_t W)
    float cnn_plane_sum_f(const float* a, Py_ssize_t P)
    double cnn_plane_sum_d(const double* a, Py_ssize_t P)
    double cnn_softmax_xent_f(const float* z, const Py_ssize_t* labels, Py_ssize_t N, Py_ssize_t K,
                              float* p, float* dz, Py_ssize_t* bad)
    double cnn_softmax_xent_d(const double* z, const Py_ssize_t* labels, Py_ssize_t N, Py_ssize_t K,
                              double* p, double* dz, Py_ssize_t* bad)
    void cnn_slope_plane_f(const float* dy, const float* z, Py_ssize_t zy, Py_ssize_t zx, Py_ssize_t Ho,
                           Py_ssize_t Wo, float* dz)
    void cnn_slope_plane_d(const double* dy, const double* z, Py_ssize_t zy, Py_ssize_t zx, Py_ssize_t Ho,
                           Py_ssize_t Wo, double* dz)
    const char* const cnn_act_names[]
    enum:
        ACT_COUNT "CNN_ACT_COUNT"


#: Activation name -> the code of the compiled passes that apply it (the one table is
#: CNN_ACTIVATIONS in _pointwise.h; cnncore.activations reads it from here).
ACTIVATION_CODES = {cnn_act_names[i].decode(): i for i in range(ACT_COUNT)}


cdef inline void _act_plane(const real* src, const Py_ssize_t* ss, Py_ssize_t Ho, Py_ssize_t Wo, real* z, real* y,
                            int act) noexcept nogil:
    """One plane of :func:`conv_activate`: ``src`` has rows ``ss[2]`` and columns ``ss[3]`` apart."""
    if real is float:
        cnn_act_plane_f(src, ss[2], ss[3], Ho, Wo, z, y, act)
    else:
        cnn_act_plane_d(src, ss[2], ss[3], Ho, Wo, z, y, act)


cdef inline void _act_item(Py_ssize_t item, Py_ssize_t F, const real* src, const Py_ssize_t* ss,
                           Py_ssize_t Ho, Py_ssize_t Wo, real* z, real* y, int act) noexcept nogil:
    _act_plane(src + (item // F) * ss[0] + (item % F) * ss[1], ss, Ho, Wo, z + item * Ho * Wo if z != NULL else NULL,
               y + item * Ho * Wo, act)


cdef inline void _strides(const Py_ssize_t* strides, Py_ssize_t itemsize, Py_ssize_t* out) noexcept nogil:
    cdef int k
    for k in range(4):
        out[k] = strides[k] // itemsize


cdef void _activate_loop(const real* src, const Py_ssize_t* ss, real* z, real* y, int act, Py_ssize_t N,
                         Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo, int nthreads) noexcept nogil:
    """The loop of :func:`conv_activate` (also an op of a compiled step); ``ss``: src's strides in elements."""
    cdef Py_ssize_t item
    if nthreads == 1:
        for item in range(N * F):
            _act_item(item, F, src, ss, Ho, Wo, z, y, act)
        return
    for item in prange(N * F, num_threads=nthreads, schedule="guided"):
        _act_item(item, F, src, ss, Ho, Wo, z, y, act)


cdef inline void _wide_pool_item(Py_ssize_t item, Py_ssize_t blocks, const real* xbuf, Py_ssize_t sample_stride,
                                 const Py_ssize_t* off, Py_ssize_t T, const real* wt, const real* b, real* out,
                                 Py_ssize_t Fr, Py_ssize_t Lr, Py_ssize_t runs, Py_ssize_t pitch,
                                 const Py_ssize_t* ss, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo, real* y, int act,
                                 real* pooled, unsigned char* codes) noexcept nogil:
    """One (sample, block of FB filters) item of :func:`_wide_pool_loop`: the block's planes of z,
    then each plane's y = f(z) (at the plane's place in ``y`` where ``ss[4]``, else over the last
    one in ``y``, a thread's scratch plane, ``ss[5]`` values before the next thread's) max-pooled
    while z and y are in L1. The pool's tiles may read as far as the scratch plane reaches."""
    cdef Py_ssize_t n = item // blocks, f, P = Ho * Wo, Q = (Ho // 2) * (Wo // 2)
    cdef Py_ssize_t avail = ss[5]
    cdef real* yp = y
    _wide_item(item, blocks, xbuf, sample_stride, off, T, wt, b, out, Fr, Lr, runs, pitch)
    for f in range((item % blocks) * FB, min(F, (item % blocks + 1) * FB)):
        if ss[4] != 0:
            yp = y + (n * F + f) * P
            avail = (ss[6] - (n * F + f)) * P
        _act_plane(out + n * ss[0] + f * ss[1], ss, Ho, Wo, NULL, yp, act)
        _maxpool_2x2_plane(yp, pooled + (n * F + f) * Q, NULL, codes + (n * F + f) * Q, Wo, Ho // 2, Wo // 2, avail)


cdef void _wide_pool_loop(const real* xbuf, Py_ssize_t sample_stride, const Py_ssize_t* off, Py_ssize_t T,
                          const real* wt, const real* b, real* out, Py_ssize_t N, Py_ssize_t Fr, Py_ssize_t Lr,
                          Py_ssize_t runs, Py_ssize_t pitch, const Py_ssize_t* zs, Py_ssize_t F, Py_ssize_t Ho,
                          Py_ssize_t Wo, real* y, Py_ssize_t ypitch, int act,
                          real* pooled, unsigned char* codes, int nthreads) noexcept nogil:
    """The loop of :func:`conv_wide_pooled` (also an op of a compiled step). ``zs``: the strides of
    z within ``out`` (sample, filter, row, column) and whether ``y`` keeps every plane (else it
    is ``nthreads`` scratch planes of ``Ho·Wo``, one a thread, ``ypitch`` values apart)."""
    cdef Py_ssize_t blocks = Fr // FB
    cdef Py_ssize_t item, k
    cdef Py_ssize_t ss[7]          # z's strides, y keeps every plane, scratch pitch, planes
    for k in range(5):
        ss[k] = zs[k]
    ss[5], ss[6] = ypitch, N * F
    if nthreads == 1:
        for item in range(N * blocks):
            _wide_pool_item(item, blocks, xbuf, sample_stride, off, T, wt, b, out, Fr, Lr, runs, pitch, ss, F, Ho,
                            Wo, y, act, pooled, codes)
        return
    for item in prange(N * blocks, num_threads=nthreads, schedule="guided"):
        _wide_pool_item(item, blocks, xbuf, sample_stride, off, T, wt, b, out, Fr, Lr, runs, pitch, ss, F, Ho, Wo,
                        y if ss[4] != 0 else y + threadid() * ypitch, act, pooled, codes)


def check_conv_pooled(real[:, :, ::1] out, const real[:, :, :, :] z, real[:, :, :] y, int act,
                      real[:, :, :, ::1] pooled, unsigned char[:, :, :, ::1] codes, int nthreads) -> bool:
    """Raise ValueError unless the operands of :func:`conv_wide_pooled` fit together; True where
    ``y`` keeps every plane (else it has one scratch plane a thread)."""
    cdef Py_ssize_t N = out.shape[0], F = z.shape[1], Ho = z.shape[2], Wo = z.shape[3]
    if not 0 < act < ACT_COUNT or z.shape[0] != N or <const void*> &z[0, 0, 0, 0] != <void*> &out[0, 0, 0]:
        raise ValueError("conv_wide_pooled: an activation, and z a view of out from its start")
    if pooled.shape[0] != N or pooled.shape[1] != F or pooled.shape[2] != Ho // 2 or pooled.shape[3] != Wo // 2 \
            or any(codes.shape[k] != pooled.shape[k] for k in range(4)) or y.shape[1] != Ho or y.shape[2] != Wo:
        raise ValueError("conv_wide_pooled: z, y, pooled and codes do not match")
    if y.shape[0] != N * F and y.shape[0] < max(1, nthreads):
        raise ValueError("conv_wide_pooled: y has neither every plane nor one a thread")
    cdef Py_ssize_t plane = Ho * Wo * sizeof(real)
    if y.strides[2] != sizeof(real) or y.strides[1] != Wo * <Py_ssize_t> sizeof(real) or y.strides[0] < plane \
            or (y.shape[0] == N * F and y.strides[0] != plane):
        raise ValueError("conv_wide_pooled: y's planes are not contiguous planes one after another")
    return y.shape[0] == N * F


def conv_wide_pooled(const real[::1] xbuf, Py_ssize_t sample_stride, const Py_ssize_t[::1] off,
                     const real[:, ::1] wt, const real[::1] b, real[:, :, ::1] out, const real[:, :, :, :] z,
                     real[:, :, :] y, int act,
                     real[:, :, :, ::1] pooled, unsigned char[:, :, :, ::1] codes, int nthreads,
                     Py_ssize_t runs=1, Py_ssize_t pitch=0):
    """:func:`conv_wide` (``runs``, ``pitch`` as there), then, item by item while its planes are in
    cache, :func:`conv_activate` of them and a 2×2, stride-2 max-pool as :func:`maxpool2x2_codes`:
    ``z`` (N, F, Ho, Wo) is the view of ``out`` that holds the convolution's values (any strides),
    ``y`` is (N·F, Ho, Wo)
    (every plane of f(z) kept) or (nthreads, Ho, Wo) (one scratch plane a thread: f(z) is not
    kept; the pool may read a scratch plane up to the next one, ``y.strides[0]`` bytes on), ``act``
    an activation's code (not 0); see :func:`check_conv_pooled`."""
    cdef Py_ssize_t ss[5]
    ss[4] = check_conv_pooled(out, z, y, act, pooled, codes, nthreads)
    _strides(&z.strides[0], sizeof(real), ss)
    if runs < 1 or out.shape[2] % runs:
        raise ValueError("conv_wide_pooled: the outputs do not split into the runs")
    with nogil:
        _wide_pool_loop(&xbuf[0], sample_stride, &off[0], off.shape[0], &wt[0, 0], &b[0], &out[0, 0, 0],
                        out.shape[0], out.shape[1], out.shape[2], runs, pitch, ss, z.shape[1], z.shape[2], z.shape[3],
                        &y[0, 0, 0], y.strides[0] // sizeof(real), act, &pooled[0, 0, 0, 0], &codes[0, 0, 0, 0],
                        nthreads)


def conv_activate(const real[:, :, :, :] src, real[:, :, :, ::1] z, real[:, :, :, ::1] y, int act, int nthreads):
    """``z = src`` (any strides: the wide-row outputs of a convolution; ``z`` may be None,
    then nothing is copied) and ``y = f(src)`` (``y`` untouched for act 0). All have the
    shape (N, F, Ho, Wo); items are (sample, filter) planes."""
    cdef Py_ssize_t ss[4]
    cdef real* zp = NULL
    _strides(&src.strides[0], sizeof(real), ss)
    if z is not None:
        zp = &z[0, 0, 0, 0]
    with nogil:
        _activate_loop(&src[0, 0, 0, 0], ss, zp, &y[0, 0, 0, 0], act, y.shape[0], y.shape[1], y.shape[2],
                       y.shape[3], nthreads)


cdef enum:
    DZ_ITEMS = 4        # items per thread the gradient pass aims for (rows of planes split to get them)


cdef inline void _dz_item(Py_ssize_t item, Py_ssize_t chunks, Py_ssize_t rows, Py_ssize_t B, const real* dy,
                          const unsigned char* codes, const real* pooled, const real* z, const Py_ssize_t* zs,
                          int act, Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo, real* d1,
                          const Py_ssize_t* s1, int pm,
                          real* d2, const Py_ssize_t* s2, real* acc, real* tmp) noexcept nogil:
    """One (block of B filters, chunk of ``rows`` rows) item of :func:`_prologue_loop`."""
    cdef Py_ssize_t f0 = (item // chunks) * B, r0 = (item % chunks) * rows, r1 = min(Ho, r0 + rows)
    if real is float:
        cnn_dz_item_f(dy, codes, pooled, z, zs, act, N, F, Ho, Wo, f0, B, r0, r1, d1, s1, pm, d2, s2, acc, tmp)
    else:
        cnn_dz_item_d(dy, codes, pooled, z, zs, act, N, F, Ho, Wo, f0, B, r0, r1, d1, s1, pm, d2, s2, acc, tmp)


cdef inline bint _positions_major(const Py_ssize_t* s1, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """Whether strides ``s1`` (N, F, Ho, Wo) are those of a positions-major (N, Ho·Wo, F) array."""
    return s1[1] == 1 and s1[3] == F and s1[2] == Wo * F and s1[0] == Ho * Wo * F


cdef inline Py_ssize_t _dz_block(const Py_ssize_t* s1, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo,
                                 Py_ssize_t lanes) noexcept nogil:
    """Filters per item of the gradient pass: where d1 is positions-major, a vector's worth
    (``lanes``) where they fill it, else the most filters up to ``lanes`` that divide F (each
    position's B values are then written together, not a filter's values F apart); else 1."""
    cdef Py_ssize_t B = min(lanes, F)
    if B < 1 or not _positions_major(s1, F, Ho, Wo):
        return 1
    while F % B:
        B -= 1
    return B


cdef inline Py_ssize_t _dz_rows(Py_ssize_t blocks, Py_ssize_t Ho, int nthreads) noexcept nogil:
    """Rows of a plane per item: all of them, or an even part (the pool's windows span two rows)
    where the blocks of filters are fewer than :data:`DZ_ITEMS` a thread."""
    cdef Py_ssize_t parts = (DZ_ITEMS * nthreads + blocks - 1) // blocks if nthreads > 1 else 1
    cdef Py_ssize_t rows = (Ho + parts - 1) // parts
    return min(Ho, max(2, rows + rows % 2))


cdef void _prologue_loop(const real* dy, const unsigned char* codes, const real* pooled, const real* z,
                         const Py_ssize_t* zs,
                         int act, real* d1, const Py_ssize_t* s1, real* d2, const Py_ssize_t* s2, real* acc,
                         real* tmp, real* db, Py_ssize_t N, Py_ssize_t F, Py_ssize_t Ho, Py_ssize_t Wo,
                         int nthreads) noexcept nogil:
    """The loop of :func:`conv_grad_prologue` (also an op of a compiled step). Items are (block of
    filters, rows of their planes), over every sample in order: each owns the dz it writes and
    the sums over samples of its positions (in ``acc``, (F, Ho·Wo)), so every sum runs in one order
    whatever the thread count; each thread forms its planes and adds up those sums in its own part
    of ``tmp``, and stores them into ``acc`` once (so no two threads add into one cache line of it
    for every sample). Then db(f) is the sum of acc's plane f."""
    cdef int pm = _positions_major(s1, F, Ho, Wo)
    cdef Py_ssize_t B = _dz_block(s1, F, Ho, Wo, VBYTES // sizeof(real))
    cdef Py_ssize_t f0
    if F < 1 or Ho < 1 or Wo < 1:     # no filters or no positions: every db is an empty sum
        for f0 in range(F):
            db[f0] = 0
        return
    cdef Py_ssize_t rows = _dz_rows(F // B, Ho, nthreads), chunks = (Ho + rows - 1) // rows
    cdef Py_ssize_t item, f, per = 2 * B * rows * (Wo + <Py_ssize_t> (VBYTES // sizeof(real)))
    if nthreads == 1:
        for item in range((F // B) * chunks):
            _dz_item(item, chunks, rows, B, dy, codes, pooled, z, zs, act, N, F, Ho, Wo, d1, s1, pm, d2, s2, acc, tmp)
    else:
        for item in prange((F // B) * chunks, num_threads=nthreads, schedule="guided"):
            _dz_item(item, chunks, rows, B, dy, codes, pooled, z, zs, act, N, F, Ho, Wo, d1, s1, pm, d2, s2, acc,
                     tmp + threadid() * per)
    for f in range(F):
        db[f] = _plane_sum(acc + f * Ho * Wo, Ho * Wo)


cdef inline real _plane_sum(const real* a, Py_ssize_t P) noexcept nogil:
    if real is float:
        return cnn_plane_sum_f(a, P)
    else:
        return cnn_plane_sum_d(a, P)


cdef enum:
    # conv_fold's geometry, in order
    G_SAMPLE, G_T, G_R, G_LR, G_N, G_C, G_H, G_W, G_HO, G_WO, G_KH, G_KW, G_SH, G_SW, G_PH, G_PW, G_COUNT


cdef inline Py_ssize_t _fold_slack(const Py_ssize_t* g) noexcept nogil:
    """The values :c:func:`cnn_fold_rows` may read past a thread's products (a whole number of
    cache lines; it never reads before them: tap (i, j)'s reads start j·Lr − j or more in)."""
    return _round_up_to(g[G_KW] + g[G_W] + g[G_PW] + VBYTES // sizeof(float), 16)


cdef inline Py_ssize_t _round_up_to(Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    return (n + m - 1) // m * m


cdef inline bint _by_rows(const Py_ssize_t* g) noexcept nogil:
    """Whether :c:func:`cnn_fold_rows` sums dx: for layers of stride 1 (``cnncore.layers.conv_dx``
    counts its cost as such)."""
    return g[G_SW] == 1 and g[G_SH] == 1


cdef inline void _fold_planes(const real* cols, const Py_ssize_t* g, Py_ssize_t C, real* dx) noexcept nogil:
    """C channels' planes of dx from their rows of products (:c:func:`cnn_fold_rows` where
    :func:`_by_rows`, else :c:func:`cnn_fold_plane`: the same sums)."""
    cdef Py_ssize_t c, KK = g[G_KH] * g[G_KW], HW = g[G_H] * g[G_W], Lr = g[G_LR]
    if _by_rows(g):
        if real is float:
            cnn_fold_rows_f(cols, Lr, g[G_HO], g[G_WO], g[G_KH], g[G_KW], g[G_PH], g[G_PW], dx, g[G_H], g[G_W], C)
        else:
            cnn_fold_rows_d(cols, Lr, g[G_HO], g[G_WO], g[G_KH], g[G_KW], g[G_PH], g[G_PW], dx, g[G_H], g[G_W], C)
        return
    for c in range(C):
        if real is float:
            cnn_fold_plane_f(cols + c * KK * Lr, Lr, g[G_HO], g[G_WO], g[G_KH], g[G_KW], g[G_SH], g[G_SW], g[G_PH],
                             g[G_PW], dx + c * HW, g[G_H], g[G_W])
        else:
            cnn_fold_plane_d(cols + c * KK * Lr, Lr, g[G_HO], g[G_WO], g[G_KH], g[G_KW], g[G_SH], g[G_SW], g[G_PH],
                             g[G_PW], dx + c * HW, g[G_H], g[G_W])


cdef inline void _fold_item(Py_ssize_t item, Py_ssize_t groups, const real* dz, const Py_ssize_t* g,
                            const Py_ssize_t* off, const real* wt, const real* b, real* cols, real* dx) noexcept nogil:
    """Item (sample, group of channels) of :func:`conv_fold`: the rows of products of those channels
    (in whole blocks of FB rows; a block two groups share is computed by each) into their places in
    ``cols`` (R, Lr), and the planes of dx from them, a few channels at a time as soon as their
    rows are there (they are still in L1)."""
    cdef Py_ssize_t n = item // groups, gi = item % groups, C = g[G_C], fb, ready
    cdef Py_ssize_t T = g[G_T], Lr = g[G_LR], KK = g[G_KH] * g[G_KW], HW = g[G_H] * g[G_W]
    cdef Py_ssize_t c0 = gi * C // groups, c1 = (gi + 1) * C // groups, c = c0
    for fb in range(c0 * KK // FB, (c1 * KK + FB - 1) // FB):
        _wide_block(dz + n * g[G_SAMPLE], off, T, wt + fb * FB * T, T, b + fb * FB, cols + fb * FB * Lr, Lr, Lr)
        ready = min(c1, (fb + 1) * FB // KK)     # channels whose rows are all there
        if ready - c >= 4 or (ready == c1 and ready > c):
            _fold_planes(cols + c * KK * Lr, g, ready - c, dx + (n * C + c) * HW)
            c = ready


cdef void _fold_loop(const real* dz, const Py_ssize_t* g, const Py_ssize_t* off, const real* wt, const real* b,
                     real* cols, real* dx, int nthreads) noexcept nogil:
    """The loop of :func:`conv_fold` (also an op of a compiled step). Items are samples, or where
    the samples are fewer than two a thread, (sample, group of channels) pairs. ``cols``: each
    thread's products, :func:`fold_scratch`'s rows."""
    cdef Py_ssize_t n, N = g[G_N], groups = 1
    cdef Py_ssize_t per_thread = g[G_R] * g[G_LR] + _fold_slack(g)
    if nthreads > 1 and N < 2 * nthreads:
        groups = min(g[G_C], (2 * nthreads + N - 1) // N)
    if nthreads == 1:
        for n in range(N * groups):
            _fold_item(n, groups, dz, g, off, wt, b, cols, dx)
        return
    for n in prange(N * groups, num_threads=nthreads, schedule="guided"):
        _fold_item(n, groups, dz, g, off, wt, b, cols + threadid() * per_thread, dx)


def fold_scratch(const Py_ssize_t[::1] geometry, int nthreads) -> tuple:
    """The shape of :func:`conv_fold`'s ``cols`` on ``nthreads`` threads: a row a thread, its
    products (R·Lr) and the slack after them."""
    if geometry.shape[0] != G_COUNT:
        raise ValueError("fold_scratch: a conv_fold geometry has 16 numbers")
    cdef const Py_ssize_t* g = &geometry[0]
    return (max(nthreads, 1), g[G_R] * g[G_LR] + _fold_slack(g))


def conv_fold(const real[::1] dzbuf, const Py_ssize_t[::1] geometry, const Py_ssize_t[::1] off,
              const real[:, ::1] wt, const real[::1] b, real[:, ::1] cols, real[:, :, :, ::1] dx, int nthreads):
    """A convolution's dx as its transposed convolution's scatter, sample by sample: the products
    cols((c, i, j), p) = b(c, i, j) + Σ_t wt((c, i, j), t) · dzbuf(n·sample + off(t) + p) for p <
    Lr (the wide-row tiles; ``off(t)`` = t·Ho·Wo: a 1×1 convolution over dz's planes, ``b`` zeros),
    then each added into dx where its tap's window put it (:c:func:`cnn_fold_rows` for a layer of
    stride 1, each vector of a row of dx summed in a register; else :c:func:`cnn_fold_plane`).

    geometry IN  (sample stride of dzbuf, T, R, Lr, N, C, H, W, Ho, Wo, KH, KW, SH, SW, PH, PW)
    dzbuf    IN  N samples of T planes of Ho·Wo values, with at least Lr − Ho·Wo after the last
    wt       IN  (R, T), R a multiple of FB and ≥ C·KH·KW; b (R,)
    cols     --  scratch, :func:`fold_scratch`'s shape
    dx       OUT (N, C, H, W)
    """
    cdef const Py_ssize_t* g = &geometry[0]
    if geometry.shape[0] != G_COUNT or min(g[G_KH], g[G_KW], g[G_SH], g[G_SW]) < 1 or min(g[G_PH], g[G_PW]) < 0 \
            or g[G_R] % FB or g[G_R] < g[G_C] * g[G_KH] * g[G_KW] or g[G_LR] < g[G_HO] * g[G_WO] \
            or wt.shape[0] != g[G_R] or wt.shape[1] != g[G_T] or off.shape[0] != g[G_T] or b.shape[0] != g[G_R] \
            or cols.shape[0] < max(1, nthreads) or cols.shape[1] != g[G_R] * g[G_LR] + _fold_slack(g) \
            or dx.shape[0] != g[G_N] or dx.shape[1] != g[G_C] or dx.shape[2] != g[G_H] or dx.shape[3] != g[G_W] \
            or (g[G_N] - 1) * g[G_SAMPLE] + off[g[G_T] - 1] + g[G_LR] > dzbuf.shape[0]:
        raise ValueError("conv_fold: the buffers do not match the geometry")
    with nogil:
        _fold_loop(&dzbuf[0], g, &off[0], &wt[0, 0], &b[0], &cols[0, 0], &dx[0, 0, 0, 0], nthreads)


cdef inline bint _shape_is(const Py_ssize_t* shape, Py_ssize_t a, Py_ssize_t b, Py_ssize_t c,
                           Py_ssize_t d) noexcept nogil:
    return shape[0] == a and shape[1] == b and shape[2] == c and shape[3] == d


def prologue_scratch(Py_ssize_t Ho, Py_ssize_t Wo, int nthreads) -> tuple:
    """The shape of ``tmp`` that :func:`conv_grad_prologue` needs on ``nthreads`` threads (enough
    for any layout of ``d1``)."""
    return (max(nthreads, 1) * 2 * (VBYTES // 4), Ho * (Wo + VBYTES // 4))


def conv_grad_prologue(const real[:, :, :, ::1] dy, const unsigned char[:, :, :, ::1] codes,
                       const real[:, :, :, ::1] pooled, const real[:, :, :, :] z, int act, real[:, :, :, :] d1,
                       real[:, :, :, :] d2, real[:, ::1] acc, real[:, ::1] tmp, real[::1] db, int nthreads):
    """``dz = dy ⊙ f′(z)`` (act 0: ``dz`` is ``dy``; ``z`` (N, F, Ho, Wo) may have any strides)
    written into ``d1`` and ``d2`` (views of z's shape with any strides; ``d2`` may be None), and
    ``db(f) = Σ dz(·, f, ·, ·)``. With ``codes`` (not None), ``dy`` is the gradient of a 2×2,
    stride-2 max-pool of y = f(z), (N, F, Ho/2, Wo/2), ``codes`` its winners
    (:func:`maxpool2x2_codes`) and ``pooled`` its output: dz is formed from them directly, as
    if the pool's backward pass had written its dx first, with ReLU's slope at a winner read
    from ``pooled`` (z > 0 exactly where f(z) > 0), not from z. ``acc`` (F, Ho·Wo) and ``tmp``
    (:func:`prologue_scratch`) are scratch. Each item owns what it writes and each sum runs in one
    order, whatever the thread count."""
    cdef const unsigned char* cp = NULL
    cdef Py_ssize_t zs[4]
    cdef Py_ssize_t s1[4]
    cdef Py_ssize_t s2[4]
    cdef real* p2 = NULL
    cdef const real* pp = NULL
    cdef Py_ssize_t F = z.shape[1], Ho = z.shape[2], Wo = z.shape[3]
    _strides(&z.strides[0], sizeof(real), zs)
    _strides(&d1.strides[0], sizeof(real), s1)
    if tmp.shape[0] * tmp.shape[1] < max(nthreads, 1) * 2 * _dz_block(s1, F, Ho, Wo, VBYTES // sizeof(real)) * Ho \
            * (Wo + <Py_ssize_t> (VBYTES // sizeof(real))) \
            or acc.shape[0] * acc.shape[1] < F * Ho * Wo:
        raise ValueError("cnncore: the gradient pass's scratch is too small")
    cdef Py_ssize_t N = z.shape[0], Hy = Ho if codes is None else Ho // 2, Wy = Wo if codes is None else Wo // 2
    if not _shape_is(&d1.shape[0], N, F, Ho, Wo) or (d2 is not None and not _shape_is(&d2.shape[0], N, F, Ho, Wo)) \
            or not _shape_is(&dy.shape[0], N, F, Hy, Wy) or db.shape[0] < F:
        raise ValueError("cnncore: the gradient pass's dy, targets and db do not match z")
    if codes is not None:
        if pooled is None or not _shape_is(&pooled.shape[0], N, F, Hy, Wy) \
                or not _shape_is(&codes.shape[0], N, F, Hy, Wy):
            raise ValueError("cnncore: the pool's output must come with its codes")
        cp = &codes[0, 0, 0, 0]
        pp = &pooled[0, 0, 0, 0]
    if d2 is not None:
        p2 = &d2[0, 0, 0, 0]
        _strides(&d2.strides[0], sizeof(real), s2)
    with nogil:
        _prologue_loop(&dy[0, 0, 0, 0], cp, pp, &z[0, 0, 0, 0], zs, act, &d1[0, 0, 0, 0], s1, p2, s2, &acc[0, 0],
                       &tmp[0, 0], &db[0], z.shape[0], F, Ho, Wo, nthreads)


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
        cnn_unpool2x2_plane_f(dy + q, a, c, NULL, dx + item * H * W, H, W, Ho, Wo, dy_avail - q)
    else:
        cnn_unpool2x2_plane_d(dy + q, a, c, NULL, dx + item * H * W, H, W, Ho, Wo, dy_avail - q)


cdef void _unpool_loop(const real* dy, const long long* argmax, const unsigned char* codes, real* dx,
                       Py_ssize_t planes, Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                       int nthreads) noexcept nogil:
    """The loop of :func:`maxpool2x2_backward` (also an op of a compiled step)."""
    cdef Py_ssize_t item
    if nthreads == 1:
        for item in range(planes):
            _unpool_item(item, dy, argmax, codes, dx, H, W, Ho, Wo, planes * Ho * Wo)
        return
    for item in prange(planes, num_threads=nthreads, schedule="guided"):
        _unpool_item(item, dy, argmax, codes, dx, H, W, Ho, Wo, planes * Ho * Wo)


def maxpool2x2_backward(const real[:, :, :, ::1] dy, const long long[:, :, :, ::1] argmax,
                        const unsigned char[:, :, :, ::1] codes, real[:, :, :, ::1] dx,
                        int nthreads):
    """``dx`` (any contents) = ``0 + dy`` at each window's winner and 0 elsewhere, for the
    2×2, stride-2 windows, the winners given as ``argmax`` (each in its own window, as
    :func:`maxpool_forward` writes them) or, with ``argmax`` None, as the ``codes`` of
    :func:`maxpool2x2_codes`. Items are (sample, channel) planes."""
    cdef const long long* a = NULL
    cdef const unsigned char* c = NULL
    if argmax is not None:
        a = &argmax[0, 0, 0, 0]
    else:
        c = &codes[0, 0, 0, 0]
    with nogil:
        _unpool_loop(&dy[0, 0, 0, 0], a, c, &dx[0, 0, 0, 0], dy.shape[0] * dy.shape[1], dx.shape[2], dx.shape[3],
                     dy.shape[2], dy.shape[3], nthreads)


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


# --------------------------------------------------------------------------
# A dense layer (C tiles in _microkernels_impl.h): z = x·Wᵀ + b as dot products,
# dx = dz·W and dW = dzᵀ·x as sums of rows, db as column sums. Every output is
# one sum in a fixed order, so any thread count gives the same bits.
# --------------------------------------------------------------------------

# The BLAS NumPy brought (cnncore._blas finds it): above a batch of one, a dense layer's three
# matrix products are its gemm calls (on one thread, as cnncore keeps NumPy's BLAS), in the
# layer-by-layer path and in a compiled step alike; none found: the tiles below.
ctypedef void (*gemm32_f)(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                          float*, int) noexcept nogil
ctypedef void (*gemm64_f)(int, int, int, long long, long long, long long, float, const float*, long long,
                          const float*, long long, float, float*, long long) noexcept nogil
ctypedef void (*gemm32_d)(int, int, int, int, int, int, double, const double*, int, const double*, int, double,
                          double*, int) noexcept nogil
ctypedef void (*gemm64_d)(int, int, int, long long, long long, long long, double, const double*, long long,
                          const double*, long long, double, double*, long long) noexcept nogil
cdef void* _sgemm = NULL
cdef void* _dgemm = NULL
cdef bint _ilp64 = False

cdef enum:
    ROW_MAJOR = 101     # CBLAS_ORDER, CBLAS_TRANSPOSE
    NO_TRANS = 111
    TRANS = 112


def set_blas(size_t sgemm, size_t dgemm, bint ilp64):
    """Use the cblas_sgemm and cblas_dgemm at these addresses (0: none) for dense products."""
    global _sgemm, _dgemm, _ilp64
    _sgemm, _dgemm, _ilp64 = <void*> sgemm, <void*> dgemm, ilp64


def blas_in_use():
    """True when a dense layer's products above a batch of one are the BLAS gemm calls."""
    return _sgemm != NULL and _dgemm != NULL


cdef bint _gemm(bint ta, bint tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const real* A, Py_ssize_t lda,
                const real* B, Py_ssize_t ldb, real* C, Py_ssize_t ldc) noexcept nogil:
    """C = op(A)·op(B) (row-major, C's rows ldc apart) by the BLAS; False when there is none."""
    cdef int oa = TRANS if ta else NO_TRANS, ob = TRANS if tb else NO_TRANS
    if _sgemm == NULL or _dgemm == NULL:
        return False
    if real is float:
        if _ilp64:
            (<gemm64_f> _sgemm)(ROW_MAJOR, oa, ob, M, N, K, 1, A, lda, B, ldb, 0, C, ldc)
        else:
            (<gemm32_f> _sgemm)(ROW_MAJOR, oa, ob, <int> M, <int> N, <int> K, 1, A, <int> lda, B, <int> ldb, 0, C,
                                <int> ldc)
    else:
        if _ilp64:
            (<gemm64_d> _dgemm)(ROW_MAJOR, oa, ob, M, N, K, 1, A, lda, B, ldb, 0, C, ldc)
        else:
            (<gemm32_d> _dgemm)(ROW_MAJOR, oa, ob, <int> M, <int> N, <int> K, 1, A, <int> lda, B, <int> ldb, 0, C,
                                <int> ldc)
    return True


cdef enum:
    GEMM_SPLIT_MIN = 1 << 20    # multiply-adds from which a thin BLAS product is computed as two halves
    GEMM_THIN = 16              # a product is thin when its output has fewer rows or columns than this


cdef inline void _gemm_half(int half, bint by_rows, Py_ssize_t cut, bint ta, bint tb, Py_ssize_t M, Py_ssize_t N,
                            Py_ssize_t K, const real* A, Py_ssize_t lda, const real* B, Py_ssize_t ldb, real* C,
                            Py_ssize_t ldc) noexcept nogil:
    """Half ``half`` (0: before ``cut``, 1: from it) of C's rows (``by_rows``) or columns in :func:`_gemm_halves`."""
    cdef Py_ssize_t lo = 0 if half == 0 else cut
    cdef Py_ssize_t hi = cut if half == 0 else (M if by_rows else N)
    if by_rows:
        _gemm(ta, tb, hi - lo, N, K, A + (lo if ta else lo * lda), lda, B, ldb, C + lo * ldc, ldc)
    else:
        _gemm(ta, tb, M, hi - lo, K, A, lda, B + (lo * ldb if tb else lo), ldb, C + lo, ldc)


cdef bint _gemm_halves(bint ta, bint tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const real* A, Py_ssize_t lda,
                       const real* B, Py_ssize_t ldb, real* C, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """:func:`_gemm`; a thin product (C fewer than :data:`GEMM_THIN` columns or rows wide) of
    :data:`GEMM_SPLIT_MIN` multiply-adds or more as two: the halves of C's longer side (cut at a
    multiple of 16), one a thread where there are two. The cifar preset's dense layer at batch 64
    (64 × 10 outputs, 3,072 inputs) took 117–141 µs whole and 38–44 µs a half on the Xeon (the
    BLAS packs the long operand for a few outputs; a half is small enough for OpenBLAS's kernel
    for small products), on one thread. A square product gains nothing (each half packs the
    other operand again: wide's 64 × 64 × 1,568 took 264 µs whole, 346 µs as halves in turn). The
    halves are the same whatever the thread count, so are the bits."""
    cdef int half
    cdef bint by_rows = M >= N
    cdef Py_ssize_t side = M if by_rows else N
    cdef Py_ssize_t cut = (side // 2 + 15) // 16 * 16
    if _sgemm == NULL or _dgemm == NULL:
        return False
    if M * N * K < GEMM_SPLIT_MIN or side < 32 or min(M, N) >= GEMM_THIN:
        return _gemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc)
    if nthreads > 1:
        for half in prange(2, num_threads=2, schedule="static"):
            _gemm_half(half, by_rows, cut, ta, tb, M, N, K, A, lda, B, ldb, C, ldc)
    else:
        for half in range(2):
            _gemm_half(half, by_rows, cut, ta, tb, M, N, K, A, lda, B, ldb, C, ldc)
    return True


cdef void _dense_dot_loop(const real* x, const real* w, const real* b, real* z, Py_ssize_t N, Py_ssize_t K,
                          Py_ssize_t D, int nthreads) noexcept nogil:
    """Items are blocks of 4 units over every row; above a batch of one, x·Wᵀ by the BLAS, then + b."""
    cdef Py_ssize_t item, n, k
    if N > 1 and _gemm_halves(False, True, N, K, D, x, D, w, D, z, K, nthreads):
        for n in range(N):
            for k in range(K):
                z[n * K + k] = z[n * K + k] + b[k]
        return
    if nthreads == 1:
        for item in range((K + 3) // 4):
            _dense_dot(x, w, b, z, N, K, D, 4 * item)
        return
    for item in prange((K + 3) // 4, num_threads=nthreads, schedule="guided"):
        _dense_dot(x, w, b, z, N, K, D, 4 * item)


cdef inline void _dense_dot(const real* x, const real* w, const real* b, real* z, Py_ssize_t N, Py_ssize_t K,
                            Py_ssize_t D, Py_ssize_t u0) noexcept nogil:
    if real is float:
        cnn_dense_dot_f(x, w, b, z, N, K, D, u0)
    else:
        cnn_dense_dot_d(x, w, b, z, N, K, D, u0)


def dense_forward(const real[:, ::1] x, const real[:, ::1] w, const real[::1] b, real[:, ::1] z, int nthreads):
    """``z = x·Wᵀ + b``: x (N, D), w (K, D), b (K,), z (N, K) OUT."""
    with nogil:
        _dense_dot_loop(&x[0, 0], &w[0, 0], &b[0], &z[0, 0], x.shape[0], w.shape[0], w.shape[1], nthreads)


cdef void _dense_rows_loop(const real* a, Py_ssize_t ar, Py_ssize_t at, const real* B, Py_ssize_t T,
                           Py_ssize_t D, real* out, Py_ssize_t rows, int nthreads) noexcept nogil:
    """Items are blocks of 4 rows of ``out``. Above a batch of one (a transposed ``a``, ar = 1: dW
    = dzᵀ·x over T samples; else dx = dz·W over ``rows`` samples), the BLAS product."""
    cdef Py_ssize_t item
    if ar == 1 and T > 1 and _gemm_halves(True, False, rows, D, T, a, at, B, D, out, D, nthreads):
        return
    if ar != 1 and rows > 1 and _gemm_halves(False, False, rows, D, T, a, ar, B, D, out, D, nthreads):
        return
    if nthreads == 1:
        for item in range((rows + 3) // 4):
            _dense_rows(a, ar, at, B, T, D, out, rows, 4 * item)
        return
    for item in prange((rows + 3) // 4, num_threads=nthreads, schedule="guided"):
        _dense_rows(a, ar, at, B, T, D, out, rows, 4 * item)


cdef inline void _dense_rows(const real* a, Py_ssize_t ar, Py_ssize_t at, const real* B, Py_ssize_t T,
                             Py_ssize_t D, real* out, Py_ssize_t rows, Py_ssize_t r0) noexcept nogil:
    if real is float:
        cnn_dense_rows_f(a, ar, at, B, T, D, out, rows, r0)
    else:
        cnn_dense_rows_d(a, ar, at, B, T, D, out, rows, r0)


def dense_rows(const real[:, ::1] a, bint transposed, const real[:, ::1] B, real[:, ::1] out, int nthreads):
    """``out = a·B`` (``transposed`` false: dx = dz·W) or ``aᵀ·B`` (true: dW = dzᵀ·x), each output
    summed over the rows of ``B`` in order. a (N, K); B (N or K, D); out (K or N, D) OUT."""
    cdef Py_ssize_t ar = 1 if transposed else a.shape[1], at = a.shape[1] if transposed else 1
    with nogil:
        _dense_rows_loop(&a[0, 0], ar, at, &B[0, 0], B.shape[0], B.shape[1], &out[0, 0], out.shape[0], nthreads)


cdef void _column_sums(const real* a, Py_ssize_t N, Py_ssize_t K, real* out) noexcept nogil:
    cdef Py_ssize_t n, k
    for k in range(K):
        out[k] = a[k]
    for n in range(1, N):
        for k in range(K):
            out[k] = out[k] + a[n * K + k]


def column_sums(const real[:, ::1] a, real[::1] out):
    """``out(k) = a(0, k) + a(1, k) + …`` (a dense layer's db), added in row order."""
    with nogil:
        _column_sums(&a[0, 0], a.shape[0], a.shape[1], &out[0])


cdef void _pointwise(const real* z, real* y, Py_ssize_t n, int act) noexcept nogil:
    if real is float:
        cnn_act_plane_f(z, 0, 1, 1, n, NULL, y, act)
    else:
        cnn_act_plane_d(z, 0, 1, 1, n, NULL, y, act)


cdef void _slope(const real* dy, const real* z, real* dz, Py_ssize_t n) noexcept nogil:
    if real is float:
        cnn_slope_plane_f(dy, z, 0, 1, 1, n, dz)
    else:
        cnn_slope_plane_d(dy, z, 0, 1, 1, n, dz)


def activate(const real[::1] z, real[::1] y, int act):
    """``y = f(z)`` for an activation with a compiled code other than 0 (as :func:`conv_activate`)."""
    with nogil:
        _pointwise(&z[0], &y[0], z.shape[0], act)


def relu_slope(const real[::1] dy, const real[::1] z, real[::1] dz):
    """``dz = dy ⊙ (z > 0)``, as :func:`conv_grad_prologue` forms it for ReLU."""
    with nogil:
        _slope(&dy[0], &z[0], &dz[0], dy.shape[0])


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


cdef void _adam_loop(real* p, const real* grad, real* m, real* v, const real* mask, Py_ssize_t n, int decay,
                     real wd, real b1, real omb1, real b2, real omb2, real inv_sqrt_c2, real eps, real step,
                     real tiny, bint flush_m, bint flush_v, real* snap, int nthreads) noexcept nogil:
    """The loop of :func:`adam_update` (also an op of a compiled step, which may ask for ``snap``: a
    copy of the parameters from before the update, each run's taken just before it runs)."""
    cdef Py_ssize_t runs = (n + ADAM_RUN - 1) // ADAM_RUN, r
    if nthreads == 1 or runs < 2:
        _adam_run(0, n, p, grad, m, v, mask, decay, wd, b1, omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny,
                  flush_m, flush_v, snap)
        return
    for r in prange(runs, num_threads=nthreads, schedule="guided"):
        _adam_run(r * ADAM_RUN, min(n, (r + 1) * ADAM_RUN), p, grad, m, v, mask, decay, wd, b1, omb1, b2, omb2,
                  inv_sqrt_c2, eps, step, tiny, flush_m, flush_v, snap)


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
    with nogil:
        _adam_loop(&p[0], &grad[0], &m[0], &v[0], &mask[0], p.shape[0], decay, wd, b1, omb1, b2, omb2,
                   inv_sqrt_c2, eps, step, tiny, flush_m, flush_v, NULL, nthreads)


cdef inline void _adam_run(Py_ssize_t a, Py_ssize_t b, real* p, const real* grad, real* m, real* v,
                           const real* mask, int decay, real wd, real b1, real omb1, real b2, real omb2,
                           real inv_sqrt_c2, real eps, real step, real tiny, bint flush_m,
                           bint flush_v, real* snap) noexcept nogil:
    """Elements ``a`` to ``b`` of :func:`adam_update` (their parameters first copied to ``snap``
    unless it is NULL: the run is then in cache for the update)."""
    if snap != NULL:
        memcpy(snap + a, p + a, (b - a) * sizeof(real))
    if real is float:
        cnn_adam_f(p + a, grad + a, m + a, v + a, mask + a if decay == 2 else mask, b - a, decay, wd, b1,
                   omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)
    else:
        cnn_adam_d(p + a, grad + a, m + a, v + a, mask + a if decay == 2 else mask, b - a, decay, wd, b1,
                   omb1, b2, omb2, inv_sqrt_c2, eps, step, tiny, flush_m, flush_v)


# --------------------------------------------------------------------------
# A compiled training step (float32): the loops above as a list of ops on
# buffers laid out once, run in one call without the GIL and without Python
# between them. cnncore.step builds the list from the layers' plans, which
# check every shape and pointer once; an op trusts them.
# --------------------------------------------------------------------------

cimport numpy as cnp
from libc.math cimport isfinite
from libc.stdlib cimport free, realloc

cnp.import_array()

cdef enum:
    # the op kinds; what each reads from Op.p (pointers), Op.n (sizes) and Op.f (scalars)
    OP_COPY = 1       # p: src (NULL: the run's batch), dst; n: shape[4], src strides[4], dst strides[4]
    OP_CONV = 2       # conv_wide: p: xbuf, off, wt, b, out; n: sample stride, T, N, Fr, Lr, runs, pitch
    OP_ACT = 3        # conv_activate: p: src, z, y; n: src strides[4], N, F, Ho, Wo
    OP_PROLOGUE = 4   # conv_grad_prologue: p: dy, codes, z, d1, d2, acc, tmp, db, pooled;
                      #   n: zs[4], s1[4], s2[4], N, F, Ho, Wo
    OP_DW = 5         # conv_filter_grad: p: xbuf, off, dzw, dw; n: sample stride, T, C, plane, N, Fr, Lr,
                      #   dzw's strides (samples, filters)
    OP_EXACT = 6      # p: a, b; n: len(a), len(b): neither finite -> STEP_EXACT (the exact NumPy sums)
    OP_DENSE = 8      # dense_forward: p: x, w, b, z; n: N, K, D
    OP_ROWS = 9       # dense_rows: p: a, B, out; n: ar, at, T, D, rows
    OP_COLSUM = 10    # column_sums: p: a, out; n: N, K
    OP_ACTIVATE = 11  # activate: p: z, y; n: count
    OP_SLOPE = 12     # relu_slope: p: dy, z, dz; n: count
    OP_LOSS = 13      # softmax_xent of the run's labels: p: z, probs, dz; n: N, K
    OP_ADAM = 14      # adam_update: p: param, grad, m, v, mask, snapshot (NULL: none); n: count, decay;
                      #   f: wd, b1, 1-b1, b2, 1-b2, eps, tiny
    OP_DWF = 15       # conv_filter_grad_vf: p: xbuf, off, pos, dzt, dw, partial; n: sample stride, T, P, N, F, KW
    OP_CONVPOOL = 16  # conv_wide_pooled: p: xbuf, off, wt, b, out, y, pooled, codes;
                      #   n: sample stride, T, N, Fr, Lr, z's strides[4] + (y keeps every plane), F, Ho, Wo,
                      #   runs, pitch, y's plane pitch
    OP_FOLD = 17      # conv_fold: p: dzbuf, off, wt, b, cols, dx; n: geometry[16]
    OP_BOTH = 18      # the next two ops (independent, neither ending the step) at once, one a thread

cdef enum:
    # what Program.run returns
    DONE = 0          # the whole step ran
    DIVERGED = 1      # the loss is NaN or infinite: stopped after it (no gradients, no update)
    EXACT = 2         # a case only the checked path computes exactly (a label out of range, a
                      # non-finite value where the fast sums would spread it): stopped before the update

STEP_DONE, STEP_DIVERGED, STEP_EXACT = DONE, DIVERGED, EXACT
#: The op kinds by name, for cnncore.step.
OPS = {"copy": OP_COPY, "conv": OP_CONV, "act": OP_ACT, "prologue": OP_PROLOGUE, "dw": OP_DW, "exact": OP_EXACT,
       "dense": OP_DENSE, "rows": OP_ROWS, "colsum": OP_COLSUM, "activate": OP_ACTIVATE,
       "slope": OP_SLOPE, "loss": OP_LOSS, "adam": OP_ADAM, "dwf": OP_DWF, "convpool": OP_CONVPOOL,
       "fold": OP_FOLD, "both": OP_BOTH}

cdef struct Op:
    int kind
    int nt
    int act
    void* p[10]
    Py_ssize_t n[16]
    double f[8]

cdef struct StepRun:
    const float* x
    const Py_ssize_t* labels
    double total
    float adam[2]        # 1/√c2 and the step size of this run's update
    int flush[2]


cdef inline void _copy_rows(Py_ssize_t ab, const float* src, float* dst, const Py_ssize_t* n) noexcept nogil:
    """The rows of :func:`_copy4` at (a, b) = divmod(``ab``, n[1])."""
    cdef Py_ssize_t a = ab // n[1], b = ab % n[1], c
    for c in range(n[2]):
        cnn_copy_row_f(src + a * n[4] + b * n[5] + c * n[6], n[7], dst + a * n[8] + b * n[9] + c * n[10],
                       n[11], n[3])


cdef void _copy4(const float* src, float* dst, const Py_ssize_t* n, int nthreads) noexcept nogil:
    """dst[a, b, c, d] = src[a, b, c, d] with n = shape[4], src strides[4], dst strides[4] (elements),
    a row of d at a time (rows here are short: no memcpy call for each); the (a, b) planes split over
    ``nthreads`` (a copy between two layers' maps at a large batch: one thread left the other idle)."""
    cdef Py_ssize_t ab
    if nthreads == 1:
        for ab in range(n[0] * n[1]):
            _copy_rows(ab, src, dst, n)
        return
    for ab in prange(n[0] * n[1], num_threads=nthreads, schedule="static"):
        _copy_rows(ab, src, dst, n)


cdef void _both(const Op* o, StepRun* r) noexcept nogil:
    """OP_BOTH: the two ops after ``o`` side by side where it has two threads, else in turn."""
    cdef int j
    if o.nt > 1:
        for j in prange(2, num_threads=2, schedule="static"):
            _op(o + 1 + j, r)
    else:
        _op(o + 1, r)
        _op(o + 2, r)


cdef inline Py_ssize_t _next(const Op* o) noexcept nogil:
    """How many ops on the one after ``o`` is (an OP_BOTH ran its two as well)."""
    return 3 if o.kind == OP_BOTH else 1


cdef int _op(const Op* o, StepRun* r) noexcept nogil:
    cdef const Py_ssize_t* n = o.n
    cdef Py_ssize_t bad = 0
    cdef int k = o.kind
    if k == OP_COPY:
        _copy4(<const float*> o.p[0] if o.p[0] != NULL else r.x, <float*> o.p[1], n, o.nt)
    elif k == OP_CONV:
        _conv_wide_loop(<const float*> o.p[0], n[0], <const Py_ssize_t*> o.p[1], n[1], <const float*> o.p[2],
                        <const float*> o.p[3], <float*> o.p[4], n[2], n[3], n[4], n[5], n[6], o.nt)
    elif k == OP_CONVPOOL:
        _wide_pool_loop(<const float*> o.p[0], n[0], <const Py_ssize_t*> o.p[1], n[1], <const float*> o.p[2],
                        <const float*> o.p[3], <float*> o.p[4], n[2], n[3], n[4], n[13], n[14], n + 5, n[10],
                        n[11], n[12], <float*> o.p[5], n[15], o.act, <float*> o.p[6], <unsigned char*> o.p[7], o.nt)
    elif k == OP_BOTH:
        _both(o, r)
    elif k == OP_FOLD:
        _fold_loop(<const float*> o.p[0], n, <const Py_ssize_t*> o.p[1], <const float*> o.p[2],
                   <const float*> o.p[3], <float*> o.p[4], <float*> o.p[5], o.nt)
    elif k == OP_ACT:
        _activate_loop(<const float*> o.p[0], n, <float*> o.p[1], <float*> o.p[2], o.act, n[4], n[5], n[6], n[7],
                       o.nt)
    elif k == OP_PROLOGUE:
        _prologue_loop(<const float*> o.p[0], <const unsigned char*> o.p[1], <const float*> o.p[8],
                       <const float*> o.p[2], n, o.act,
                       <float*> o.p[3], n + 4, <float*> o.p[4], n + 8, <float*> o.p[5], <float*> o.p[6],
                       <float*> o.p[7], n[12], n[13], n[14], n[15], o.nt)
    elif k == OP_DW:
        _filter_grad_loop(<const float*> o.p[0], n[0], <const Py_ssize_t*> o.p[1], n[1], n[2], n[3],
                          <const float*> o.p[2], n[4], n[5], n[6], n[7], n[8], <float*> o.p[3], o.nt)
    elif k == OP_EXACT:
        if not _all_finite(<const float*> o.p[0], n[0]) and not _all_finite(<const float*> o.p[1], n[1]):
            return EXACT
    elif k == OP_DENSE:
        _dense_dot_loop(<const float*> o.p[0], <const float*> o.p[1], <const float*> o.p[2], <float*> o.p[3],
                        n[0], n[1], n[2], o.nt)
    elif k == OP_ROWS:
        _dense_rows_loop(<const float*> o.p[0], n[0], n[1], <const float*> o.p[1], n[2], n[3], <float*> o.p[2],
                         n[4], o.nt)
    elif k == OP_COLSUM:
        _column_sums(<const float*> o.p[0], n[0], n[1], <float*> o.p[1])
    elif k == OP_ACTIVATE:
        _pointwise(<const float*> o.p[0], <float*> o.p[1], n[0], o.act)
    elif k == OP_SLOPE:
        _slope(<const float*> o.p[0], <const float*> o.p[1], <float*> o.p[2], n[0])
    elif k == OP_LOSS:
        r.total = cnn_softmax_xent_f(<const float*> o.p[0], r.labels, n[0], n[1], <float*> o.p[1],
                                     <float*> o.p[2], &bad)
        if bad:
            return EXACT
        if not isfinite(r.total):
            return DIVERGED
    elif k == OP_ADAM:
        _adam_loop(<float*> o.p[0], <const float*> o.p[1], <float*> o.p[2], <float*> o.p[3], <const float*> o.p[4],
                   n[0], <int> n[1], <float> o.f[0], <float> o.f[1], <float> o.f[2], <float> o.f[3],
                   <float> o.f[4], r.adam[0], <float> o.f[5], r.adam[1], <float> o.f[6], r.flush[0], r.flush[1],
                   <float*> o.p[5], o.nt)
    elif k == OP_DWF:
        _dwf_loop(<const float*> o.p[0], n[0], <const Py_ssize_t*> o.p[1], n[1], n[5], <const Py_ssize_t*> o.p[2],
                  n[2], <const float*> o.p[3], n[3], n[4], <float*> o.p[4], <float*> o.p[5], o.nt)
    return DONE


cdef class Program:
    """A list of ops (the ``OP_*`` kinds above) run in order by :meth:`run` until one stops
    the step. Built by :mod:`cnncore.step`, which passes raw addresses of arrays it keeps
    alive here (:meth:`keep`) and has checked: nothing here can check them again."""
    cdef Op* ops
    cdef Py_ssize_t count
    cdef list kept
    cdef readonly tuple x_shape
    cdef public double total
    cdef int paired         # ops still to come that an OP_BOTH runs

    def __cinit__(self, tuple x_shape):
        self.ops = NULL
        self.count = 0
        self.kept = []
        self.x_shape = x_shape
        self.total = 0
        self.paired = 0

    def __dealloc__(self):
        free(self.ops)

    def keep(self, *arrays):
        """Hold references to the arrays whose addresses the ops use."""
        self.kept.extend(arrays)

    def add(self, int kind, int nt, int act, pointers, sizes, scalars=()):
        """Append one op: ``pointers`` (up to 10 addresses, 0 for NULL), ``sizes`` (up to 16 ints),
        ``scalars`` (up to 8 floats)."""
        cdef Op* grown
        cdef Op* o
        cdef int i
        if len(pointers) > 10 or len(sizes) > 16 or len(scalars) > 8 or not 1 <= kind <= OP_BOTH \
                or (kind == OP_BOTH and self.paired):
            raise ValueError("cnncore: a malformed step op")
        grown = <Op*> realloc(self.ops, (self.count + 1) * sizeof(Op))
        if grown == NULL:
            raise MemoryError()
        self.ops = grown
        o = &self.ops[self.count]
        self.paired = 2 if kind == OP_BOTH else max(self.paired - 1, 0)
        o.kind, o.nt, o.act = kind, max(nt, 1), act
        for i in range(10):
            o.p[i] = <void*> <size_t> (pointers[i] if i < len(pointers) else 0)
        for i in range(8):
            o.f[i] = scalars[i] if i < len(scalars) else 0
        for i in range(16):
            o.n[i] = sizes[i] if i < len(sizes) else 0
        self.count += 1

    def run(self, cnp.ndarray x, cnp.ndarray labels, float inv_sqrt_c2=0, float step=0, bint flush_m=False,
            bint flush_v=False):
        """Run every op on the batch ``x`` (float32, C-contiguous, ``x_shape``) with ``labels``
        (intp, (N,)): :data:`STEP_DONE`, :data:`STEP_DIVERGED` or :data:`STEP_EXACT`. ``total`` is then
        the sum over the batch of log p(label). The update's scalars are those of this step."""
        cdef StepRun r
        cdef Py_ssize_t i
        cdef int status = DONE
        if (cnp.PyArray_TYPE(x) != cnp.NPY_FLOAT32 or not cnp.PyArray_IS_C_CONTIGUOUS(x)
                or x.shape[0] != self.x_shape[0] or x.size != self.x_shape[0] * self.x_shape[1]):
            raise ValueError(f"the batch must be a C-contiguous float32 array of shape {self.x_shape}")
        if (cnp.PyArray_TYPE(labels) != cnp.NPY_INTP or not cnp.PyArray_IS_C_CONTIGUOUS(labels)
                or cnp.PyArray_NDIM(labels) != 1 or labels.shape[0] != self.x_shape[0]):
            raise ValueError(f"the labels must be a C-contiguous intp array of shape ({self.x_shape[0]},)")
        if self.paired:
            raise ValueError("cnncore: a step whose last ops are not the pair its OP_BOTH runs")
        r.x = <const float*> cnp.PyArray_DATA(x)
        r.labels = <const Py_ssize_t*> cnp.PyArray_DATA(labels)
        r.total = 0
        r.adam[0], r.adam[1] = inv_sqrt_c2, step
        r.flush[0], r.flush[1] = flush_m, flush_v
        i = 0
        with nogil:
            while i < self.count:
                status = _op(&self.ops[i], &r)
                if status != DONE:
                    break
                i += _next(&self.ops[i])
        self.total = r.total
        return status




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
