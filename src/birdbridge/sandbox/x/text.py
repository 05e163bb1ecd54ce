"""How X counts and reads post text: twitter-text v3's weighted length and URL extraction
(config/v3.json; XD:fundamentals/counting-characters), the mentions, hashtags and cashtags it
finds, the ``text`` of a long post, and X's HTML escaping."""

from __future__ import annotations

import re
import unicodedata

import regex

MAX_WEIGHTED_LENGTH = 280
TRANSFORMED_URL_LENGTH = 23
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

# The TLDs twitter-text links: its whole ccTLD list and the common part of its gTLD list (here a
# URL with a rarer TLD is text; X, with the whole list, would count 23).
_TLD_LIST = (
    "ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn "
    "bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj "
    "dk dm do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp "
    "gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh "
    "ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn "
    "mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph "
    "pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr "
    "ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy "
    "uz va vc ve vg vi vn vu wf ws ye yt za zm zw 한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე "
    "ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ சிங்கப்பூர் இலங்கை இந்தியா ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা "
    "भारोत भारतम् भारत ڀارت پاکستان موريتانيا مليسيا مصر قطر فلسطين عمان عراق سورية سودان تونس "
    "بھارت بارت ایران امارات المغرب السعودية الجزائر البحرين الاردن հայ "
    "қаз укр срб рф мон мкд ею бел бг ευ ελ "  # noqa: RUF001 (Cyrillic TLDs)
    "com org net edu gov mil int info biz name pro mobi aero asia cat coop jobs museum tel "
    "travel app dev page blog shop store online site tech xyz club news art design social live "
    "world today life email cloud digital network media agency studio space website link click "
    "top win vip one global solutions services company group center software systems wiki fun "
    "exchange party town cafe garden place coffee pub bar lgbt horse rip ink kitchen computer "
    # not X's: the names reserved for tests (RFC 2606), which stand in for real domains here,
    # as the Mastodon sandbox's own sandbox.example
    "example test"
)
_TLDS = frozenset(_TLD_LIST.split())
# twitter-text's extractUrl regex (js/src/regexp/*.js): preceding character, scheme, domain
# (subdomains, name, TLD), port, path, query. Subdomains stop at DNS's 125.
_DOMAIN_CHAR = (
    r"[^!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A"
    r"\u2028\u2029\u202F\u205F\u3000\uFFFE\uFEFF\uFFFF\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069]"
)
_LATIN = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268"
    r"\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_PATH_CHAR = rf"[a-zA-Z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN}]"
