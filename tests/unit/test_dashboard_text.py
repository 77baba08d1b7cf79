"""Cluster text made inert for markdown and plotly (dashboard/text.py), checked with a CommonMark parser."""

from __future__ import annotations

import html

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from markdown_it import MarkdownIt

from core.figures import counted
from dashboard.text import INVISIBLE, INVISIBLE_RE2, code, inert_frame, md, plot, visible

HOSTILE = [
    "![x](http://127.0.0.1:9/img.png)",
    "[link](http://127.0.0.1:9/)",
    "<img src=http://127.0.0.1:9/h.png>",
    "a`b``c` **bold** _it_ ~~s~~ $x^2$ :red[red] :smile:",
    "- item",
    "1. first",
    "# heading",
    "> quote",
    "---",
    "| a | b |",
    "&lt; &amp; &#60;",
    "see http://127.0.0.1:9/x and www.example.com or a@b.co",
    "evil\u202eevil",
    "tab\there\nnew line",
]
PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def inline_tokens(markdown: str) -> list[str]:
    """The types of every token a CommonMark parser reads from the text (blocks and inline)."""
    found = []
    for token in PARSER.parse(markdown):
        found.append(token.type)
        found.extend(child.type for child in token.children or ())
    return found


def shown_text(markdown: str) -> str:
    """What a browser would show of the markdown: the rendered HTML without tags, entities decoded."""
    rendered = PARSER.render(markdown)
    return html.unescape(rendered.replace("<p>", "").replace("</p>", "").replace("<code>", "")
                         .replace("</code>", "")).strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_md_is_one_paragraph_of_plain_text_and_code(value):
    tokens = inline_tokens(md(value))
    assert set(tokens) <= {"paragraph_open", "inline", "text", "code_inline", "paragraph_close", "softbreak"}, tokens


@pytest.mark.parametrize("value", HOSTILE)
def test_md_shows_the_value_itself(value):
    expected = " ".join(visible(value).splitlines())
    assert shown_text(md(value)) == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_code_is_one_code_span_of_the_value(value):
    tokens = inline_tokens(code(value))
    assert tokens.count("code_inline") == 1 and "link_open" not in tokens and "image" not in tokens
    assert shown_text(code(value)) == " ".join(visible(value).splitlines())


def test_words_that_would_be_linked_become_code():
    assert md("see http://x.example/a now") == "see `http://x.example/a` now"
    assert md("mail a@b.co") == "mail `a@b.co`"
    assert md(":material/home:") == "`:material/home:`"


def test_plain_names_stay_readable():
    assert md("shop/web-1") == "shop/web-1"
    assert md("nginx:1.25") == "nginx:1.25"
    assert code("imc-web") == "`imc-web`"


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
                                  "\u2069", "\u200e", "\u200f", "\u061c", "\x00", "\x1b"])
def test_bidi_and_control_characters_are_shown(char):
    assert visible(f"a{char}b") == f"a<U+{ord(char):04X}>b"
    assert char not in md(f"a{char}b") and char not in code(f"a{char}b") and char not in plot(f"a{char}b")


def test_an_rtl_override_cannot_turn_evil_into_live():
    assert visible("\u202elive") == "<U+202E>live"


def test_plot_labels_cannot_carry_plotly_html():
    assert plot('<a href="http://x">y</a><br>') == '&lt;a href="http://x"&gt;y&lt;/a&gt;&lt;br&gt;'


def test_frame_cells_show_control_characters_and_keep_other_columns():
    frame = pd.DataFrame({"Name": ["ok", "ev\u202eil"], "Count": [1, 2], "Other": ["x\u2066", "plain"]})
    shown = inert_frame(frame)
    assert shown["Name"].tolist() == ["ok", "ev<U+202E>il"]
    assert shown["Other"].tolist() == ["x<U+2066>", "plain"]
    assert shown["Count"].tolist() == [1, 2]
    assert frame["Name"][1] == "ev\u202eil"  # the shared frame is untouched


def test_a_clean_frame_is_returned_as_is():
    frame = pd.DataFrame({"Name": ["a", "b"]})
    assert inert_frame(frame) is frame


def test_only_what_opens_a_block_is_escaped_at_the_start_of_a_word():
    assert md("document 1: nested") == "document 1: nested"
    assert md("1. first") == "1&#46; first"
    assert md("-x") == "&#45;x"


def test_the_arrow_pattern_finds_the_same_characters():
    characters = [chr(point) for point in range(0x110000) if not 0xD800 <= point < 0xE000]
    found = pc.match_substring_regex(pa.array(characters), INVISIBLE_RE2).to_pylist()
    assert found == [INVISIBLE.search(character) is not None for character in characters]


def test_text_columns_of_arrow_and_object_dtype_are_both_made_visible():
    frame = pd.DataFrame({"Arrow": pd.array(["a", "b\u200b", None], dtype="str"),
                          "Object": pd.Series(["c\x07", 1, None], dtype=object)})
    shown = inert_frame(frame)
    assert shown["Arrow"].tolist()[:2] == ["a", "b<U+200B>"]
    assert shown["Object"].tolist()[:2] == ["c<U+0007>", 1]


def test_counted_says_one_thing_in_the_singular_and_others_in_the_plural():
    assert [counted(n, "pod") for n in (0, 1, 2, 1000)] == ["0 pods", "1 pod", "2 pods", "1,000 pods"]
