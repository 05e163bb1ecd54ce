"""URLs as twitter-text finds them (``extractUrlsWithIndices``, js/src/extractUrlsWithIndices.js and
regexp/*.js): what X counts as 23 characters, and Mastodon as ``characters_reserved_per_url``.

twitter-text links a domain only if its top-level domain is on its list; we carry every
country-code TLD and the common generic ones. A span that is a URL in every other respect but
ends in another TLD is reported with ``shortest_end`` set, so a counter can take the most X
could count for it. URLs are found in one linear pass that reproduces twitter-text's extractUrl
regex, where a regex engine would backtrack quadratically on text like ``a.a.a.a...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import regex

# twitter-text hasInvalidCharacters (regexp/invalidChars.js)
X_INVALID_CHARACTERS = "\ufffe\ufeff\uffff"

# ---------------------------------------------------------------------------------------------
# URLs: twitter-text's extractUrlsWithIndices (js/src/extractUrlsWithIndices.js, regexp/*.js)
# ---------------------------------------------------------------------------------------------

# Country-code TLDs: twitter-text's whole validCCTLD list.
_CCTLD_LIST = (
    "ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo "
    "bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm "
    "do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs "
    "gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp "
    "kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms "
    "mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps "
    "pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz "
    "tc td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy uz va vc ve vg vi vn vu "
    "wf ws ye yt za zm zw "
    "한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ "
    "சிங்கப்பூர் இலங்கை இந்தியா ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা "
    "भारोत भारतम् भारत ڀارت پاکستان موريتانيا مليسيا مصر قطر "
    "فلسطين عمان عراق سورية سودان تونس بھارت بارت ایران امارات "
    "المغرب السعودية الجزائر البحرين الاردن հայ "
    "қаз укр срб рф мон мкд ею бел бг ευ ελ"  # noqa: RUF001 (Cyrillic TLDs)
)
COUNTRY_TLDS = _CCTLD_LIST.split()
# Generic TLDs: the common part of twitter-text's validGTLD list (all of these are on it).
_GTLD_LIST = (
    "academy aero africa agency amsterdam android app apple art asia audio bank bar berlin best "
    "bio biz black blog blue cafe capital cat center charity chat church city click cloud club "
    "codes coffee com community company computer cool coop dating design dev digital docs "
    "domains download eco edu email engineering events exchange expert family fashion film "
    "finance foundation fun fyi gallery games garden gay global google gov green group guru "
    "health help horse host hosting house icu info ink institute int jobs kitchen land lat law "
    "legal lgbt life link live lol london love media microsoft mil mobi moe money moscow movie "
    "museum name net network news ninja nyc one online org page paris party photo photography "
    "photos pink place plus porn press pro pub radio red report review reviews rip rocks run "
    "school science services sex shop site social software solutions space store studio style "
    "support systems team tech technology tel today tokyo tools top town travel tube university "
    "ventures video vip watch website wiki win work works world wtf xyz youtube zone"
)
_GTLDS = _GTLD_LIST.split()
_KNOWN_TLDS = frozenset(COUNTRY_TLDS + _GTLDS)

# Characters as twitter-text's regexp/*.js name them.
_SPACES = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u180e"
    + "".join(chr(point) for point in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_INVALID_CHARS = X_INVALID_CHARACTERS
_DIRECTIONAL = "\u202a\u202b\u202c\u202d\u202e\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
_PUNCT = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$"
# validDomainChars is any character but these; a label is domain characters with "_" or "-"
# between them.
_NOT_DOMAIN = frozenset(_PUNCT + _SPACES + _INVALID_CHARS + _DIRECTIONAL)
_NOT_IN_LABEL = _NOT_DOMAIN - frozenset("_-")
# validUrlPrecedingChars: what may stand just before a URL (directional marks may).
_NOT_BEFORE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@\uff20$#\uff03" + _INVALID_CHARS
)
_TLD_STOP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@+-")
LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_PATH_CHAR = rf"[a-zA-Z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{LATIN_ACCENTS}]"
_PARENS = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
_PATH_END = rf"(?:[+\-a-zA-Z\u0400-\u04FF0-9=_#/{LATIN_ACCENTS}]|{_PARENS})"
_PATH = rf"(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}|@{_PATH_CHAR}+/)"
_QUERY = r"\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/]"
_TLD_END = r"(?=[^0-9a-zA-Z@+\-]|$)"
_PUNYCODE_TLD = r"[xX][nN]--[\-0-9a-zA-Z]+"
_ANY_TLD = r"(?:[a-zA-Z]{2,}|[^\W\d_a-zA-Z]{2,})"  # a TLD is all ASCII or all not

# A run of labels with single dots between them: where a domain can be.
_LABEL_CHAR = "[^" + "".join(regex.escape(char) for char in sorted(_NOT_IN_LABEL)) + "]"
_RUN = regex.compile(rf"{_LABEL_CHAR}++(?:\.{_LABEL_CHAR}++)*+")
_SCHEME = regex.compile(r"[hH][tT][tT][pP][sS]?://")
_AFTER_DOMAIN = regex.compile(rf"(?::[0-9]+)?(?P<path>/{_PATH}*)?(?:{_QUERY})?")
_PUNYCODE = regex.compile(_PUNYCODE_TLD)
_ASCII_WORD = regex.compile(r"[a-zA-Z]+")
_OTHER_WORD = regex.compile(r"[^\W\d_a-zA-Z]+")
# validAsciiDomain: in a domain with no scheme, only these parts are linked.
_ASCII_DOMAIN = {
    known: regex.compile(
        rf"(?:[\-a-zA-Z0-9{LATIN_ACCENTS}]+\.)+(?:{tld}{_TLD_END}|{_PUNYCODE_TLD})",
        tlds=_KNOWN_TLDS,
        ignore_unused=True,
    )
    for known, tld in ((True, r"(?i:\L<tlds>)"), (False, _ANY_TLD))
}
_TCO_URL = regex.compile(rf"[hH][tT][tT][pP][sS]?://[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:{_QUERY})?")
_NO_BARE_URL_AFTER = "-_./"  # invalidUrlWithoutProtocolPrecedingChars
_LABEL_SEPARATORS = regex.compile("[\u3002\uff0e\uff61]")  # punycode.js regexSeparators
_MAX_TLD_LENGTH = max(len(tld) for tld in _KNOWN_TLDS)
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_MAX_LABEL_LENGTH = 63


def _tld_followed_well(label: str, length: int, after: str) -> bool:
    following = label[length] if length < len(label) else after
    return following not in _TLD_STOP


def _known_tld(label: str, after: str) -> int:
    """Length of the TLD that twitter-text (with our list) finds at the head of ``label``
    (followed by ``after``), or 0: its gTLD and ccTLD lists, longest first, then punycode."""
    for length in range(min(len(label), _MAX_TLD_LENGTH), 0, -1):
        if label[:length].lower() in _KNOWN_TLDS and _tld_followed_well(label, length, after):
            return length
    punycode = _PUNYCODE.match(label)
    return punycode.end() if punycode else 0


def _any_tld(label: str, after: str) -> int:
    """As ``_known_tld`` for a list holding every word of two letters or more."""
    word = _ASCII_WORD.match(label)
    if word and len(word[0]) >= 2 and _tld_followed_well(label, word.end(), after):
        return int(word.end())
    word = _OTHER_WORD.match(label)
    if word and len(word[0]) >= 2 and _tld_followed_well(label, word.end(), after):
        return int(word.end())
    if word and len(word[0]) >= 3:  # a shorter head is followed by a letter of it, not ASCII
        return int(word.end()) - 1
    punycode = _PUNYCODE.match(label)
    return punycode.end() if punycode else 0


class _Match(NamedTuple):
    start: int  # of the URL, scheme included
    end: int
    scheme: bool
    domain_start: int
    domain_end: int
    before: str  # the character matched before the URL; "" at the start or before U+10000+
    path: bool


class _Run:
    """A run of labels with single dots between them, where domains can lie.

    twitter-text's regex takes, at the leftmost start where it can, ``subdomain* name tld``
    with as many subdomains as it can. Which TLD a domain starting in a label ends with does
    not depend on where in that label it starts (but for a "_" in its name), so one pass over
    the labels answers for every start.
    """

    def __init__(self, text: str, start: int, labels: list[str], tld_end: list[int]) -> None:
        self.text = text
        self.labels: list[tuple[int, int]] = []
        for label in labels:
            self.labels.append((start, start + len(label)))
            start += len(label) + 1
        self.tld_end = tld_end
        self.underscore = [text.rfind("_", begin, end) for begin, end in self.labels]
        # furthest[j]: the last label a domain starting in label j may reach (the labels between
        # must be well formed); best[i]: the last label up to i that can be a TLD after a name
        # without "_"
        self.furthest = [0] * len(labels)
        reach = len(labels) - 1
        for index in range(len(labels) - 1, -1, -1):
            self.furthest[index] = reach
            begin, end = self.labels[index]
            if text[begin] in _NOT_DOMAIN or text[end - 1] in _NOT_DOMAIN:
                reach = index
        self.best = [-1] * len(labels)
        last_good = -1
        for index in range(1, len(labels)):
            if self.has_tld(index) and self.underscore[index - 1] < 0:
                last_good = index
            self.best[index] = last_good

    def has_tld(self, index: int) -> bool:
        return self.tld_end[index] > self.labels[index][0]

    def domain_end(self, start: int, label: int) -> int:
        """End of the domain that starts at ``start`` in ``label``, or 0 if none does."""
        text, end_of_label = self.text, self.labels[label][1]
        if label == len(self.labels) - 1 or text[start] in _NOT_DOMAIN:
            return 0
        if text[end_of_label - 1] in _NOT_DOMAIN:
            return 0
        far = self.best[self.furthest[label]]
        if far >= label + 2:
            return self.tld_end[far]
        if self.has_tld(label + 1) and self.underscore[label] < start:
            return self.tld_end[label + 1]
        return 0


def _matches(text: str, tld: Callable[[str, str], int], pos: int, endpos: int) -> Iterator[_Match]:
    """What twitter-text's extractUrl regex matches in ``text[pos:endpos]``, one by one, in
    time linear in the length of the text."""
    resume = pos
    for found in _RUN.finditer(text, pos, endpos):
        run_start, run_end = found.span()
        if run_end <= resume or "." not in found[0]:
            continue
        labels = found[0].split(".")
        after_run = text[run_end] if run_end < endpos else ""
        tld_end, offset = [0], run_start + len(labels[0]) + 1
        for index, label in enumerate(labels[1:], 1):
            tld_end.append(offset + tld(label, "." if index < len(labels) - 1 else after_run))
            offset += len(label) + 1
        run = _Run(text, run_start, labels, tld_end)
        if not any(run.has_tld(index) for index in range(1, len(labels))):
            continue  # no domain can end in this run
        # Where the regex can begin a URL, in the order it tries them: at each position, first
        # a URL after the character there (taken as the preceding one), then, at the start of
        # the text, one from there. twitter-text reads UTF-16, where a code point past U+FFFF
        # is a high surrogate (a valid preceding character) then a low one (a domain one):
        # there it first tries a URL from inside that code point.
        tries: list[tuple[int, int, int, int, int]] = []  # (position, order, URL, domain, label)
        scheme = _SCHEME.search(text, max(pos, run_start - 8), run_start)
        if scheme and scheme.end() == run_start:
            tries += [(scheme.start() - 1, 1, scheme.start(), run_start, 0)]
            tries += [(0, 2, 0, run_start, 0)] if scheme.start() == 0 else []
        for index, (label_start, label_end) in enumerate(run.labels[:-1]):
            for start in range(label_start, label_end):
                tries.append((start - 1, 1, start, start, index))
                if ord(text[start]) > 0xFFFF:
                    tries.append((start, 0, start, start, index))
                elif start == 0:
                    tries.append((0, 2, start, start, index))
        for position, order, url_start, start, label in sorted(tries):
            if position < resume:
                continue
            if order == 1 and (position < 0 or text[position] in _NOT_BEFORE):
                continue
            end = run.domain_end(start, label)
            if not end:
                continue
            rest = _AFTER_DOMAIN.match(text, end, endpos)
            before = text[position] if order == 1 else ""
            yield _Match(
                url_start, rest.end(), url_start < start, start, end, before, bool(rest["path"])
            )
            resume = rest.end()


def _utf16_length(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _utf16_end(text: str, start: int, units: int) -> int:
    """Where ``units`` UTF-16 units from ``start`` end (before a code point they would split,
    whose low surrogate parseTweet then weighs 2, as we weigh the code point)."""
    end = start
    while end < len(text):
        size = 2 if ord(text[end]) > 0xFFFF else 1
        if size > units:
            break
        units -= size
        end += 1
    return end


def _ascii_label(label: str) -> str:
    """punycode.js toASCII of one label."""
    parts = _LABEL_SEPARATORS.split(label)
    return ".".join(
        "xn--" + part.encode("punycode").decode("ascii")
        if any(ord(char) > 0x7E for char in part)
        else part
        for part in parts
    )


def _valid_domain(domain: str, ascii_domain: regex.Pattern[str]) -> bool:
    """twitter-text lib/idna.js toAscii: every label 1-63 characters once punycode-encoded."""
    if domain.startswith("xn--") and not ascii_domain.search(domain):
        return False
    try:
        return all(
            1 <= len(_ascii_label(label)) <= _MAX_LABEL_LENGTH for label in domain.split(".")
        )
    except UnicodeError:
        return False


def _extract_urls(
    text: str,
    *,
    known: bool,
    without_scheme: bool,
    rejected: set[tuple[int, int]],
    pos: int = 0,
    endpos: int | None = None,
) -> Iterator[tuple[int, int]]:
    """(start, end) of each URL, as twitter-text's extractUrlsWithIndices, with our TLD list
    (``known``), or else with any word for a TLD. Those with our list that twitter-text would
    match but not link (a label or a length over the limits, a t.co slug too long) go to
    ``rejected``; without our list, those are skipped and the others kept however long."""
    ascii_domain = _ASCII_DOMAIN[known]
    endpos = len(text) if endpos is None else endpos
    for match in _matches(text, _known_tld if known else _any_tld, pos, endpos):
        if not known and (match.start, match.domain_end) in rejected:
            continue  # X matches that too (no TLD of X's makes it longer), and does not link it
        url = text[match.start : match.end]
        domain = text[match.domain_start : match.domain_end]
        scheme_length = match.domain_start - match.start if match.scheme else len("https://")
        tco = _TCO_URL.match(url) if match.scheme else None
        if known and (
            not _valid_domain(domain, ascii_domain)
            or scheme_length + _utf16_length(url) > _MAX_URL_LENGTH
            or (tco and len(tco[1]) > _MAX_TCO_SLUG_LENGTH)
        ):
            rejected.add((match.start, match.domain_end))
            continue
        if match.scheme:
            end = match.start + tco.end() if tco else match.end  # t.co: up to its slug (query)
            yield match.start, end
        elif without_scheme and not (match.before and match.before in _NO_BARE_URL_AFTER):
            # only the ASCII domains in it are linked; the last one takes the path along
            spans = [
                (match.domain_start + found.start(), match.domain_start + found.end())
                for found in ascii_domain.finditer(domain)
            ]
            if spans and match.path:
                # the URL is then url.replace(domain, asciiDomain), and parseTweet passes over
                # as many UTF-16 units as it has from where asciiDomain starts
                last_start, last_end = spans[-1]
                units = _utf16_length(text[last_start:last_end] + url) - _utf16_length(domain)
                spans[-1] = (last_start, _utf16_end(text, last_start, units))
            yield from spans


class FoundUrl(NamedTuple):
    start: int
    end: int
    # None: X links it as we do. Else its TLD is not one we know, and X may link nothing here,
    # the whole span, or from its start to any point from ``shortest_end`` on.
    shortest_end: int | None


# The shortest URL X could link at the start of such a span: its first label, a dot and two
# characters (X may know an inner label for a TLD, or a TLD that is the head of a word, as the
# Cyrillic "rus" is of "russkiy", and stop short of a label too long).
_SHORTEST_URL = regex.compile(r"(?:[hH][tT][tT][pP][sS]?://)?[^.]*\..{0,2}", regex.DOTALL)


def find_urls(text: str, *, without_scheme: bool) -> list[FoundUrl]:
    """URLs with a TLD we know, exactly as twitter-text finds them; then, in the gaps, spans
    that are URLs but for a TLD we do not know (``file.txt``, ``https://example.museum``)."""
    if "." not in text:
        return []
    rejected: set[tuple[int, int]] = set()
    urls = [
        FoundUrl(start, end, None)
        for start, end in _extract_urls(
            text, known=True, without_scheme=without_scheme, rejected=rejected
        )
    ]
    starts = [0, *(url.end for url in urls)]
    ends = [*(url.start for url in urls), len(text)]
    for gap_start, gap_end in zip(starts, ends, strict=True):
        for start, end in _extract_urls(
            text,
            known=False,
            without_scheme=without_scheme,
            rejected=rejected,
            pos=gap_start,
            endpos=gap_end,
        ):
            shortest = _SHORTEST_URL.match(text, start, end)
            urls.append(FoundUrl(start, end, shortest.end() if shortest else end))
    return sorted(urls)


# ---------------------------------------------------------------------------------------------
# X weights
# ---------------------------------------------------------------------------------------------
