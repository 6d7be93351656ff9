"""HTML to PDF with WeasyPrint: the same HTML as the web and file versions, with its print CSS
(A4, running header, page numbers). Tagged (PDF/UA-1) so screen readers can follow it. Nothing
is fetched from elsewhere: the HTML is self-contained (inline CSS and SVG)."""

from __future__ import annotations

import logging
from typing import Any

from weasyprint import HTML

# WeasyPrint warns about CSS it ignores (e.g. `viewport`): not the reader's business.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def _no_fetching() -> Any:
    """A URL fetcher that fetches nothing (WeasyPrint ≥ 68 takes a URLFetcher object, older
    versions a function)."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # pragma: no cover - WeasyPrint < 68

        def refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise ValueError(f"de rapporten halen niets van buiten op ({url})")

        return refuse
    return URLFetcher(allowed_protocols=())


def pdf_from_html(html: str) -> bytes:
    """The PDF of a self-contained HTML page."""
    return HTML(string=html, url_fetcher=_no_fetching()).write_pdf(pdf_variant="pdf/ua-1")