_PARENS = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
_PATH_END = rf"(?:[+\-a-zA-Z\u0400-\u04FF0-9=_#/{_LATIN}]|{_PARENS})"
_TLD = r"(?:(?i:\L<tlds>)(?=[^0-9a-zA-Z@+\-]|$)|[xX][nN]--[\-0-9a-zA-Z]+)"
URL_RE = regex.compile(
    # twitter-text reads UTF-16: past U+FFFF a high surrogate may precede a URL from the low one
    r"(?P<before>(?=[\U00010000-\U0010FFFF])|[^A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF]|^)"
    r"(?P<url>(?P<scheme>[hH][tT][tT][pP][sS]?://)?"
    rf"(?P<domain>(?:{_DOMAIN_CHAR}(?:[_\-]*+{_DOMAIN_CHAR})*+\.){{0,125}}"
    rf"{_DOMAIN_CHAR}(?:-*+{_DOMAIN_CHAR})*+\.{_TLD})"
    rf"(?::[0-9]+)?(?P<path>/(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}"
    rf"|@{_PATH_CHAR}+/)*)?(?:\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/])?)",
    tlds=_TLDS,
)
_ASCII_DOMAIN_RE = regex.compile(rf"(?:[\-a-zA-Z0-9{_LATIN}]+\.)+{_TLD}", tlds=_TLDS)
_TCO_RE = regex.compile(
    r"[hH][tT][tT][pP][sS]?://[tT]\.[cC][oO]/([a-zA-Z0-9]+)"
    r"(?:\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/])?"
)
_INVALID_CHARACTERS = "\ufffe\ufeff\uffff"  # a post holding one is refused (twitter-text)
# Emoji (twitter-text v3 counts one as 2): a grapheme cluster with a pictograph, a keycap or a
# flag (X counts today's emoji; twitter-text 3.1's twemoji stops at Emoji 11).
_EMOJI_RE = regex.compile(r"[\p{Extended_Pictographic}\u20e3]|(?P<flag>\p{Regional_Indicator}{2})")
_EMOJI_PART_RE = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Component}]")
_TAKES_SELECTOR_RE = regex.compile(r"[#*0-9]|(?=\p{Extended_Pictographic})\P{Emoji_Presentation}")
_FLAGS = frozenset(  # regional indicator pairs of ISO 3166 regions (and a few Unicode adds)
    "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in code)
    for code in {tld for tld in _TLDS if len(tld) == 2 and tld.isascii()} - {"an", "su", "tp", "uk"}
    | {"cp", "dg", "ea", "ic", "ta", "un"}
)
# twitter-text: a screen name, unless followed by another at sign, an accented latin letter or
# "://" (end_mention_match): "@bob@other.example" mentions nobody on X.
MENTION_RE = re.compile(r"(?<![\w@])[@\uff20]([A-Za-z0-9_]{1,15})\b(?![@\uff20\u00c0-\u024f]|://)")
# twitter-text's validCashtag: "$" and 1-6 letters (optionally "." or "_" and 1-2 more),
# after a space or the start, before a space, punctuation or the end.
CASHTAG_RE = regex.compile(
    r"(?:^|(?<=[\s]))\$([a-z]{1,6}(?:[._][a-z]{1,2})?)"
    r"(?=$|\s|[!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\"])",
    regex.IGNORECASE,
)
HASHTAG_RE = regex.compile(
    r"(?<![\w#&])[#\uff03]([\p{L}\p{M}\p{N}_]*[\p{L}\p{M}][\p{L}\p{M}\p{N}_]*)"
)


def _utf16(text: str) -> int:
    return len(text) + sum(ord(ch) > 0xFFFF for ch in text)


def _utf16_end(text: str, start: int, units: int) -> int:
    """Where ``units`` UTF-16 units from ``start`` end, short of a code point they would split."""
    end = start
    while end < len(text) and (size := 2 if ord(text[end]) > 0xFFFF else 1) <= units:
        units -= size
        end += 1
    return end


def _label_ok(label: str) -> bool:
    """twitter-text lib/idna.js: a label is 1-63 characters once punycode.js has encoded it."""
    parts = regex.split("[\u3002\uff0e\uff61]", label)
    encoded = [
        "xn--" + part.encode("punycode").decode() if any(ord(ch) > 0x7E for ch in part) else part
        for part in parts
    ]
    return 1 <= len(".".join(encoded)) <= 63


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) code point offsets of each URL twitter-text's extractUrlsWithIndices links."""
    spans: list[tuple[int, int]] = []
    for match in URL_RE.finditer(text):
        url, domain, start = match["url"], match["domain"], match.start("url")
        if len(match["scheme"] or "https://") + _utf16(url) > 4096:
            continue
        if domain.startswith("xn--") and not _ASCII_DOMAIN_RE.search(domain):
            continue
        if not all(_label_ok(label) for label in domain.split(".")):
            continue
        if match["scheme"]:
            tco = _TCO_RE.match(url)  # a t.co link ends with its slug
            if not tco or len(tco[1]) <= 40:
                spans.append((start, start + (tco.end() if tco else len(url))))
        elif not match["before"] or match["before"] not in "-_./":
            # no scheme: only the ASCII domains in it are links, the last one with the path
            ascii_domains = _ASCII_DOMAIN_RE.finditer(domain)
            found = [(start + hit.start(), start + hit.end()) for hit in ascii_domains]
            if found and match["path"]:  # parseTweet passes over that URL's UTF-16 length
                first, last = found[-1]
                units = _utf16(text[first:last] + url) - _utf16(domain)
                found[-1] = (first, _utf16_end(text, first, units))
            spans += found
    return spans


