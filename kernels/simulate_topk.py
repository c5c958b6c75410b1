#!/usr/bin/env python3
"""Sequential Python ports of the kernels/topk.cu algorithms (bitonic best-first sort,
small-k buffered merge, large-k radix-select merge), checked against brute force on random
data with ties, signed zeros, NaN, -inf and exclusions. Validates the algorithms (not the
CUDA code itself) where no GPU is available: python3 kernels/simulate_topk.py"""
import math
import random
import struct
def better(a, ia, b, ib): return a > b or (a == b and ia < ib)
def sort(s, idx):
    n = len(s); size = 2
    while size <= n:
        stride = size >> 1
        while stride > 0:
            for t in range(n >> 1):
                i = 2*stride*(t//stride) + (t % stride); j = i + stride
                first_best = (i & size) == 0
                jb = better(s[j], idx[j], s[i], idx[i])
                if jb == first_best:
                    s[i], s[j] = s[j], s[i]; idx[i], idx[j] = idx[j], idx[i]
            stride >>= 1
        size <<= 1
for trial in range(300):
    n = 2 ** random.randint(1, 9)
    s = [random.choice([0.0, 0.5, 1.0, -1.0, random.random()]) for _ in range(n)]
    idx = random.sample(range(10000), n)
    s2, i2 = s[:], idx[:]
    sort(s2, i2)
    want = sorted(zip(s, idx), key=lambda p: (-p[0], p[1]))
    assert list(zip(s2, i2)) == want, (n,)
print("bitonic best-first OK")

NEG = float('-inf'); NOIDX = 0xffffffff
def merge_small(state, tile, coff, k, excl, block=8, buf=16):
    kpad = 1
    while kpad < k + buf: kpad *= 2
    s = [NEG]*kpad; idx = [NOIDX]*kpad
    for t, (v, i) in enumerate(state): s[t] = v; idx[t] = i
    ln = len(state); count = 0
    width = len(tile)
    for base in range(0, width, block):
        full = ln == k; tau = s[k-1]; taui = idx[k-1]
        for th in range(block):
            j = base + th
            if j < width:
                v = tile[j]; g = coff + j
                if v == v and (not full or better(v, g, tau, taui)) and g not in excl:
                    s[k+count] = v; idx[k+count] = g; count += 1
        c = count; last = base + block >= width
        if c > buf - block or (last and c > 0):
            sort(s, idx)
            for t in range(k, kpad): s[t] = NEG; idx[t] = NOIDX
            ln = min(k, ln + c); count = 0
    return [(s[t], idx[t]) for t in range(ln)]
def brute_small(allv, k, excl):
    c = [(v, g) for g, v in enumerate(allv) if v == v and g not in excl]
    c.sort(key=lambda p: (-p[0], p[1]))
    return c[:k]
for trial in range(400):
    m = random.randint(1, 300); k = random.randint(1, 40); W = random.randint(1, 50)
    vals = [random.choice([0.0, -0.0, 1.0, -1.0, 0.5, float('nan'), round(random.gauss(0,1),1)]) for _ in range(m)]
    excl = set(random.sample(range(m), min(m, random.randint(0, 5))))
    st = []
    for c0 in range(0, m, W):
        st = merge_small(st, vals[c0:c0+W], c0, k, excl)
    want = brute_small(vals, k, excl)
    assert [g for _, g in st] == [g for _, g in want], (trial, st[:5], want[:5])
print("small-k merge OK")

NOIDX = 0xffffffff
def key(v):
    if v == 0.0: v = 0.0
    u = struct.unpack('<I', struct.pack('<f', v))[0]
    return (~u) & 0xffffffff if u & 0x80000000 else u | 0x80000000
def elems(state, tile, coff, filt, fkey, excl):
    out = []
    for (v, i) in state: out.append((key(v), i, v))
    for j, v in enumerate(tile):
        if v != v: continue
        kk = key(v)
        if filt and kk <= fkey: continue
        g = coff + j
        if g in excl: continue
        out.append((kk, g, v))
    return out
def radix(E, by_index, tie_key, want):
    prefix = mask = 0; remaining = want; total = 0; in_bin = 0
    for shift in (24, 16, 8, 0):
        hist = [0]*256
        for (k, i, v) in E:
            if by_index and k != tie_key: continue
            w = i if by_index else k
            if (w & mask) != prefix: continue
            hist[(w >> shift) & 255] += 1
        if shift == 24: total = sum(hist)
        cum = 0; b_sel = 0; in_bin = 0
        for t in range(256):
            b = t if by_index else 255 - t
            if cum + hist[b] >= remaining: b_sel = b; in_bin = hist[b]; break
            cum += hist[b]
        remaining -= cum; prefix |= b_sel << shift; mask |= 255 << shift
    return prefix, remaining, in_bin, total
def merge_large(state, tile, coff, k, thr, excl):
    filt = len(state) == k
    fkey = thr if filt else 0
    E = elems(state, tile, coff, filt, fkey, excl)
    p, rem, ties, total = radix(E, False, 0, k)
    allf = total <= k; T = p; idx = NOIDX
    if not allf and rem < ties:
        idx, _, _, _ = radix(E, True, T, rem)
    out = [(v, i) for (kk, i, v) in E if allf or kk > T or (kk == T and i <= idx)]
    assert len(out) <= k
    if len(out) == k: thr = key(float('-inf')) if allf else T
    return out, thr
def brute(allv, k, excl):
    c = [(v, g) for g, v in enumerate(allv) if v == v and g not in excl]
    c.sort(key=lambda p: (-p[0], p[1]))
    return c[:k]
for trial in range(400):
    m = random.randint(1, 400); k = random.randint(1, 60); W = random.randint(1, 64)
    vals = [random.choice([0.0, -0.0, 1.0, -1.0, 0.5, float('nan'), float('-inf'), round(random.gauss(0,1),1)]) for _ in range(m)]
    excl = set(random.sample(range(m), min(m, random.randint(0, 5))))
    state = []; thr = 0
    for c0 in range(0, m, W):
        state, thr = merge_large(state, vals[c0:c0+W], c0, k, thr, excl)
    got = sorted(state, key=lambda p: (-p[0], p[1]))
    want = brute(vals, k, excl)
    assert [g for _, g in got] == [g for _, g in want], (trial, got[:5], want[:5])
print("large-k radix merge OK")
