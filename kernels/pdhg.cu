// Fused r2HPDHG kernels for gpulp's CuPy backend. Each kernel mirrors a NumPy definition given in
// the comment above it (and in gpulp/backend.py); the CPU backend defines the semantics.
//
// scal is a device array: scal[0] = tau, scal[1] = sigma, scal[2] = k0 (Halpern counter at the
// window's start), scal[3] = gamma (reflection). Iteration i of a window uses k = k0 + i, so a
// captured CUDA graph replays correctly after the host rewrites scal.

// The two SpMV kernels and the fused halves come with double values and with float values
// (precision="mixed": A and A' stored in float32, each product and every sum in double), and with
// int column indices and with 16-bit ones (`_u16`: a matrix of at most 65,536 columns, 10 bytes
// an entry instead of 12 in float64). Their bodies are these templates, T the value type and I
// the index type.

// Vector SpMV: 2^lg lanes (1 to 32) of a warp share row r, lanes stride it and a shuffle tree
// reduces into the row's first lane. `row_dot` returns, in that lane, what
// `data[s:e] @ x[indices[s:e]]` is for row r = (this thread's index) >> lg (0 for r >= m; other
// lanes get partial sums). Every lane of the warp reaches the shuffles: none returns early. With
// lg = 0 it is one thread a row. Rows of about 2^lg or more entries read A coalesced.
template <typename T, typename I>
__device__ __forceinline__ double row_dot(const long long* __restrict__ indptr,
                                          const I* __restrict__ indices,
                                          const T* __restrict__ data,
                                          const double* __restrict__ x, long long r, int lane,
                                          int lg, long long m) {
    double s = 0.0;
    if (r < m) {
        long long end = indptr[r + 1];
        for (long long k = indptr[r] + lane; k < end; k += (1 << lg))
            s += (double)data[k] * __ldg(&x[indices[k]]);
    }
    // offsets below the group size keep the group's first lane within its own group
    for (int off = (1 << lg) >> 1; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    return s;
}

// The primal step of column j given g_aty = (A'y)_j, like `xhat = clip(x - t*(c + qx - aty), lo,
// hi); xbar = 2*xhat - x`, then when `update`, `x = w*(g*xbar + (1-g)*x) + (1-w)*x0` with k =
// scal[2] + i, w = (k+1)/(k+2), g = scal[3]; t = tau, or tau / (1 + tau*qd[j]) for a QP
// (quadratic != 0: qx = Q x, qd a diagonal majorant of Q), whose qx and qd are unread for an LP.
// xhat is written only when `store` (the fused halves skip it where nothing reads it).
__device__ __forceinline__ void primal_update(long long j, int i, int update, int store,
                                              int quadratic,
                                              const double* __restrict__ scal, double aty_j,
                                              double* __restrict__ x,
                                              const double* __restrict__ qx,
                                              const double* __restrict__ qd,
                                              const double* __restrict__ c,
                                              const double* __restrict__ lo,
                                              const double* __restrict__ hi,
                                              const double* __restrict__ x0,
                                              double* __restrict__ xhat,
                                              double* __restrict__ xbar) {
    double tau = scal[0], k = scal[2] + i, g = scal[3];
    double w = (k + 1.0) / (k + 2.0);
    double xj = x[j];
    double grad = c[j] - aty_j, tj = tau;
    if (quadratic) {
        grad = c[j] + qx[j] - aty_j;
        tj = tau / (1.0 + tau * qd[j]);
    }
    double v = fmin(fmax(xj - tj * grad, lo[j]), hi[j]);
    if (store) xhat[j] = v;
    double xb = 2.0 * v - xj;
    xbar[j] = xb;
    if (update) x[j] = w * (g * xb + (1.0 - g) * xj) + (1.0 - w) * x0[j];
}

// The dual step of row r given axbar_r = (A xbar)_r, like `v = y - sigma*axbar; yhat =
// minimum(0, v + sigma*hi) + maximum(0, v + sigma*lo)`, then when `update`,
// `y = w*(g*(2*yhat - y) + (1-g)*y) + (1-w)*y0`; yhat is written only when `store`.
__device__ __forceinline__ void dual_update(long long r, int i, int update, int store,
                                            const double* __restrict__ scal, double axbar_r,
                                            double* __restrict__ y,
                                            const double* __restrict__ lo,
                                            const double* __restrict__ hi,
                                            const double* __restrict__ y0,
                                            double* __restrict__ yhat) {
    double sigma = scal[1], k = scal[2] + i, g = scal[3];
    double w = (k + 1.0) / (k + 2.0);
    double yr = y[r];
    double v = yr - sigma * axbar_r;
    v = fmin(0.0, v + sigma * hi[r]) + fmax(0.0, v + sigma * lo[r]);
    if (store) yhat[r] = v;
    if (update) y[r] = w * (g * (2.0 * v - yr) + (1.0 - g) * yr) + (1.0 - w) * y0[r];
}

// Like `out[:] = A @ x`, 2^lg lanes a row (row_dot).
template <typename T, typename I>
__device__ __forceinline__ void spmv_vector_body(const long long* __restrict__ indptr,
                                                 const I* __restrict__ indices,
                                                 const T* __restrict__ data,
                                                 const double* __restrict__ x,
                                                 double* __restrict__ out, long long m, int lg) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long r = t >> lg;
    double s = row_dot<T, I>(indptr, indices, data, x, r, (int)(t & ((1 << lg) - 1)), lg, m);
    if (r < m && (t & ((1 << lg) - 1)) == 0) out[r] = s;
}

