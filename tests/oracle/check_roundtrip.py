#!/usr/bin/python3
"""Checks descriptors written by `vpr extract` against the Python reference.

  /usr/bin/python3 tests/oracle/check_roundtrip.py CKPT --images LIST --reference NPY \
      [--resize HxW] [--max-side N] [--tol 1e-5]

CKPT is a checkpoint written by vpr (zip format): a dict with 'state_dict' and a
'vpr' dict {format_version: 1, arch, cut, num_clusters, dim, vladv2, normalize,
tf_padding, wpca_dim}. The reference model is built from 'vpr', loaded with
load_state_dict(strict=True), and run on the images of LIST (one path a line, or
a directory: its image files in sorted order); NPY is what vpr wrote.
Exit status: 0 match, 1 mismatch (shape, dtype other than float32, non-finite
values or max abs diff > tol),
2 bad input (unreadable checkpoint, missing 'vpr', strict load failure, ...).
"""

import os

# Set before torch loads OpenMP: idle threads sleep instead of spinning, which
# keeps the many small ops of MobileNet/ResNet fast on a loaded (CI) machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as R  # noqa: E402
import weights_only  # noqa: E402

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def parse_hw(text):
    try:
        h, w = text.lower().split("x")
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, got {text!r}")


def image_paths(arg):
    if os.path.isdir(arg):
        return [os.path.join(arg, f) for f in sorted(os.listdir(arg))
                if f.lower().endswith(IMAGE_EXTS)]
    return R.read_image_list(arg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--images", required=True, help="image list file or directory")
    ap.add_argument("--reference", required=True, help=".npy written by vpr extract")
    ap.add_argument("--resize", type=parse_hw, default=None, metavar="HxW")
    ap.add_argument("--max-side", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.resize is not None and args.max_side is not None:
        ap.error("give --resize or --max-side, not both")
    torch.set_num_threads(args.threads)

    try:
        # weights_only: what torch.load does by default since PyTorch 2.6.
        obj = weights_only.load(args.checkpoint, map_location="cpu")
        if not isinstance(obj, dict) or "state_dict" not in obj or "vpr" not in obj:
            keys = list(obj.keys()) if isinstance(obj, dict) else type(obj).__name__
            if isinstance(keys, list) and len(keys) > 8:
                keys = keys[:8] + [f"... ({len(keys)} keys)"]
            raise ValueError(f"not a vpr checkpoint (needs 'state_dict' and 'vpr'): {keys}")
        meta = obj["vpr"]
        model = R.model_from_vpr_metadata(meta)
        model.load_state_dict(obj["state_dict"], strict=True)
        model.eval()
        if int(meta["dim"]) != model.pool.dim:
            raise ValueError(f"vpr.dim {meta['dim']} but the encoder gives {model.pool.dim}")
        got = np.load(args.reference)
    except Exception as e:  # noqa: BLE001 - any failure to set up is "bad input"
        print(f"ERROR: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    paths = image_paths(args.images)
    want = R.describe(model, paths, resize=args.resize, max_side=args.max_side)
    print(f"model: {meta['arch']} cut {meta['cut']} K={meta['num_clusters']} "
          f"D={meta['dim']} vladv2={meta['vladv2']} wpca={meta.get('wpca_dim', 0)} "
          f"normalize={meta['normalize']} tf_padding={meta['tf_padding']}")
    print(f"images: {len(paths)}; reference (python) {want.shape}, vpr {got.shape} {got.dtype}")
    if got.shape != want.shape:
        print("FAIL: shapes differ")
        return 1
    if not np.isfinite(got).all():
        print("FAIL: vpr descriptors contain NaN/Inf")
        return 1
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    max_diff = float(diff.max()) if diff.size else 0.0
    row = int(diff.max(axis=1).argmax()) if diff.size else -1
    print(f"max abs diff {max_diff:.3e} (worst row {row}"
          f"{': ' + paths[row] if row >= 0 else ''}), tol {args.tol:.1e}")
    if got.dtype != np.float32:
        print(f"FAIL: vpr wrote {got.dtype}, expected float32")
        return 1
    if max_diff > args.tol:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
