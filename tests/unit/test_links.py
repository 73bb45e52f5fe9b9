"""`vipfs links`' renderings, from plain records (no mount): each format, escaping, templates."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from vipfs.links import (
    FIELDS,
    RENDER,
    Link,
    LinksError,
    check_template,
    links_from,
    render_template,
    render_txt,
)

READY = Link(
    path="Clips/a b.mp4",
    name="a b.mp4",
    title="a b",
    link="https://host.example/abc123def456.html",
    embed="https://embed.example/e/abc123def456",
    thumbnail="https://host.example/i/abc123def456.jpg",
    length=61,
    views=7,
    code="abc123def456",
    status="ready",
)
QUEUED = Link(path="Clips/new.mp4", name="new.mp4", status="queued", pending=True)
HOSTILE = Link(
    path='x/<b>&"[1]".mp4',
    name='<b>&"[1]".mp4',
    link="javascript:alert(1)",
    thumbnail='https://h.example/i.jpg"onerror="x',
    code="def456abc123",
    status="ready",
)


def test_txt_is_link_then_name_and_pending_says_why() -> None:
    assert RENDER["txt"]([READY, QUEUED]) == (
        "https://host.example/abc123def456.html a b.mp4\npending (queued) new.mp4\n"
    )


def test_txt_never_prints_a_link_that_is_no_web_url() -> None:
    assert RENDER["txt"]([HOSTILE]) == 'no link yet (ready) <b>&"[1]".mp4\n'


def test_csv_has_a_header_and_every_field() -> None:
    rows = list(csv.reader(io.StringIO(RENDER["csv"]([READY, QUEUED]))))
    assert rows[0] == list(FIELDS)
    ready, queued = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert ready["embed"] == READY.embed and ready["length"] == "61"
    assert ready["pending"] == "false"
    assert queued["pending"] == "true" and queued["link"] == "" and queued["status"] == "queued"


def test_json_is_one_list_with_exactly_the_fields() -> None:
    items = json.loads(RENDER["json"]([READY, QUEUED]))
    assert [list(item) for item in items] == [list(FIELDS)] * 2
    assert items[0]["views"] == 7 and items[0]["pending"] is False
    assert items[1]["code"] is None and items[1]["link"] is None and items[1]["pending"] is True


def test_bbcode_shows_the_thumbnail_when_known() -> None:
    no_thumbnail = Link(path="b.mp4", name="b.mp4", link="https://h.example/b.html", code="c")
    assert RENDER["bbcode"]([READY, no_thumbnail, QUEUED]).splitlines() == [
        f"[url={READY.link}][img]{READY.thumbnail}[/img][/url]",
        "[url=https://h.example/b.html]b.mp4[/url]",
        "new.mp4 (pending (queued))",
    ]


def test_bbcode_urls_cannot_close_the_tag() -> None:
    link = Link(path="b.mp4", name="b.mp4", link="https://h.example/[/url]", code="c")
    assert RENDER["bbcode"]([link]) == "[url=https://h.example/%5B/url%5D]b.mp4[/url]\n"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def test_html_is_a_whole_page_with_escaped_names_and_only_web_links() -> None:
    page = RENDER["html"]([READY, QUEUED, HOSTILE])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    parsed = _Page()
    parsed.feed(page)
    anchors = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    images = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert anchors == [READY.link]  # the javascript: link is not linked
    assert images == [READY.thumbnail]
    assert "Links" in parsed.text and '<b>&"[1]".mp4 (no link yet (ready))' in parsed.text
    assert "new.mp4 (pending (queued))" in parsed.text
    assert "<b>" not in page.replace("<body>", "")


def test_md_links_and_escapes() -> None:
    odd = Link(path="x", name="a [b](c).mp4", link="https://h.example/w(1).html", code="c")
    assert RENDER["md"]([READY, odd, QUEUED]).splitlines() == [
        f"- [a b.mp4]({READY.link})",
        r"- [a \[b\]\(c\).mp4](https://h.example/w%281%29.html)",
        r"- new.mp4 (pending \(queued\))",
    ]


def test_template_names_fields() -> None:
    out = render_template([READY, QUEUED], "{name}: {link} {pending} [{views:>3}]")
    assert out == f"a b.mp4: {READY.link} false [  7]\nnew.mp4:  true [   ]\n"


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{nmae}", "unknown field {nmae}; fields: path, name, title, link, embed"),
        ("{}", "unknown field {}"),
        ("{name.upper}", "unknown field {name.upper}"),
        ("{name", "--template '{name'"),
        ("{name:{views}}", "no fields inside"),
    ],
)
def test_a_bad_template_is_one_line(template: str, says: str) -> None:
    with pytest.raises(LinksError) as err:
        check_template(template)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_spec_a_text_cannot_take_is_one_line() -> None:
    with pytest.raises(LinksError) as err:
        render_template([READY], "{views:d}")
    assert "\n" not in str(err.value)


def test_a_mirror_lists_every_members_link_grouped_by_file() -> None:
    values = {
        "title": "a",
        "code": "aaaaaaaaaaaa",  # plain: the first holding member's
        "link": "https://vip.example/aaaaaaaaaaaa.html",
        "vip.code": "aaaaaaaaaaaa",
        "vip.link": "https://vip.example/aaaaaaaaaaaa.html",
        "vip.status": "ready",
        "wish.status": "missing",
        "lulu.code": "bbbbbbbbbbbb",
        "lulu.link": "https://lulu.example/bbbbbbbbbbbb.html",
        "lulu.status": "encoding",
    }
    links = links_from("Clips/a.mp4", values, ["vip", "wish", "lulu"])
    assert [(x.member, x.code, x.status) for x in links] == [
        ("vip", "aaaaaaaaaaaa", "ready"),
        ("wish", None, "missing"),  # not the plain code: wish has none of its own
        ("lulu", "bbbbbbbbbbbb", "encoding"),
    ]
    assert all(x.title == "a" and x.path == "Clips/a.mp4" for x in links)
    assert render_txt(links) == (
        "https://vip.example/aaaaaaaaaaaa.html a.mp4 (vip)\n"
        "pending (missing) a.mp4 (wish)\n"
        "https://lulu.example/bbbbbbbbbbbb.html a.mp4 (lulu)\n"
    )
    single = links_from("a.mp4", values, [])  # one host: the plain attributes, no member
    assert [(x.member, x.code) for x in single] == [(None, "aaaaaaaaaaaa")]
    assert "member" in FIELDS and render_template(links[:1], "{member}") == "vip\n"
