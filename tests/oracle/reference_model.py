"""Python reference (test oracle) for vpr's NetVLAD models.

Used only by tests and benchmarks, never at run time. Written from the model
description (pytorch-NetVlad's state_dict layout), not copied from any project.

Models are an nn.Module with submodules
  encoder  nn.Sequential of torchvision backbone children (keys encoder.<i>.*)
  pool     NetVLAD (keys pool.centroids, pool.conv.weight[, pool.conv.bias])
  WPCA     optional nn.Sequential(Conv2d(K*D, n_pcs, 1), Flatten, L2Norm)
           (keys WPCA.0.weight, WPCA.0.bias; Patch-NetVLAD's layout)
Input normalisation is part of the forward pass (a non-persistent buffer, so
it never shows up in the state_dict).
"""

import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageOps

NORMALIZATIONS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}

ARCHS = ("vgg16", "mobilenet_v2", "resnet18", "resnet50")

# Number of encoder children kept (the "cut") for named ResNet cuts.
RESNET_CUTS = {"layer3": 7, "layer4": 8}
DEFAULT_CUTS = {"vgg16": 29, "mobilenet_v2": 17, "resnet18": 8, "resnet50": 8}


# --------------------------------------------------------------------------- NetVLAD

class NetVLAD(nn.Module):
    """NetVLAD pooling, pytorch-NetVlad layout.

    forward(x: N x D x H x W) -> N x (K*D), L2-normalised.
    The default forward loops over clusters in Python (the reference form);
    set `vectorised = True` (or call forward_vectorised) for the batched form,
    which computes the same thing.
    """

    def __init__(self, num_clusters=64, dim=128, alpha=100.0,
                 normalize_input=True, vladv2=False):
        super().__init__()
        self.num_clusters = num_clusters
        self.dim = dim
        self.alpha = alpha
        self.vladv2 = vladv2
        self.normalize_input = normalize_input
        self.vectorised = False
        self.conv = nn.Conv2d(dim, num_clusters, kernel_size=(1, 1), bias=vladv2)
        self.centroids = nn.Parameter(torch.rand(num_clusters, dim))

    def _soft_assign(self, x):
        n = x.shape[0]
        logits = self.conv(x).reshape(n, self.num_clusters, -1)   # N x K x P
        return F.softmax(logits, dim=1)                           # over clusters

    def forward(self, x):
        if self.vectorised:
            return self.forward_vectorised(x)
        n, d = x.shape[:2]
        if self.normalize_input:
            x = F.normalize(x, p=2, dim=1)                        # across descriptor dim
        soft_assign = self._soft_assign(x)                        # N x K x P
        x_flat = x.reshape(n, d, -1)                              # N x D x P
        vlad = torch.zeros(n, self.num_clusters, d, dtype=x.dtype, device=x.device)
        for k in range(self.num_clusters):
            residual = x_flat - self.centroids[k].reshape(1, d, 1)          # N x D x P
            residual = residual * soft_assign[:, k, :].unsqueeze(1)         # weight by a_k
            vlad[:, k, :] = residual.sum(dim=-1)
        vlad = F.normalize(vlad, p=2, dim=2)                      # intra-normalisation
        vlad = vlad.reshape(n, -1)
        return F.normalize(vlad, p=2, dim=1)

    def forward_vectorised(self, x):
        n, d = x.shape[:2]
        if self.normalize_input:
            x = F.normalize(x, p=2, dim=1)
        soft_assign = self._soft_assign(x)                        # N x K x P
        x_flat = x.reshape(n, d, -1)                              # N x D x P
        # sum_p a_kp x_p - (sum_p a_kp) c_k
        vlad = torch.bmm(soft_assign, x_flat.transpose(1, 2))     # N x K x D
        vlad = vlad - soft_assign.sum(dim=-1, keepdim=True) * self.centroids.unsqueeze(0)
        vlad = F.normalize(vlad, p=2, dim=2).reshape(n, -1)
        return F.normalize(vlad, p=2, dim=1)


