#!/usr/bin/python3
"""Python reference for exact search: faiss.IndexFlatL2 (python3-faiss) top-20 of
random unit queries against a random unit database; prints ms per query.

  /usr/bin/python3 bench/python_search.py --rows 10000 --queries 1000 --dim 4096 --threads 2 [--json]
"""
import argparse
import json
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    db = rng.standard_normal((a.rows, a.dim), dtype=np.float32)
    db /= np.linalg.norm(db, axis=1, keepdims=True)
    q = db[rng.integers(0, a.rows, a.queries)] + 0.02 * rng.standard_normal((a.queries, a.dim), dtype=np.float32)
    index = faiss.IndexFlatL2(a.dim)
    index.add(db)
    index.search(q[:10], 20)
    t = time.perf_counter()
    index.search(q, 20)
    ms = 1000.0 * (time.perf_counter() - t) / a.queries
    out = {"rows": a.rows, "queries": a.queries, "dim": a.dim, "threads": a.threads, "ms_per_query": ms}
    print(json.dumps(out) if a.json else out)


if __name__ == "__main__":
    main()