// One iteration's primal half in one pass: aty = A' y by rows of AT (2^lg lanes a column), then
// primal_update in the column's first lane. aty and xhat, which only the check and the boost read,
// are written in the window's last iteration (update = 0) alone: within the window each
// iteration makes its own, so the other writes would be traffic that nothing reads.
template <typename T, typename I>
__device__ __forceinline__ void primal_vector_body(
        int i, int update, int quadratic, const double* __restrict__ scal,
        const long long* __restrict__ indptr, const I* __restrict__ indices,
        const T* __restrict__ data, const double* __restrict__ y, double* __restrict__ aty,
        double* __restrict__ x, const double* __restrict__ qx, const double* __restrict__ qd,
        const double* __restrict__ c, const double* __restrict__ lo,
        const double* __restrict__ hi, const double* __restrict__ x0, double* __restrict__ xhat,
        double* __restrict__ xbar, long long n, int lg) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long j = t >> lg;
    double s = row_dot<T, I>(indptr, indices, data, y, j, (int)(t & ((1 << lg) - 1)), lg, n);
    if (j >= n || (t & ((1 << lg) - 1)) != 0) return;
    if (!update) aty[j] = s;
    primal_update(j, i, update, !update, quadratic, scal, s, x, qx, qd, c, lo, hi, x0, xhat,
                  xbar);
}

// One iteration's dual half in one pass: axbar = A xbar by rows (2^lg lanes a row), then
// dual_update in the row's first lane; axbar and yhat are written when update = 0 alone (as in
// the primal half).
template <typename T, typename I>
__device__ __forceinline__ void dual_vector_body(
        int i, int update, const double* __restrict__ scal, const long long* __restrict__ indptr,
        const I* __restrict__ indices, const T* __restrict__ data,
        const double* __restrict__ xbar, double* __restrict__ axbar, double* __restrict__ y,
        const double* __restrict__ lo, const double* __restrict__ hi,
        const double* __restrict__ y0, double* __restrict__ yhat, long long m, int lg) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long r = t >> lg;
    double s = row_dot<T, I>(indptr, indices, data, xbar, r, (int)(t & ((1 << lg) - 1)), lg, m);
    if (r >= m || (t & ((1 << lg) - 1)) != 0) return;
    if (!update) axbar[r] = s;
    dual_update(r, i, update, !update, scal, s, y, lo, hi, y0, yhat);
}

// Row-split SpMV, in two passes (deterministic: no atomics). The nonzeros are cut into chunks of
// at most C entries that never cross a row (cstart[k]..cstart[k+1], in row order; row r owns the
// chunks rchunk[r]..rchunk[r+1], none when it is empty). Long rows thus spread over many warps: a
// 25,000-entry row of A' (a CVaR asset column) would otherwise hold one warp for all of it.
// Pass 1, like `part[k] = data[s:e] @ x[indices[s:e]]`: one warp per chunk, lanes stride it,
// shuffle reduction.
template <typename T, typename I>
__device__ __forceinline__ void spmv_chunks_body(const long long* __restrict__ cstart,
                                                 const I* __restrict__ indices,
                                                 const T* __restrict__ data,
                                                 const double* __restrict__ x,
                                                 double* __restrict__ part, long long nchunks) {
    long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (warp >= nchunks) return;
    double s = 0.0;
    long long end = cstart[warp + 1];
    for (long long k = cstart[warp] + lane; k < end; k += 32)
        s += (double)data[k] * __ldg(&x[indices[k]]);
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) part[warp] = s;
}

