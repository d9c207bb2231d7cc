#!/usr/bin/python3
"""Writes the oracle fixtures for vpr's C++ tests: checkpoints, image lists and
reference descriptors computed by reference_model.py.

  /usr/bin/python3 tests/oracle/make_fixtures.py --out DIR --shared ../shared

Deterministic (seeded). Writes into DIR:
  manifest.json            list of descriptor cases (see CASE_FIELDS below)
  checkpoints/, refs/      checkpoints and reference descriptors (.npy, float32 N x dim)
  runs/vgg16_k64/          a pytorch-NetVlad run folder (checkpoints/checkpoint.pth.tar
                           + flags.json)
  images/                  generated test images and image lists (absolute paths)
  decoded/manifest.json    decoded-image references: float32 3 x H x W in [0, 1]
  backbones/manifest.json  torchvision backbone files + encoder-output references
Cases on Gardens Point images need SHARED/data; without it they are skipped (said so).
"""

import os

# Set before torch loads OpenMP: idle threads sleep instead of spinning, which
# keeps the many small ops of MobileNet/ResNet fast on a loaded (CI) machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as R  # noqa: E402

CASE_FIELDS = ("name", "checkpoint", "format", "images", "reference", "flags", "arch",
               "cut", "num_clusters", "dim", "vladv2", "normalize", "tf_padding",
               "wpca_dim")


# ------------------------------------------------------------------------- images

def _texture(rng, h, w):
    """uint8 h x w x 3: smooth colour field + noise + random shapes."""
    low = rng.integers(0, 256, size=(max(h // 12, 2), max(w // 12, 2), 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC), dtype=np.float32)
    base += rng.normal(0, 12, size=(h, w, 3))
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(6, 12))):
        x0, x1 = sorted(rng.integers(0, w, 2).tolist())
        y0, y1 = sorted(rng.integers(0, h, 2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        elif kind == 1:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif kind == 2:
            draw.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(1, 5)))
        else:
            pts = [tuple(int(v) for v in (rng.integers(0, w), rng.integers(0, h)))
                   for _ in range(3)]
            draw.polygon(pts, fill=colour)
    return np.asarray(im)


def make_images(img_dir, seed):
    """Generates the test images. Returns (small image paths, big image path)."""
    os.makedirs(img_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = []

    def path(name):
        return os.path.join(img_dir, name)

    def save_rgb(name, h, w, **kw):
        Image.fromarray(_texture(rng, h, w)).save(path(name), **kw)
        small.append(path(name))

    save_rgb("rgb_96x128.jpg", 96, 128, quality=92)
    save_rgb("rgb_100x150.png", 100, 150)
    save_rgb("rgb_130x90.jpg", 130, 90, quality=88)
    save_rgb("rgb_97x131.png", 97, 131)
    save_rgb("rgb_75x101.jpg", 75, 101, quality=95)
    # 8-bit grayscale PNG and JPEG (PIL mode L).
    Image.fromarray(_texture(rng, 96, 128)).convert("L").save(path("gray_96x128.png"))
    small.append(path("gray_96x128.png"))
    Image.fromarray(_texture(rng, 90, 120)).convert("L").save(path("gray_90x120.jpg"),
                                                              quality=90)
    small.append(path("gray_90x120.jpg"))
    # 16-bit grayscale PNG using the full 0..65535 range (not multiples of 257).
    g = _texture(rng, 100, 120).astype(np.float64).mean(axis=2) * 257.0
    g += rng.normal(0, 90, size=g.shape)
    g16 = np.clip(g, 0, 65535).astype(np.uint16)
    Image.fromarray(g16).save(path("gray16_100x120.png"))   # PIL mode I;16
    small.append(path("gray16_100x120.png"))
    # RGBA PNG with varying alpha (alpha is dropped, not composited).
    rgb = _texture(rng, 110, 100)
    alpha = rng.integers(0, 256, size=(110, 100, 1), dtype=np.uint8)
    alpha[:20] = 0
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(path("rgba_110x100.png"))
    small.append(path("rgba_110x100.png"))
    # Palette PNG (no transparency).
    Image.fromarray(_texture(rng, 88, 120)).convert(
        "P", palette=Image.ADAPTIVE, colors=48).save(path("palette_88x120.png"))
    small.append(path("palette_88x120.png"))
    # JPEG stored 96 high x 144 wide with EXIF orientation 6 (rotate 90 deg
    # clockwise to display): loads as 144 high x 96 wide.
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_texture(rng, 96, 144)).save(path("exif6_96x144.jpg"), quality=92,
                                                 exif=exif.tobytes())
    small.append(path("exif6_96x144.jpg"))
    # A bigger image for downscaling (antialias matters).
    big = path("rgb_300x420.jpg")
    Image.fromarray(_texture(rng, 300, 420)).save(big, quality=90)
    return small, big


def write_list(path, paths):
    with open(path, "w") as f:
        for p in paths:
            f.write(p + "\n")
    return path


# ------------------------------------------------------------------- checkpoints

def save_torch(obj, path, fmt):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if fmt == "zip":
        torch.save(obj, path)
    elif fmt == "legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        raise ValueError(fmt)


def one_sgd_step(model, trainable_from, seed):
    """Freezes encoder children before `trainable_from`, takes one SGD step
    (momentum 0.9) on a toy loss, returns the optimizer (with momentum buffers)."""
    enc = R.unwrap(model.encoder) if hasattr(model, "encoder") else R.unwrap(model).encoder
    for i, child in enumerate(enc.children()):
        for p in child.parameters():
            p.requires_grad_(i >= trainable_from)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-3)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 96, 128, generator=g)
    with torch.enable_grad():
        v = model(x)
        target = torch.randn(v.shape[1], generator=g)
        loss = ((v[0] - v[1]) * target).sum() ** 2 + (v * target).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.requires_grad_(True)
    return opt


