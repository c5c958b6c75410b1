// L2 row normalization: f64 row norms (one block per row), then scaling by 1 / norm.

extern "C" __global__ void row_norms_f64(const float* __restrict__ x, unsigned int rows,
                                         unsigned int cols, double* __restrict__ norms) {
    __shared__ double partial[32];
    unsigned int r = blockIdx.x;
    if (r >= rows) return;
    const float* row = x + (unsigned long long)r * cols;
    double s = 0.0;
    for (unsigned int c = threadIdx.x; c < cols; c += blockDim.x) {
        double v = (double)row[c];
        s += v * v;
    }
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x < 32) {
        unsigned int warps = (blockDim.x + 31) >> 5;
        s = threadIdx.x < warps ? partial[threadIdx.x] : 0.0;
        for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
        if (threadIdx.x == 0) norms[r] = sqrt(s);
    }
}

// x[r, :] *= 1 / norms[r] (the host has checked every norm is finite and non-zero).
extern "C" __global__ void scale_rows_inv(float* __restrict__ x, const double* __restrict__ norms,
                                          unsigned int rows, unsigned int cols) {
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned long long n = (unsigned long long)rows * cols;
    for (; i < n; i += (unsigned long long)gridDim.x * blockDim.x) {
        x[i] *= (float)(1.0 / norms[i / cols]);
    }
}
