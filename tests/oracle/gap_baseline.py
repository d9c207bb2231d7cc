"""Global-average-pooling baseline on a frame-aligned set (measurement, never run time).

The same backbone as `vpr` loads (torchvision MobileNetV2 features[:cut], tf input
normalisation, TF padding, ImageNet weights), its local features averaged over the
image and L2-normalised, searched with faiss.IndexFlatL2; query i matches database j
when |i - j| <= tolerance. Prints recall@1/5/10/20 per query folder, to set NetVLAD
(`vpr eval`, before and after `vpr train`) against pooling without it.

  /usr/bin/python3 tests/oracle/gap_baseline.py --weights W --db DB_DIR --queries Q1 [Q2 ...]
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as R  # noqa: E402
from gardens_point_reference import RECALL_AT, image_paths, recall  # noqa: E402


@torch.no_grad()
def describe(model, paths, max_side):
    rows = []
    for p in paths:
        x = R.load_image(p, max_side=max_side).unsqueeze(0)
        x = (x - model.norm_mean) / model.norm_std
        rows.append(F.normalize(model.encoder(x).mean(dim=(2, 3)), p=2, dim=1).numpy())
    return np.ascontiguousarray(np.concatenate(rows, 0), dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="torchvision MobileNetV2 state_dict")
    ap.add_argument("--db", required=True)
    ap.add_argument("--queries", nargs="+", required=True)
    ap.add_argument("--cut", type=int, default=17)
    ap.add_argument("--max-side", type=int, default=320)
    ap.add_argument("--tolerance", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = R.build_model("mobilenet_v2", args.cut, normalize="tf", tf_padding=True,
                          torchvision_state_dict=torch.load(args.weights, map_location="cpu"))
    db = describe(model, image_paths(args.db), args.max_side)
    for folder in args.queries:
        queries = describe(model, image_paths(folder), args.max_side)
        hits, _ = recall(db, queries, args.tolerance)
        text = " ".join(f"R@{n} {100.0 * hits[n] / len(queries):.1f}" for n in RECALL_AT)
        print(f"GAP {os.path.basename(os.path.normpath(folder))}: {text} ({len(queries)} queries, {db.shape[1]}-d)")


if __name__ == "__main__":
    main()