def load_reference_model(ckpt_path, arch, cut, num_clusters, vladv2, wpca_dim,
                         normalize, tf_padding):
    """Rebuilds the model from what was written to disk (so the references are
    those of the checkpoint file, whatever its container)."""
    obj = torch.load(ckpt_path, map_location="cpu")
    sd = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
    sd = R.strip_module_prefix(sd)
    model = R.build_model(arch, cut, num_clusters, vladv2=vladv2, wpca_dim=wpca_dim,
                          normalize=normalize, tf_padding=tf_padding)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def check_descriptors(name, desc, out_dim):
    if desc.shape[1] != out_dim:
        raise RuntimeError(f"{name}: descriptor dim {desc.shape[1]} != {out_dim}")
    if not np.isfinite(desc).all():
        raise RuntimeError(f"{name}: non-finite descriptors")
    norms = np.linalg.norm(desc.astype(np.float64), axis=1)
    if np.abs(norms - 1).max() > 1e-4:
        raise RuntimeError(f"{name}: descriptor norms {norms}")
    sim = desc.astype(np.float64) @ desc.astype(np.float64).T
    off = sim[~np.eye(len(desc), dtype=bool)] if len(desc) > 1 else np.array([0.0])
    if off.max() > 0.9999:
        raise RuntimeError(f"{name}: two images give (nearly) the same descriptor "
                           f"(cos {off.max():.6f})")
    return float(off.min()), float(off.max())


PYTORCH_NETVLAD_FLAGS = {
    "mode": "train", "batchSize": 4, "cacheBatchSize": 24, "cacheRefreshRate": 1000,
    "nEpochs": 30, "start_epoch": 0, "nGPU": 1, "optim": "SGD", "lr": 0.0001,
    "lrStep": 5, "lrGamma": 0.5, "weightDecay": 0.001, "momentum": 0.9,
    "nocuda": False, "threads": 8, "seed": 123, "dataPath": "/data/pittsburgh/",
    "runsPath": "runs/", "savePath": "checkpoints", "cachePath": "/tmp",
    "resume": "", "ckpt": "latest", "evalEvery": 1, "patience": 10,
    "dataset": "pittsburgh", "arch": "vgg16", "vladv2": False, "pooling": "netvlad",
    "num_clusters": 64, "margin": 0.1, "split": "val", "fromscratch": False,
}