extern "C" {

// Like `out[:] = A @ x` for CSR A, 2^lg lanes a row (lg = 0: a thread a row); launch at least
// m * 2^lg threads.
__global__ void gpulp_spmv_vector(const long long* __restrict__ indptr,
                                  const int* __restrict__ indices,
                                  const double* __restrict__ data,
                                  const double* __restrict__ x, double* __restrict__ out,
                                  long long m, int lg) {
    spmv_vector_body<double, int>(indptr, indices, data, x, out, m, lg);
}

__global__ void gpulp_spmv_vector_u16(const long long* __restrict__ indptr,
                                      const unsigned short* __restrict__ indices,
                                      const double* __restrict__ data,
                                      const double* __restrict__ x, double* __restrict__ out,
                                      long long m, int lg) {
    spmv_vector_body<double, unsigned short>(indptr, indices, data, x, out, m, lg);
}

__global__ void gpulp_spmv_vector_f32(const long long* __restrict__ indptr,
                                      const int* __restrict__ indices,
                                      const float* __restrict__ data,
                                      const double* __restrict__ x, double* __restrict__ out,
                                      long long m, int lg) {
    spmv_vector_body<float, int>(indptr, indices, data, x, out, m, lg);
}

__global__ void gpulp_spmv_vector_f32_u16(const long long* __restrict__ indptr,
                                          const unsigned short* __restrict__ indices,
                                          const float* __restrict__ data,
                                          const double* __restrict__ x, double* __restrict__ out,
                                          long long m, int lg) {
    spmv_vector_body<float, unsigned short>(indptr, indices, data, x, out, m, lg);
}

// Fused primal half (primal_vector_body), AT the transpose's CSR (rows = columns of A).
__global__ void gpulp_primal_vector(int i, int update, int quadratic,
                                    const double* __restrict__ scal,
                                    const long long* __restrict__ indptr,
                                    const int* __restrict__ indices,
                                    const double* __restrict__ data,
                                    const double* __restrict__ y, double* __restrict__ aty,
                                    double* __restrict__ x, const double* __restrict__ qx,
                                    const double* __restrict__ qd, const double* __restrict__ c,
                                    const double* __restrict__ lo, const double* __restrict__ hi,
                                    const double* __restrict__ x0, double* __restrict__ xhat,
                                    double* __restrict__ xbar, long long n, int lg) {
    primal_vector_body<double, int>(i, update, quadratic, scal, indptr, indices, data, y, aty, x,
                                    qx, qd, c, lo, hi, x0, xhat, xbar, n, lg);
}

__global__ void gpulp_primal_vector_u16(int i, int update, int quadratic,
                                        const double* __restrict__ scal,
                                        const long long* __restrict__ indptr,
                                        const unsigned short* __restrict__ indices,
                                        const double* __restrict__ data,
                                        const double* __restrict__ y, double* __restrict__ aty,
                                        double* __restrict__ x, const double* __restrict__ qx,
                                        const double* __restrict__ qd, const double* __restrict__ c,
                                        const double* __restrict__ lo,
                                        const double* __restrict__ hi,
                                        const double* __restrict__ x0, double* __restrict__ xhat,
                                        double* __restrict__ xbar, long long n, int lg) {
    primal_vector_body<double, unsigned short>(i, update, quadratic, scal, indptr, indices, data, y,
                                               aty, x, qx, qd, c, lo, hi, x0, xhat, xbar, n, lg);
}

__global__ void gpulp_primal_vector_f32(int i, int update, int quadratic,
                                        const double* __restrict__ scal,
                                        const long long* __restrict__ indptr,
                                        const int* __restrict__ indices,
                                        const float* __restrict__ data,
                                        const double* __restrict__ y, double* __restrict__ aty,
                                        double* __restrict__ x, const double* __restrict__ qx,
                                        const double* __restrict__ qd,
                                        const double* __restrict__ c,
                                        const double* __restrict__ lo,
                                        const double* __restrict__ hi,
                                        const double* __restrict__ x0, double* __restrict__ xhat,
                                        double* __restrict__ xbar, long long n, int lg) {
    primal_vector_body<float, int>(i, update, quadratic, scal, indptr, indices, data, y, aty, x, qx,
                                   qd, c, lo, hi, x0, xhat, xbar, n, lg);
}

__global__ void gpulp_primal_vector_f32_u16(int i, int update, int quadratic,
                                            const double* __restrict__ scal,
                                            const long long* __restrict__ indptr,
                                            const unsigned short* __restrict__ indices,
                                            const float* __restrict__ data,
                                            const double* __restrict__ y, double* __restrict__ aty,
                                            double* __restrict__ x, const double* __restrict__ qx,
                                            const double* __restrict__ qd,
                                            const double* __restrict__ c,
                                            const double* __restrict__ lo,
                                            const double* __restrict__ hi,
                                            const double* __restrict__ x0,
                                            double* __restrict__ xhat,
                                            double* __restrict__ xbar, long long n, int lg) {
    primal_vector_body<float, unsigned short>(i, update, quadratic, scal, indptr, indices, data, y,
                                              aty, x, qx, qd, c, lo, hi, x0, xhat, xbar, n, lg);
}

// Fused dual half (dual_vector_body).
__global__ void gpulp_dual_vector(int i, int update, const double* __restrict__ scal,
                                  const long long* __restrict__ indptr,
                                  const int* __restrict__ indices,
                                  const double* __restrict__ data,
                                  const double* __restrict__ xbar, double* __restrict__ axbar,
                                  double* __restrict__ y, const double* __restrict__ lo,
                                  const double* __restrict__ hi, const double* __restrict__ y0,
                                  double* __restrict__ yhat, long long m, int lg) {
    dual_vector_body<double, int>(i, update, scal, indptr, indices, data, xbar, axbar, y, lo, hi,
                                  y0, yhat, m, lg);
}

__global__ void gpulp_dual_vector_u16(int i, int update, const double* __restrict__ scal,
                                      const long long* __restrict__ indptr,
                                      const unsigned short* __restrict__ indices,
                                      const double* __restrict__ data,
                                      const double* __restrict__ xbar, double* __restrict__ axbar,
                                      double* __restrict__ y, const double* __restrict__ lo,
                                      const double* __restrict__ hi, const double* __restrict__ y0,
                                      double* __restrict__ yhat, long long m, int lg) {
    dual_vector_body<double, unsigned short>(i, update, scal, indptr, indices, data, xbar, axbar, y,
                                             lo, hi, y0, yhat, m, lg);
}

__global__ void gpulp_dual_vector_f32(int i, int update, const double* __restrict__ scal,
                                      const long long* __restrict__ indptr,
                                      const int* __restrict__ indices,
                                      const float* __restrict__ data,
                                      const double* __restrict__ xbar,
                                      double* __restrict__ axbar, double* __restrict__ y,
                                      const double* __restrict__ lo,
                                      const double* __restrict__ hi,
                                      const double* __restrict__ y0, double* __restrict__ yhat,
                                      long long m, int lg) {
    dual_vector_body<float, int>(i, update, scal, indptr, indices, data, xbar, axbar, y, lo, hi, y0,
                                 yhat, m, lg);
}

__global__ void gpulp_dual_vector_f32_u16(int i, int update, const double* __restrict__ scal,
                                          const long long* __restrict__ indptr,
                                          const unsigned short* __restrict__ indices,
                                          const float* __restrict__ data,
                                          const double* __restrict__ xbar,
                                          double* __restrict__ axbar, double* __restrict__ y,
                                          const double* __restrict__ lo,
                                          const double* __restrict__ hi,
                                          const double* __restrict__ y0, double* __restrict__ yhat,
                                          long long m, int lg) {
    dual_vector_body<float, unsigned short>(i, update, scal, indptr, indices, data, xbar, axbar, y,
                                            lo, hi, y0, yhat, m, lg);
}

// Row-split SpMV, pass 1 (see spmv_chunks_body).
__global__ void gpulp_spmv_chunks(const long long* __restrict__ cstart,
                                  const int* __restrict__ indices,
                                  const double* __restrict__ data,
                                  const double* __restrict__ x, double* __restrict__ part,
                                  long long nchunks) {
    spmv_chunks_body<double, int>(cstart, indices, data, x, part, nchunks);
}

__global__ void gpulp_spmv_chunks_u16(const long long* __restrict__ cstart,
                                      const unsigned short* __restrict__ indices,
                                      const double* __restrict__ data,
                                      const double* __restrict__ x, double* __restrict__ part,
                                      long long nchunks) {
    spmv_chunks_body<double, unsigned short>(cstart, indices, data, x, part, nchunks);
}

__global__ void gpulp_spmv_chunks_f32(const long long* __restrict__ cstart,
                                      const int* __restrict__ indices,
                                      const float* __restrict__ data,
                                      const double* __restrict__ x, double* __restrict__ part,
                                      long long nchunks) {
    spmv_chunks_body<float, int>(cstart, indices, data, x, part, nchunks);
}

__global__ void gpulp_spmv_chunks_f32_u16(const long long* __restrict__ cstart,
                                          const unsigned short* __restrict__ indices,
                                          const float* __restrict__ data,
                                          const double* __restrict__ x, double* __restrict__ part,
                                          long long nchunks) {
    spmv_chunks_body<float, unsigned short>(cstart, indices, data, x, part, nchunks);
}

// Pass 2, like `out[r] = sum(part[rchunk[r]:rchunk[r+1]])`, summed in order.
__global__ void gpulp_spmv_rows(const long long* __restrict__ rchunk,
                                const double* __restrict__ part, double* __restrict__ out,
                                long long m) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= m) return;
    double s = 0.0;
    for (long long k = rchunk[r]; k < rchunk[r + 1]; ++k) s += part[k];
    out[r] = s;
}

