"""The report in a real browser: headless Chromium (Debian's ``chromium``) loads the page from a file URL; the
figures render (their colours are on the screenshot) and a script injected through a node text does not run."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from mentor.report import write_report

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian: apt-get install chromium; "
                                "`make test` installs it where it runs as root with apt)")  # fmt: skip
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-extensions",
         "--no-first-run", "--virtual-time-budget=3000"]  # fmt: skip
#: matplotlib's first two colours, used by every bar and line of the report's figures.
PLOT_COLOURS = ((31, 119, 180), (255, 127, 14))


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120)


def _count_near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(pixels - np.array(colour)) <= tolerance).all(axis=-1).sum())


def test_the_figures_render_and_an_injected_script_does_not_run(tmp_path, gated_run):
    page = write_report([gated_run], tmp_path / "report.html")
    url = page.resolve().as_uri()
    shot = tmp_path / "shot.png"
    _chromium("--window-size=1200,1600", f"--screenshot={shot}", url)
    assert shot.is_file(), "Chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    coloured = {colour: _count_near(pixels, colour) for colour in PLOT_COLOURS}
    assert all(count > 2000 for count in coloured.values()), coloured  # bars and lines, not blank boxes
    assert _count_near(pixels, (255, 255, 255), 0) / (pixels.shape[0] * pixels.shape[1]) < 0.9
    dom = _chromium("--dump-dom", url).stdout
    title = re.search(r"<title>(.*?)</title>", dom, re.DOTALL)
    assert title and "PWNED" not in title.group(1) and title.group(1).startswith("mentor report")
    assert "&lt;script&gt;document.title" in dom  # the injected text is on the page, as text