class Fixtures:
    def __init__(self, out, check_f64=False):
        self.out = out
        self.check_f64 = check_f64
        self.cases = []

    def case(self, name, arch, cut, num_clusters, image_list, *, vladv2=False, wpca_dim=0,
             normalize="imagenet", tf_padding=False, resize=None, max_side=None,
             fmt="zip", container="bare", parallel=None, train_step=None,
             torchvision_weights=None, weights_label="random", seed=0, ckpt_path=None,
             run_dir=None):
        """container: 'bare' (state_dict itself), 'dict' ({'state_dict': sd}),
        'netvlad' (pytorch-NetVlad checkpoint: epoch, state_dict, recalls,
        best_score, optimizer, parallel), 'vpr' ({'state_dict': sd, 'vpr': meta}).
        parallel: None, 'submodules' (encoder/pool in DataParallel: keys
        encoder.module.*, pool.module.*) or 'model' (keys module.*)."""
        t0 = time.time()
        cut = R.resolve_cut(arch, cut)
        torch.manual_seed(seed)
        model = R.build_model(arch, cut, num_clusters, vladv2=vladv2, wpca_dim=wpca_dim,
                              normalize=normalize, tf_padding=tf_padding,
                              torchvision_state_dict=torchvision_weights)
        R.randomize_weights(model, seed, randomize_batchnorm=torchvision_weights is None)
        meta = R.vpr_metadata(model)
        net = model
        if parallel == "submodules":
            model.encoder = nn.DataParallel(model.encoder)
            model.pool = nn.DataParallel(model.pool)
        elif parallel == "model":
            net = nn.DataParallel(model)
        opt = one_sgd_step(net, train_step, seed) if train_step is not None else None
        sd = net.state_dict()

        if container == "bare":
            obj = sd
        elif container == "dict":
            obj = {"state_dict": sd}
        elif container == "vpr":
            obj = {"state_dict": sd, "vpr": meta}
        elif container == "netvlad":
            obj = {"epoch": 3, "state_dict": sd,
                   "recalls": {1: np.float64(0.61), 5: np.float64(0.8),
                               10: np.float64(0.86), 20: np.float64(0.9)},
                   "best_score": np.float64(0.8),
                   "optimizer": opt.state_dict() if opt is not None else None,
                   "parallel": parallel is not None}
        else:
            raise ValueError(container)
        ckpt = ckpt_path or os.path.join(self.out, "checkpoints", f"{name}.pth")
        save_torch(obj, ckpt, fmt)
        del model, net, obj, sd, opt

        ref_model = load_reference_model(ckpt, arch, cut, num_clusters, vladv2, wpca_dim,
                                         normalize, tf_padding)
        paths = R.read_image_list(image_list)
        desc = R.describe(ref_model, paths, resize=resize, max_side=max_side)
        ref = os.path.join(self.out, "refs", f"{name}.npy")
        os.makedirs(os.path.dirname(ref), exist_ok=True)
        np.save(ref, desc)
        cos_min, cos_max = check_descriptors(name, desc, ref_model.out_dim)
        f64 = None
        if self.check_f64:
            d64 = R.describe_float64(ref_model, paths, resize=resize, max_side=max_side)
            f64 = float(np.abs(desc.astype(np.float64) - d64).max())

        flags = ["--normalize", normalize]
        if tf_padding:
            flags.append("--tf-padding")
        if resize is not None:
            flags += ["--resize", f"{resize[0]}x{resize[1]}"]
        if max_side is not None:
            flags += ["--max-side", str(max_side)]
        key_prefix = {None: "", "submodules": "encoder.module./pool.module.",
                      "model": "module."}[parallel]
        entry = OrderedDict(
            name=name, checkpoint=ckpt, format=fmt, images=image_list, reference=ref,
            flags=flags, arch=arch, cut=cut, num_clusters=num_clusters,
            dim=ref_model.pool.dim, vladv2=vladv2, normalize=normalize,
            tf_padding=tf_padding, wpca_dim=wpca_dim,
            # extras
            out_dim=ref_model.out_dim, num_images=len(paths),
            resize=list(resize) if resize else None, max_side=max_side,
            container=container, key_prefix=key_prefix,
            has_optimizer=container == "netvlad" and train_step is not None,
            weights=weights_label, seed=seed, run_dir=run_dir,
            f32_vs_f64_max_abs=f64, cos_offdiag=[cos_min, cos_max],
        )
        self.cases.append(entry)
        f64s = f"{f64:.1e}" if f64 is not None else "-"
        print(f"  {name:34s} {len(paths):3d} imgs  dim {ref_model.out_dim:6d}  "
              f"cos [{cos_min:+.3f}, {cos_max:+.3f}]  f32-f64 {f64s}  "
              f"{time.time() - t0:5.1f}s", flush=True)
        return entry


