// Per-row top-k of a score tile merged into a running per-row state, on the device.
//
// Layout: `tile` is q_b x width scores, row-major with leading dimension `ld`; tile column j
// is global datastore index `col_offset + j`. The state of tile row r holds up to k entries:
// scores `st_s[r*k ..]`, indices `st_i[r*k ..]`, count `st_len[r]`. Query row r of the tile
// is row `ex_row0 + r` of the exclusion CSR (`ex_off` null: no exclusions).
// Tie rule: higher score, then lower global index. NaN and excluded indices never enter.
// Tiles must be merged in increasing `col_offset` order (the large-k filter relies on it).
//
// Two algorithms:
//  - topk_merge_small (k <= 1024): one block per row; a shared candidate buffer fed by the
//    threshold (current k-th best) and merged with the best-so-far by a shared-memory bitonic
//    sort whenever it fills. The state stays sorted in rank order.
//  - topk_merge_large (any k): one block per row; exact radix select of the k-th best key
//    over state + tile (4 passes of 8 bits), ties resolved by a radix select on the index,
//    then compaction. The state is left unsorted (the host sorts the final k once).

// ---------------------------------------------------------------------------------------
// small k

// Sort s/id[0..n) (n a power of two) best-first by rank; all threads of the block call it.
__device__ void recap_bitonic_sort(float* s, unsigned int* id, unsigned int n) {
    for (unsigned int size = 2; size <= n; size <<= 1) {
        for (unsigned int stride = size >> 1; stride > 0; stride >>= 1) {
            for (unsigned int t = threadIdx.x; t < (n >> 1); t += blockDim.x) {
                unsigned int i = 2 * stride * (t / stride) + (t % stride);
                unsigned int j = i + stride;
                bool first_best = (i & size) == 0;
                bool j_better = recap_better(s[j], id[j], s[i], id[i]);
                if (j_better == first_best) {
                    float ts = s[i]; s[i] = s[j]; s[j] = ts;
                    unsigned int ti = id[i]; id[i] = id[j]; id[j] = ti;
                }
            }
            __syncthreads();
        }
    }
}

// Dynamic shared memory: kpad floats + kpad unsigned ints, kpad = next power of two of
// (k + buf), buf >= 2 * blockDim.x. Slots [0, k) hold the best so far, [k, k + buf) the
// candidate buffer, the rest sentinels.
extern "C" __global__ void topk_merge_small(
    const float* __restrict__ tile, unsigned long long ld, unsigned int width,
    unsigned int col_offset, float* __restrict__ st_s, unsigned int* __restrict__ st_i,
    unsigned int* __restrict__ st_len, unsigned int k, unsigned int buf, unsigned int kpad,
    const unsigned long long* __restrict__ ex_off, const unsigned int* __restrict__ ex_idx,
    unsigned int ex_row0) {
    extern __shared__ unsigned char recap_smem[];
    float* s = (float*)recap_smem;
    unsigned int* id = (unsigned int*)(s + kpad);
    __shared__ unsigned int count;
    __shared__ unsigned int len;

    const unsigned int r = blockIdx.x;
    const float* row = tile + (unsigned long long)r * ld;
    float* rs = st_s + (unsigned long long)r * k;
    unsigned int* ri = st_i + (unsigned long long)r * k;
    if (threadIdx.x == 0) { len = st_len[r]; count = 0; }
    __syncthreads();
    for (unsigned int t = threadIdx.x; t < kpad; t += blockDim.x) {
        bool have = t < len;
        s[t] = have ? rs[t] : RECAP_NEG_INF;
        id[t] = have ? ri[t] : RECAP_NO_INDEX;
    }
    __syncthreads();

    for (unsigned int base = 0; base < width; base += blockDim.x) {
        unsigned int j = base + threadIdx.x;
        bool full = len == k;
        float tau = s[k - 1];
        unsigned int tau_i = id[k - 1];
        if (j < width) {
            float v = row[j];
            unsigned int g = col_offset + j;
            if (!isnan(v) && (!full || recap_better(v, g, tau, tau_i)) &&
                !recap_excluded(ex_off, ex_idx, ex_row0 + r, g)) {
                unsigned int pos = atomicAdd(&count, 1u);
                s[k + pos] = v;
                id[k + pos] = g;
            }
        }
        __syncthreads();
        unsigned int c = count;
        bool last = base + blockDim.x >= width;
        __syncthreads();
        if (c > buf - blockDim.x || (last && c > 0)) {
            recap_bitonic_sort(s, id, kpad);
            for (unsigned int t = k + threadIdx.x; t < kpad; t += blockDim.x) {
                s[t] = RECAP_NEG_INF;
                id[t] = RECAP_NO_INDEX;
            }
            if (threadIdx.x == 0) {
                unsigned int n = len + c;
                len = n < k ? n : k;
                count = 0;
            }
            __syncthreads();
        }
    }
    for (unsigned int t = threadIdx.x; t < len; t += blockDim.x) {
        rs[t] = s[t];
        ri[t] = id[t];
    }
    if (threadIdx.x == 0) st_len[r] = len;
}

