"""vpr serve under hostile load (loopback only, bounded in count and time): concurrent
clients send truncated JPEGs, PNG bombs, oversized bodies, wrong content types,
malformed multipart, slow senders and valid requests mixed. The server must stay up,
answer every valid request correctly, and keep its memory flat.
Usage: serve_hostile_test.py --build B --shared S --work W"""
import collections
import json
import os
import random
import socket
import struct
import threading
import time
import zlib

from serve_common import Server, post_image, read, request, setup, write_list

MAX_REQUESTS = 900  # all kinds together
MAX_SECONDS = 60


def png_bomb(side=30000):
    """A PNG of side x side grey pixels, a few KB on disk (the header declares it all)."""
    raw = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # rows are never reached
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def slow_sender(port, seconds):
    """Headers promising a body, then a byte every half second: no read ever times out,
    so only the server's request deadline (--request-timeout) ends it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    answer = b""
    try:
        s.sendall(b"POST /v1/localize HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
        end = time.time() + seconds
        while time.time() < end:
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break  # closed by the server
                answer += chunk
            except BlockingIOError:
                pass
            s.send(b"\xff")
            time.sleep(0.5)
        else:
            return "not cut off"
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.close()
    return "cut off with 408" if b" 408 " in answer else "cut off"


def main():
    a, gp, checkpoint, work = setup("hostile")
    db_dir = os.path.join(gp, "day_right")
    names = sorted(os.listdir(db_dir))[:40]
    listing = write_list(os.path.join(work, "database.txt"), [os.path.join(db_dir, n) for n in names])
    server = Server(a.build, ["--model", checkpoint, "--threads", "2", "--images", listing,
                              "--images-root", db_dir, "--max-body-bytes", "2000000", "--max-pixels", "20000000",
                              "--read-timeout", "2", "--request-timeout", "3", "--http-threads", "8", "--queue-capacity", "64"],
                    os.path.join(work, "serve.log"))
    server.wait_ready()
    photos = {n: read(os.path.join(db_dir, n)) for n in names}
    jpeg = photos[names[0]]
    bomb = png_bomb()
    kinds = {
        "valid": None,
        "truncated_jpeg": lambda: post_image(server.port, "/v1/localize", jpeg[: len(jpeg) // 2]),
        "png_bomb": lambda: post_image(server.port, "/v1/localize", bomb, "image/png"),
        "oversized_body": lambda: post_image(server.port, "/v1/localize", b"\xff" * 3_000_000),
        "wrong_content_type": lambda: post_image(server.port, "/v1/localize", jpeg, "text/plain"),
        "malformed_multipart": lambda: post_image(
            server.port, "/v1/localize", b"--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\xff\xd8",
            "multipart/form-data; boundary=b"),
        "garbage_path": lambda: request(server.port, "GET", "/v1/places/" + "9" * 30 + "/../../etc/passwd"),
        "bad_k": lambda: post_image(server.port, "/v1/localize?k=-1", jpeg),
    }
    expected = {"truncated_jpeg": {400}, "png_bomb": {400}, "oversized_body": {413, None},
                "wrong_content_type": {415}, "malformed_multipart": {400}, "garbage_path": {404},
                "bad_k": {400}}
    sent = collections.Counter()
    answers = collections.defaultdict(collections.Counter)
    wrong = []
    lock = threading.Lock()
    start = time.time()

    # Warm up, then the memory baseline.
    for n in names[:10]:
        post_image(server.port, "/v1/localize", photos[n])
    rss_before = server.rss_kb()

    def client(seed):
        rng = random.Random(seed)
        while time.time() - start < MAX_SECONDS:
            with lock:
                if sum(sent.values()) >= MAX_REQUESTS:
                    return
                kind = "valid" if rng.random() < 0.4 else rng.choice(list(expected))
                sent[kind] += 1
            if kind == "valid":
                name = rng.choice(names)
                status, body = post_image(server.port, "/v1/localize?k=3", photos[name])
                ok = status == 200 and json.loads(body)["matches"][0]["name"] == name
                if not ok:
                    with lock:
                        wrong.append((name, status, body[:200]))
            else:
                status, body = kinds[kind]()
                ok = status in expected[kind]
                if ok and status is not None:
                    ok = "error" in json.loads(body)
                if not ok:
                    with lock:
                        wrong.append((kind, status, body[:200]))
            with lock:
                answers[kind][status] += 1

    slow = []
    slow_threads = [threading.Thread(target=lambda: slow.append(slow_sender(server.port, 8))) for _ in range(4)]
    clients = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in slow_threads + clients:
        t.start()
    for t in slow_threads + clients:
        t.join()
    elapsed = time.time() - start
    rss_after = server.rss_kb()
    alive = server.proc.poll() is None
    status, _ = request(server.port, "GET", "/health")
    metrics = request(server.port, "GET", "/metrics")[1].decode()
    server.kill(15)
    print(f"{sum(sent.values())} requests in {elapsed:.1f} s, 16 clients + 4 slow senders")
    for kind in sorted(sent):
        print(f"  {kind:20s} sent {sent[kind]:4d}  answers {dict(answers[kind])}")
    print(f"  slow senders: {collections.Counter(slow)}")
    print(f"RSS before {rss_before / 1024:.0f} MB, after {rss_after / 1024:.0f} MB; server alive: {alive}; "
          f"crashes: {0 if alive else 1}")
    assert alive and status == 200, "the server died"
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:3]}"
    assert sent["valid"] > 20, sent
    assert all(s.startswith("cut off") for s in slow), slow
    assert rss_after < rss_before * 1.5 + 100 * 1024, (rss_before, rss_after)
    assert 'vpr_http_requests_total{route="/v1/localize",status="413"}' in metrics or answers["oversized_body"][None]


if __name__ == "__main__":
    main()
