"""Signed-in sessions share one store (issue 26): the dashboard's RSS with 1 and with 20 signed-in sessions.

`python -m bench.bench_signin_sessions` starts `imc sim --scenario demo`, `oidc-provider-mock` on 127.0.0.1 (a thread
of this process) and `imc dashboard` with sign-in from IMC_OIDC_* variables; Chromium signs the demo's shop writer in
once, opens the Pods page in one tab, lets it run `--settle` seconds and reads the dashboard's VmRSS; then opens it in
`--sessions` - 1 more tabs of the same browser context (each tab its own Streamlit session, signed in by the cookie),
lets them run and reads it again. Every session of a person with the same rights reads the one shared watch's
snapshot filtered once per store version (`dashboard.people`), so the second figure stays within 10 % of the first.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.harness import chromium, memory_mib, running_sim
from bench.waits import IDLE, IMC_DASHBOARD, free_port, start_dashboard
from sim.apiserver.people import DEMO_WRITER_EMAIL, DEMO_WRITER_GROUP_CLAIM


def provider() -> tuple[str, object]:
    """oidc-provider-mock on 127.0.0.1 knowing the demo's shop writer: its URL and server (shut down by the caller)."""
    import oidc_provider_mock
    import werkzeug.serving

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on the loopback
    user = oidc_provider_mock.User(sub=DEMO_WRITER_EMAIL, claims={
        "email": DEMO_WRITER_EMAIL, "email_verified": True, "groups": [DEMO_WRITER_GROUP_CLAIM]})
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(user_claims=[user]), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def open_pods(context, url: str):
    """One more tab (one more session) on the Pods page, once it is drawn."""
    page = context.new_page()
    page.goto(f"{url}/pods")
    page.wait_for_selector("text=Signed in as", timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to run before each reading")
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="imc-signin-") as temporary:
        home = Path(temporary)
        sim = stack.enter_context(running_sim("demo"))
        issuer, server = provider()
        stack.callback(server.shutdown)
        port = free_port()
        app = start_dashboard(sim.kubeconfig, home / "streamlit.log", launcher=IMC_DASHBOARD, port=port,
                              IMC_CONTEXT="sim", XDG_CACHE_HOME=str(home / "cache"), IMC_OIDC_ISSUER=issuer,
                              IMC_OIDC_CLIENT_ID="imc", IMC_OIDC_CLIENT_SECRET="bench",
                              IMC_OIDC_REDIRECT_URI=f"http://127.0.0.1:{port}/oauth2callback",
                              IMC_OIDC_COOKIE_SECRET=secrets.token_hex(32), AUTHLIB_INSECURE_TRANSPORT="1")
        stack.callback(app.stop)
        browser = stack.enter_context(chromium())
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        first = context.new_page()
        first.goto(app.url)
        first.get_by_role("button", name="Sign in").click()
        first.get_by_role("button", name=DEMO_WRITER_EMAIL).click()
        first.wait_for_selector("text=Signed in as", timeout=120_000)
        first.close()
        pages = [open_pods(context, app.url)]
        time.sleep(args.settle)
        one = memory_mib(app.process.pid)
        print({"sessions": 1, **one}, flush=True)
        pages += [open_pods(context, app.url) for _ in range(args.sessions - 1)]
        time.sleep(args.settle)
        many = memory_mib(app.process.pid)
        print({"sessions": len(pages), **many, "growth": round(many["VmRSS"] / one["VmRSS"] - 1, 3)}, flush=True)


if __name__ == "__main__":
    main()
