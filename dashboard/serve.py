"""`imc dashboard [STREAMLIT OPTIONS]`: the dashboard, with sign-in checked before it starts.

Sign-in comes from IMC_OIDC_* variables (a pod's Secret; written into a private secrets file Streamlit reads at
start-up) or from an [auth] section of .streamlit/secrets.toml. A setting that cannot work (a cookie_secret missing
or shorter than 32 bytes, say) stops start-up with one line; without either, the dashboard starts as `streamlit run
app.py` does, with no sign-in.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dashboard.auth_settings import auth_from_environment, auth_problem, secrets_toml

APP = Path(__file__).resolve().parents[1] / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options: any of `streamlit run`'s, passed on (--server.port 8501, say)."""
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of `streamlit run`, passed on")


def secrets_files(home: str, cwd: str) -> list[Path]:
    """Where Streamlit looks for secrets.toml by default, in its order (the later wins)."""
    return [Path(home) / ".streamlit" / "secrets.toml", Path(cwd) / ".streamlit" / "secrets.toml"]


def file_auth(paths: list[Path]) -> tuple[Mapping[str, Any] | None, str]:
    """The [auth] section of the secrets files and where it is; ValueError naming a file that cannot be read."""
    found: tuple[Mapping[str, Any] | None, str] = (None, "")
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path} cannot be read: {exc}") from None
        if isinstance(data.get("auth"), Mapping):
            found = (data["auth"], str(path))
    return found


def private_secrets(text: str) -> Path:
    """A secrets file only this user can read, in a directory of its own."""
    folder = Path(tempfile.mkdtemp(prefix="imc-secrets-"))
    path = folder / "secrets.toml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def streamlit_command(options: list[str], environ: Mapping[str, str], home: str, cwd: str
                      ) -> tuple[list[str] | None, str | None]:
    """The command that starts the dashboard, or why it must not start (one line)."""
    section = auth_from_environment(environ)
    source = "the environment"
    if section is None:
        try:
            section, source = file_auth(secrets_files(home, cwd))
        except ValueError as exc:
            return None, str(exc)
    if section is not None:
        problem = auth_problem(section, source)
        if problem:
            return None, problem
    extra: list[str] = []
    if section is not None and source == "the environment":
        extra = ["--secrets.files", str(private_secrets(secrets_toml(section)))]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *extra, *options], None


def run(args: argparse.Namespace) -> int:
    """Check sign-in, then become `streamlit run app.py` (exit 2 with one line when sign-in cannot work)."""
    options = [option for option in args.options if option != "--"]
    command, problem = streamlit_command(options, os.environ, str(Path.home()), os.getcwd())
    if command is None:
        print(f"imc dashboard: {problem}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # not reached: the process is streamlit's now
