"""Benchmark: `imc report --format json` on the `imc sim --scenario scale` cluster, beside kubectl.

Run: python -m bench.bench_report [--repeat 3] [--pods 10000] [--caches 1000]
     [--kubeconfig PATH] [--compare ROOT]

Each command's wall time, CPU (user + system) and peak RSS (ru_maxrss of that child alone, from `os.wait4`) are
taken in the same run, commands alternating. `--kubeconfig` reuses a running scale sim (a 50,000-pod one takes
minutes to start); `--compare ROOT` also runs the `cli.py` of another checkout (e.g. main's) as "imc report (ROOT)",
alternating with this one's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from sim.launch import start_sim

ROOT = Path(__file__).resolve().parent.parent
SIM_POD_QUOTA = 25_000  # `imc sim`'s default --max-pods


@dataclass(frozen=True)
class Run:
    """One command's wall seconds, CPU seconds (user + system) and peak resident MiB."""

    seconds: float
    cpu: float
    peak_mib: float


def measured_run(command: list[str], cwd: Path = ROOT, stdout: Path | None = None) -> tuple[Run, bytes]:
    """One command's Run and its stdout (written to `stdout` and not read back, when given: this process stays
    small, so that its forked child's ru_maxrss, which counts what it shared with this process before exec, is the
    command's own); exits when it fails."""
    with tempfile.TemporaryFile() as err, (open(stdout, "w+b") if stdout else tempfile.TemporaryFile()) as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=str(cwd))
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(command[:4])} ... exited {process.returncode}: {err.read().decode()[-500:]}")
        out.seek(0)
        # ru_maxrss: KiB on Linux
        return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), b"" if stdout else out.read()


def timed_run(command: list[str]) -> tuple[float, bytes]:
    """Seconds one command took, and its stdout; exits when it fails (`bench.bench_sim` times its clients so)."""
    run, stdout = measured_run(command)
    return run.seconds, stdout


def main() -> None:
    """Start the scale sim (or use a running one), time each command several times, print medians and ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pods", type=int, default=None, help="pods of the scale scenario (sim default 10000)")
    parser.add_argument("--caches", type=int, default=None, help="caches of the scale scenario (sim default 1000)")
    parser.add_argument("--kubeconfig", default=None, help="a running scale sim's kubeconfig (none is started)")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another checkout whose cli.py runs too, alternating with this one's")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        sys.exit("kubectl is not on PATH")
    extra = [
        *(["--pods", str(args.pods)] if args.pods else []),
        *(["--caches", str(args.caches)] if args.caches else []),
        *(["--max-pods", str(args.pods)] if args.pods and args.pods > SIM_POD_QUOTA else []),
    ]
    with contextlib.ExitStack() as stack:
        state = stack.enter_context(tempfile.TemporaryDirectory())
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
        else:
            kubeconfig = stack.enter_context(start_sim("scale", state_dir=state, extra_args=extra, timeout=900)).kubeconfig
        cache_dir = str(Path(state) / "kubectl-cache")
        base = [kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cache_dir, "--request-timeout", "600s"]
        report = ["report", "--kubeconfig", kubeconfig, "--format", "json"]
        commands: dict[str, tuple[list[str], Path]] = {"imc report --format json": ([sys.executable, "cli.py", *report], ROOT)}
        if args.compare:
            commands[f"imc report ({args.compare})"] = ([sys.executable, "cli.py", *report], args.compare.resolve())
        commands["kubectl get pods -A -o json"] = ([*base, "get", "pods", "-A", "-o", "json"], ROOT)
        commands["kubectl get imagecaches -o json"] = ([*base, "get", "imagecaches", "-o", "json"], ROOT)
        runs: dict[str, list[Run]] = {name: [] for name in commands}
        outputs = {name: Path(state) / f"output-{number}" for number, name in enumerate(commands)}
        loads = [Path("/proc/loadavg").read_text().split()[0]]
        for _ in range(args.repeat):
            for name, (command, cwd) in commands.items():
                runs[name].append(measured_run(command, cwd, outputs[name])[0])
            loads.append(Path("/proc/loadavg").read_text().split()[0])
        results = orjson.loads(outputs["imc report --format json"].read_bytes())["results"]
        pods = len(orjson.loads(outputs["kubectl get pods -A -o json"].read_bytes())["items"])
        caches = len(orjson.loads(outputs["kubectl get imagecaches -o json"].read_bytes())["items"])
        same = not args.compare or (
            outputs[f"imc report ({args.compare})"].read_bytes() == outputs["imc report --format json"].read_bytes())
    decisions: dict[str, int] = {}
    for item in results:
        decisions[item["decision"]] = decisions.get(item["decision"], 0) + 1
    print(f"imc report vs kubectl: {pods} pods, {caches} caches, median of {args.repeat} runs"
          f" (load average {' -> '.join(loads)})")
    medians: dict[str, float] = {}
    for name, values in runs.items():
        medians[name] = statistics.median(run.seconds for run in values)
        peaks = ", ".join(f"{run.peak_mib:,.0f}" for run in values)
        print(f"  {name:<34} {medians[name]:7.2f} s  (runs {', '.join(f'{r.seconds:.2f}' for r in values)}; "
              f"CPU {statistics.median(r.cpu for r in values):.2f} s; peak RSS {peaks} MiB)")
    both = medians["kubectl get pods -A -o json"] + medians["kubectl get imagecaches -o json"]
    for name in commands:
        if name.startswith("imc report"):
            print(f"  {name} / kubectl get pods = {medians[name] / medians['kubectl get pods -A -o json']:.2f}x;"
                  f" / (kubectl get pods + imagecaches) = {medians[name] / both:.2f}x")
    if not same:
        print("  note: the two reports' JSON differ (the cluster moves between runs; compare on a still one)")
    print(f"  pods explained: {len(results)}; decisions: {decisions}")


if __name__ == "__main__":
    main()
