"""PDF primitives for every app's documents: fonts for Chinese text, an A4 page frame with a
numbered footer, paragraphs that pick their font, key-value blocks and tables.

Built on reportlab's platypus. Chinese (any text outside Latin-1) uses the built-in CID font
``STSong-Light``, which needs no font file; Latin text and figures use Helvetica, so numbers
stay plain text in the page content (searchable). Pages are not compressed, which keeps them
easy to check. No queries and no business rules here: callers pass finished text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape  # nosec B406 # escapes text for reportlab markup; parses nothing

from django.utils.translation import gettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
MARGIN = 18 * mm
PAGE_WIDTH, PAGE_HEIGHT = A4
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
BODY_SIZE = 9
RULE_COLOUR = colors.HexColor("#98a2b3")
HEADER_FILL = colors.HexColor("#eef2f6")

_registered = False


def register_fonts() -> None:
    """Register the CID font for Chinese once per process."""
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered = True


def font_for(text: str, *, bold: bool = False) -> str:
    """Helvetica covers Latin-1; anything else (Chinese names, labels) needs the CID font,
    which has no bold face."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return CJK_FONT
    return LATIN_BOLD if bold else LATIN_FONT


def paragraph(
    text: str, *, size: float = BODY_SIZE, bold: bool = False, align: str = "left"
) -> Paragraph:
    """A paragraph of plain text (escaped: no markup), wrapped to its column, in the font its
    characters need."""
    register_fonts()
    style = ParagraphStyle(
        name=f"cm-{size}-{bold}-{align}",
        fontName=font_for(text, bold=bold),
        fontSize=size,
        leading=size * 1.3,
        alignment=TA_RIGHT if align == "right" else TA_LEFT,
        wordWrap="CJK",  # breaks Chinese text anywhere, Latin text at spaces
    )
    return Paragraph(escape(text), style)


def heading(text: str, *, size: float = 12) -> list[Flowable]:
    return [Spacer(1, 3 * mm), paragraph(text, size=size, bold=True), Spacer(1, 1.5 * mm)]


def title(text: str, *, subtitle: str = "") -> list[Flowable]:
    flowables: list[Flowable] = [paragraph(text, size=18, bold=True)]
    if subtitle:
        flowables += [Spacer(1, 1 * mm), paragraph(subtitle, size=10)]
    return [*flowables, Spacer(1, 4 * mm)]


def spacer(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


@dataclass(frozen=True)
class Column:
    label: str
    width: float  # a share of the content width; the shares of a table add up to 1
    numeric: bool = False  # right-aligned


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> Table:
    """A ruled table with a header row that repeats on every page it runs onto."""
    header = [
        paragraph(c.label, bold=True, align="right" if c.numeric else "left") for c in columns
    ]
    body = [
        [
            paragraph(str(cell), align="right" if column.numeric else "left")
            for column, cell in zip(columns, row, strict=True)
        ]
        for row in rows
    ]
    result = Table(
        [header, *body],
        colWidths=[column.width * CONTENT_WIDTH for column in columns],
        repeatRows=1,
        hAlign="LEFT",
    )
    result.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE_COLOUR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return result


def key_values(pairs: Sequence[tuple[str, str]], *, label_share: float = 0.3) -> Table:
    """Label and value, one pair a row, without rules (facts, totals, a party's details)."""
    rows = [[paragraph(label, bold=True), paragraph(value)] for label, value in pairs]
    result = Table(
        rows,
        colWidths=[label_share * CONTENT_WIDTH, (1 - label_share) * CONTENT_WIDTH],
        hAlign="LEFT",
    )
    result.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
            ]
        )
    )
    return result


def build(story: Sequence[Flowable], *, title: str, author: str, footer: str) -> bytes:
    """Lay the story out on A4 pages; each page's footer says ``footer`` and its number."""
    register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=title,
        author=author,
        pageCompression=0,
    )

    def frame(canvas, doc) -> None:
        canvas.saveState()
        canvas.setStrokeColor(RULE_COLOUR)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, MARGIN + 3 * mm, PAGE_WIDTH - MARGIN, MARGIN + 3 * mm)
        canvas.setFont(font_for(footer), 8)
        canvas.drawString(MARGIN, MARGIN - 1 * mm, footer)
        number = gettext("Page %(number)d") % {"number": doc.page}
        canvas.setFont(font_for(number), 8)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 1 * mm, number)
        canvas.restoreState()

    document.build(list(story), onFirstPage=frame, onLaterPages=frame)
    return buffer.getvalue()
