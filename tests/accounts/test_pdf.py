"""The PDF primitives every document uses: fonts for Chinese, tables across pages, a frame."""

import re

from accounts import pdf


def test_latin_text_keeps_helvetica_and_chinese_gets_the_cid_font():
    assert pdf.font_for("Invoice 2027-000001") == "Helvetica"
    assert pdf.font_for("Total", bold=True) == "Helvetica-Bold"
    assert pdf.font_for("合肥算力科技有限公司") == "STSong-Light"


def test_a_long_table_runs_onto_more_pages_and_repeats_its_header():
    rows = [[f"cluster-{n}", "合肥", f"{n:,}"] for n in range(150)]
    story = [
        *pdf.title("合同 / Contract", subtitle="Compute Market"),
        pdf.key_values([("Customer", "北京智谱创新实验室有限公司"), ("Phone", "010-6200 0000")]),
        *pdf.heading("Servers"),
        pdf.table(
            [pdf.Column("Cluster", 0.5), pdf.Column("Region", 0.3), pdf.Column("N", 0.2, True)],
            rows,
        ),
    ]
    data = pdf.build(story, title="Contract 1", author="Compute Market", footer="Footer text")
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert pages >= 3
    assert data.count(b"(Cluster)") == pages  # the header row on every page
    assert data.count(b"(Footer text)") == pages
    assert b"(Page 1)" in data and f"(Page {pages})".encode() in data
    assert b"(cluster-149)" in data
    assert b"/STSong-Light" in data


def test_text_is_escaped_not_read_as_markup():
    data = pdf.build([pdf.paragraph("a < b & <b>c</b>")], title="t", author="a", footer="f")
    assert b"a < b & <b>c</b>" in data.replace(b"\\(", b"(").replace(b"\\)", b")")
