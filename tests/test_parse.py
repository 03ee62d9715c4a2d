"""Parsing fetched bytes: real feeds, odd real-world feeds, feedparser's own cases, clean text and links."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.feeds import links
from monitor.feeds import parse as parse_module
from monitor.feeds.fastpath import read_plain_feed
from monitor.feeds.parse import ParsedFeed, canonical_link, clean_text, parse_feed

DATA = Path(__file__).resolve().parent / "data" / "feeds"
XML = {"content-type": "application/xml"}


def load(relative: str) -> bytes:
    body = (DATA / relative).read_bytes()
    return gzip.decompress(body) if relative.endswith(".gz") else body


# -- real news feeds


@pytest.mark.parametrize(
    ("name", "count", "first_title"),
    [
        ("bbc_news_world.rss.xml", 33, "US civil rights leader Jesse Jackson dies aged 84"),
        (
            "aljazeera_all.rss.xml",
            25,
            "Stephen Colbert says CBS barred interview with Texas Democratic candidate",
        ),
        (
            "dawn_world.rss.xml",
            30,
            "India tells global tech platforms to follow constitution after tougher content rules",
        ),
        ("dw_deutsche_welle.rss.xml", 141, "France arrests nine in right-wing activist's death"),
        (
            "nyt_world.rss.xml",
            57,
            "Trump Said He’d End the War in Ukraine in a Day. It’s Harder Than He Thought.",
        ),
        (
            "talkingpointsmemo_all.atom.xml",
            20,
            "Hannity Announces Fox Has Hired Sebastian Gorka As NatSec Strategist",
        ),
    ],
)
def test_it_reads_every_entry_of_real_news_feeds(name: str, count: int, first_title: str) -> None:
    parsed = parse_feed(load(f"real_news/{name}"), XML, f"https://feeds.example.org/{name}")

    assert parsed.error is None
    assert parsed.warning is None
    assert len(parsed.entries) == count
    assert parsed.entries[0].title == first_title
    for entry in parsed.entries:
        assert entry.title and entry.title == entry.title.strip()
        assert "<" not in entry.title and "&amp;" not in entry.title
        assert entry.published is not None and entry.published.tzinfo is UTC
        assert entry.link is not None and entry.link.startswith(("http://", "https://"))
        assert "#" not in entry.link


def test_it_converts_published_times_to_utc() -> None:
    parsed = parse_feed(
        load("real_news/bbc_news_world.rss.xml"), XML, "https://feeds.bbci.co.uk/news/world/rss.xml"
    )

    # <pubDate>Tue, 17 Feb 2026 18:55:33 GMT</pubDate>
    assert parsed.entries[0].published == datetime(2026, 2, 17, 18, 55, 33, tzinfo=UTC)


def test_it_converts_offset_times_to_utc() -> None:
    body = _rss(
        "<item><title>Offset</title><link>http://x.org/1</link><pubDate>Tue, 17 Feb 2026 23:30:00 +0500</pubDate></item>"
    )

    (entry,) = parse_feed(body, XML, "https://x.org/feed").entries

    assert entry.published == datetime(2026, 2, 17, 18, 30, tzinfo=UTC)


def test_it_drops_tracking_parameters_from_real_links() -> None:
    bbc = parse_feed(
        load("real_news/bbc_news_world.rss.xml"), XML, "https://feeds.bbci.co.uk/news/world/rss.xml"
    )
    dw = parse_feed(load("real_news/dw_deutsche_welle.rss.xml"), XML, "https://rss.dw.com/rdf/rss-en-all")
    aljazeera = parse_feed(
        load("real_news/aljazeera_all.rss.xml"), XML, "https://www.aljazeera.com/xml/rss/all.xml"
    )

    assert bbc.entries[0].link == "https://www.bbc.com/news/articles/cp81l0e1eg5o"
    assert all("at_medium" not in (e.link or "") for e in bbc.entries)
    assert all("maca=" not in (e.link or "") for e in dw.entries)
    assert all("traffic_source" not in (e.link or "") for e in aljazeera.entries)


def test_it_keeps_the_guid_as_published() -> None:
    parsed = parse_feed(
        load("real_news/bbc_news_world.rss.xml"), XML, "https://feeds.bbci.co.uk/news/world/rss.xml"
    )

    assert parsed.entries[0].guid == "https://www.bbc.com/news/articles/cp81l0e1eg5o#0"


def test_it_reads_rss_1_0_rdf_feeds() -> None:
    parsed = parse_feed(load("real_news/dw_deutsche_welle.rss.xml"), XML, "https://rss.dw.com/rdf/rss-en-all")

    assert parsed.title == "Deutsche Welle"
    assert parsed.entries[1].title == "Peru ousts interim president over corruption probe"
    assert parsed.entries[1].published == datetime(2026, 2, 17, 23, 24, tzinfo=UTC)


def test_it_resolves_relative_atom_links_against_the_feed_url() -> None:
    parsed = parse_feed(
        load("real_news/talkingpointsmemo_all.atom.xml"), {"content-type": "application/atom+xml"},
        "http://talkingpointsmemo.com/account/feed/all",
    )  # fmt: skip

    first = parsed.entries[0]
    assert (
        first.link
        == "http://talkingpointsmemo.com/livewire/hannity-announces-fox-hired-sebastian-gorka-national-security-strategist"
    )
    assert first.guid == "tag:talkingpointsmemo.com,2005:ArticleDecorator/270060"
    assert first.published == datetime(2017, 11, 8, 23, 15, 58, tzinfo=UTC)
    assert first.summary.startswith("Fox News star host Sean Hannity on Wednesday announced")


def test_it_reduces_summaries_to_clean_text() -> None:
    parsed = parse_feed(load("real_news/dawn_world.rss.xml"), XML, "https://www.dawn.com/feeds/world")

    summary = parsed.entries[0].summary
    assert summary.startswith("India’s information minister said on Tuesday")
    assert "<" not in summary and "&nbsp;" not in summary and "  " not in summary
    assert len(summary) <= 2000


# -- odd real-world feeds


def test_it_decodes_iso_8859_1_declared_in_the_document() -> None:
    parsed = parse_feed(
        load("odd_real_world/jn_pt_iso-8859-1_feedburner_2018.rss"), XML, "http://feeds.jn.pt/JN-ULTIMAS"
    )

    assert parsed.error is None
    assert len(parsed.entries) == 40
    assert parsed.title == "Jornal de Notícias - Últimas Notícias"
    assert parsed.entries[0].title == "Mãe de utente é a nova presidente da Raríssimas"


def test_it_decodes_windows_1251_cyrillic() -> None:
    parsed = parse_feed(
        load("odd_real_world/oren_ru_windows-1251_news.rss.xml"), XML, "http://www.oren.ru/rss"
    )

    assert len(parsed.entries) == 10
    assert parsed.entries[0].title == "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"


def test_it_honours_the_charset_of_the_http_header() -> None:
    body = _rss(
        "<item><title>Переговоры возобновлены</title><link>http://x.ru/1</link></item>", declaration=False
    )
    encoded = body.decode("utf-8").encode("windows-1251")

    with_header = parse_feed(
        encoded, {"Content-Type": "application/rss+xml; charset=windows-1251"}, "http://x.ru/rss"
    )

    assert with_header.entries[0].title == "Переговоры возобновлены"


def test_it_recovers_latin1_bytes_without_an_xml_declaration_with_a_warning() -> None:
    parsed = parse_feed(
        load("odd_real_world/uol_noticias_2018_no_xml_decl_latin1_bytes.rss"),
        XML,
        "https://rss.uol.com.br/feed/noticias.xml",
    )

    assert len(parsed.entries) == 15
    assert (
        parsed.entries[0].title
        == "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    )
    assert parsed.warning is not None and parsed.warning.startswith(
        "https://rss.uol.com.br/feed/noticias.xml: malformed feed"
    )
    assert parsed.error is None


def test_it_reads_a_utf16_feed() -> None:
    parsed = parse_feed(load("odd_real_world/kagi_utf16_encoded.xml"), XML, "https://example.com/feed")

    assert [e.title for e in parsed.entries] == ["UTF-16 Entry 1"]
    assert parsed.entries[0].published == datetime(2024, 1, 3, 12, 0, tzinfo=UTC)


def test_it_reads_a_gzipped_feed_with_invalid_characters_once_decompressed() -> None:
    parsed = parse_feed(
        load("odd_real_world/invalid_characters_gzipped.xml.gz"), XML, "http://nshipster.com/feed.xml"
    )

    assert parsed.title == "NSHipster"
    assert len(parsed.entries) == 25
    assert parsed.entries[0].title == "NSOperation"
    assert parsed.entries[0].published == datetime(2014, 7, 14, 7, 0, tzinfo=UTC)


def test_it_reads_an_illegally_nested_feedburner_feed() -> None:
    parsed = parse_feed(
        load("odd_real_world/pcmag_feedburner_illegally_nested.rss.xml"), XML, "http://feeds.pcmag.com/dvorak"
    )

    assert len(parsed.entries) == 10
    assert parsed.entries[0].title == "My Professional Armchair Analysis of CES"


def test_it_keeps_the_good_items_of_a_feed_with_one_broken_item_and_warns() -> None:
    parsed = parse_feed(
        load("odd_real_world/rss_with_sax_error_in_one_item.xml"), XML, "http://example.com/feed"
    )

    assert parsed.error is None
    assert [e.title for e in parsed.entries][:2] == ["Good Item", "Bad Item"]
    assert parsed.entries[1].link == "http://example.com/bad?foo=1&bar=2"
    assert parsed.warning is not None
    assert "not well-formed" in parsed.warning and "\n" not in parsed.warning


def test_it_reports_an_html_page_as_an_error_without_entries() -> None:
    parsed = parse_feed(
        load("odd_real_world/html_served_instead_of_feed.html"),
        {"content-type": "text/html"},
        "https://x.org/feed",
    )

    assert parsed.entries == ()
    assert parsed.error == "https://x.org/feed: an HTML page, not a feed (content-type text/html)"


def test_it_reports_an_unrecoverable_malformed_feed_as_an_error() -> None:
    parsed = parse_feed(load("odd_real_world/kagi_malformed_rss_namespaced.xml"), XML, "https://x.org/feed")

    assert parsed.entries == ()
    assert parsed.error is not None and parsed.error.startswith(
        "https://x.org/feed: malformed feed with no readable entries"
    )


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\x01\x02garbage\xff", b"just some text, no markup"])
def test_it_reports_empty_or_garbage_bodies_as_errors(body: bytes) -> None:
    parsed = parse_feed(body, XML, "https://x.org/feed")

    assert parsed.entries == ()
    assert parsed.error is not None and parsed.error.startswith("https://x.org/feed: ")


# -- feedparser's own cases


def test_it_reports_feedparsers_empty_document_case_as_an_error() -> None:
    parsed = parse_feed(load("feedparser_cases/illformed__rss_empty_document.xml"), XML, "https://x.org/feed")

    assert parsed.error is not None and "not an RSS or Atom feed" in parsed.error


def test_it_keeps_the_entry_of_feedparsers_empty_textinput_case_with_a_warning() -> None:
    parsed = parse_feed(
        load("feedparser_cases/illformed__rdf_channel_empty_textinput.xml"), XML, "https://x.org/feed"
    )

    assert [e.title for e in parsed.entries] == ["crashes here"]
    assert parsed.entries[0].guid == "http://example.com/1"
    assert parsed.warning is not None


def test_it_decodes_euc_kr_titles() -> None:
    parsed = parse_feed(load("feedparser_cases/encoding__euc-kr.xml"), XML, "https://x.org/feed")

    assert parsed.title == "\ub144"


def test_it_decodes_an_escaped_apostrophe_in_an_html_title() -> None:
    parsed = parse_feed(load("feedparser_cases/wellformed__xml_escaped_apos.xml"), XML, "https://x.org/feed")

    assert parsed.title == "it's correct"


@pytest.mark.parametrize(
    "name", ["wellformed__rdf_rss_version_10.xml", "encoding__utf-8-bom.xml", "encoding__utf-16le-bom.xml"]
)
def test_it_accepts_a_valid_feed_without_entries(name: str) -> None:
    parsed = parse_feed(load(f"feedparser_cases/{name}"), XML, "https://x.org/feed")

    assert parsed.entries == ()
    assert parsed.error is None


def test_it_skips_entries_without_a_title_and_a_link() -> None:
    parsed = parse_feed(load("feedparser_cases/wellformed__rss_item_pubDate.xml"), XML, "https://x.org/feed")

    assert parsed.entries == ()
    assert parsed.error is None


# -- entry rules on small documents


def test_it_titles_an_untitled_entry_from_its_summary() -> None:
    body = _rss(
        "<item><link>http://x.org/a</link><description>&lt;p&gt;Troops withdraw from the border.&lt;/p&gt;</description></item>"
    )

    (entry,) = parse_feed(body, XML, "http://x.org/rss").entries

    assert entry.title == "Troops withdraw from the border."


def test_it_falls_back_to_the_updated_time_and_leaves_missing_times_empty() -> None:
    body = _atom(
        "<entry><title>Updated only</title><id>urn:1</id><link href='http://x.org/1'/><updated>2026-02-01T10:00:00+02:00</updated></entry>"
        "<entry><title>No time</title><id>urn:2</id><link href='http://x.org/2'/></entry>"
    )

    first, second = parse_feed(body, {"content-type": "application/atom+xml"}, "http://x.org/atom").entries

    assert first.published == datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert second.published is None


def test_it_strips_markup_and_scripts_from_titles_and_summaries() -> None:
    body = _rss(
        "<item><title>Ceasefire &amp;amp; talks</title><link>http://x.org/c</link>"
        "<description><![CDATA[<p>Leaders <b>met</b>&nbsp;today.<script>alert(1)</script></p>\n\n<p>More.</p>]]></description></item>"
    )

    (entry,) = parse_feed(body, XML, "http://x.org/rss").entries

    assert entry.title == "Ceasefire & talks"
    assert entry.summary == "Leaders met today. More."


def test_it_keeps_entries_of_a_feed_with_bad_utf8_bytes() -> None:
    body = _rss("<item><title>Caf\ufffd</title><link>http://x.org/1</link></item>").replace(
        "\ufffd".encode(), b"\xe9\xff"
    )

    parsed = parse_feed(body, XML, "http://x.org/rss")

    assert len(parsed.entries) == 1
    assert parsed.entries[0].title.startswith("Caf")
    assert parsed.error is None


# -- clean_text and canonical_link


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Talks&nbsp;resume &amp; <b>hold</b></p>", "Talks resume & hold"),
        ("  many \n\t spaces  ", "many spaces"),
        ("Tom &amp;amp; Jerry", "Tom & Jerry"),
        ("it&#8217;s &#x201C;quoted&#x201D;", "it’s “quoted”"),
        ("<style>p{}</style>Visible<script>var x = 1;</script>", "Visible"),
        ("a<br>b<br/>c", "a b c"),
        ("nul\x00 and \x07bell", "nul and bell"),
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("", ""),
    ],
)
def test_clean_text_strips_tags_decodes_entities_and_collapses_space(markup: str, text: str) -> None:
    assert clean_text(markup) == text


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        (
            "https://www.bbc.com/news/articles/cp81l0e1eg5o?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.com/news/articles/cp81l0e1eg5o",
        ),
        (
            "HTTPS://Example.COM:443/a/b?id=7&utm_source=rss&utm_medium=feed&fbclid=XYZ#comments",
            "https://example.com/a/b?id=7",
        ),
        ("http://example.com:8080?gclid=1&ocid=2&cmpid=3&page=2", "http://example.com:8080/?page=2"),
        ("https://x.org/story?b=2&a=1", "https://x.org/story?b=2&a=1"),
        ("  https://x.org/s#frag  ", "https://x.org/s"),
        ("mailto:desk@example.org", "mailto:desk@example.org"),
        ("/relative/path?utm_source=x", "/relative/path?utm_source=x"),
    ],
)
def test_canonical_link_drops_tracking_and_fragment_and_lowercases_host(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical


def _rss(items: str, declaration: bool = True) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return (
        f'{head}<rss version="2.0"><channel><title>T</title><link>http://x.org/</link>{items}</channel></rss>'
    ).encode()


def _atom(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>A</title><id>urn:feed</id><updated>2026-02-01T00:00:00Z</updated>{entries}</feed>"
    ).encode()


# -- the fast reader agrees with feedparser


def _through_feedparser(monkeypatch: pytest.MonkeyPatch, body: bytes, url: str) -> ParsedFeed:
    with monkeypatch.context() as patch:
        patch.setattr(parse_module, "read_plain_feed", lambda body, headers: None)
        return parse_feed(body, XML, url)


@pytest.mark.parametrize(
    "path",
    [
        "real_news/bbc_news_world.rss.xml",
        "real_news/aljazeera_all.rss.xml",
        "real_news/dawn_world.rss.xml",
        "real_news/nyt_world.rss.xml",
        "real_news/talkingpointsmemo_all.atom.xml",
        "odd_real_world/pcmag_feedburner_illegally_nested.rss.xml",
        "odd_real_world/guid_dupes.xml",
        "odd_real_world/invalid_characters_gzipped.xml.gz",
    ],
)
def test_the_fast_reader_gives_the_same_entries_as_feedparser(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    body = load(path)
    assert read_plain_feed(body, XML) is not None  # these well-formed feeds take the fast path

    fast = parse_feed(body, XML, "https://feeds.example.org/world")
    slow = _through_feedparser(monkeypatch, body, "https://feeds.example.org/world")

    assert fast.title == slow.title
    assert fast.entries == slow.entries


def test_the_fast_reader_keeps_text_inside_unescaped_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _rss(
        "<item><title>Talks <b>resume</b> in Doha</title><link>http://x.org/1</link>"
        "<description>Envoys <i>met</i> on <a href='http://x.org'>Sunday</a>.</description></item>"
    )
    assert read_plain_feed(body, XML) is not None

    (fast,) = parse_feed(body, XML, "http://x.org/rss").entries
    (slow,) = _through_feedparser(monkeypatch, body, "http://x.org/rss").entries

    assert fast.title == slow.title == "Talks resume in Doha"
    assert fast.summary == slow.summary == "Envoys met on Sunday ."


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (
            _rss("<item><title>x</title></item>"),
            {"content-type": "application/rss+xml; charset=windows-1251"},
        ),
        (b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel></channel></rss>', XML),
        (
            b'<!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"><channel><item><title>&a;</title></item></channel></rss>',
            XML,
        ),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>', XML),
        (b"\xef\xbb\xbf<rss version='2.0'><channel/></rss>", XML),
        (b"<rss version='2.0'><channel><item><title>a & b</title></item></channel></rss>", XML),
        (b'<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel/></rss>', XML),
    ],
    ids=["http-charset", "latin1-declared", "doctype", "rdf", "bom", "not-well-formed", "namespaced-rss"],
)
def test_the_fast_reader_leaves_anything_unusual_to_feedparser(body: bytes, headers: dict[str, str]) -> None:
    assert read_plain_feed(body, headers) is None


# -- properties


@given(st.text())
def test_clean_text_always_returns_one_trimmed_line_without_control_characters(markup: str) -> None:
    text = clean_text(markup)

    assert text == text.strip()
    assert "  " not in text and "\n" not in text and "\x00" not in text
    assert clean_text(text) == clean_text(text)  # stable


@given(
    st.from_regex(
        r"https?://[A-Za-z0-9.-]{1,20}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~%/-]{0,20})?(\?[A-Za-z0-9_=&%]{0,30})?(#[a-z]{0,5})?",
        fullmatch=True,
    )
)
def test_canonical_link_is_idempotent_and_drops_fragments(link: str) -> None:
    once = canonical_link(link)

    assert canonical_link(once) == once
    assert "#" not in once
    names = [name.lower() for name, _ in parse_qsl(urlsplit(once).query, keep_blank_values=True)]
    assert not any(name.startswith("utm_") for name in names)


_QUERY_PART = st.one_of(
    st.sampled_from(
        ["utm_source=rss", "at_medium=RSS", "UTM_Campaign=x", "utm%5Fsource=y", "fbclid", "ocid=1"]
    ),
    st.from_regex(r"[A-Za-z0-9_%+]{0,6}(=[A-Za-z0-9_%+?/=]{0,8})?", fullmatch=True),
)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]),
    host=st.from_regex(r"[A-Za-z0-9.-]{1,12}(:[0-9]{1,4})?", fullmatch=True),
    path=st.from_regex(r"(/[A-Za-z0-9._~%/é-]{0,12})?", fullmatch=True),
    query=st.none() | st.lists(_QUERY_PART, max_size=5).map("&".join),
    fragment=st.none() | st.from_regex(r"[a-z?&=]{0,6}", fullmatch=True),
)
def test_canonical_link_shortcut_agrees_with_the_general_path(
    scheme: str, host: str, path: str, query: str | None, fragment: str | None
) -> None:
    link = f"{scheme}://{host}{path}" + (f"?{query}" if query is not None else "")
    link += f"#{fragment}" if fragment is not None else ""

    assert canonical_link(link) == links._canonical(link)
