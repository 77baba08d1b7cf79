"""The dashboard's pages, their titles, icons and URL paths."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    """One page: its module under dashboard.pages, title, icon and URL path."""

    module: str
    title: str
    icon: str
    url_path: str


PAGES = {
    "overview": PageSpec("overview", "Overview", ":material/dashboard:", ""),
    "pods": PageSpec("pods", "Pods", ":material/deployed_code:", "pods"),
    "caches": PageSpec("caches", "Image caches", ":material/inventory_2:", "caches"),
    "radar": PageSpec("radar", "Cache radar", ":material/radar:", "radar"),
    "fleet": PageSpec("fleet", "Fleet", ":material/hub:", "fleet"),
    "preview": PageSpec("preview", "Preview", ":material/preview:", "preview"),
    "create": PageSpec("create_cache", "Create cache", ":material/add_box:", "create-cache"),
    "patch": PageSpec("patch_deployment", "Patch deployment", ":material/tune:", "patch-deployment"),
}
SECTIONS = {"Status": ("overview", "pods", "caches", "radar", "fleet"), "Change": ("preview", "create", "patch")}


def page(key: str) -> st.Page:
    """The st.Page of one page (the same page each time it is asked for)."""
    spec = PAGES[key]
    render = importlib.import_module(f"dashboard.pages.{spec.module}").render
    if not spec.url_path:
        return st.Page(render, title=spec.title, icon=spec.icon, default=True)
    return st.Page(render, title=spec.title, icon=spec.icon, url_path=spec.url_path)


def sections() -> dict[str, list[st.Page]]:
    """Every page, grouped as the sidebar shows them."""
    return {section: [page(key) for key in keys] for section, keys in SECTIONS.items()}
