import pytest

from content.rendering import render_markdown
from content.tests.xss import XSS_PAYLOADS, dangerous_markup


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_payload_survives_rendering(payload):
    html = render_markdown(f"Before\n\n{payload}\n\nAfter {payload}")

    assert dangerous_markup(html) == []
    assert "<script" not in html.lower()
    assert "<iframe" not in html.lower()
    assert "<svg" not in html.lower()
    assert "Before" in html
    assert "After" in html


def test_the_checker_itself_finds_each_kind_of_danger():
    # The payload test above is only as good as dangerous_markup.
    assert dangerous_markup("<script>x</script>")
    assert dangerous_markup('<img src="x" onerror="alert(1)">')
    assert dangerous_markup('<a href=" JaVa&#x09;script:alert(1)">x</a>')
    assert dangerous_markup('<a href="data:text/html,x">x</a>')
    assert dangerous_markup('<p style="width: expression(alert(1))">x</p>')
    assert dangerous_markup("<iframe></iframe>")
    assert dangerous_markup('<svg onload="x"></svg>')
    assert dangerous_markup('<p><a href="https://example.com/">x</a></p>') == []


def test_raw_html_is_shown_as_text():
    html = render_markdown('<b onclick="x()">bold?</b>')

    assert '&lt;b onclick="x()"&gt;bold?&lt;/b&gt;' in html


def test_markdown_formatting_is_kept():
    html = render_markdown(
        "# Title\n\nSome **bold** and *italic* text.\n\n- one\n- two\n\n1. first\n\n"
        "> quoted\n\n`code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )

    # An editor's top heading sits under the page's own <h1>.
    assert "<h2>Title</h2>" in html
    assert "<h1" not in html
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<ul>" in html and "<li>one</li>" in html
    assert "<ol>" in html
    assert "<blockquote>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_external_links_get_noopener_and_internal_ones_do_not():
    html = render_markdown("[out](https://example.org/page) [in](/faq/) [mail](mailto:a@b.test)")

    assert '<a href="https://example.org/page" rel="noopener noreferrer">out</a>' in html
    assert '<a href="/faq/">in</a>' in html
    assert '<a href="mailto:a@b.test">mail</a>' in html


def test_only_web_mail_and_phone_links_become_links():
    html = render_markdown(
        "[a](javascript:alert(1)) [b](vbscript:x) [c](file:///etc/passwd) [d](ftp://x.test/) "
        "[e](tel:+15550100100)"
    )

    # nh3 drops the ftp: address, leaving an anchor that goes nowhere.
    assert html.count("href=") == 1
    assert '<a href="tel:+15550100100">e</a>' in html


def test_images_show_their_alt_text_instead():
    html = render_markdown("![A calm *treatment* room](https://example.org/room.jpg)")

    assert "<img" not in html
    assert "A calm treatment room" in html


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
