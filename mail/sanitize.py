"""HTML mail made safe to show to an agent (nh3, the Ammonia sanitiser): no scripts,
styles, forms, frames or event handlers; links open in a new tab without a referrer;
images only when they are inline (`cid:`, shown from the stored attachment) or `data:`:
a remote image would tell the sender that (and when, and from where) the mail was read,
so it is removed and counted. The desktop shows the result in a sandboxed iframe whose
CSP forbids scripts and remote loads as a second wall (`FRAME_CSP`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import nh3

FRAME_CSP = "default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'; sandbox"

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "div", "em", "font", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "*": {"dir", "lang", "title"},
}
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"""\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


@dataclass(frozen=True, slots=True)
class SafeHtml:
    html: str
    blocked_images: int  # remote images removed


def sanitize_html(html: str, cid_url: dict[str, str] | None = None) -> SafeHtml:
    """The mail's HTML, safe; `cid_url` maps an inline image's Content-ID to the URL
    it is served from (an authorised attachment download)."""
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_links_only_to_the_web,
        url_schemes={"http", "https", "mailto", "cid", "data"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    blocked = 0
    cids = {k.strip("<>"): v for k, v in (cid_url or {}).items()}

    def image(match: re.Match[str]) -> str:
        nonlocal blocked
        tag = match.group(0)
        found = _SRC.search(tag)
        src = next((g for g in found.groups() if g is not None), "") if found else ""
        if src.lower().startswith("cid:") and src[4:] in cids:
            return _SRC.sub(f'src="{cids[src[4:]]}"', tag, count=1)
        if src.lower().startswith("data:image/"):
            return tag
        blocked += 1
        return ""

    return SafeHtml(_IMG.sub(image, cleaned), blocked)


def _links_only_to_the_web(tag: str, attribute: str, value: str) -> str | None:
    """`data:` and `cid:` are for images: a link may not open them."""
    if tag == "a" and attribute == "href" and value.strip().lower().startswith(("data:", "cid:")):
        return None
    return value