def _code_point_weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def _grapheme_weight(grapheme: str) -> int:
    emoji = _EMOJI_RE.search(grapheme)
    if (
        not emoji
        or (emoji["flag"] and emoji["flag"] not in _FLAGS)
        or (grapheme[0] in "\u00a9\u00ae" and grapheme[1:2] != "\ufe0f")  # ©, ® need U+FE0F
    ):
        return sum(_code_point_weight(ch) for ch in grapheme)
    total = 2  # one emoji, and what in its cluster is no part of one (an accent, a stray VS16)
    for i, ch in enumerate(grapheme):
        if ch in "\ufe0e\ufe0f":
            part = i > 0 and bool(_TAKES_SELECTOR_RE.match(grapheme[i - 1]))
        elif ch == "\u200d":
            part = bool(regex.match(r"\p{Extended_Pictographic}", grapheme[i + 1 : i + 2]))
        else:
            part = bool(_EMOJI_PART_RE.match(ch))
        total += 0 if part else _code_point_weight(ch)
    return total


def _plain_weight(text: str, emoji_parsing: bool = True) -> int:
    if not emoji_parsing:  # twitter-text config v2
        return sum(_code_point_weight(ch) for ch in text)
    return sum(_grapheme_weight(grapheme) for grapheme in regex.findall(r"\X", text))


def escape(text: str) -> str:
    """X returns post text with &, < and > escaped as HTML entities (long-standing API
    behaviour, e.g. sferik/twitter-ruby#348, FxEmbed/FxEmbed#24)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weighted_length(text: str, *, emoji_parsing: bool = True) -> int:
    """X's weighted length of ``text`` (twitter-text v3 parseTweet, scaled so the limit is 280;
    ``emoji_parsing=False``: config v2). Checked against twitter-text's conformance cases."""
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for start, end in url_spans(text):
        total += _plain_weight(text[pos:start], emoji_parsing) + TRANSFORMED_URL_LENGTH
        pos = end
    return total + _plain_weight(text[pos:], emoji_parsing)


def text_is_valid(text: str) -> bool:
    """twitter-text parseTweet's ``valid``: 1-280 weighted, and none of U+FFFE, U+FEFF, U+FFFF."""
    if any(ch in _INVALID_CHARACTERS for ch in text):
        return False
    return 0 < weighted_length(text) <= MAX_WEIGHTED_LENGTH


def language_of(text: str) -> str:
    """A rough stand-in for X's language detection (real X uses a classifier)."""
    body = URL_RE.sub("", MENTION_RE.sub("", text)).strip()
    if not body:
        return "zxx"
    if regex.search(r"[\p{Hiragana}\p{Katakana}]", body):
        return "ja"
    if regex.search(r"\p{Hangul}", body):
        return "ko"
    if regex.search(r"\p{Han}", body):
        return "zh"
    if not regex.search(r"\p{L}", body):
        return "und"
    return "en"


def display_url(original: str) -> str:
    shown = re.sub(r"^https?://", "", original, flags=re.I)
    shown = re.sub(r"^www\.", "", shown, flags=re.I)
    return shown if len(shown) <= 26 else shown[:25] + "…"


def truncate(text: str) -> str:
    """The ``text`` of a long post: its start, within 280 weighted, ending with an ellipsis."""
    out = ""
    for grapheme in regex.findall(r"\X", text):
        if weighted_length(out + grapheme) > MAX_WEIGHTED_LENGTH - 2:
            break
        out += grapheme
    return out.rstrip() + "…"
