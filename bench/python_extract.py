#!/usr/bin/python3
"""Python reference throughput for `vpr extract`-like descriptor extraction.

  /usr/bin/python3 bench/python_extract.py --arch vgg16 --height 480 --width 640 \
      --images 20 --threads 4 [--batch 1] [--weights PATH] [--netvlad vectorised|loop] [--json]

Model: torchvision VGG16 features[:-2] (conv5_3, 512-d) or MobileNetV2
features[:17] (160-d) + NetVLAD K=64 (vladv1), eval mode, torch.no_grad, float32.
NetVLAD is the VECTORISED form by default (one bmm; what a fast implementation
does); --netvlad loop uses the per-cluster Python loop of the reference.
Input: random tensors of the given size (no image decoding, no resizing); the
mean/std normalisation is included. Weights are random (BN statistics calibrated,
as in the oracle fixtures) unless --weights gives a torchvision state_dict
(vgg16: features.*/classifier.*; mobilenet_v2: features.*/classifier.*).
Timing: --warmup batches first, then ceil(images / batch) timed batches.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "oracle"))
import reference_model as R  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=("vgg16", "mobilenet_v2"), default="vgg16")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--images", type=int, default=20, help="images timed")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    ap.add_argument("--num-clusters", type=int, default=64)
    ap.add_argument("--weights", default=None, help="torchvision state_dict of the backbone")
    ap.add_argument("--netvlad", choices=("vectorised", "loop"), default="vectorised")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--image-list", default=None,
                    help="whole-pipeline mode: decode (PIL), resize to HEIGHTxWIDTH and describe "
                         "every image listed, one at a time, as the seed's extraction loop")
    args = ap.parse_args(argv)
    if args.images < 1 or args.batch < 1:
        ap.error("--images and --batch must be >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cut = 29 if args.arch == "vgg16" else 17
    tv_sd = torch.load(args.weights, map_location="cpu") if args.weights else None
    normalize = "imagenet" if args.arch == "vgg16" else "tf"
    model = R.build_model(args.arch, cut, args.num_clusters, normalize=normalize,
                          torchvision_state_dict=tv_sd)
    # Calibrated BN statistics (random weights) and data-like NetVLAD centroids:
    # keeps activations O(1), so no denormal/overflow slow paths skew the timing.
    R.randomize_weights(model, 0, randomize_batchnorm=tv_sd is None)
    model.pool.vectorised = args.netvlad == "vectorised"
    model.eval()

    if args.image_list:
        return describe_list(model, args)

    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, 3, args.height, args.width, generator=g)
    n_batches = math.ceil(args.images / args.batch)
    with torch.no_grad():
        for _ in range(args.warmup):
            model(x)
        t0 = time.perf_counter()
        for _ in range(n_batches):
            d = model(x)
        seconds = time.perf_counter() - t0
    n = n_batches * args.batch
    result = {
        "impl": "python-torch",
        "arch": args.arch,
        "cut": cut,
        "num_clusters": args.num_clusters,
        "dim": int(d.shape[1]),
        "netvlad": args.netvlad,
        "height": args.height,
        "width": args.width,
        "images": n,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "weights": args.weights or "random",
        "seconds": seconds,
        "images_per_s": n / seconds,
        "ms_per_image": 1000.0 * seconds / n,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.arch} cut {cut} + NetVLAD K={args.num_clusters} ({args.netvlad}), "
              f"{args.height}x{args.width}, batch {args.batch}, {result['threads']} threads: "
              f"{result['images_per_s']:.2f} images/s ({result['ms_per_image']:.1f} ms/image, "
              f"{n} images in {seconds:.2f}s)")
    return 0


def describe_list(model, args):
    """Decode, resize and describe every listed image; prints images/s and per-image ms."""
    paths = R.read_image_list(args.image_list)
    t0 = time.perf_counter()
    ms = []
    with torch.no_grad():
        for p in paths:
            t = time.perf_counter()
            x = R.load_image(p, resize=(args.height, args.width)).unsqueeze(0)
            model(x)
            ms.append(1000.0 * (time.perf_counter() - t))
    seconds = time.perf_counter() - t0
    ms.sort()
    result = {"impl": "python-torch", "arch": args.arch, "images": len(paths), "threads": torch.get_num_threads(),
              "seconds": seconds, "images_per_s": len(paths) / seconds,
              "ms_p50": ms[len(ms) // 2], "ms_p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))]}
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
