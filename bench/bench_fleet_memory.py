"""The dashboard's memory per watched cluster (issue 25): its RSS with one and with two 10k-pod scale sims watched.

`python -m bench.bench_fleet_memory` starts two `imc sim --scenario scale` clusters, one kubeconfig naming them east and
west (`bench.fleet`), then the dashboard twice, with IMC_CONTEXTS=east and with IMC_CONTEXTS=east,west; Chromium opens
/fleet (which opens each context), waits until every row is Live with its pods counted, lets it run `--settle` seconds
and prints the dashboard's VmRSS and VmHWM (`bench.harness.memory_mib`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.fleet import merge_kubeconfigs
from bench.harness import chromium, memory_mib, running_sim
from bench.waits import IDLE, poll, start_dashboard

CELLS = """(name) => { const grid = document.querySelector("[data-testid='stDataFrame']"); if (!grid) return null;
 const header = [...grid.querySelectorAll('[role=columnheader]')].find(h => h.textContent.trim() === name);
 if (!header) return null; const index = header.getAttribute('aria-colindex');
 return [...grid.querySelectorAll(`[role=gridcell][aria-colindex='${index}']`)].map(c => c.textContent); }"""


def measure(kubeconfig: Path, contexts: str, home: Path, browser, settle: float) -> dict[str, float]:
    """The dashboard's memory once the Fleet page shows every context of `contexts` live."""
    wanted = contexts.split(",")
    app = start_dashboard(str(kubeconfig), home / f"streamlit-{len(wanted)}.log", IMC_CONTEXT="",
                          IMC_CONTEXTS=contexts, XDG_CACHE_HOME=str(home / "cache"))
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{app.url}/fleet")
        page.wait_for_selector(IDLE, timeout=600_000)
        poll(lambda: page.evaluate(CELLS, "Watch") == ["Live"] * len(wanted), 600, "every context live")
        time.sleep(settle)
        pods = page.evaluate(CELLS, "ECI pods")
        found = memory_mib(app.process.pid)
        page.close()
        return {"clusters": len(wanted), "eci_pods": pods, **found}
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to run once every context is live")
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="imc-fleet-") as temporary:
        home = Path(temporary)
        sims = {name: stack.enter_context(running_sim("scale")) for name in ("east", "west")}
        kubeconfig = merge_kubeconfigs({name: sim.kubeconfig for name, sim in sims.items()}, home / "kubeconfig")
        browser = stack.enter_context(chromium())
        for contexts in ("east", "east,west"):
            print(measure(kubeconfig, contexts, home, browser, args.settle), flush=True)


if __name__ == "__main__":
    main()
