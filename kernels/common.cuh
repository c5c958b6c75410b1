// Shared device helpers for recap's NVRTC kernels (prepended to each kernel source by
// src/backend/cuda/kernels.rs; NVRTC sees no host headers).
//
// Rank order (the crate's tie rule): (score a, index ia) ranks before (score b, index ib)
// if a > b, or a == b and ia < ib. NaN never ranks before anything.

#define RECAP_NEG_INF __int_as_float(0xff800000)
#define RECAP_NO_INDEX 0xffffffffu

__device__ __forceinline__ bool recap_better(float a, unsigned int ia, float b, unsigned int ib) {
    return a > b || (a == b && ia < ib);
}

// Monotone map float -> unsigned: larger float gives a larger key, equal floats the same key
// (-0 and +0 both map to +0's key). NaN must be filtered first.
__device__ __forceinline__ unsigned int recap_key(float v) {
    unsigned int u = v == 0.0f ? 0u : __float_as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Whether global index g is in the sorted exclusion list of query row q (CSR; null = none).
__device__ __forceinline__ bool recap_excluded(const unsigned long long* ex_off,
                                               const unsigned int* ex_idx, unsigned int q,
                                               unsigned int g) {
    if (ex_off == 0) return false;
    unsigned long long lo = ex_off[q], hi = ex_off[q + 1];
    while (lo < hi) {
        unsigned long long mid = lo + (hi - lo) / 2;
        unsigned int v = ex_idx[mid];
        if (v == g) return true;
        if (v < g) lo = mid + 1; else hi = mid;
    }
    return false;
}
