"""Screenshot a page in headless Chromium, as the README's picture of the study report was made:

    .venv/bin/python -m tests.screenshot report.html docs/images/study-report.png

Fails (exit 1) when the page raised a script error while loading.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.browser import open_page


def main(page_file: str, output: str, height: int = 1500) -> int:
    with open_page(Path(page_file).resolve().as_uri(), height=height) as (page, errors):
        page.wait_for_timeout(1000)  # plotly draws after load
        page.screenshot(path=output)
    for error in errors:
        print(error, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
