// Gram accumulation helpers: f64 column sums (optionally weighted), sqrt-weight row scaling,
// f32 -> f64 accumulation of a chunk product, first non-finite value.

// out[c] += sum_r w[r] * x[r, c] (w null: weight 1). Grid: x over column blocks, y over row
// slices; each thread sums one column of one row slice in f64, then one atomicAdd.
extern "C" __global__ void colsum_f64(const float* __restrict__ x, const float* __restrict__ w,
                                      unsigned int rows, unsigned int cols,
                                      unsigned int rows_per_slice, double* __restrict__ out) {
    unsigned int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    unsigned long long r0 = (unsigned long long)blockIdx.y * rows_per_slice;
    unsigned long long r1 = r0 + rows_per_slice;
    if (r1 > rows) r1 = rows;
    double s = 0.0;
    for (unsigned long long r = r0; r < r1; ++r) {
        double v = (double)x[r * cols + c];
        s += (w == 0) ? v : (double)w[r] * v;
    }
    if (r1 > r0) atomicAdd(&out[c], s);
}

// x[r, :] *= sqrt(w[r]) so that (sqrt(W) X)^T (sqrt(W) Y) = X^T W Y.
extern "C" __global__ void scale_rows_sqrt(float* __restrict__ x, const float* __restrict__ w,
                                           unsigned int rows, unsigned int cols) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned long long n = (unsigned long long)rows * cols;
    for (; i < n; i += (unsigned long long)gridDim.x * blockDim.x) {
        x[i] *= sqrtf(w[i / cols]);
    }
}

// acc[i] += (double) src[i]: f64 accumulation across chunks of f32 chunk products.
extern "C" __global__ void accumulate_f64(double* __restrict__ acc, const float* __restrict__ src,
                                          unsigned long long n) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i < n; i += (unsigned long long)gridDim.x * blockDim.x) {
        acc[i] += (double)src[i];
    }
}

// *out = min(*out, base + i) over every non-finite x[i] (global flat position).
extern "C" __global__ void first_nonfinite(const float* __restrict__ x, unsigned long long n,
                                           unsigned long long base,
                                           unsigned long long* __restrict__ out) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i < n; i += (unsigned long long)gridDim.x * blockDim.x) {
        if (!isfinite(x[i])) atomicMin(out, base + i);
    }
}
