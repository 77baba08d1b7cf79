"""The `imc` command: explain manifests, report on a live cluster, run the built-in cluster."""

from __future__ import annotations

import argparse
import atexit
import codecs
import gc
import importlib
import json
import os
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime

COMMANDS = {
    "explain": "decide which ImageCache each pod template would hit, and why",
    "report": "explain every ECI pod of a live cluster",
    "sim": "run the built-in ECI cluster (HTTPS Kubernetes API)",
    "exporter": "watch a cluster and serve Prometheus metrics (no dashboard)",
    "dashboard": "serve the dashboard (streamlit run app.py), sign-in (IMC_OIDC_*) checked first",
}
# Subcommands whose options and runner live beside their code (add_arguments, run); imported only when chosen,
# so that `imc explain` never loads the Kubernetes client, uvicorn or Streamlit (report's and exporter's runners
# import kube/ inside them for the same reason).
SUBCOMMAND_MODULES = {"sim": "sim.command", "dashboard": "dashboard.serve"}
REPORT_FORMATS = ("table", "json", "csv")
REPORT_WINDOWS = ("1h", "24h", "7d", "30d")  # `core.figures.WINDOWS`' names without their space


class InputError(Exception):
    """Bad input to a command: one clear line, exit 2."""


def _read_source(path: str, stdin_used: list[bool]) -> str | bytes:
    """The bytes of a file, or of standard input for '-' (once)."""
    if path == "-":
        if stdin_used[0]:
            raise InputError("-: standard input can be read only once")
        stdin_used[0] = True
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def _objects(path: str, stdin_used: list[bool]) -> list[tuple[int, dict]]:
    """The Kubernetes objects in one file, each with its document number."""
    from core.errors import ManifestError
    from core.manifests import load_numbered

    try:
        return load_numbered(_read_source(path, stdin_used), "<stdin>" if path == "-" else path)
    except ManifestError as exc:
        raise InputError(str(exc)) from None


