#!/usr/bin/env python3
"""Tokenizer fixtures: CLIP BPE ids of varied sentences, for the Swift tokenizer's parity tests.

    python3 scripts/fixturegen/tokenizer.py      # or: python3 scripts/make_fixtures.py tokenizer

Writes, under Tests/CLIPTests/Fixtures/tokenizer/:
  vocab.json, merges.txt  the real CLIP BPE files (copied once from ../shared/fixtures/hf-clip-tiny0, which built
                          them from OpenAI's bpe_simple_vocab_16e6.txt.gz); every CLIP fixture refers to these.
  cases.json              {"cases": [{text, ids, hf_ids, hf_equal}] (the sentences, then seeded random strings),
                           "padded": {texts, input_ids},
                           "html_unescape": [{text, unescaped}], versions}
and Sources/CLIP/HTMLEntitiesTable.swift, the WHATWG named character references as Python's `html` module has them.

`ids` (the expected ids, truncated to 77 with EOT last) come from `simple_tokenizer_ids` below: a line-for-line port
of OpenAI's SimpleTokenizer (CLIP's reference; transformers 4.x's slow CLIPTokenizer followed it) with one change:
`ftfy.fix_text` is replaced by NFC normalisation, because ftfy has no Swift counterpart (ftfy also NFC-normalises;
its other repairs -- mojibake, ligatures, curly quotes, full-width forms -- are not reproduced, exactly like
transformers' CLIPTokenizer). transformers 5 has only the tokenizers-backed CLIPTokenizer; its ids are stored as
`hf_ids`. It differs from OpenAI's only in not unescaping HTML entities, so `hf_equal` is false exactly for the
sentences with entities; the Swift tokenizer follows OpenAI there.
"""

import html
import html.entities
import json
import pathlib
import shutil
import sys
import unicodedata
from functools import lru_cache

import regex

CONTEXT_LENGTH = 77
SOT, EOT = 49406, 49407

SENTENCES = [
    # Plain English and the prompts clipcv is used with.
    "a photo of a cat",
    "a CT image of a tumor that responds to chemotherapy",
    "a CT image of a tumor that does not respond to chemotherapy",
    "CT of a high-grade serous ovarian carcinoma, 5.2 cm",
    "Patient's 2nd scan: non-responder!",
    "Grade 3 (G3) HGSOC, FIGO stage IIIC; CA-125: 1,250 U/mL",
    "the lesion measures 5.2×3.1 cm (prev. 6.0×4.4 cm)",
    "Ki-67 ≈ 80%; p53 mutant-type; BRCA1/2 wild-type",
    "no evidence of disease (NED) – complete response (CR)",
    "RECIST 1.1: PR (−32%) after 6 cycles of carboplatin/paclitaxel",
    "SUVmax 12.4 → 3.1 post-treatment; T2-weighted MRI, T1 + contrast (gadolinium)",
    "Mr. O'Neil's 3rd-line therapy failed.",
    # Apostrophes and contractions, in every case.
    "they're here; we've done it, I'm sure you'll see what he'd do, it's John's",
    "DON'T SHOUT: IT'S LOUD AND WE'LL HEAR, THEY'VE SAID, I'D KNOW",
    "rock'n'roll isn't dead 'til the '90s",
    "'s 't 're at the start and '' doubled ''s",
    "C'est l'été, n'est-ce pas? l'hôpital d'Orsay",
    "it'ſ the long s, which matches 's only case-insensitively",
    "curly quotes “like this” and ‘this’ and don’t",
    # Punctuation, symbols, digits.
    "HELLO World!!! 1234567 x-ray (T2-weighted) MRI; they're we'll I'd",
    "1234567890 and 3.14159 and -42 and 1,000,000 and 007",
    "!!!???... ---- ___ *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}} <<< >>> ||| \\\\ ///",
    "e-mail: someone@example.com, https://example.org/path?q=1&x=2#frag",
    "$100 €50 £20 ¥1000 ±0.5 °C ≥ 3 ≤ 4 ≠ 5 µg/kg",
    "x^2 + y^2 = z^2; f(x) = 2x; a_i * b_j / c",
    "_underscores_ and #hashtags and @mentions and snake_case_name",
    "HyperTension and iPhone and McDonald's and CamelCaseWords",
    "²³ ½ ¼ Ⅻ ⅷ ٣٤٥ ０１２ ①②",
    # Whitespace.
    "  Multiple   spaces\tand\nnewlines  ",
    "line1\r\nline2\rline3\fline4\vline5",
    "\u00a0no-break\u2003em\u3000ideographic\u2028line sep\u0085next line",
    "zero-width\u200bspace and soft\u00adhyphen and joiner\u200dhere",
    "\x1cfile separator\x1c inside \x1f unit \x1f",
    "",
    "   ",
    # Accents, non-Latin scripts, case mappings.
    "naïve café – 3.5mm lesion, Größe 12µm",
    "cafe\u0301 with a combining accent (NFC makes it café)",
    "Tiếng Việt có dấu, Ελληνικά, Русский",
    "Ελληνικά: ο ΚΑΡΚΙΝΟΣ ΤΗΣ ΩΟΘΗΚΗΣ, ΣΑΣ Σ. ΌΣΟΣ",
    "Русский текст: опухоль яичника, ПРИВЕТ МИР",
    "中文：卵巢癌的CT图像，化疗后缩小。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장입니다: 난소암",
    "العربية: ورم المبيض ٢٠٢٤",
    "עברית: גידול שחלתי",
    "हिन्दी पाठ: डिम्बग्रंथि कैंसर",
    "ภาษาไทย มะเร็งรังไข่",
    "İstanbul ıspanak DŽemal ǅ ǆ ß STRASSE ﬁne ŉ",
    "ქართული ენა and Ⴀ Ⴁ",
    # Emoji and symbols outside the BMP.
    "I ❤️ 🐱 and 👩‍⚕️ doctors 🎉🎉",
    "flags 🇺🇸🇫🇷 and skin tones 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters",
    # The special tokens written in text.
    "<|startoftext|> hi <|endoftext|>",
    "!<|endoftext|> and <|ENDOFTEXT|> and <|endoftext",
    # HTML entities (OpenAI unescapes twice; transformers' fast tokenizer does not).
    "fish &amp; chips",
    "a &lt;tag&gt; and &quot;quoted&quot; &#39;single&#39;",
    "&amp;amp; is double escaped, &amp;lt; too",
    "caf&eacute; na&iuml;ve &copy2024 AT&T &notit; &notin; &NotEqualTilde;",
    "&#x263A; smile &#9731; snowman &#128512; &#0; &#128; &#x110000; &#55296; &#12a",
    # Long inputs: truncation keeps EOT last.
    "a very long report: " + " ".join(f"lesion {i} measures {i}.{i} cm and is stable" for i in range(1, 15)),
    "supercalifragilisticexpialidocious " * 12,
    "x" * 400,
]