// Row-split pass 2 fused with the primal step: aty[j] = sum(part[rchunk[j]:rchunk[j+1]]) in
// order (as gpulp_spmv_rows), then primal_update; aty and xhat written when update = 0 alone.
__global__ void gpulp_primal_rows(int i, int update, int quadratic,
                                  const double* __restrict__ scal,
                                  const long long* __restrict__ rchunk,
                                  const double* __restrict__ part, double* __restrict__ aty,
                                  double* __restrict__ x, const double* __restrict__ qx,
                                  const double* __restrict__ qd, const double* __restrict__ c,
                                  const double* __restrict__ lo, const double* __restrict__ hi,
                                  const double* __restrict__ x0, double* __restrict__ xhat,
                                  double* __restrict__ xbar, long long n) {
    long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    double s = 0.0;
    for (long long k = rchunk[j]; k < rchunk[j + 1]; ++k) s += part[k];
    if (!update) aty[j] = s;
    primal_update(j, i, update, !update, quadratic, scal, s, x, qx, qd, c, lo, hi, x0, xhat,
                  xbar);
}

// Row-split pass 2 fused with the dual step: axbar[r] = the row's sum of parts, then dual_update;
// axbar and yhat written when update = 0 alone.
__global__ void gpulp_dual_rows(int i, int update, const double* __restrict__ scal,
                                const long long* __restrict__ rchunk,
                                const double* __restrict__ part, double* __restrict__ axbar,
                                double* __restrict__ y, const double* __restrict__ lo,
                                const double* __restrict__ hi, const double* __restrict__ y0,
                                double* __restrict__ yhat, long long m) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= m) return;
    double s = 0.0;
    for (long long k = rchunk[r]; k < rchunk[r + 1]; ++k) s += part[k];
    if (!update) axbar[r] = s;
    dual_update(r, i, update, !update, scal, s, y, lo, hi, y0, yhat);
}