def _fail_on(value: str) -> frozenset[str]:
    """The --fail-on list of decisions."""
    from core.matching import OUTCOMES

    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(OUTCOMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown decision {', '.join(unknown)} (choose from {', '.join(OUTCOMES)})")
    return names


def _at(value: str) -> datetime:
    """The --at instant."""
    from core.errors import ImcError
    from core.timeutil import parse_time

    try:
        moment = parse_time(value)
    except ImcError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if moment is None:
        raise argparse.ArgumentTypeError("empty timestamp")
    return moment


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `imc explain`."""
    parser.add_argument(
        "manifests", nargs="+", metavar="MANIFEST", help="YAML/JSON files of pods or workloads, - for stdin"
    )
    parser.add_argument("--caches", action="append", default=[], metavar="PATH", help="ImageCache objects (repeatable)")
    parser.add_argument(
        "--without", action="append", default=[], metavar="NAME",
        help="decide as if the cache NAME (of --caches) were deleted, and print the impact (repeatable)",
    )
    parser.add_argument(
        "--with", dest="with_", action="append", default=[], metavar="PATH",
        help="decide as if these proposed ImageCaches existed and were Ready, and print the impact (repeatable)",
    )
    parser.add_argument(
        "--at", type=_at, default=None, metavar="RFC3339", help="decide as of this instant (default: now)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--fail-on",
        type=_fail_on,
        default=frozenset(),
        metavar="DECISIONS",
        help="exit 1 when any of these decisions occurs (after --without/--with), e.g. miss,fail,off",
    )


def _caches(paths: list[str], stdin_used: list[bool]) -> list[tuple[dict, object]]:
    """The ImageCache objects of these files, each with its CacheView; a malformed one is an InputError."""
    from core.caches import KIND as CACHE_KIND
    from core.caches import cache_from_object

    caches = []
    for path in paths:
        for number, obj in _objects(path, stdin_used):
            if obj.get("kind") != CACHE_KIND:
                raise InputError(f"{path}: document {number}: a {obj.get('kind')}, not an ImageCache")
            cache = cache_from_object(obj)
            invalid = [f.message.removesuffix("; ignored") for f in cache.findings if f.code == "invalid-field"]
            if invalid:
                raise InputError(f"{path}: document {number}: ImageCache {cache.name}: {invalid[0]}")
            caches.append((obj, cache))
    return caches


def run_explain(args: argparse.Namespace) -> int:
    """Decide and explain every pod template of the manifests against the caches (as changed by --without/--with)."""
    from core.errors import ManifestError
    from core.impact import CacheChange, ChangeError, Workload, changed_caches, impact_of
    from core.matching import CacheIndex, explain
    from core.render import render_impact, render_report
    from core.workloads import templates_from

    stdin_used = [False]
    at = args.at or datetime.now(UTC)
    try:
        caches = [cache for _, cache in _caches(args.caches, stdin_used)]
        changes = [CacheChange("delete", name) for name in args.without]
        changes += [CacheChange("add", cache.name, cache=obj) for obj, cache in _caches(args.with_, stdin_used)]
        templates = []
        for path in args.manifests:
            for number, obj in _objects(path, stdin_used):
                try:
                    templates.extend(templates_from(obj))
                except ManifestError as exc:
                    raise InputError(f"{path}: document {number}: {exc}") from None
        try:
            decided = changed_caches(caches, changes, at)
        except ChangeError as exc:
            option = "--without" if exc.change is not None and exc.change.kind == "delete" else "--with"
            raise InputError(f"{option}: {exc}") from None
    except InputError as exc:
        print(f"imc explain: {exc}", file=sys.stderr)
        return 2
    index = CacheIndex(decided)
    explanations = [explain(template, index, at) for template in templates]
    impact = None
    if changes:
        # a manifest's template stands for its workload; how many pods it runs is not known here (pods 0)
        workloads = [Workload(f"{t.kind}/{t.name}", t.namespace, t, 0) for t in templates]
        impact = impact_of(workloads, caches, changes, at)
    if args.format == "json":
        document = {"results": [item.to_dict() for item in explanations]}
        if impact is not None:
            document["impact"] = impact.to_dict()
        print(json.dumps(document, indent=2))
    else:
        print(render_report(explanations, index, at))
        if impact is not None:
            print("\n" + render_impact(impact))
    failed = {item.decision.outcome for item in explanations} & args.fail_on
    return 1 if failed else 0


def not_available(command: str) -> int:
    """A subcommand whose dependencies are not installed: one line, exit 2."""
    print(f"imc {command}: not available in this installation", file=sys.stderr)
    return 2


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Options naming the cluster to read: --kubeconfig and --context."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: $IMC_CONTEXT, else the current one)")


REPORT_EPILOG = ("Several contexts (--context repeated, or --all-contexts): each pod with its cluster (a CLUSTER "
                 "column, a cluster field, a cluster CSV column); a context that cannot be read is one line on stderr "
                 "and the others are reported. Exit code: 0 all read; 1 some contexts could not be read (the others "
                 "were reported); 2 none could be read, or a usage error.")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `imc report`."""
    parser.epilog = REPORT_EPILOG
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    contexts = parser.add_mutually_exclusive_group()
    contexts.add_argument("--context", action="append", default=None, metavar="CONTEXT",
                          help="kubeconfig context (default: $IMC_CONTEXT, else the current one); repeat it to "
                               "report several clusters")
    contexts.add_argument("--all-contexts", action="store_true",
                          help="report every context of the kubeconfig, one per cluster (a context naming the "
                               "cluster of an earlier one, as sim-viewer beside sim, is left out)")
    parser.add_argument("--namespace", "-n", help="only pods of this namespace (default: all namespaces)")
    parser.add_argument("--format", choices=REPORT_FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--window", choices=REPORT_WINDOWS, default="24h",
                        help="the headline figures' window, as the Overview's picker (default: 24h): from the history "
                             "file when history is kept (IMC_HISTORY, IMC_HISTORY_PATH), else from the pods alive now")


def end_process(code: int) -> None:
    """End this process now with an exit code: exit handlers run and output is flushed, but the objects are left to
    the OS (a 10,000-pod report's ~100,000 objects took ~0.2 s to free one by one, and more to tear down)."""
    atexit._run_exitfuncs()  # e.g. the kubernetes client's removal of the certificate files it wrote
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def write_pieces(pieces: Iterable[bytes | str]) -> None:
    """Write output made in pieces as each comes: text through stdout's own encoding, bytes (UTF-8) straight to its
    buffer when it encodes UTF-8 itself (the same bytes, without decoding and encoding 100 MB again), else as text."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    utf8 = buffer is not None and codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    if utf8:
        stream.flush()
    for piece in pieces:
        if isinstance(piece, str):
            stream.write(piece)
        elif utf8:
            buffer.write(piece)
        else:
            stream.write(piece.decode())


def report_contexts(args: argparse.Namespace) -> list[str | None]:
    """The contexts `imc report` reads: those of --context, every one with --all-contexts, else the default one
    (None); ConnectError when the kubeconfig cannot be read for --all-contexts."""
    from kube.connect import kubeconfig_contexts

    if args.all_contexts:
        return list(kubeconfig_contexts(args.kubeconfig))
    return list(dict.fromkeys(args.context)) if args.context else [None]


def run_report(args: argparse.Namespace, own_process: bool = False) -> int:
    """Connect, take one snapshot per context, print them; a context that cannot be read is one line on stderr
    (exit 2 when none could be read, 1 when some; see REPORT_EPILOG).

    `own_process`: the process is this command's alone, and ends once the report is printed (see `end_process`).
    """
    from core.figures import window_named
    from core.render import REPORT_FORMATTERS, REPORT_STREAMS, ClusterPart
    from kube.connect import ConnectError
    from kube.report import history_ledger, iter_results, report_context

    try:
        contexts = report_contexts(args)
    except ConnectError as exc:
        print(f"imc report: {exc}", file=sys.stderr)
        return 2
    several = len(contexts) > 1
    # ~100,000 listed objects, all kept to the end: the cyclic collector would only scan them again and again as
    # they pile up (~1.5 s of CPU at 10,000 pods), and has nothing to free
    collecting = gc.isenabled()
    gc.disable()
    ledger = history_ledger()
    try:
        reports = []
        for context in contexts:
            # over several contexts each is its own cluster in the ledger, by its context's name (IMC_CLUSTER names
            # the one cluster of a process)
            report = report_context(args.kubeconfig, context, args.namespace, window_named(args.window), time.time(),
                                    ledger, context if several else None)
            if report.error is not None:
                print(f"imc report: {report.error}", file=sys.stderr)
            where = f"context {report.context!r}: " if several else ""
            for problem in report.warnings:
                print(f"imc report: warning: {where}{problem}", file=sys.stderr)
            reports.append(report)
        if ledger is not None:
            ledger.close()
            ledger = None
        read = [report for report in reports if report.error is None]
        if not read:
            return 2
        if several:
            items = ({"cluster": report.context, **item} for report in read for item in iter_results(report.snapshot))
            shown = (items, None, [ClusterPart(report.context, report.figures, report.error) for report in reports])
        else:
            shown = (iter_results(read[0].snapshot), read[0].figures)
        if args.format in REPORT_STREAMS:
            write_pieces(REPORT_STREAMS[args.format](*shown))
        else:
            sys.stdout.write(REPORT_FORMATTERS[args.format](list(shown[0]), *shown[1:]))
        code = 1 if len(read) < len(reports) else 0
        if own_process:
            end_process(code)
        return code
    finally:
        if ledger is not None:
            ledger.close()
        if collecting:
            gc.enable()


def add_exporter_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `imc exporter`."""
    add_connection_arguments(parser)
    parser.add_argument("--port", type=int, default=None,
                        help="where /metrics listens (default: $IMC_METRICS_PORT, else 9108)")
    parser.add_argument("--address", default=None, help="bind address (default: $IMC_METRICS_ADDRESS, else 0.0.0.0)")


def run_exporter(args: argparse.Namespace) -> int:
    """Watch one cluster and serve /metrics until SIGTERM or Ctrl-C; exit 2 with one line when it cannot start."""
    import signal
    import threading

    try:
        from kube.connect import ConnectError, connect
        from kube.exporter import ExporterError, exporter_settings, start_exporter
    except ModuleNotFoundError:
        return not_available("exporter")

    try:
        settings = exporter_settings(args.port, args.address)
        connection = connect(kubeconfig=args.kubeconfig, context=args.context)
    except (ExporterError, ConnectError) as exc:
        print(f"imc exporter: {exc}", file=sys.stderr)
        return 2
    try:
        exporter = start_exporter(connection, settings)
    except ExporterError as exc:
        print(f"imc exporter: {exc}", file=sys.stderr)
        connection.close()
        return 2
    print(f"imc exporter: serving {exporter.endpoint.url} for cluster {exporter.live.cluster} "
          f"(history {exporter.history})", flush=True)
    if exporter.history_problem:
        print(f"imc exporter: {exporter.history_problem}", file=sys.stderr, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        exporter.stop()
        connection.close()
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of `imc`, with the options of the subcommand `command` only (None: none)."""
    parser = argparse.ArgumentParser(prog="imc", description="Explain and manage Alibaba Cloud ECI ImageCaches.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, help_text in COMMANDS.items():
        subparser = sub.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
        if name != command:
            continue
        if name == "explain":
            add_explain_arguments(subparser)
        elif name == "report":
            add_report_arguments(subparser)
        elif name == "exporter":
            add_exporter_arguments(subparser)
        else:
            try:
                importlib.import_module(SUBCOMMAND_MODULES[name]).add_arguments(subparser)
            except ModuleNotFoundError as exc:
                if exc.name != SUBCOMMAND_MODULES[name]:
                    raise
    return parser


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named on a command line (`imc` itself takes no option but --help), or None."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _unicode_escape(error: UnicodeError) -> tuple[str, int]:
    """Unencodable characters as JSON's \\uXXXX escapes (UTF-16 pairs above U+FFFF), valid inside JSON too."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    units = error.object[error.start : error.end].encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2)), error.end


def escape_what_the_terminal_cannot_show() -> None:
    """Print a character stdout's encoding lacks (ASCII, Latin-1) as an escape, never fail on it."""
    codecs.register_error("imc-unicode-escape", _unicode_escape)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="imc-unicode-escape")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `imc` console script; with argv, a command run in this process (which goes on after it)."""
    own_process = argv is None
    argv = sys.argv[1:] if argv is None else argv
    escape_what_the_terminal_cannot_show()
    if argv[:1] == ["dashboard"] and argv[1:2] not in (["-h"], ["--help"]):
        # streamlit's options (--server.port 8501) are passed on as they are, not parsed here
        args = argparse.Namespace(command="dashboard", options=argv[1:])
    else:
        args = build_parser(chosen_command(argv)).parse_args(argv)
    try:
        if args.command == "explain":
            return run_explain(args)
        if args.command == "report":
            return run_report(args, own_process=own_process)
        if args.command == "exporter":
            return run_exporter(args)
        try:
            module = importlib.import_module(SUBCOMMAND_MODULES[args.command])
        except ModuleNotFoundError:
            return not_available(args.command)
        return module.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
