"""Text from a cluster or a manifest, made inert for the places the dashboard shows it.

Streamlit renders markdown in st.markdown, captions, alerts, badges, titles, labels, toasts and help;
plotly renders a subset of HTML in its labels. A value a cluster user wrote (an annotation, an image,
a name, an event message) must never become an image, a link, code or markup there: every such value
goes through one of these functions first. Bidirectional control characters, which reorder what the
eye reads ("evil" shown as "live"), and other invisible controls are shown as <U+XXXX>.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NO_VALUE = "–"  # what a table cell, metric or figure shows where there is no value (not yet, or unknown)

# Bidi embeddings/overrides/isolates and marks, other invisible format characters, and C0/C1 controls
# except tab and newline.
INVISIBLE = re.compile("[\u200b-\u200f\u061c\u202a-\u202e\u2060-\u2069\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The same characters for pyarrow's regular expressions (RE2), which scan a table's text column without Python.
INVISIBLE_RE2 = r"[\x{200b}-\x{200f}\x{061c}\x{202a}-\x{202e}\x{2060}-\x{2069}\x{feff}\x00-\x08\x0b-\x1f\x7f-\x9f]"
# Characters that can start markup anywhere in a line (links, images, emphasis, code, tags, entities, math,
# tables, Streamlit's colour directives), written as numeric character references: CommonMark shows them
# as the character and never reads them as markup. So is the first punctuation of a word (after digits, an
# ordered list: "1."), which could open a block (list, heading, quote, rule).
MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>!#&$~|{}()+^]")
LEADING = re.compile(r"(?:\d{1,9}(?=[.)]))?([!-/:-@\[-`{-~])")
# GFM links a URL, www.-name or e-mail address in plain text even when escaped, and Streamlit turns :name:
# into an emoji or icon: such a word is written as a code span instead, shown exactly as it is.
LINKISH = re.compile(r"://|www\.|@|:[^\s:]+:", re.IGNORECASE)
WORDS = re.compile(r"(\s+)")
BACKTICKS = re.compile("`+")


def visible(value: Any) -> str:
    """The value as a string, with bidi and other invisible control characters shown as <U+XXXX>."""
    return INVISIBLE.sub(lambda found: f"<U+{ord(found.group()):04X}>", str(value))


def md(value: Any) -> str:
    """The value as literal text inside markdown: nothing in it is a link, image, code, emphasis or HTML."""
    flat = " ".join(visible(value).splitlines())
    return "".join(_code_span(word) if LINKISH.search(word) else _literal(word) for word in WORDS.split(flat))


def code(value: Any) -> str:
    """The value as one inline markdown code span, whatever backticks it holds."""
    return _code_span(" ".join(visible(value).splitlines()))


def plot(value: Any) -> str:
    """The value as literal text in a plotly label or hover text (plotly reads <a>, <b>, <br> ...)."""
    return html.escape(visible(value), quote=False)


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with control characters in its text cells shown (a copy only when one has any)."""
    changed = None
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        if _has_invisible(values):
            changed = frame.copy() if changed is None else changed
            changed[column] = values.map(lambda cell: visible(cell) if isinstance(cell, str) else cell)
    return frame if changed is None else changed


def _has_invisible(values: pd.Series) -> bool:
    """Whether any text cell holds a character `visible` would show."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        return bool(pc.any(pc.match_substring_regex(pa.array(values.array), INVISIBLE_RE2)).as_py())
    return bool(values.astype(str).str.contains(INVISIBLE.pattern, regex=True).any())


def _literal(word: str) -> str:
    lead = LEADING.match(word)
    if lead is None:
        return MARKDOWN_SPECIAL.sub(_reference, word)
    return word[:lead.start(1)] + _reference(lead[1]) + MARKDOWN_SPECIAL.sub(_reference, word[lead.end():])


def _reference(found: re.Match[str] | str) -> str:
    char = found if isinstance(found, str) else found.group()
    return f"&#{ord(char)};"


def _code_span(text: str) -> str:
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""  # CommonMark strips one each
    return f"{fence}{pad}{text}{pad}{fence}"
