"""Shared by the process-level tests of `vpr serve`: a model made with `vpr cluster` from
the Gardens Point images in ../shared, a server started as a subprocess on a free
loopback port, and small HTTP helpers (urllib only)."""
import argparse
import atexit
import ctypes
import fcntl
import http.client
import json
import os
import signal
import subprocess
import sys
import time

SKIP = 77


def need_shared(shared):
    gp = os.path.join(shared, "data", "gardens_point")
    if not os.path.isdir(os.path.join(gp, "day_right")):
        print(f"SKIP: {gp} is absent (../shared/data); the vpr serve process tests need Gardens Point")
        sys.exit(SKIP)
    return gp


def model(build, shared, work):
    """MobileNetV2 features[:17] + NetVLAD K=16 at max side 160, made once per work folder."""
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "mnv2_k16_160.pth")
    with open(os.path.join(work, "model.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the serve tests run concurrently under ctest -j
        if not os.path.exists(path):
            subprocess.run([os.path.join(build, "vpr"), "cluster", "-q",
                            "--model", os.path.join(shared, "data", "weights", "mobilenet_v2_imagenet.pth"),
                            "--tf-padding", "--normalize", "tf", "--clusters", "16", "--max-side", "160",
                            "--images", os.path.join(shared, "data", "gardens_point", "day_right"),
                            "--samples-per-image", "20", "--out", path], check=True)
    return path


def setup(name):
    """Parses --build --shared --work; returns (args, Gardens Point folder, checkpoint,
    this test's own work folder)."""
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    gp = need_shared(a.shared)
    checkpoint = model(a.build, a.shared, a.work)
    work = os.path.join(a.work, name)
    os.makedirs(work, exist_ok=True)
    return a, gp, checkpoint, work


def write_list(path, images):
    with open(path, "w") as f:
        f.write("\n".join(images) + "\n")
    return path


def _die_with_parent():
    """No server outlives its test, even one killed by ctest's timeout (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class Server:
    """`vpr serve ... --port 0` as a subprocess; .port once it listens; .wait_ready()."""

    def __init__(self, build, args, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(build, "vpr"), "serve", "--port", "0"] + args,
                                     stdout=subprocess.PIPE, stderr=self.log, preexec_fn=_die_with_parent)
        atexit.register(lambda: self.proc.poll() is None and self.proc.kill())
        line = self.proc.stdout.readline().decode()
        if "http://" not in line:
            raise RuntimeError(f"vpr serve did not start: {line!r}; see {log_path}")
        self.port = int(line.rsplit(":", 1)[1].strip().strip("/"))

    def wait_ready(self, timeout=180):
        end = time.time() + timeout
        while time.time() < end:
            status, body = request(self.port, "GET", "/health")
            if status == 200:
                return json.loads(body)
            if self.proc.poll() is not None:
                raise RuntimeError(f"vpr serve exited with {self.proc.returncode} while loading")
            time.sleep(0.2)
        raise RuntimeError("vpr serve was not ready in time")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill(self, sig=9):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        self.log.close()
        return self.proc.returncode



def request(port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.read()
    except (ConnectionError, OSError):
        return None, b""  # reset / refused: the caller counts it
    finally:
        conn.close()


def post_image(port, path, image_bytes, content_type="image/jpeg", headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return request(port, "POST", path, image_bytes, h)


def read(path):
    with open(path, "rb") as f:
        return f.read()