# Random strings from fragments that stress every rule at once (cleaning, each pre-tokenizer alternative, BPE).
FUZZ_FRAGMENTS = [
    "a", "Z", "cat", "Tumor", "x-ray", "mm", "0", "7", "42", "3.5", " ", "  ", "\t", "\n", "\u00a0", "'", "'s", "'T",
    "'re", "'VE", "'m", "'ll", "'d", "'x", ".", ",", "!?", "-", "(", ")", "/", "<", ">", "|", "&", "#", ";", "&amp;",
    "&#39;", "&lt;", "&eacute", "&#x41;", "<|endoftext|>", "<|startoftext|>", "é", "e\u0301", "ü", "ñ", "ß", "Σ",
    "σ", "ΑΒΓ", "ΟΣ", "Ж", "ябл", "中文", "癌", "カナ", "한", "ع", "🎉", "👩\u200d⚕️", "ſ", "İ", "ǅ", "Ⅻ", "²", "½",
    "\x1c", "\u200b", "\u00ad", "ﬁ", "“", "’", "µ", "—", "'ſ",
]
FUZZ_COUNT = 300


def fuzz_sentences():
    import random
    generator = random.Random(20261204)
    return ["".join(generator.choice(FUZZ_FRAGMENTS) for _ in range(generator.randint(1, 14))) for _ in range(FUZZ_COUNT)]


PADDED_BATCH = ["a CT image of a tumor that responds to chemotherapy", "a photo of a cat", "",
                SENTENCES[-3]]

HTML_CASES = [
    "fish &amp; chips", "&amp;amp;", "&lt;&gt;&quot;&apos;&#39;&#x27;", "AT&T", "&copy2024", "&notit;", "&notin;",
    "&ampfoo;", "&amp", "&AMP;", "&Amp;", "&#65;&#x41;&#X41;&#0065", "&#0;", "&#13;", "&#128;&#150;&#159;",
    "&#129;", "&#1;&#11;&#127;&#xFDD0;&#xFFFF;&#x10FFFF;", "&#55296;&#xDFFF;", "&#x110000;&#99999999999999999999;",
    "&#x;&#;&# 1", "&" * 3, "&;", "&" + "a" * 40 + ";", "&NotEqualTilde;&nbsp;&nbsp&thinsp;", "&acE;&fjlig;",
    "&#12a", "&#xZZ", "&eacute &eacuteX &eacute;", "trailing &", "&lt", "&Ascr;&Aopf;",
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(n) for n in cs]))


