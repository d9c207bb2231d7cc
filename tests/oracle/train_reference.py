#!/usr/bin/python3
"""Python reference of one vpr training step (test oracle, never used at run time).

  /usr/bin/python3 tests/oracle/train_reference.py --checkpoint CKPT --images IMAGES.npy \
      --height H --width W --tuples T --train-from I --margin M --out DIR

CKPT is a checkpoint vpr wrote ({"state_dict", "vpr"}); IMAGES.npy is float32
N x (3*H*W): T tuples, each rows q, p, n_1..n_k (N = T * (2 + k)), RGB in [0, 1].
As pytorch-NetVlad's train step: the model in train mode with every BatchNorm in
eval mode, encoder children before I frozen (NetVLAD always trained), one forward
over all images, loss = sum over tuples and negatives of
TripletMarginLoss(margin, p=2, reduction='sum')(q, p, n) divided by the number of
negatives, backward. Writes DIR/loss.json ({"loss": ..., "trained": [names]}) and
DIR/grad/<parameter name>.npy (float32, flattened to rows x cols as 1 x numel) for
every trained parameter, and DIR/grad64/ the same computed in float64 (the
exact reference; |grad - grad64| is PyTorch's own float32 rounding, the yardstick
for vpr's).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as R  # noqa: E402
import weights_only  # noqa: E402


def load_model(path):
    ckpt = weights_only.load(path, map_location="cpu")  # vpr writes plain data only
    model = R.model_from_vpr_metadata(ckpt["vpr"])
    model.load_state_dict(R.strip_module_prefix(ckpt["state_dict"]), strict=True)
    return model


def set_trainable(model, train_from):
    for p in model.parameters():
        p.requires_grad_(False)
    for i, child in enumerate(model.encoder.children()):
        for p in child.parameters():
            p.requires_grad_(i >= train_from)
    for p in model.pool.parameters():
        p.requires_grad_(True)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def step(args, images, dtype):
    """Loss and gradients of the trained parameters, computed in dtype."""
    model = load_model(args.checkpoint).to(dtype)
    set_trainable(model, args.train_from)
    per_tuple = images.shape[0] // args.tuples
    criterion = nn.TripletMarginLoss(margin=args.margin, p=2, reduction="sum")
    desc = model(images.to(dtype))
    loss = 0
    n_neg = 0
    for t in range(args.tuples):
        rows = desc[t * per_tuple:(t + 1) * per_tuple]
        for n in range(2, per_tuple):
            loss = loss + criterion(rows[0:1], rows[1:2], rows[n:n + 1])
            n_neg += 1
    loss = loss / n_neg
    loss.backward()
    grads = {name: p.grad.detach().double() for name, p in model.named_parameters() if p.requires_grad}
    return float(loss), grads


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--tuples", type=int, default=1)
    ap.add_argument("--train-from", type=int, required=True)
    ap.add_argument("--margin", type=float, default=0.1 ** 0.5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    images = torch.from_numpy(np.load(args.images)).reshape(-1, 3, args.height, args.width)
    if images.shape[0] % args.tuples or images.shape[0] // args.tuples < 3:
        ap.error(f"{images.shape[0]} images do not split into {args.tuples} tuples of q, p and negatives")
    loss, grads = step(args, images, torch.float32)
    _, grads64 = step(args, images, torch.float64)
    trained = list(grads)
    for sub, values in (("grad", grads), ("grad64", grads64)):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
        for name, g in values.items():
            np.save(os.path.join(args.out, sub, name + ".npy"), g.numpy().astype(np.float32).reshape(1, -1))
    with open(os.path.join(args.out, "loss.json"), "w") as f:
        json.dump({"loss": float(loss), "trained": trained}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
