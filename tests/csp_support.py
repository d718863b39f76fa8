"""Reading a Content-Security-Policy header, for tests of pages' policies."""

from __future__ import annotations


def csp_directives(header: str) -> dict[str, list[str]]:
    """'a x y; b z' -> {'a': ['x', 'y'], 'b': ['z']} (directive names lower-cased, as CSP reads them)."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives.setdefault(name.lower(), values)  # a repeated directive is ignored by browsers
    return directives


def frame_ancestors(header: str) -> list[str]:
    return csp_directives(header).get("frame-ancestors", [])