// Like `xhat = clip(x - tau*(c - aty), lo, hi); xbar = 2*xhat - x`, then when `update`,
// `x = w*(g*xbar + (1-g)*x) + (1-w)*x0` (primal_update for an LP).
__global__ void gpulp_primal_step(int i, int update, const double* __restrict__ scal,
                                  double* __restrict__ x, const double* __restrict__ aty,
                                  const double* __restrict__ c, const double* __restrict__ lo,
                                  const double* __restrict__ hi, const double* __restrict__ x0,
                                  double* __restrict__ xhat, double* __restrict__ xbar,
                                  long long n) {
    long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    primal_update(j, i, update, 1, 0, scal, aty[j], x, x, x, c, lo, hi, x0, xhat, xbar);
}

// gpulp_primal_step with the linearised quadratic: the gradient is c + qx - aty (qx = Q x), and
// column j steps by tau / (1 + tau * qd[j]), qd a diagonal majorant of Q (zero off its support).
__global__ void gpulp_primal_step_q(int i, int update, const double* __restrict__ scal,
                                    double* __restrict__ x, const double* __restrict__ aty,
                                    const double* __restrict__ qx, const double* __restrict__ qd,
                                    const double* __restrict__ c,
                                    const double* __restrict__ lo, const double* __restrict__ hi,
                                    const double* __restrict__ x0, double* __restrict__ xhat,
                                    double* __restrict__ xbar, long long n) {
    long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    primal_update(j, i, update, 1, 1, scal, aty[j], x, qx, qd, c, lo, hi, x0, xhat, xbar);
}

