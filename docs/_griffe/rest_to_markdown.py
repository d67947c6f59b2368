"""A Griffe extension that renders Ambi's reST-flavoured docstrings as Markdown.

Ambi's docstrings are written for people reading the source: ``double backticks``,
Sphinx roles (:class:`Request`), ``::`` literal blocks and ``>>>`` doctests. Markdown
already renders double backticks; this extension rewrites the rest before mkdocstrings
sees it, so the API reference reads like the source and builds without warnings:

* ``:class:`~ambi.wrappers.Request``` becomes a cross-reference when the target is in
  the reference (``<autoref ... optional>``: plain code when it is not, never a
  warning), else inline code;
* a paragraph ending in ``::`` ends in ``:`` and its indented block becomes a fenced
  ``python`` block;
* a ``>>>`` session becomes a fenced ``pycon`` block.

It only changes what the docs site shows; the source is untouched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|meth|func|attr|data|mod|exc|obj):`(?P<tilde>~?)(?P<target>[^`<]+?)"
    r"(?:\s*<(?P<explicit>[^>`]+)>)?`"
)
_CALLABLE_ROLES = {"meth", "func"}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class RestToMarkdown(griffe.Extension):
    """Rewrite every docstring of a package once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._package = pkg
        self._rewrite(pkg, set())

    # -- walking -------------------------------------------------------------------------

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = self._convert(obj.docstring.value, obj)
        for member in obj.members.values():
            if isinstance(member, griffe.Alias):
                continue
            self._rewrite(member, seen)

    # -- roles ---------------------------------------------------------------------------

    def _exists(self, path: str) -> bool:
        prefix = f"{self._package.path}."
        if not path.startswith(prefix):
            return False
        try:
            self._package.get_member(path[len(prefix) :])
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        return True

    def _resolve(self, target: str, obj: griffe.Object) -> str | None:
        scopes: list[str] = []
        scope: griffe.Object | None = obj if not obj.is_attribute else obj.parent
        while scope is not None:
            if scope.is_class or scope.is_module:
                scopes.append(scope.path)
            scope = scope.parent
        candidates = [target] + [f"{scope_path}.{target}" for scope_path in scopes]
        candidates.append(f"{self._package.path}.{target}")
        for candidate in candidates:
            if self._exists(candidate):
                return candidate
        return None

    def _role(self, match: re.Match[str], obj: griffe.Object) -> str:
        target = match["explicit"] or match["target"]
        target = target.strip().removesuffix("()")
        if match["explicit"]:
            title = match["target"].strip()
        elif match["tilde"]:
            title = target.rpartition(".")[2]
        else:
            title = target
        if match["role"] in _CALLABLE_ROLES and not title.endswith(")"):
            title = f"{title}()"
        identifier = self._resolve(target, obj)
        if identifier is None:
            return f"`{title}`"
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    # -- blocks --------------------------------------------------------------------------

    def _convert(self, text: str, obj: griffe.Object) -> str:
        lines = text.splitlines()
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if stripped.startswith(">>>"):
                indent = " " * _indent(line)
                block: list[str] = []
                while i < len(lines) and lines[i].strip():
                    block.append(lines[i][len(indent) :])
                    i += 1
                if out and out[-1].strip():
                    out.append("")
                out.extend([f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"])
                continue
            if stripped.endswith("::") and not stripped.startswith("```"):
                base = _indent(line)
                head = line.rstrip()[:-2].rstrip()
                j = i + 1
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _indent(lines[j]) >= base:
                    # reST wants the block indented; a docstring that forgot is read the
                    # way its author meant: the next paragraph is the code.
                    indented = _indent(lines[j]) > base
                    if head.strip():
                        out.append(self._roles(head + ":", obj))
                    block_indent = _indent(lines[j])
                    block = []
                    while j < len(lines) and (
                        (indented and (not lines[j].strip() or _indent(lines[j]) > base))
                        or (not indented and lines[j].strip())
                    ):
                        block.append(lines[j][block_indent:])
                        j += 1
                    while block and not block[-1].strip():
                        block.pop()
                    pad = " " * base
                    out.extend(
                        [
                            "",
                            f"{pad}```python",
                            *(pad + b if b else "" for b in block),
                            f"{pad}```",
                            "",
                        ]
                    )
                    i = j
                    continue
            out.append(self._roles(line, obj))
            i += 1
        return "\n".join(out)

    def _roles(self, line: str, obj: griffe.Object) -> str:
        return _ROLE.sub(lambda match: self._role(match, obj), line)
