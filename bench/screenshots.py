"""Screenshots of every page of the dashboard on the demo cluster, at 1440×900 and 1024×768, for a person to look at.

Run: python -m bench.screenshots [--out screenshots] [--width 1440 --width 1024] [--only pods --only pod-hit]
     [--kubeconfig PATH]
Starts a demo `imc sim` (or uses the demo cluster of --kubeconfig), `streamlit run app.py` on it and Debian's
Chromium (Playwright); saves <page>-<width>.png: Overview, Pods, Image caches, Create cache, Patch deployment,
Preview, and the detail of a pod that hits a cache, one that misses (a pod it creates) and one whose pinned cache
does not exist. Each picture is the whole page (the window made as tall as Streamlit's main block), so nothing below
the fold is left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.harness import ROOT, chromium, running_sim
from bench.waits import IDLE, poll, scaled, start_dashboard

SIZES = {1440: 900, 1024: 768}
PAGES = {"overview": "", "pods": "pods", "caches": "caches", "radar": "radar", "create-cache": "create-cache",
         "preview": "preview"}
# demo Deployments the churn leaves alone: trainer hits python-ml, inference is pinned to a cache that does not exist
POD_DETAILS = {"hit": ("ml", "trainer"), "fail": ("ml", "inference")}
PATCHED = ("shop", "cart")
MISSED = ("default", "shots-miss", "registry.example.com/shots/app:1")  # a pod of its own: no cache holds its image


def pod_of(kubeconfig: str, namespace: str, app: str) -> str:
    """The name of a pod of one demo Deployment (waited for: the sim starts them)."""
    def first() -> str | None:
        listed = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-n", namespace, "-l",
                                 f"app={app}", "-o", "json"], capture_output=True, text=True, check=True)
        names = sorted(item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]
                       if not item["metadata"].get("deletionTimestamp"))
        return names[0] if names else None
    return poll(first, 60, f"a pod of {namespace}/{app}")


def missed_pod(kubeconfig: str) -> str:
    """An ECI pod of an image no cache holds (the demo's own misses are replaced by its churn, or hit later)."""
    namespace, name, image = MISSED
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                           "labels": {"alibabacloud.com/eci": "true"}},
           "spec": {"containers": [{"name": "app", "image": image}]}}
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"], input=json.dumps(pod), text=True,
                   capture_output=True, check=True)
    return f"{namespace}/{name}"


MAIN_HEIGHT = "() => document.querySelector(\"[data-testid='stMain']\").scrollHeight"


def settle(page) -> None:
    """Wait until the script has finished its run."""
    page.wait_for_selector(IDLE, timeout=scaled(60) * 1000)


def whole(page, path: Path) -> None:
    """The whole page at the window's width: the window made as tall as Streamlit's main block, charts drawn."""
    width = page.viewport_size["width"]
    height = 0
    for _ in range(5):  # a taller window can draw more (a grid's rows): until the block stops growing
        grown = page.evaluate(MAIN_HEIGHT)
        if grown == height:
            break
        height = grown
        page.set_viewport_size({"width": width, "height": min(max(height, 600), 8000)})
        settle(page)
    charts = page.locator(".js-plotly-plot")
    for number in range(charts.count()):  # drawn, not their loading placeholders; one in a tab not shown stays hidden
        try:
            charts.nth(number).wait_for(state="visible", timeout=scaled(10) * 1000)
        except PlaywrightTimeout:
            continue
    page.screenshot(path=str(path))


def choose(page, label: str, option: str) -> None:
    """Pick an option of a selectbox by typing it."""
    page.locator("[data-testid='stSelectbox']", has_text=label).click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(option)
    page.keyboard.press("Enter")
    settle(page)


@dataclass
class Camera:
    """One browser tab of one window size on the dashboard, saving pictures under `out`."""

    page: Any
    url: str
    width: int
    out: Path
    only: set[str]

    def take(self, name: str, path: str, ready: str = "[data-testid='stMain']",
             then: Callable[[Any], None] | None = None) -> Path | None:
        """Open a page, wait for `ready`, do `then`, and save the whole page as <name>-<width>.png."""
        if self.only and name not in self.only:
            return None
        self.page.set_viewport_size({"width": self.width, "height": SIZES.get(self.width, 900)})
        self.page.goto(f"{self.url}/{path}")
        settle(self.page)
        self.page.locator(ready).first.wait_for(state="visible", timeout=scaled(30) * 1000)
        if then:
            then(self.page)
        target = self.out / f"{name}-{self.width}.png"
        whole(self.page, target)
        return target


def patched(page) -> None:
    """The Patch page on the demo's Deployment PATCHED."""
    choose(page, "Namespace", PATCHED[0])
    choose(page, "Deployment", PATCHED[1])


def shoot(url: str, kubeconfig: str, out: Path, widths: list[int], only: set[str]) -> list[Path]:
    """Every page at every width (or those in `only`); the files written."""
    pods = {kind: f"{namespace}/{pod_of(kubeconfig, namespace, app)}" for kind, (namespace, app)
            in POD_DETAILS.items() if not only or f"pod-{kind}" in only}
    if not only or "pod-miss" in only:
        pods["miss"] = missed_pod(kubeconfig)
    written = []
    with chromium() as browser:
        for width in widths:
            context = browser.new_context(viewport={"width": width, "height": SIZES.get(width, 900)})
            context.set_default_timeout(scaled(30) * 1000)
            camera = Camera(context.new_page(), url, width, out, only)
            for name, path in PAGES.items():
                written.append(camera.take(name, path, "[data-testid='stMain']" if name == "create-cache" else
                                           "[data-testid='stDataFrame'], [data-testid='stCode'], .js-plotly-plot"))
            written.append(camera.take("patch", "patch-deployment", then=patched))
            for kind, key in pods.items():
                written.append(camera.take(f"pod-{kind}", f"pods?pod={key}", "[data-testid='stMain'] h3"))
            context.close()
    return [path for path in written if path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, action="append", help="window widths (default 1440 and 1024)")
    parser.add_argument("--only", action="append", default=[], help="only these pictures (overview, pod-hit, …)")
    parser.add_argument("--kubeconfig", help="a running demo cluster's kubeconfig (default: start one)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    widths = args.width or list(SIZES)
    if args.kubeconfig:
        with tempfile.TemporaryDirectory(prefix="imc-shots-") as scratch:
            shots(args.kubeconfig, Path(scratch), args.out, widths, set(args.only))
        return
    with running_sim("demo", ("--speed", "4"), timeout=scaled(60)) as sim, \
            tempfile.TemporaryDirectory(prefix="imc-shots-") as scratch:
        shots(sim.kubeconfig, Path(scratch), args.out, widths, set(args.only))


def shots(kubeconfig: str, scratch: Path, out: Path, widths: list[int], only: set[str]) -> None:
    """The dashboard on a cluster, its pictures taken and their paths printed."""
    log = scratch / "streamlit.log"
    with start_dashboard(kubeconfig, log, XDG_CACHE_HOME=str(scratch / "cache")) as dashboard:
        for path in shoot(dashboard.url, kubeconfig, out, widths, only):
            print(path)


if __name__ == "__main__":
    main()
