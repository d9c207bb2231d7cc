"""The web viewer in headless Chromium, driven over the DevTools protocol (on a pipe:
no websocket library needed): load the page, upload a Gardens Point day_left photo
through the file input, wait for the results, check the top match's name in the DOM,
and keep a screenshot as an artefact.
Usage: serve_browser_test.py --build B --shared S --work W"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from serve_common import SKIP, Server, setup


class DevTools:
    """Chromium started with --remote-debugging-pipe: it reads commands on fd 3 and
    writes replies and events on fd 4, each a JSON message ended by a NUL byte."""

    def __init__(self, chromium, profile, log):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():  # in the child: the pipe ends become fds 3 and 4, whatever numbers they had
            high_r, high_w = os.dup2(to_browser_r, 100), os.dup2(from_browser_w, 101)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=log, stderr=log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, timeout=60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        end = time.time() + timeout
        while time.time() < end:
            for reply in self._messages():
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
        raise RuntimeError(f"{method}: no reply in {timeout} s")

    def _messages(self):
        chunk = os.read(self.from_browser, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the DevTools pipe")
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\0")
        return [json.loads(m) for m in complete if m]

    def attach(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 1100, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def wait_for(self, expression, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {expression}")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install_deps.sh --tests installs it)")
        sys.exit(SKIP)
    a, gp, checkpoint, work = setup("browser")
    server = Server(a.build, ["--model", checkpoint, "--threads", "2", "--images", os.path.join(gp, "day_right")],
                    os.path.join(work, "serve.log"))
    server.wait_ready()
    query = os.path.join(gp, "day_left", "Image050.jpg")
    artefacts = os.path.join(a.build, "artefacts")
    os.makedirs(artefacts, exist_ok=True)
    with open(os.path.join(work, "chromium.log"), "wb") as log, tempfile.TemporaryDirectory() as profile:
        browser = DevTools(chromium, profile, log)
        try:
            browser.attach(f"http://127.0.0.1:{server.port}/")
            status = browser.wait_for("document.querySelector('#status.ok') && "
                                      "document.querySelector('#status').textContent")
            assert "200 places" in status, status
            document = browser.send("DOM.getDocument")["root"]["nodeId"]
            node = browser.send("DOM.querySelector", {"nodeId": document, "selector": "#file"})["nodeId"]
            browser.send("DOM.setFileInputFiles", {"nodeId": node, "files": [query]})
            top = browser.wait_for("document.querySelector('#matches li.best .name') && "
                                   "document.querySelector('#matches li.best .name').textContent")
            cards = browser.evaluate("document.querySelectorAll('#matches li').length")
            marks = browser.evaluate("document.querySelectorAll('#map circle.match').length")
            browser.wait_for("[...document.querySelectorAll('#matches img')].every(i => i.complete && "
                             "i.naturalWidth > 0)")
            shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            path = os.path.join(artefacts, "serve_viewer_screenshot.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    server.kill(15)
    # "#1Image050.jpg": the rank, then the name; frames within 2 are the same place.
    name = top.replace("#1", "", 1)
    frame = int(name.replace("Image", "").replace(".jpg", ""))
    print(f"viewer: status '{status}', top match {name} for day_left/Image050.jpg, {cards} cards, "
          f"{marks} map marks; screenshot {path}")
    assert abs(frame - 50) <= 2, top
    assert cards == 5 and marks == 5, (cards, marks)


if __name__ == "__main__":
    main()
