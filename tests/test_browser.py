"""The demo end to end: `python app.py` in a subprocess, driven in headless Chromium (Playwright).

Runs the bundled example, checks the video and pictures arrive, clicks a point on the first
frame and waits for its MI map. Screenshots go to test-artifacts/. Needs /usr/bin/chromium
(Debian: apt-get install chromium) and the playwright package; no GPU.

The README's screenshot is this test's last page, with more points:

    DEMO_POINTS=150 DEMO_SCREENSHOT=assets/demo.png pytest -m browser
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT_S = 180  # importing torch and gradio on a busy CPU
RUN_TIMEOUT_S = 180  # the sample with 60 points: seconds on a free CPU, a minute on a busy one
README_WIDTH = 1120  # the README screenshot is shrunk to this width and 256 colours (< 500 KB)

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None


def save_small(png: Path, out: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        image = image.convert("RGB")
        small = image.resize((README_WIDTH, round(image.height * README_WIDTH / image.width)), Image.LANCZOS)
    small.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with status {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"app.py did not answer at {url} within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server():
    if sync_playwright is None:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log = ARTIFACTS / "app-server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--points", os.environ.get("DEMO_POINTS", "60")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_server(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_run_example_and_click_a_point(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(server)
            page.wait_for_selector("#run")
            page.screenshot(path=ARTIFACTS / "demo-start.png", full_page=True)

            page.click("#example label:has-text('Generated sample')")  # the first click would show real footage
            page.click("#run")  # the bundled sample: no upload needed
            page.wait_for_selector("#overlay-video video[src]", timeout=RUN_TIMEOUT_S * 1000)
            page.wait_for_selector("#key-frame img", state="visible")
            page.wait_for_selector("#mi-matrix img")  # matplotlib figures arrive as images
            page.wait_for_selector("#pr-curve", state="visible")  # the sample has ground truth
            page.wait_for_timeout(1000)  # let the video show its first frame
            page.screenshot(path=ARTIFACTS / "demo-result.png", full_page=True)

            summary = page.inner_text("#summary")  # the first words after a run, above the pictures
            assert re.match(r"Found: \d+ objects? with infonet; ", summary) and "object(s)" not in summary, summary
            assert "of 3 ground-truth objects recovered" in summary and "/tmp" not in summary, summary
            top = page.locator("#summary").bounding_box()["y"]
            assert top < page.locator("#overlay-video").bounding_box()["y"]
            assert top < page.locator("#run").bounding_box()["y"] + 200  # where the eye is when the run ends
            assert "object 1" in page.inner_text("#objects") and "background" in page.inner_text("#objects")
            downloads = page.inner_text("#downloads").replace("\n", "")  # names render as stem + suffix
            assert "labels.csv" in downloads and "mi_matrix.csv" in downloads and "result.npz" in downloads
            src = page.get_attribute("#overlay-video video", "src")
            response = page.request.get(src if src.startswith("http") else server.rstrip("/") + src)
            assert response.ok and response.body()[4:8] == b"ftyp"  # an MP4 the browser can fetch

            image = page.locator("#key-frame img")
            box = image.bounding_box()
            image.click(position={"x": box["width"] * 0.8, "y": box["height"] * 0.52})  # on an object of the sample
            page.wait_for_selector("#mi-map img", state="visible", timeout=60_000)
            page.wait_for_function(
                "() => document.querySelector('#point-info')?.innerText.includes('Track ')", timeout=60_000
            )
            assert "MI to the other tracks" in page.inner_text("#point-info")
            page.screenshot(path=ARTIFACTS / "demo-mi-map.png", full_page=True)

            # a file the browser refuses to upload (not a video): Discover refuses too, no example runs
            notes = ARTIFACTS / "notes.txt"
            notes.write_text("not a video")
            page.set_input_files("#video-input input[type=file]", notes)
            page.wait_for_timeout(1000)
            page.click("#run")
            refused = page.locator(".toast-message-text.error", has_text="notes.txt was not uploaded")
            refused.wait_for(timeout=60_000)
            assert page.inner_text("#summary") == summary  # the previous result stays, nothing ran

            broken = ARTIFACTS / "broken.mp4"  # a bad upload: a message in the page, the result stays
            broken.write_bytes(os.urandom(4096))
            page.set_input_files("#video-input input[type=file]", broken)
            page.wait_for_timeout(1000)
            page.click("#run")
            toast = page.locator(".toast-message-text.error", has_text="cannot open video broken.mp4")
            toast.wait_for(timeout=60_000)
            assert "/tmp/" not in toast.inner_text()
            assert page.locator("#overlay-video video[src]").count() == 1
            page.wait_for_timeout(1000)  # the toast slides in
            page.screenshot(path=ARTIFACTS / "demo-error.png")
            if os.environ.get("DEMO_SCREENSHOT"):
                save_small(ARTIFACTS / "demo-mi-map.png", ROOT / os.environ["DEMO_SCREENSHOT"])
        finally:
            browser.close()