// Like `t += F.T @ x` for row-major F (n, k), k <= 128; t must be zeroed first. Each block
// reduces its rows in shared memory, then adds k partial sums atomically.
__global__ void gpulp_factor_ft(const double* __restrict__ F, const double* __restrict__ x,
                                double* __restrict__ t, long long n, int k) {
    __shared__ double acc[128];
    for (int c = threadIdx.x; c < k; c += blockDim.x) acc[c] = 0.0;
    __syncthreads();
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r < n) {
        double xr = x[r];
        for (int c = 0; c < k; ++c) atomicAdd(&acc[c], F[r * k + c] * xr);
    }
    __syncthreads();
    for (int c = threadIdx.x; c < k; c += blockDim.x) atomicAdd(&t[c], acc[c]);
}

// Like `out = F @ t + d * x` for row-major F (n, k).
__global__ void gpulp_factor_fq(const double* __restrict__ F, const double* __restrict__ t,
                                const double* __restrict__ d, const double* __restrict__ x,
                                double* __restrict__ out, long long n, int k) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double s = d[r] * x[r];
    for (int c = 0; c < k; ++c) s += F[r * k + c] * t[c];
    out[r] = s;
}

// Like `v = y - sigma*axbar; yhat = minimum(0, v + sigma*hi) + maximum(0, v + sigma*lo)`, then
// when `update`, `y = w*(g*(2*yhat - y) + (1-g)*y) + (1-w)*y0` (dual_update).
__global__ void gpulp_dual_step(int i, int update, const double* __restrict__ scal,
                                double* __restrict__ y, const double* __restrict__ axbar,
                                const double* __restrict__ lo, const double* __restrict__ hi,
                                const double* __restrict__ y0, double* __restrict__ yhat,
                                long long m) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= m) return;
    dual_update(r, i, update, 1, scal, axbar[r], y, lo, hi, y0, yhat);
}

// The termination check's ten reductions, like `kkt_terms_xp(cupy, ...)` in gpulp/backend.py, in
// two launches instead of about forty CuPy calls, and with no atomics, so that every run sums in
// the same order. Pass 1 (a 256-thread block each): blocks below row_blocks take 256 rows, the
// others 256 columns, and each writes KKT_Q partial sums, reduced in shared memory:
//   a row r:    (axhat - clip(axhat, rl, ru))^2 row_unscale^2, max(yhat,0) rl0 + min(yhat,0) ru0,
//               dy^2, dy (axbar - axhat), (yhat - y0)^2, with dy = yhat - y;
//   a column j: (g - zr)^2 col_unscale^2, c xhat, max(zr,0) cl0 + min(zr,0) cu0, dx^2,
//               (xhat - x0)^2, xhat qxhat, dx (qd dx - (qxhat - qx)), with dx = xhat - x,
//               g = c - atyhat (+ qxhat), zr = max(g,0) cl_fin + min(g,0) cu_fin.
// Pass 2 (one block) adds the partials in a fixed order and writes the ten values of
// kkt_terms_xp to out[0..9].
#define KKT_Q 7
#define KKT_T 256