class SimpleTokenizer:
    """OpenAI CLIP's simple_tokenizer.SimpleTokenizer, reading HF's vocab.json/merges.txt; ftfy → NFC."""

    pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                        regex.IGNORECASE)

    def __init__(self, directory: pathlib.Path):
        self.byte_encoder = bytes_to_unicode()
        self.encoder = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        lines = (directory / "merges.txt").read_text(encoding="utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:] if line.strip()]
        self.bpe_ranks = {merge: rank for rank, merge in enumerate(merges)}
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = {(a, b) for a, b in zip(word, word[1:])}
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = {(a, b) for a, b in zip(word, word[1:])}
        word = " ".join(word)
        self.cache[token] = word
        return word

    @staticmethod
    def clean(text):
        text = unicodedata.normalize("NFC", text)           # ftfy.fix_text in OpenAI's basic_clean
        text = html.unescape(html.unescape(text)).strip()   # basic_clean
        text = regex.sub(r"\s+", " ", text).strip()         # whitespace_clean
        return text.lower()

    def encode(self, text):
        ids = []
        for token in regex.findall(self.pat, self.clean(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self.bpe(token).split(" "))
        return ids

    def ids(self, text):
        """[SOT] + ids + [EOT], truncated to 77 with EOT last (OpenAI's tokenize(truncate=True), unpadded)."""
        ids = [SOT] + self.encode(text) + [EOT]
        return ids[: CONTEXT_LENGTH - 1] + [EOT] if len(ids) > CONTEXT_LENGTH else ids


def html_entities_swift() -> str:
    entries = "\n".join(f"{name}={','.join(f'{ord(c):X}' for c in value)}"
                        for name, value in sorted(html.entities.html5.items()))
    charrefs = ", ".join(f"0x{k:02X}: 0x{ord(v):04X}" for k, v in sorted(html._invalid_charrefs.items()))
    codepoints = sorted(html._invalid_codepoints)
    ranges, start = [], codepoints[0]
    for previous, current in zip(codepoints, codepoints[1:] + [None]):
        if current != previous + 1:
            ranges.append(f"0x{start:X}...0x{previous:X}")
            start = current
    return f"""// Generated by scripts/fixturegen/tokenizer.py from Python {sys.version_info.major}.{sys.version_info.minor}'s `html` module. Do not edit.

/// The WHATWG named character references as `html.entities.html5` lists them ({len(html.entities.html5)} entries, the legacy
/// forms without `;` included): one `name=HEX[,HEX]` line each, the value's code points in hex.
let htmlNamedReferenceTable = \"\"\"
{entries}
\"\"\"

/// Numeric references that `html.unescape` maps to another character (Windows-1252 for 0x80...0x9F).
let htmlReplacedCharacterReferences: [UInt32: UInt32] = [{charrefs}]

/// Code points that `html.unescape` drops when written as numeric references.
let htmlDroppedCodePoints: [ClosedRange<UInt32>] = [{", ".join(ranges)}]
"""


def generate(repo_root):
    repo_root = pathlib.Path(repo_root)
    out = repo_root / "Tests/CLIPTests/Fixtures/tokenizer"
    out.mkdir(parents=True, exist_ok=True)
    # ../shared beside the repo root (a git worktree may sit deeper: take the nearest ancestor that has it).
    shared = next(p / "shared/fixtures/hf-clip-tiny0" for p in repo_root.parents
                  if (p / "shared/fixtures/hf-clip-tiny0").is_dir())
    for name in ("vocab.json", "merges.txt"):
        if not (out / name).exists():
            shutil.copyfile(shared / name, out / name)

    from transformers import CLIPTokenizer
    import transformers

    hf = CLIPTokenizer.from_pretrained(str(out))
    reference = SimpleTokenizer(out)
    cases = []
    for text in SENTENCES + fuzz_sentences():
        ids = reference.ids(text)
        hf_ids = hf(text, truncation=True, max_length=CONTEXT_LENGTH)["input_ids"]
        cases.append({"text": text, "ids": ids, "hf_ids": hf_ids, "hf_equal": ids == hf_ids})
    padded = hf(PADDED_BATCH, padding="max_length", truncation=True, max_length=CONTEXT_LENGTH)["input_ids"]
    assert all(row[: len(reference.ids(t))] == reference.ids(t) or "&" in t for row, t in zip(padded, PADDED_BATCH))
    fixture = {
        "description": __doc__.strip().split("\n")[0],
        "transformers_version": transformers.__version__,
        "python_version": sys.version.split()[0],
        "cases": cases,
        "padded": {"texts": PADDED_BATCH, "input_ids": padded},
        "html_unescape": [{"text": t, "unescaped": html.unescape(t)} for t in HTML_CASES],
    }
    (out / "cases.json").write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (repo_root / "Sources/CLIP/HTMLEntitiesTable.swift").write_text(html_entities_swift(), encoding="utf-8")

    differing = [c["text"] for c in cases[: len(SENTENCES)] if not c["hf_equal"]]
    print(f"tokenizer: {len(SENTENCES)} sentences, {len(SENTENCES) - len(differing)} with transformers == OpenAI ids, "
          f"differing: {differing}; {FUZZ_COUNT} random strings, "
          f"{sum(c['hf_equal'] for c in cases[len(SENTENCES):])} with transformers == OpenAI ids")


if __name__ == "__main__":
    generate(pathlib.Path(__file__).resolve().parents[2])
