"""Which upstream a ``resources/read`` goes to: the one whose listing or templates hold the URI.

URIs are the servers' own, so with several upstreams the proxy must find the owner; a URI no
upstream claims is refused rather than sent to a guess (docs/mcp.md, "Resources and prompts").
Templates (RFC 6570) are matched by their literal parts, each expression standing for one value:
a simple ``{x}`` matches text without ``/ ? #``, a reserved ``{+x}`` / fragment ``{#x}`` any text,
a query ``{?x}`` / ``{&x}`` an optional query part. The URI is the client's text, so the patterns
run on RE2 (linear time, like the policy's own patterns), never on a backtracking engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from mcp_types import Resource, ResourceTemplate

__all__ = ["ResourceRoutes", "template_pattern"]

_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_MAX_TEMPLATE = 1000


class _Lister(Protocol):
    name: str
    resources: list[Resource]
    templates: list[ResourceTemplate]


def template_pattern(template: str) -> Any:
    """An RE2 pattern matching the URIs ``template`` expands to; None for a template it cannot read."""
    if len(template) > _MAX_TEMPLATE:
        return None
    parts: list[str] = []
    last = 0
    for m in _EXPRESSION.finditer(template):
        parts.append(re.escape(template[last : m.start()]))
        op = m.group(1)[:1]
        if op in ("+", "#"):
            parts.append(r".*" if op == "+" else r"(?:#.*)?")
        elif op in ("?", "&"):
            parts.append(r"(?:[?&][^#]*)?")
        else:
            parts.append(r"[^/?#]*")
        last = m.end()
    rest = template[last:]
    if "{" in rest or "}" in rest:
        return None
    parts.append(re.escape(rest))
    import re2

    try:
        return re2.compile("".join(parts))
    except re2.error:
        return None


class ResourceRoutes:
    """URI → upstream, from the upstreams' resource listings and templates.

    A URI more than one upstream claims (listed by one, matched by another's template, or any two
    claims) goes to none of them: which server answers would otherwise be up to listing order, and a
    server could capture reads meant for another by listing its URIs.
    """

    def __init__(self, upstreams: Sequence[_Lister]) -> None:
        self._exact: dict[str, _Lister] = {}
        self._templates: list[tuple[Any, _Lister]] = []
        self._only = upstreams[0] if len(upstreams) == 1 else None
        self._contested: set[str] = set()
        for upstream in upstreams:
            for resource in upstream.resources:
                uri = str(resource.uri)
                if self._exact.setdefault(uri, upstream) is not upstream:
                    self._contested.add(uri)
            for template in upstream.templates:
                pattern = template_pattern(template.uri_template)
                if pattern is not None:
                    self._templates.append((pattern, upstream))

    def route(self, uri: str, *, single: bool) -> _Lister | None:
        """The upstream to read ``uri`` from, or None (refused as unknown).

        ``single``: the proxy has one upstream; a URI it does not list then still goes to it (its
        server answers whether the URI exists), as there is no other owner to confuse it with.
        """
        if uri in self._contested:
            return None
        found = self._exact.get(uri)
        for pattern, upstream in self._templates:
            if upstream is not found and pattern.fullmatch(uri):
                if found is not None:
                    return None  # a second upstream claims it
                found = upstream
        if found is not None:
            return found
        return self._only if single else None