// ---------------------------------------------------------------------------------------
// large k

struct RecapSel {
    unsigned int key;       // threshold key T (k-th best key)
    unsigned int remaining; // how many entries with key == T to take
    unsigned int ties;      // entries with key == T
    unsigned int idx;       // largest index taken among key == T
    unsigned int all;       // fewer than k valid entries: take all
};

// Element e of row r: state entries first, then tile columns. Returns false if not a
// candidate (NaN, excluded, or filtered by the previous threshold).
__device__ __forceinline__ bool recap_large_elem(
    unsigned int e, unsigned int in_len, const float* in_s, const unsigned int* in_i,
    const float* row, unsigned int col_offset, bool filter, unsigned int filter_key,
    const unsigned long long* ex_off, const unsigned int* ex_idx, unsigned int q,
    unsigned int* key, unsigned int* idx, float* val) {
    if (e < in_len) {
        *val = in_s[e];
        *idx = in_i[e];
        *key = recap_key(*val);
        return true;
    }
    unsigned int j = e - in_len;
    float v = row[j];
    if (isnan(v)) return false;
    unsigned int kk = recap_key(v);
    // Tile indices exceed every state index, so a tie with the current k-th best loses.
    if (filter && kk <= filter_key) return false;
    unsigned int g = col_offset + j;
    if (recap_excluded(ex_off, ex_idx, q, g)) return false;
    *val = v;
    *idx = g;
    *key = kk;
    return true;
}

