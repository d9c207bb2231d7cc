"""vpr serve keeps every acknowledged write: places added over HTTP survive a kill -9 at
any moment, and a restart serves them; SIGTERM finishes requests in flight and writes
the database. Usage: serve_durability_test.py --build B --shared S --work W"""
import json
import os
import random
import signal
import threading
import time

from serve_common import Server, post_image, read, request, setup, write_list


def add_until_killed(port, images, acked, stop):
    i = 0
    while not stop.is_set():
        name = f"added_{i:04d}"
        status, body = post_image(port, f"/v1/places?name={name}&x={i}&y={-i}",
                                  read(images[i % len(images)]))
        if status == 201:
            acked.append((json.loads(body)["id"], name, i))
        elif status is None:
            return  # the server is gone
        i += 1


def check_restart(build, args, work, acked, expected_size, trial):
    server = Server(build, args, os.path.join(work, f"serve_{trial}_restart.log"))
    health = server.wait_ready()
    assert health["database_size"] >= expected_size, (health, expected_size)
    for place_id, name, i in acked:
        status, body = request(server.port, "GET", f"/v1/places/{place_id}")
        assert status == 200, f"acknowledged place {place_id} ({name}) lost after kill -9 (trial {trial})"
        place = json.loads(body)
        assert place["name"] == name and place["position"] == [i, -i], place
    return server, health


def main():
    a, gp, checkpoint, work = setup("durability")
    for f in os.listdir(work):
        os.remove(os.path.join(work, f))
    images = sorted(os.path.join(gp, "day_left", f) for f in os.listdir(os.path.join(gp, "day_left")))[:20]
    listing = write_list(os.path.join(work, "database.txt"), images[:10])
    db = os.path.join(work, "map.vprdb")
    root = os.path.join(gp, "day_left")
    base = ["--model", checkpoint, "--threads", "1", "--images-root", root, "--snapshot-every", "7"]
    server = Server(a.build, base + ["--db", db, "--images", listing], os.path.join(work, "serve_build.log"))
    assert server.wait_ready()["database_size"] == 10
    random.seed(5)
    expected = 10
    kills = []
    for trial in range(4):
        acked, stop = [], threading.Event()
        writer = threading.Thread(target=add_until_killed, args=(server.port, images, acked, stop))
        writer.start()
        delay = random.uniform(0.3, 2.0)
        time.sleep(delay)
        server.kill(signal.SIGKILL)  # mid-stream: some adds acknowledged, one perhaps in flight
        stop.set()
        writer.join()
        expected += len(acked)
        kills.append((round(delay, 2), len(acked)))
        server, health = check_restart(a.build, base + ["--db", db], work, acked, expected, trial)
        expected = health["database_size"]  # an add in flight may have landed unacknowledged
        # The places added survive in the index too: an added photo finds itself first.
        if acked:
            place_id, name, i = acked[-1]
            status, body = post_image(server.port, "/v1/localize?k=50", read(images[i % len(images)]))
            ids = [m["id"] for m in json.loads(body)["matches"]]
            assert status == 200 and place_id in ids, (status, place_id, ids[:5])
    # SIGTERM: requests in flight finish, the database is written, the journal emptied.
    slow = []
    t = threading.Thread(target=lambda: slow.append(post_image(server.port, "/v1/places?name=last", read(images[0]))))
    t.start()
    time.sleep(0.05)
    server.kill(signal.SIGTERM)
    t.join()
    assert server.proc.returncode == 0, server.proc.returncode
    journal = os.path.getsize(db + ".journal")
    leftovers = [f for f in os.listdir(work) if ".tmp." in f]
    assert not leftovers, leftovers
    print(f"kill -9 trials (delay s, acknowledged adds): {kills}; database {expected} places; "
          f"SIGTERM: in-flight add -> {slow[0][0] if slow else 'not sent'}, journal {journal} bytes after, "
          f"no temporary files left")


if __name__ == "__main__":
    main()
