"""Checks that a page shown in Chinese has no English left in it.

``untranslated_words(html, data_words)`` returns the Latin-letter words of a page's visible
text and of its attributes read out to people (``title``, ``aria-label``, ``placeholder``,
``alt``, button ``value``) that are neither units and codes of the trade (P, A800, InfiniBand)
nor data that users typed (names, usernames: ``data_words``, collected from the database).
Elements marked ``translate="no"`` (HTML's own attribute for content that stays as it is, such
as code samples) are skipped.
"""

import re
from html.parser import HTMLParser

from django.apps import apps
from django.db import models

# Words that stay as they are in Chinese text: units, brands, protocols, file formats.
TRADE_WORDS = {
    "P",
    "PFLOPS",
    "TFLOPS",
    "TOPS",
    "FP16",
    "FP8",
    "INT8",
    "GPU",
    "GPUs",
    "CPU",
    "API",
    "REST",
    "JSON",
    "CSV",
    "PDF",
    "SVG",
    "SLA",
    "URL",
    "HTTP",
    "HTTPS",
    "ID",
    "IB",
    "InfiniBand",
    "RoCE",
    "Ethernet",
    "NVLink",
    "SXM",
    "PCIe",
    "HBM",
    "HBM2e",
    "HBM3",
    "HBM3e",
    "GDDR6",
    "GB",
    "TB",
    "Gb",
    "Gbit",
    "s",
    "A100",
    "A800",
    "H100",
    "H800",
    "H200",
    "H20",
    "L40S",
    "NVIDIA",
    "Stripe",
    "Checkout",
    "Token",
    "Swagger",
    "OpenAPI",
    "Django",
    "EN",
    "CNY",
    "RMB",
    "VAT",
    "Idempotency",
    "Key",
    "Authorization",
    "LLM",
    "AI",
    "RDMA",
    "MoE",
    "B",
    "T",
    "M",
    "K",
    "x",
    "e",
    "g",
    "i",
}
SKIP_TAGS = {"script", "style", "code", "pre", "kbd", "samp"}
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skip = tag in SKIP_TAGS or attributes.get("translate") == "no"
        void = tag in {"input", "img", "br", "hr", "meta", "link", "source", "col", "area"}
        if not void:
            self.stack.append((tag, skip))
            if skip:
                self.skip_depth += 1
        if self.skip_depth or skip:
            return
        for name in READ_ATTRIBUTES:
            if attributes.get(name):
                self.chunks.append(attributes[name])
        if (
            tag == "input"
            and attributes.get("type") in {"submit", "button"}
            and attributes.get("value")
        ):
            self.chunks.append(attributes["value"])

    def handle_endtag(self, tag):
        while self.stack:
            name, skip = self.stack.pop()
            if skip:
                self.skip_depth -= 1
            if name == tag:
                break

    def handle_data(self, data):
        if not self.skip_depth:
            self.chunks.append(data)


def visible_text(html: str) -> str:
    # The text after the body tag (whose own attributes, such as hx-headers, are not text).
    body = html.split("<body", 1)[-1].split(">", 1)[-1]
    parser = _Text()
    parser.feed(body)
    return " ".join(parser.chunks)


def data_words() -> set[str]:
    """Every Latin word stored in a text column of the database (what users typed)."""
    words: set[str] = set()
    for model in apps.get_models():
        names = [
            f.attname
            for f in model._meta.get_fields()
            if isinstance(f, models.CharField | models.TextField | models.EmailField)
            and not f.choices
        ]
        if not names:
            continue
        for row in model._default_manager.values_list(*names):
            for value in row:
                if value:
                    words.update(WORD.findall(str(value)))
    return words


def untranslated_words(html: str, allowed: set[str] = frozenset()) -> list[str]:
    found = WORD.findall(visible_text(html))
    return sorted({w for w in found if w not in TRADE_WORDS and w not in allowed})
