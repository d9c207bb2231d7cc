"""Python reference recall on Gardens Point Walking (test oracle, never run time).

Builds MobileNetV2 features[:cut] with the ImageNet weights in ../shared, samples
L2-normalised local features from the database images (pytorch-NetVlad's cluster
step: `per_image` random locations per image), k-means with faiss (seeded),
vladv1 init (alpha from the gap between the two nearest normalised centroids),
writes that model as a checkpoint vpr loads, then describes database and queries
with torchvision, searches them with faiss.IndexFlatL2 and computes recall@N with
the frame tolerance. Writes OUT/model.pth and OUT/reference.json.

The C++ side (tests/gardens_point_test.cc) evaluates OUT/model.pth with
`vpr eval` and must find the same hit counts.
"""

import argparse
import json
import os
import sys
import time

import faiss
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as R  # noqa: E402

RECALL_AT = (1, 5, 10, 20)


def image_paths(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".jpg"))


@torch.no_grad()
def sample_local_features(model, paths, per_image, max_side, rng):
    samples = []
    for p in paths:
        x = R.load_image(p, max_side=max_side).unsqueeze(0)
        x = (x - model.norm_mean) / model.norm_std
        f = F.normalize(model.encoder(x), p=2, dim=1)[0]          # D x H x W
        f = f.reshape(f.shape[0], -1).T.numpy()                   # P x D
        pick = rng.choice(f.shape[0], min(per_image, f.shape[0]), replace=False)
        samples.append(f[np.sort(pick)])
    return np.ascontiguousarray(np.concatenate(samples, 0), dtype=np.float32)


@torch.no_grad()
def init_vladv1(pool, centroids, samples):
    assign = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
    dots = np.sort(assign @ samples.T, axis=0)[::-1]              # K x S, largest first
    alpha = float(-np.log(0.01) / np.mean(dots[0] - dots[1]))
    pool.centroids.copy_(torch.from_numpy(centroids))
    pool.conv.weight.copy_(torch.from_numpy(alpha * assign).unsqueeze(-1).unsqueeze(-1))
    return alpha


@torch.no_grad()
def describe(model, paths, max_side):
    model.pool.vectorised = True
    return np.concatenate([model(R.load_image(p, max_side=max_side).unsqueeze(0)).numpy() for p in paths], 0)


def recall(db, queries, tolerance):
    index = faiss.IndexFlatL2(db.shape[1])
    index.add(db)
    _, ids = index.search(queries, max(RECALL_AT))
    truth = np.abs(ids - np.arange(len(queries))[:, None]) <= tolerance
    hits = {n: int(truth[:, :n].any(axis=1).sum()) for n in RECALL_AT}
    return hits, ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cut", type=int, default=17)
    ap.add_argument("--clusters", type=int, default=64)
    ap.add_argument("--per-image", type=int, default=100)
    ap.add_argument("--max-side", type=int, default=None, help="default: native size")
    ap.add_argument("--tolerance", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    gp = os.path.join(args.shared, "data", "gardens_point")
    weights = os.path.join(args.shared, "data", "weights", "mobilenet_v2_imagenet.pth")
    if not os.path.isdir(gp) or not os.path.isfile(weights):
        with open(os.path.join(args.out, "reference.json"), "w") as f:
            json.dump({"skipped": f"no Gardens Point data or weights under {args.shared}/data"}, f)
        print("skipped: ../shared/data is absent")
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    model = R.build_model("mobilenet_v2", args.cut, args.clusters, normalize="tf", tf_padding=True,
                          torchvision_state_dict=torch.load(weights, map_location="cpu"))
    db_paths = image_paths(os.path.join(gp, "day_right"))
    samples = sample_local_features(model, db_paths, args.per_image, args.max_side,
                                    np.random.default_rng(args.seed))
    kmeans = faiss.Kmeans(samples.shape[1], args.clusters, niter=100, seed=args.seed, verbose=False)
    kmeans.train(samples)
    alpha = init_vladv1(model.pool, kmeans.centroids, samples)
    torch.save({"state_dict": model.state_dict(), "vpr": R.vpr_metadata(model)},
               os.path.join(args.out, "model.pth"))

    db = describe(model, db_paths, args.max_side)
    result = {"format_version": 1, "tolerance": args.tolerance, "recall_at": list(RECALL_AT),
              "num_samples": len(samples), "alpha": alpha, "max_side": args.max_side, "queries": {}}
    for name in ("day_left", "night_right"):
        q = describe(model, image_paths(os.path.join(gp, name)), args.max_side)
        hits, ids = recall(db, q, args.tolerance)
        result["queries"][name] = {"hits_at": {str(n): h for n, h in hits.items()},
                                   "recall_at": {str(n): h / len(q) for n, h in hits.items()},
                                   "num_queries": len(q), "top1": ids[:, 0].tolist()}
        print(name, {n: round(100 * h / len(q), 1) for n, h in hits.items()}, flush=True)
    result["seconds"] = time.time() - start
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}/model.pth and reference.json in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