__device__ __forceinline__ void kkt_block_sum(double* v, double* out) {
    __shared__ double sh[KKT_Q][KKT_T];
    for (int q = 0; q < KKT_Q; ++q) sh[q][threadIdx.x] = v[q];
    __syncthreads();
    for (int h = KKT_T / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h)
            for (int q = 0; q < KKT_Q; ++q) sh[q][threadIdx.x] += sh[q][threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        for (int q = 0; q < KKT_Q; ++q) out[q] = sh[q][0];
}

__global__ void gpulp_kkt_partial(int quadratic, long long m, long long n, long long row_blocks,
                                  const double* __restrict__ axhat, const double* __restrict__ rl,
                                  const double* __restrict__ ru,
                                  const double* __restrict__ row_unscale,
                                  const double* __restrict__ yhat, const double* __restrict__ y,
                                  const double* __restrict__ y0, const double* __restrict__ axbar,
                                  const double* __restrict__ rl0, const double* __restrict__ ru0,
                                  const double* __restrict__ xhat, const double* __restrict__ x,
                                  const double* __restrict__ x0, const double* __restrict__ c,
                                  const double* __restrict__ qxhat, const double* __restrict__ qx,
                                  const double* __restrict__ qd,
                                  const double* __restrict__ atyhat,
                                  const double* __restrict__ cl_fin,
                                  const double* __restrict__ cu_fin,
                                  const double* __restrict__ cl0, const double* __restrict__ cu0,
                                  const double* __restrict__ col_unscale,
                                  double* __restrict__ partial) {
    double v[KKT_Q];
    for (int q = 0; q < KKT_Q; ++q) v[q] = 0.0;
    if ((long long)blockIdx.x < row_blocks) {
        long long r = (long long)blockIdx.x * KKT_T + threadIdx.x;
        if (r < m) {
            double a = axhat[r];
            double e = (a - fmin(fmax(a, rl[r]), ru[r])) * row_unscale[r];
            double yv = yhat[r];
            double d = yv - y[r];
            double f = yv - y0[r];
            v[0] = e * e;
            v[1] = fmax(yv, 0.0) * rl0[r] + fmin(yv, 0.0) * ru0[r];
            v[2] = d * d;
            v[3] = d * (axbar[r] - a);
            v[4] = f * f;
        }
    } else {
        long long j = ((long long)blockIdx.x - row_blocks) * KKT_T + threadIdx.x;
        if (j < n) {
            double xj = xhat[j];
            double g = c[j] - atyhat[j];
            double d = xj - x[j];
            if (quadratic) {
                g += qxhat[j];
                v[5] = xj * qxhat[j];
                v[6] = d * (qd[j] * d - (qxhat[j] - qx[j]));
            }
            double zr = fmax(g, 0.0) * cl_fin[j] + fmin(g, 0.0) * cu_fin[j];
            double e = (g - zr) * col_unscale[j];
            double f = xj - x0[j];
            v[0] = e * e;
            v[1] = c[j] * xj;
            v[2] = fmax(zr, 0.0) * cl0[j] + fmin(zr, 0.0) * cu0[j];
            v[3] = d * d;
            v[4] = f * f;
        }
    }
    kkt_block_sum(v, partial + (long long)blockIdx.x * KKT_Q);
}

__global__ void gpulp_kkt_finish(const double* __restrict__ partial, long long row_blocks,
                                 long long blocks, double* __restrict__ out) {
    __shared__ double res[2][KKT_Q];
    for (int side = 0; side < 2; ++side) {
        long long lo = side ? row_blocks : 0, hi = side ? blocks : row_blocks;
        double v[KKT_Q];
        for (int q = 0; q < KKT_Q; ++q) v[q] = 0.0;
        for (long long b = lo + threadIdx.x; b < hi; b += KKT_T)
            for (int q = 0; q < KKT_Q; ++q) v[q] += partial[b * KKT_Q + q];
        kkt_block_sum(v, res[side]);
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const double* r = res[0];
        const double* k = res[1];
        double quad = 0.5 * k[5];
        out[0] = sqrt(r[0]);
        out[1] = sqrt(k[0]);
        out[2] = k[1] + quad;
        out[3] = r[1] + k[2] - quad;
        out[4] = k[3];
        out[5] = r[2];
        out[6] = r[3];
        out[7] = sqrt(k[4]);
        out[8] = sqrt(r[4]);
        out[9] = k[6];
    }
}

// The step boost's masks at a check, like `boost_masks_xp` in gpulp/backend.py, in one launch:
// blocks below col_blocks take 256 columns, the others 256 rows. A column whose projection did
// not clip it by a margin (slack = (xhat - x)/tau + c - aty against tol max(1, |c|)) was free
// `now`; a row whose dual projection input (q = y/ew - axbar) is not safely inside its bounds was
// binding `now`. col (row) = 1 where the column was free (the row binding) within `window`
// iterations, else 0; count[0] += the number of mask entries that changed (whole numbers: the
// atomic sums are exact in any order).
__global__ void gpulp_boost_masks(long long n, long long m, long long col_blocks, double now,
                                  double tau, double ew, double window, double tol,
                                  const double* __restrict__ xhat, const double* __restrict__ x,
                                  const double* __restrict__ c, const double* __restrict__ aty,
                                  const double* __restrict__ cl, const double* __restrict__ cu,
                                  const double* __restrict__ cl_fin,
                                  const double* __restrict__ cu_fin,
                                  const double* __restrict__ y, const double* __restrict__ axbar,
                                  const double* __restrict__ rl, const double* __restrict__ ru,
                                  const double* __restrict__ rl0, const double* __restrict__ ru0,
                                  double* __restrict__ last_free,
                                  double* __restrict__ last_binding, double* __restrict__ col,
                                  double* __restrict__ row, double* __restrict__ count) {
    if ((long long)blockIdx.x < col_blocks) {
        long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        if (j >= n) return;
        double slack = (xhat[j] - x[j]) / tau + c[j] - aty[j];
        double t = tol * fmax(1.0, fabs(c[j]));
        bool clamped = (cl[j] == cu[j]) || (cl_fin[j] > 0.0 && slack > t)
                       || (cu_fin[j] > 0.0 && slack < -t);
        double lf = clamped ? last_free[j] : now;
        last_free[j] = lf;
        double v = lf >= now - window ? 1.0 : 0.0;
        if (v != col[j]) {
            col[j] = v;
            atomicAdd(count, 1.0);
        }
    } else {
        long long r = ((long long)blockIdx.x - col_blocks) * blockDim.x + threadIdx.x;
        if (r >= m) return;
        double q = y[r] / ew - axbar[r];
        double qa = fmax(1.0, fabs(q));
        bool inside = (q + ru[r] > tol * fmax(qa, fabs(ru0[r])))
                      && (-rl[r] - q > tol * fmax(qa, fabs(rl0[r])));
        double lb = (rl[r] == ru[r] || !inside) ? now : last_binding[r];
        last_binding[r] = lb;
        double v = lb >= now - window ? 1.0 : 0.0;
        if (v != row[r]) {
            row[r] = v;
            atomicAdd(count, 1.0);
        }
    }
}

// Like `v = w*(g*(2*vhat - v) + (1-g)*v) + (1-w)*v0` (the deferred Halpern update).
__global__ void gpulp_halpern(int i, const double* __restrict__ scal, double* __restrict__ v,
                              const double* __restrict__ vhat, const double* __restrict__ v0,
                              long long n) {
    long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) return;
    double k = scal[2] + i, g = scal[3];
    double w = (k + 1.0) / (k + 2.0);
    v[j] = w * (g * (2.0 * vhat[j] - v[j]) + (1.0 - g) * v[j]) + (1.0 - w) * v0[j];
}

