#!/usr/bin/env python3
"""Golden top-k results from faiss IndexFlatIP for tests/retrieve_faiss.rs.

Run with the peers' venv (numpy 2.4.6, faiss-cpu 1.15.1):
    /tmp/peers-venv/bin/python tests/data/retrieve/make_faiss_golden.py

Writes, next to this script:
  datastore.npy  (m x d float32, raw: not normalized)
  queries.npy    (q x d float32, raw)
  faiss_k10_indices.npy (q x k int64), faiss_k10_scores.npy (q x k float32)
faiss.normalize_L2 on both, IndexFlatIP(d).add(datastore), index.search(queries, k),
exactly as /work/shared/peers/topk_peer.py --method faiss_flatip does. Continuous Gaussian
data with a shared offset (CLIP-like score clustering), so near-ties at the k boundary are
unlikely; the test still allows a swap within float32 tolerance.
"""
import os

import faiss
import numpy as np

M, Q, D, K = 2000, 40, 64, 10
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261122)
offset = rng.standard_normal(D).astype(np.float32)
datastore = (rng.standard_normal((M, D)) + 0.8 * offset).astype(np.float32)
queries = (rng.standard_normal((Q, D)) + 0.8 * offset).astype(np.float32)
np.save(os.path.join(here, "datastore.npy"), datastore)
np.save(os.path.join(here, "queries.npy"), queries)

faiss.omp_set_num_threads(1)
xb, xq = datastore.copy(), queries.copy()
faiss.normalize_L2(xb)
faiss.normalize_L2(xq)
index = faiss.IndexFlatIP(D)
index.add(xb)
scores, indices = index.search(xq, K)
np.save(os.path.join(here, f"faiss_k{K}_indices.npy"), indices.astype(np.int64))
np.save(os.path.join(here, f"faiss_k{K}_scores.npy"), scores.astype(np.float32))
exact = np.sort(xq.astype(np.float64) @ xb.T.astype(np.float64), axis=1)[:, ::-1]
boundary_gap = float(np.min(exact[:, K - 1] - exact[:, K]))
adjacent_gap = float(np.min(exact[:, : K - 1] - exact[:, 1:K]))
print(f"faiss {faiss.__version__}: m={M} q={Q} d={D} k={K}; smallest float64 gap at the k "
      f"boundary {boundary_gap:.2e}, between ranks inside the top-k {adjacent_gap:.2e}")
