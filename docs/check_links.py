"""Internal link check of the built site: every local href/src of every page resolves.

External links are not followed (the build must not need the network); ``python
docs/check_links.py docs/_build/html`` exits 1 naming each broken link.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")


def broken_links(site: Path) -> list[str]:
    problems = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            parsed = urlparse(target)
            if parsed.scheme or target.startswith(("//", "mailto:", "#")):
                continue
            path = unquote(parsed.path)
            if not path:
                continue
            resolved = (page.parent / path).resolve()
            if not resolved.exists():
                problems.append(f"{page.relative_to(site)}: {target}")
                continue
            if parsed.fragment and resolved.suffix == ".html":
                anchors = resolved.read_text(encoding="utf-8")
                if f'id="{parsed.fragment}"' not in anchors:
                    problems.append(f"{page.relative_to(site)}: {target} (no such anchor)")
    return problems


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html")
    if not site.is_dir():
        sys.exit(f"{site}: no built site (run make docs)")
    problems = broken_links(site)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} broken internal links in {site}")
    sys.exit(1 if problems else 0)