// The scaling's pass over A (Ruiz), like `data[k] = data[k] * d1[r] * d2[c]` (in that order) for
// each entry k = (r, c), with `rmax[r] = max |data[r, :]|` and `cmax[c] = max |data[:, c]|` taken
// over the new values; rmax and cmax must be zeroed first. One thread per entry: its row by
// binary search in indptr, the maxima by atomicMax on the bits of the nonnegative doubles (whose
// order as unsigned integers is their order as numbers), so the result is exact and does not
// depend on the order in which threads run.
__global__ void gpulp_csr_scale(const long long* __restrict__ indptr,
                                const int* __restrict__ indices, double* __restrict__ data,
                                const double* __restrict__ d1, const double* __restrict__ d2,
                                double* rmax, double* cmax, long long m, long long nnz) {
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= nnz) return;
    long long lo = 0, hi = m;                 // indptr[lo] <= k < indptr[hi]
    while (hi - lo > 1) {
        long long mid = (lo + hi) >> 1;
        if (indptr[mid] <= k) lo = mid; else hi = mid;
    }
    int c = indices[k];
    double v = data[k] * d1[lo] * d2[c];
    data[k] = v;
    double a = fabs(v);
    unsigned long long bits = (unsigned long long)__double_as_longlong(a);
    if (rmax[lo] < a) atomicMax((unsigned long long*)(rmax + lo), bits);
    if (cmax[c] < a) atomicMax((unsigned long long*)(cmax + c), bits);
}

}  // extern "C"