// Block-wide radix select over the candidates of row r. descending = true selects the
// `want`-th largest key; false selects the `want`-th smallest index among key == tie_key.
__device__ void recap_radix_select(
    unsigned int n, unsigned int in_len, const float* in_s, const unsigned int* in_i,
    const float* row, unsigned int col_offset, bool filter, unsigned int filter_key,
    const unsigned long long* ex_off, const unsigned int* ex_idx, unsigned int q,
    bool by_index, unsigned int tie_key, unsigned int want, unsigned int* hist,
    unsigned int* out_prefix, unsigned int* out_remaining, unsigned int* out_last_bin_count,
    unsigned int* out_total) {
    __shared__ unsigned int prefix, mask, remaining, total;
    if (threadIdx.x == 0) { prefix = 0; mask = 0; remaining = want; total = 0; }
    __syncthreads();
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (unsigned int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
        __syncthreads();
        for (unsigned int e = threadIdx.x; e < n; e += blockDim.x) {
            unsigned int key, idx;
            float v;
            if (!recap_large_elem(e, in_len, in_s, in_i, row, col_offset, filter, filter_key,
                                  ex_off, ex_idx, q, &key, &idx, &v))
                continue;
            if (by_index && key != tie_key) continue;
            unsigned int word = by_index ? idx : key;
            if ((word & mask) != prefix) continue;
            atomicAdd(&hist[(word >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned int cum = 0, bin = 0, in_bin = 0;
            unsigned int sum = 0;
            for (int b = 0; b < 256; ++b) sum += hist[b];
            if (shift == 24) total = sum;
            for (int t = 0; t < 256; ++t) {
                int b = by_index ? t : 255 - t;  // smallest index first / largest key first
                if (cum + hist[b] >= remaining) { bin = (unsigned int)b; in_bin = hist[b]; break; }
                cum += hist[b];
            }
            remaining -= cum;
            prefix |= bin << shift;
            mask |= 255u << shift;
            *out_last_bin_count = in_bin;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        *out_prefix = prefix;
        *out_remaining = remaining;
        *out_total = total;
    }
    __syncthreads();
}

// out state (unsorted) = the k best of (in state + tile row). thr_key[r] (valid when
// in_len == k) is the previous k-th best key, used to skip tile entries that cannot enter.
extern "C" __global__ void topk_merge_large(
    const float* __restrict__ tile, unsigned long long ld, unsigned int width,
    unsigned int col_offset, const float* __restrict__ in_s,
    const unsigned int* __restrict__ in_i, const unsigned int* __restrict__ in_len_arr,
    float* __restrict__ out_s, unsigned int* __restrict__ out_i,
    unsigned int* __restrict__ out_len_arr, unsigned int* __restrict__ thr_key,
    unsigned int k, const unsigned long long* __restrict__ ex_off,
    const unsigned int* __restrict__ ex_idx, unsigned int ex_row0) {
    __shared__ unsigned int hist[256];
    __shared__ RecapSel sel;
    __shared__ unsigned int scratch_prefix, scratch_remaining, scratch_bin, scratch_total;
    __shared__ unsigned int out_count;

    const unsigned int r = blockIdx.x;
    const unsigned int q = ex_row0 + r;
    const float* row = tile + (unsigned long long)r * ld;
    const float* rs = in_s + (unsigned long long)r * k;
    const unsigned int* ri = in_i + (unsigned long long)r * k;
    const unsigned int in_len = in_len_arr[r];
    const bool filter = in_len == k;
    const unsigned int fkey = filter ? thr_key[r] : 0u;
    const unsigned int n = in_len + width;

    // Phase A: k-th best key.
    recap_radix_select(n, in_len, rs, ri, row, col_offset, filter, fkey, ex_off, ex_idx, q,
                       false, 0u, k, hist, &scratch_prefix, &scratch_remaining, &scratch_bin,
                       &scratch_total);
    if (threadIdx.x == 0) {
        sel.all = scratch_total <= k;
        sel.key = scratch_prefix;
        sel.remaining = scratch_remaining;
        sel.ties = scratch_bin;
        sel.idx = RECAP_NO_INDEX;
        out_count = 0;
    }
    __syncthreads();
    // Phase B: if only some of the entries tied at the threshold fit, take the lowest indices.
    if (!sel.all && sel.remaining < sel.ties) {
        recap_radix_select(n, in_len, rs, ri, row, col_offset, filter, fkey, ex_off, ex_idx, q,
                           true, sel.key, sel.remaining, hist, &scratch_prefix,
                           &scratch_remaining, &scratch_bin, &scratch_total);
        if (threadIdx.x == 0) sel.idx = scratch_prefix;
        __syncthreads();
    }
    // Phase C: compaction (order does not matter: the host sorts the final state).
    float* os = out_s + (unsigned long long)r * k;
    unsigned int* oi = out_i + (unsigned long long)r * k;
    for (unsigned int e = threadIdx.x; e < n; e += blockDim.x) {
        unsigned int key, idx;
        float v;
        if (!recap_large_elem(e, in_len, rs, ri, row, col_offset, filter, fkey, ex_off, ex_idx,
                              q, &key, &idx, &v))
            continue;
        bool take = sel.all || key > sel.key || (key == sel.key && idx <= sel.idx);
        if (take) {
            unsigned int pos = atomicAdd(&out_count, 1u);
            if (pos < k) { os[pos] = v; oi[pos] = idx; }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned int c = out_count < k ? out_count : k;
        out_len_arr[r] = c;
        if (c == k) thr_key[r] = sel.all ? recap_key(RECAP_NEG_INF) : sel.key;
    }
}
