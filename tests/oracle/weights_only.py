"""torch.load(path, weights_only=True), the default since PyTorch 2.6, on any PyTorch.

PyTorch 1.13's weights-only unpickler lacks BINFLOAT (added in 2.0), so it refuses any
checkpoint holding a Python float, torch.save's own included. There the same contract
is checked directly: every pickle opcode and global of data.pkl must be one that
current PyTorch's weights-only unpickler accepts; then the file is loaded normally.
"""
import pickletools
import zipfile

import torch

# torch/_weights_only_unpickler.py of PyTorch 2.6.
ALLOWED_OPCODES = {
    "GLOBAL", "NEWOBJ", "REDUCE", "BUILD", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "MARK", "TUPLE", "TUPLE1",
    "TUPLE2", "TUPLE3", "NONE", "NEWFALSE", "NEWTRUE", "EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET",
    "BININT", "BININT1", "BININT2", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING", "BINPERSID", "BINGET",
    "LONG_BINGET", "BINPUT", "LONG_BINPUT", "LONG1", "PROTO", "STOP",
}
ALLOWED_GLOBALS = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter"}
ALLOWED_GLOBALS |= {f"torch {name}" for name in (
    "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage", "ShortStorage",
    "CharStorage", "ByteStorage", "BoolStorage")}


def _native_weights_only():
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 0)


def load(path, **kwargs):
    if _native_weights_only():
        return torch.load(path, weights_only=True, **kwargs)
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith("/data.pkl")]
        if len(names) != 1:
            raise AssertionError(f"{path}: not a torch.save zip archive (records: {z.namelist()[:8]})")
        for op, arg, _ in pickletools.genops(z.read(names[0])):
            if op.name not in ALLOWED_OPCODES:
                raise AssertionError(f"{path}: opcode {op.name} is refused by torch.load(weights_only=True)")
            if op.name == "GLOBAL" and arg not in ALLOWED_GLOBALS:
                raise AssertionError(f"{path}: global {arg!r} is refused by torch.load(weights_only=True)")
    return torch.load(path, **kwargs)
