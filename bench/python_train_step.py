#!/usr/bin/python3
"""Python reference speed of one vpr training step (pytorch-NetVlad's step).

  /usr/bin/python3 bench/python_train_step.py --arch mobilenet_v2 --height 240 --width 320 \
      --negatives 10 --steps 5 --threads 2 [--weights PATH] [--netvlad vectorised|loop] [--json]

One step = a tuple batch of 1 query, 1 positive and --negatives negatives through the
model in train mode (BatchNorm in eval mode), the triplet loss
(TripletMarginLoss(margin=sqrt(0.1), p=2, reduction='sum') per negative, divided by
the number of negatives), backward, and an SGD step (lr 1e-4, momentum 0.9, weight
decay 1e-3). Trained: the last encoder block (vgg16 conv5 = encoder[24:], mobilenet_v2
features[14:17]) and NetVLAD, as `vpr train --train-blocks 1`. Input: random images of
the given size. Timing: --warmup steps first, then --steps timed steps.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
import reference_model as R  # noqa: E402

TRAIN_FROM = {"vgg16": 24, "mobilenet_v2": 14}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=tuple(TRAIN_FROM), default="mobilenet_v2")
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--negatives", type=int, default=10)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--num-clusters", type=int, default=64)
    ap.add_argument("--weights", default=None, help="torchvision state_dict of the backbone")
    ap.add_argument("--netvlad", choices=("vectorised", "loop"), default="vectorised")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cut = 29 if args.arch == "vgg16" else 17
    tv_sd = torch.load(args.weights, map_location="cpu") if args.weights else None
    normalize = "imagenet" if args.arch == "vgg16" else "tf"
    model = R.build_model(args.arch, cut, args.num_clusters, normalize=normalize,
                          tf_padding=args.arch == "mobilenet_v2", torchvision_state_dict=tv_sd)
    R.randomize_weights(model, 0, randomize_batchnorm=tv_sd is None)
    model.pool.vectorised = args.netvlad == "vectorised"
    for p in model.parameters():
        p.requires_grad_(False)
    for i, child in enumerate(model.encoder.children()):
        for p in child.parameters():
            p.requires_grad_(i >= TRAIN_FROM[args.arch])
    for p in model.pool.parameters():
        p.requires_grad_(True)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9, weight_decay=1e-3)
    criterion = nn.TripletMarginLoss(margin=0.1 ** 0.5, p=2, reduction="sum")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2 + args.negatives, 3, args.height, args.width, generator=g)

    def step():
        opt.zero_grad()
        d = model(x)
        loss = sum(criterion(d[0:1], d[1:2], d[n:n + 1]) for n in range(2, d.shape[0])) / args.negatives
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    seconds = time.perf_counter() - t0
    result = {"impl": "python-torch", "arch": args.arch, "height": args.height, "width": args.width,
              "negatives": args.negatives, "steps": args.steps, "threads": torch.get_num_threads(),
              "netvlad": args.netvlad, "weights": args.weights or "random", "loss": loss,
              "seconds": seconds, "steps_per_s": args.steps / seconds,
              "images_per_s": args.steps * (2 + args.negatives) / seconds, "torch": torch.__version__}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.arch} {args.height}x{args.width}, 1+1+{args.negatives} images, {result['threads']} threads: "
              f"{result['steps_per_s']:.3f} steps/s ({result['images_per_s']:.1f} images/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