class L2Norm(nn.Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.normalize(x, p=2, dim=self.dim)


# ------------------------------------------------------------ TensorFlow SAME padding

def tf_same_pad_total(size, kernel, stride, dilation=1):
    """Total padding TensorFlow's "SAME" adds along one dimension."""
    effective_k = (kernel - 1) * dilation + 1
    out = -(-size // stride)                                   # ceil(size / stride)
    return max((out - 1) * stride + effective_k - size, 0)


class TFSamePadConv2d(nn.Conv2d):
    """Conv2d with padding 0 preceded by TF "SAME" padding computed from the input
    size: top/left get total // 2, bottom/right the rest. Same parameters (and so
    the same state_dict keys) as the Conv2d it replaces."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        ph = tf_same_pad_total(ih, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = tf_same_pad_total(iw, self.kernel_size[1], self.stride[1], self.dilation[1])
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def apply_tf_padding(module):
    """Replace every Conv2d with a stride > 1 under `module` by a TFSamePadConv2d
    (in place). Convs with stride 1 are left alone. Returns the number replaced."""
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and max(child.stride) > 1:
                if child.padding_mode != "zeros":
                    raise ValueError("tf padding needs zero padding_mode")
                new = TFSamePadConv2d(child.in_channels, child.out_channels,
                                      child.kernel_size, stride=child.stride, padding=0,
                                      dilation=child.dilation, groups=child.groups,
                                      bias=child.bias is not None)
                new.load_state_dict(child.state_dict())
                new.train(child.training)
                setattr(parent, name, new)
                replaced += 1
    return replaced


def has_tf_padding(module):
    return any(isinstance(m, TFSamePadConv2d) for m in module.modules())


# --------------------------------------------------------------------------- backbones

def resolve_cut(arch, cut):
    """Cut as the number of encoder children kept. Accepts ints and, for ResNets,
    'layer3' / 'layer4'."""
    if cut is None:
        return DEFAULT_CUTS[arch]
    if isinstance(cut, str):
        if arch.startswith("resnet") and cut in RESNET_CUTS:
            return RESNET_CUTS[cut]
        return int(cut)
    return int(cut)


def _vgg16_features_only():
    """torchvision's vgg16().features without building (and initialising) the
    102M-parameter classifier: same modules, same init as torchvision."""
    vgg = torchvision.models.vgg
    features = vgg.make_layers(vgg.cfgs["D"], batch_norm=False)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
    return features


def _torchvision_model(arch):
    if arch == "vgg16":
        return torchvision.models.vgg16()
    if arch == "mobilenet_v2":
        return torchvision.models.mobilenet_v2()
    if arch == "resnet18":
        return torchvision.models.resnet18()
    if arch == "resnet50":
        return torchvision.models.resnet50()
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


def build_encoder(arch, cut=None, torchvision_state_dict=None):
    """nn.Sequential of the first `cut` children of the torchvision backbone
    (features for vgg16/mobilenet_v2, the model's children for ResNets).
    `torchvision_state_dict` (keys features.* / conv1.* ...) is loaded into the
    full torchvision model before cutting."""
    cut = resolve_cut(arch, cut)
    if arch == "vgg16" and torchvision_state_dict is None:
        return nn.Sequential(*list(_vgg16_features_only().children())[:cut])
    tv = _torchvision_model(arch)
    if torchvision_state_dict is not None:
        tv.load_state_dict(torchvision_state_dict, strict=True)
    if arch in ("vgg16", "mobilenet_v2"):
        children = list(tv.features.children())
    else:
        children = list(tv.children())[:-2]          # drop avgpool, fc
    if not 1 <= cut <= len(children):
        raise ValueError(f"cut {cut} out of range 1..{len(children)} for {arch}")
    return nn.Sequential(*children[:cut])


def encoder_dim(encoder):
    """Output channels of an encoder: out_channels of its last Conv2d in module
    order (true for all supported archs/cuts)."""
    last = None
    for m in encoder.modules():
        if isinstance(m, nn.Conv2d):
            last = m
    if last is None:
        raise ValueError("encoder has no Conv2d")
    return last.out_channels


# ------------------------------------------------------------------------------ model

class VPRModel(nn.Module):
    def __init__(self, encoder, pool, wpca_dim=0, normalize="imagenet"):
        super().__init__()
        self.encoder = encoder
        self.pool = pool
        self.wpca_dim = int(wpca_dim or 0)
        if self.wpca_dim:
            in_dim = pool.num_clusters * pool.dim
            self.WPCA = nn.Sequential(nn.Conv2d(in_dim, self.wpca_dim, kernel_size=(1, 1),
                                                stride=1, padding=0, bias=True),
                                      nn.Flatten(),
                                      L2Norm(dim=-1))
        self.register_buffer("norm_mean", torch.zeros(1, 3, 1, 1), persistent=False)
        self.register_buffer("norm_std", torch.ones(1, 3, 1, 1), persistent=False)
        self.set_normalize(normalize)
        # Descriptive attributes (filled by build_model).
        self.arch = None
        self.cut = None

    def set_normalize(self, normalize):
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"unknown normalize {normalize!r}")
        mean, std = NORMALIZATIONS[normalize]
        self.normalize = normalize
        self.norm_mean.copy_(torch.tensor(mean).reshape(1, 3, 1, 1))
        self.norm_std.copy_(torch.tensor(std).reshape(1, 3, 1, 1))

    @property
    def out_dim(self):
        pool = unwrap(self.pool)
        return self.wpca_dim or pool.num_clusters * pool.dim

    def forward(self, images):
        """images: N x 3 x H x W RGB in [0, 1]."""
        x = (images - self.norm_mean) / self.norm_std
        features = self.encoder(x)
        vlad = self.pool(features)
        if self.wpca_dim:
            vlad = self.WPCA(vlad.unsqueeze(-1).unsqueeze(-1))
        return vlad


def build_model(arch, cut=None, num_clusters=64, vladv2=False, wpca_dim=0,
                normalize="imagenet", tf_padding=False, torchvision_state_dict=None):
    cut = resolve_cut(arch, cut)
    encoder = build_encoder(arch, cut, torchvision_state_dict)
    if tf_padding:
        apply_tf_padding(encoder)
    dim = encoder_dim(encoder)
    pool = NetVLAD(num_clusters=num_clusters, dim=dim, vladv2=vladv2)
    model = VPRModel(encoder, pool, wpca_dim=wpca_dim, normalize=normalize)
    model.arch = arch
    model.cut = cut
    model.tf_padding = bool(tf_padding)
    return model.eval()


def vpr_metadata(model):
    """The 'vpr' dict vpr writes into its checkpoints, for this model."""
    return {
        "format_version": 1,
        "arch": model.arch,
        "cut": int(model.cut),
        "num_clusters": int(model.pool.num_clusters),
        "dim": int(model.pool.dim),
        "vladv2": bool(model.pool.vladv2),
        "normalize": model.normalize,
        "tf_padding": bool(has_tf_padding(model.encoder)),
        "wpca_dim": int(model.wpca_dim),
    }


def model_from_vpr_metadata(meta):
    if int(meta.get("format_version", 0)) != 1:
        raise ValueError(f"unsupported vpr format_version {meta.get('format_version')!r}")
    return build_model(meta["arch"], int(meta["cut"]), int(meta["num_clusters"]),
                       vladv2=bool(meta["vladv2"]), wpca_dim=int(meta.get("wpca_dim", 0)),
                       normalize=meta["normalize"], tf_padding=bool(meta["tf_padding"]))


def unwrap(module):
    """The module inside an nn.DataParallel wrapper (or the module itself)."""
    return module.module if isinstance(module, nn.DataParallel) else module


def strip_module_prefix(state_dict):
    """Remove DataParallel's 'module.' wherever it occurs as a key component."""
    out = type(state_dict)() if isinstance(state_dict, dict) else {}
    for key, value in state_dict.items():
        parts = [p for p in key.split(".") if p != "module"]
        out[".".join(parts)] = value
    return out


# ------------------------------------------------------------------ random weights

@torch.no_grad()
def randomize_weights(model, seed, calib_size=(128, 128), calib_batch=2,
                      randomize_batchnorm=True, netvlad_gain=10.0, netvlad_noise=1.0):
    """Well-conditioned random weights, deterministic for a given seed (and torch).

    Convs keep their torchvision init (the model must be built after
    torch.manual_seed). BatchNorm layers get data-calibrated running statistics,
    perturbed (mean + N(0, 0.1) std, var * U(0.5, 1.5)), weight ~ U(0.5, 1.5) and
    bias ~ N(0, 0.1): BN is really exercised, activations stay O(1) at any depth.
    NetVLAD centroids are local descriptors of a calibration image plus noise
    (like a k-means init), conv weights gain * centroid + N(0, noise) so soft
    assignments are informative but not saturated; vladv2 bias ~ N(0, 0.5).
    WPCA weight ~ N(0, 1), bias ~ N(0, 0.1).
    """
    g = torch.Generator().manual_seed(int(seed))
    model.eval()
    # Smooth random calibration images in [0, 1].
    h, w = calib_size
    low = torch.rand(calib_batch, 3, max(h // 16, 2), max(w // 16, 2), generator=g)
    calib = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    calib = (calib + 0.15 * torch.rand(calib_batch, 3, h, w, generator=g)).clamp(0, 1)

    handles = []
    if randomize_batchnorm:
        def bn_hook(bn, inputs):
            t = inputs[0]
            c = t.shape[1]
            mean = t.mean(dim=(0, 2, 3))
            var = t.var(dim=(0, 2, 3), unbiased=False)
            var = var + 0.05 * var.mean() + 1e-4
            bn.running_mean.copy_(mean + 0.1 * torch.randn(c, generator=g) * var.sqrt())
            bn.running_var.copy_(var * (0.5 + torch.rand(c, generator=g)))
            if bn.affine:
                bn.weight.copy_(0.5 + torch.rand(c, generator=g))
                bn.bias.copy_(0.1 * torch.randn(c, generator=g))
        for m in model.encoder.modules():
            if isinstance(m, nn.BatchNorm2d):
                handles.append(m.register_forward_pre_hook(bn_hook))
    x = (calib - model.norm_mean) / model.norm_std
    feats = model.encoder(x)
    for hd in handles:
        hd.remove()

    pool = model.pool
    k, d = pool.num_clusters, pool.dim
    local = F.normalize(feats, p=2, dim=1).permute(0, 2, 3, 1).reshape(-1, d)
    idx = torch.randperm(local.shape[0], generator=g)
    if local.shape[0] >= k:
        idx = idx[:k]
    else:
        idx = idx[torch.randint(0, local.shape[0], (k,), generator=g)]
    centroids = local[idx] + 0.05 * torch.randn(k, d, generator=g) / math.sqrt(d)
    pool.centroids.copy_(centroids)
    # logit_k = w_k . x with |x| = 1: gain * cos(x, c_k) + N(0, noise^2)
    weight = netvlad_gain * F.normalize(centroids, dim=1) \
        + netvlad_noise * torch.randn(k, d, generator=g)
    pool.conv.weight.copy_(weight.reshape(k, d, 1, 1))
    if pool.conv.bias is not None:
        pool.conv.bias.copy_(0.5 * torch.randn(k, generator=g))
    if model.wpca_dim:
        conv = model.WPCA[0]
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
        conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=g))
    return model


# ------------------------------------------------------------------------------ images

def resized_size(h, w, resize=None, max_side=None):
    """Target (H, W): resize=(H, W) as given; max_side=N scales so the longer side
    is N (up or down): new = floor(x * N / max(h, w) + 0.5), at least 1."""
    if resize is not None and max_side is not None:
        raise ValueError("give resize or max_side, not both")
    if resize is not None:
        return int(resize[0]), int(resize[1])
    if max_side is not None:
        m = max(h, w)
        n = int(max_side)
        return (max(1, math.floor(h * n / m + 0.5)), max(1, math.floor(w * n / m + 0.5)))
    return h, w


def load_image(path, resize=None, max_side=None):
    """float32 tensor 3 x H x W, RGB in [0, 1].

    EXIF orientation applied (PIL.ImageOps.exif_transpose). 16-bit grayscale
    (PIL modes I;16* / I) -> value / 65535, replicated to 3 channels. Everything
    else -> .convert('RGB') (alpha dropped, not composited; gray replicated;
    palette expanded) / 255. Resize, when asked and the size changes, is
    F.interpolate(bilinear, align_corners=False, antialias=True) on [0, 1] floats
    (no clamping, no rounding back to 8 bits).
    """
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            a = np.asarray(im).astype(np.float32)
            t = torch.from_numpy(a).div(65535.0).unsqueeze(0).expand(3, -1, -1).contiguous()
        else:
            a = np.array(im.convert("RGB"), dtype=np.uint8)
            t = torch.from_numpy(a).permute(2, 0, 1).float().div(255.0).contiguous()
    h, w = t.shape[1:]
    size = resized_size(h, w, resize, max_side)
    if size != (h, w):
        t = F.interpolate(t.unsqueeze(0), size=size, mode="bilinear",
                          align_corners=False, antialias=True)[0]
    return t


def describe(model, paths, normalize=None, resize=None, max_side=None, tf_padding=None):
    """Descriptors (np.float32, N x out_dim), one image at a time, eval mode,
    no grad. normalize / tf_padding, when given, are applied to the model
    (normalize replaces the model's; tf_padding=True adds TF padding)."""
    return _describe(model, paths, normalize, resize, max_side, tf_padding,
                     torch.float32).astype(np.float32)


@torch.no_grad()
def _describe(model, paths, normalize, resize, max_side, tf_padding, dtype):
    if normalize is not None and normalize != model.normalize:
        model.set_normalize(normalize)
    if tf_padding is not None and bool(tf_padding) != has_tf_padding(model.encoder):
        if tf_padding:
            apply_tf_padding(model.encoder)
        else:
            raise ValueError("model has tf padding but tf_padding=False was asked")
    model.eval()
    out = []
    for p in paths:
        x = load_image(p, resize=resize, max_side=max_side).unsqueeze(0).to(dtype)
        out.append(model(x).to(torch.float64).numpy())
    if not out:
        return np.zeros((0, model.out_dim), np.float64)
    return np.concatenate(out, 0)


def describe_float64(model, paths, normalize=None, resize=None, max_side=None,
                     tf_padding=None):
    """describe() with a float64 copy of the model (float64 result; images are
    still decoded/resized in float32): the float32 rounding error of the
    reference is |describe - describe_float64|."""
    m64 = copy.deepcopy(model).double()
    return _describe(m64, paths, normalize, resize, max_side, tf_padding, torch.float64)


def read_image_list(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]