# ---------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--shared", default=None,
                    help="the shared folder (with data/gardens_point, data/weights)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--f64", action="store_true",
                    help="also estimate each reference's float32 rounding error with a "
                         "float64 copy of the model (slow: ~10x, generic BLAS)")
    ap.add_argument("--backbone-classifier", choices=("full", "none"), default="full",
                    help="vgg16_features.pth with the real-size classifier.* (528 MB "
                         "file) or features.* only")
    args = ap.parse_args(argv)

    t_start = time.time()
    torch.set_num_threads(args.threads)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    seed = args.seed

    shared = os.path.abspath(args.shared) if args.shared else None
    gp = os.path.join(shared, "data", "gardens_point") if shared else None
    mnv2_weights = os.path.join(shared, "data", "weights", "mobilenet_v2_imagenet.pth") \
        if shared else None
    have_gp = bool(gp) and os.path.isdir(os.path.join(gp, "night_right")) \
        and os.path.isdir(os.path.join(gp, "day_left"))
    have_w = bool(mnv2_weights) and os.path.isfile(mnv2_weights)

    print(f"oracle fixtures -> {out} (torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads)", flush=True)
    img_dir = os.path.join(out, "images")
    small, big = make_images(img_dir, seed)
    list_gen = write_list(os.path.join(img_dir, "list_generated.txt"), small)
    list_gen_big = write_list(os.path.join(img_dir, "list_generated_big.txt"), small + [big])

    fx = Fixtures(out, check_f64=args.f64)

    # --- VGG16 (512-d). Small images only: VGG16 is the expensive one.
    fx.case("vgg16_k16_v1", "vgg16", 29, 16, list_gen, seed=seed + 1,
            fmt="zip", container="bare")
    fx.case("vgg16_k64_v2_resize", "vgg16", 29, 64, list_gen_big, vladv2=True,
            resize=(120, 160), seed=seed + 2, fmt="legacy", container="bare")
    fx.case("vgg16_k16_v2_wpca128", "vgg16", 29, 16, list_gen, vladv2=True, wpca_dim=128,
            seed=seed + 3, fmt="zip", container="dict")
    run_dir = os.path.join(out, "runs", "vgg16_k64")
    os.makedirs(os.path.join(run_dir, "checkpoints"), exist_ok=True)
    with open(os.path.join(run_dir, "flags.json"), "w") as f:
        json.dump(PYTORCH_NETVLAD_FLAGS, f)
    fx.case("vgg16_k64_netvlad_run", "vgg16", 29, 64, list_gen_big, max_side=112,
            seed=seed + 4, fmt="legacy", container="netvlad", parallel="submodules",
            train_step=24, run_dir=run_dir,
            ckpt_path=os.path.join(run_dir, "checkpoints", "checkpoint.pth.tar"))

    # --- MobileNetV2
    fx.case("mnv2_c17_k16_v1_tf", "mobilenet_v2", 17, 16, list_gen, normalize="tf",
            seed=seed + 5, fmt="zip", container="bare")
    fx.case("mnv2_c18_k16_tfpad_gen", "mobilenet_v2", 18, 16, list_gen, normalize="tf",
            tf_padding=True, seed=seed + 6, fmt="zip", container="bare")
    fx.case("mnv2_c19_k8", "mobilenet_v2", 19, 8, list_gen, seed=seed + 7,
            fmt="zip", container="dict")
    skipped = []
    if have_gp:
        night = [os.path.join(gp, "night_right", f"Image{i:03d}.jpg") for i in range(0, 192, 12)]
        day = [os.path.join(gp, "day_left", f"Image{i:03d}.jpg") for i in range(0, 200, 25)]
        list_night = write_list(os.path.join(img_dir, "list_gp_night_right.txt"), night)
        list_day = write_list(os.path.join(img_dir, "list_gp_day_left.txt"), day)
        fx.case("mnv2_c17_k64_tfpad_gp_night", "mobilenet_v2", 17, 64, list_night,
                normalize="tf", tf_padding=True, seed=seed + 8, fmt="legacy",
                container="netvlad", parallel="model", train_step=14)
    else:
        skipped.append("mnv2_c17_k64_tfpad_gp_night (no Gardens Point images)")
    if have_gp and have_w:
        tv_sd = torch.load(mnv2_weights, map_location="cpu")
        fx.case("mnv2_imagenet_c17_k32_tfpad_gp_day", "mobilenet_v2", 17, 32, list_day,
                normalize="tf", tf_padding=True, max_side=320, seed=seed + 9, fmt="zip",
                container="vpr", torchvision_weights=tv_sd, weights_label=mnv2_weights)
    else:
        skipped.append("mnv2_imagenet_c17_k32_tfpad_gp_day (no Gardens Point images "
                       "or ImageNet weights)")

    # --- ResNets
    fx.case("resnet18_layer3_k16", "resnet18", "layer3", 16, list_gen, seed=seed + 10,
            fmt="zip", container="bare")
    fx.case("resnet50_layer4_k8", "resnet50", "layer4", 8, list_gen, seed=seed + 11,
            fmt="zip", container="vpr")

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(fx.cases, f, indent=1)

    # --- Decoded-image references (image loader tests).
    t0 = time.time()
    dec_dir = os.path.join(out, "decoded")
    os.makedirs(dec_dir, exist_ok=True)
    decoded = []
    jobs = [(p, None, None) for p in small + [big]]
    jobs += [(big, (120, 160), None), (os.path.join(img_dir, "rgb_97x131.png"), (120, 160), None),
             (big, None, 112), (os.path.join(img_dir, "exif6_96x144.jpg"), None, 100),
             (os.path.join(img_dir, "gray16_100x120.png"), (61, 77), None),
             (os.path.join(img_dir, "rgb_75x101.jpg"), None, 75),
             (os.path.join(img_dir, "rgb_75x101.jpg"), None, 101)]   # no-op: already 101
    for i, (p, rs, ms) in enumerate(jobs):
        t = R.load_image(p, resize=rs, max_side=ms)
        stem = os.path.splitext(os.path.basename(p))[0]
        tag = f"_resize{rs[0]}x{rs[1]}" if rs else (f"_maxside{ms}" if ms else "")
        ref = os.path.join(dec_dir, f"{stem}{tag}.npy")
        np.save(ref, t.numpy())
        decoded.append(OrderedDict(image=p, resize=list(rs) if rs else None, max_side=ms,
                                   reference=ref, shape=list(t.shape)))
    with open(os.path.join(dec_dir, "manifest.json"), "w") as f:
        json.dump(decoded, f, indent=1)
    print(f"  {'decoded images':34s} {len(decoded):3d} refs  {time.time() - t0:5.1f}s")

    # --- Backbone files + encoder-output references.
    t0 = time.time()
    bb_dir = os.path.join(out, "backbones")
    os.makedirs(bb_dir, exist_ok=True)
    backbones = []
    torch.manual_seed(seed + 20)
    import torchvision
    if args.backbone_classifier == "full":
        vgg = torchvision.models.vgg16()
    else:
        vgg = nn.Module()
        vgg.features = R._vgg16_features_only()
    g = torch.Generator().manual_seed(seed + 21)
    with torch.no_grad():
        for m in vgg.features.modules():
            if isinstance(m, nn.Conv2d):      # non-zero biases so their loading is tested
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
    vgg_file = os.path.join(bb_dir, "vgg16_features.pth")
    torch.save(vgg.state_dict(), vgg_file)
    enc = R.build_encoder("vgg16", 29, torch.load(vgg_file, map_location="cpu")
                          if args.backbone_classifier == "full" else None)
    if args.backbone_classifier != "full":
        enc.load_state_dict({k[len("features."):]: v for k, v in vgg.state_dict().items()})
    del vgg
    backbones.append(_backbone_ref(bb_dir, "vgg16_features", vgg_file, "vgg16", 29, enc,
                                   small[0], "imagenet", False, None))
    if have_gp and have_w:
        enc = R.build_encoder("mobilenet_v2", 17, torch.load(mnv2_weights, map_location="cpu"))
        R.apply_tf_padding(enc)
        backbones.append(_backbone_ref(bb_dir, "mobilenet_v2_imagenet_c17_tfpad", mnv2_weights,
                                       "mobilenet_v2", 17, enc,
                                       os.path.join(gp, "day_left", "Image000.jpg"), "tf",
                                       True, 320))
    with open(os.path.join(bb_dir, "manifest.json"), "w") as f:
        json.dump(backbones, f, indent=1)
    print(f"  {'backbones':34s} {len(backbones):3d} refs  {time.time() - t0:5.1f}s")

    for s in skipped:
        print(f"SKIPPED {s}: --shared {args.shared!r} has no data/ (cases need it)")
    print(f"{len(fx.cases)} cases, total {time.time() - t_start:.1f}s -> "
          f"{os.path.join(out, 'manifest.json')}", flush=True)
    return 0


@torch.no_grad()
def _backbone_ref(bb_dir, name, file, arch, cut, enc, image, normalize, tf_padding, max_side):
    enc.eval()
    mean, std = R.NORMALIZATIONS[normalize]
    x = R.load_image(image, max_side=max_side).unsqueeze(0)
    x = (x - torch.tensor(mean).reshape(1, 3, 1, 1)) / torch.tensor(std).reshape(1, 3, 1, 1)
    y = enc(x).numpy().astype(np.float32)
    ref = os.path.join(bb_dir, f"{name}_encoder_out.npy")
    np.save(ref, y)
    return OrderedDict(name=name, file=file, arch=arch, cut=cut, image=image,
                       normalize=normalize, tf_padding=tf_padding, max_side=max_side,
                       reference=ref, shape=list(y.shape))


if __name__ == "__main__":
    sys.exit(main())
