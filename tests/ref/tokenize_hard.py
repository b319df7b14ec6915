#!/usr/bin/env python3
"""tokenize_hard.py OUTDIR — write the table of hard inputs for tokenize,
one file per case (NAME.txt), for the parity and round-trip tests. Only
the standard library: the CLI tests use it without the test venv."""
import os
import sys

HARD = {
    "empty": b"",
    "ascii": b"Hello world, it's a test: 12345 apples; don't stop!",
    "emoji": "I 😀 love 👩‍👩‍👧‍👦 families 🇫🇷🇯🇵 and 🧑🏽‍🚀!".encode(),
    "combining": "e\u0301le\u0300ve Zalgo: Z\u0334\u0311a\u0337\u0317l\u0336g\u0335o\u0338 "
                 "n\u0303 A\u030a\u0301".encode(),
    "cjk": "日本語のテキストと中文文本，한국어 텍스트。全角　スペース".encode(),
    "rtl": "שלום עולם مرحبا بالعالم \u200fRTL\u200e mixed עם English ١٢٣".encode(),
    "mixed_scripts": "Ελληνικά Русский ქართული हिन्दी ไทย 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ℌ𝔢𝔩𝔩𝔬".encode(),
    "spaces": b"a  b   c    d\t\te \t \tf     \n\n\n   g\r\n\r\nh   ",
    "newlines": b"\n\n\nx\n \n  \n\n\ty\n",
    "only_spaces": b"      ",
    "unicode_spaces": "a\u00a0b\u2003c\u3000d\u2028e\u0085f\u200bg\u180eh\u001ci  \u00a0 j".encode(),
    "digits": b"123456789 3.14159 1,000,000 0x1F 2024-11-25 12:30 \xd9\xa3\xd9\xa4 \xe2\x85\xab",
    "contractions": "I'm you're he's we've they'll she'd it'S DON'T can\u2019t won\u2019t "
                    "y\u2019all \u2018quoted\u2019 'll 're 've 'd 'm 's 't ''s".encode(),
    "punct": b"!!! ??? ... --- ((( ))) {}[]<>|\\/ @#$%^&*_+= ~` <|endoftext|> a<|story|>b",
    "surrogates": b"lone \xed\xa0\x80 high \xed\xb0\x80 pair \xed\xa0\xbd\xed\xb8\x80 end",
    "invalid_utf8": b"bad \xff\xfe start \xc3 trunc \xe2\x82 trunc3 \xf0\x9f\x98 cont "
                    b"\x80\x81 overlong \xc0\xaf \xe0\x80\xaf max \xf4\x90\x80\x80 ok \xc3\xa9",
    "invalid_mixed": b"\xffabc \xfe 123 \x80\x80  \xc3\xa9\xc3 x\xe6\x97\xa5\xe6\x9c",
    "control": b"\x00\x01\x02 tab\there \x1b[31mred\x1b[0m \x7f del",
    "long_word": ("antidisestablishmentarianism" * 40).encode(),
    "long_punct": b"=" * 3000 + b" " + b"-" * 1000,
}


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    for name, data in HARD.items():
        with open(os.path.join(outdir, name + ".txt"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
