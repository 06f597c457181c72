"""MkDocs hooks for the docs site (``hooks:`` in mkdocs.yml).

GitHub needs a pipe inside a table cell's code escaped (``GET\\|HEAD``) and shows it plain;
Python-Markdown keeps code spans whole in a table row but prints the backslash. The site gets
the plain pipe, so the same page reads right in both places.
"""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"`[^`\n]+`")


def on_page_markdown(markdown: str, **_: object) -> str:
    return "\n".join(
        _CODE_SPAN.sub(_unescape_pipes, line) if line.lstrip().startswith("|") else line
        for line in markdown.split("\n")
    )


def _unescape_pipes(span: re.Match[str]) -> str:
    return span.group(0).replace("\\|", "|")
