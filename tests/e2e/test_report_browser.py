"""report.html in a real browser: headless Chromium renders every section and decodes every image.

The run goes through ``simlab run`` (so the run folder's report is the one tested). A copy of
the report gets a small probe script that, once the page has loaded, writes what the browser
laid out (each section's heading and height, each image's decoded size) into the DOM as
JSON; ``--dump-dom`` prints the DOM after the page's scripts have run. The report itself
holds no script.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from simlab.cli import main
from simlab.testing.builders import report_experiment

CHROMIUM = shutil.which("chromium") or (os.access("/usr/bin/chromium", os.X_OK) and "/usr/bin/chromium") or None
pytestmark = pytest.mark.skipif(
    not CHROMIUM, reason="headless Chromium not found (Debian: apt-get install -y chromium); "
                         "it opens report.html to check the rendered sections")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900"]

EXPERIMENT = report_experiment("report_in_browser", n_days=600, seed=5, claims={"sharpe": {"min": 0.5}})
SECTIONS = {
    "summary": "Summary",
    "equity": "Equity against the benchmark",
    "drawdowns": "Drawdowns",
    "worst-drawdowns": "Worst drawdowns",
    "return-distribution": "Distribution of daily returns",
    "rolling-sharpe": "Rolling one-year Sharpe ratio",
    "rolling-risk": "Rolling volatility and beta",
    "monthly-returns": "Monthly returns",
    "weights": "Weights over time",
    "turnover-costs": "Turnover and costs",
    "trades": "Trades",
    "regimes": "Regimes and constraint utilization",
    "attribution": "Attribution",
    "claims": "Claims on trial",
    "caveats": "Caveats",
    "configuration": "Configuration",
}
PROBE = """<script>
window.addEventListener("load", () => {
  const sections = [...document.querySelectorAll("main > section")].map((s) => {
    const h = s.querySelector("h2");
    return {id: s.id, heading: h ? h.textContent : null, height: s.getBoundingClientRect().height,
            headingHeight: h ? h.getBoundingClientRect().height : 0};
  });
  const images = [...document.images].map((i) => ({complete: i.complete, width: i.naturalWidth,
                                                     height: i.naturalHeight, shown: i.getBoundingClientRect().width}));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({title: document.title, sections, images});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    where = tmp_path_factory.mktemp("browser")
    config = where / "experiment.yaml"
    config.write_text(yaml.safe_dump(EXPERIMENT, sort_keys=False))
    assert main(["run", str(config), "--out", str(where / "run")]) == 0
    return where / "run"


@pytest.fixture(scope="module")
def rendered(run_folder, tmp_path_factory):
    """What Chromium laid out, as the probe wrote it; and the report's own HTML."""
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    probe = tmp_path_factory.mktemp("probe") / "report_probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    profile = tmp_path_factory.mktemp("chromium-profile")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"no probe output (exit {done.returncode}); stderr tail:\n{done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1))), page


def test_run_folder_holds_the_report(run_folder):
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page


def test_browser_shows_every_section_with_its_heading(rendered):
    layout, _ = rendered
    assert layout["title"] == "report_in_browser: simlab report"
    assert {s["id"]: s["heading"] for s in layout["sections"]} == SECTIONS
    assert [s["id"] for s in layout["sections"]] == list(SECTIONS)
    for s in layout["sections"]:
        assert s["height"] > 40 and s["headingHeight"] > 10, s


def test_browser_decodes_every_image(rendered):
    layout, page = rendered
    images = layout["images"]
    assert len(images) == page.count("<img ") >= 8
    for image in images:
        assert image["complete"] and image["width"] >= 400 and image["height"] >= 200, image
        assert image["shown"] > 100, image
