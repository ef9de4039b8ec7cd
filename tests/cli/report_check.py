#!/usr/bin/env python3
"""Checks a lineage report page in headless Chromium (helper of report.sh; not a test itself).

usage: report_check.py PAGE.html SCREENSHOT.png [--count 'data-plot=heatmap&data-scale=raw' N]...

Fails (exit 1, one line per problem) when the page is not well-formed XML, names a network
resource, prints anything on the browser console (the page has no scripts, so any message is an
error), lacks the expected elements in the DOM Chromium built, or renders blank.
"""
import html.parser
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib


def chromium(args, profile):
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
            # No network: a page that needs one shows its failures on the console.
            "--host-resolver-rules=MAP * ~NOTFOUND"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(dict(attrs))

    handle_startendtag = handle_starttag


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat = 8, b""
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    assert depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    page, shot = os.path.abspath(sys.argv[1]), sys.argv[2]
    counts, args = [], sys.argv[3:]
    while args:
        assert args[0] == "--count", args
        counts.append((args[1], int(args[2])))
        args = args[3:]
    problems = []
    text = open(page, encoding="utf-8").read()
    try:
        ET.fromstring(text.split("\n", 1)[1] if text.startswith("<!DOCTYPE") else text)
    except ET.ParseError as e:
        problems.append(f"not well-formed: {e}")
    namespaces = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml")
    for scheme in ("http://", "https://"):
        pos = text.find(scheme)
        while pos >= 0:
            if not text.startswith(namespaces, pos):
                problems.append("names a network resource: " + text[pos:pos + 60])
                break
            pos = text.find(scheme, pos + 1)
    with tempfile.TemporaryDirectory() as profile:
        dom = chromium(["--dump-dom", "file://" + page], profile)
        console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
        problems += ["console: " + line for line in console]
        tags = Tags()
        tags.feed(dom.stdout)
        for spec, expected in counts:
            want = dict(kv.split("=", 1) for kv in spec.split("&"))
            got = sum(1 for t in tags.tags if all(t.get(k) == v for k, v in want.items()))
            if got != expected:
                problems.append(f"{spec}: {got} elements in the DOM, expected {expected}")
        shot_run = chromium(["--screenshot=" + os.path.abspath(shot), "--window-size=1200,1500", "file://" + page],
                            profile)
    if not os.path.exists(shot):
        problems.append("no screenshot: " + shot_run.stderr[-300:])
    else:
        w, h, bpp, rows = png_pixels(shot)
        colours, inked = set(), 0
        for row in rows[::4]:
            for x in range(0, w * bpp, bpp * 4):
                px = row[x:x + 3]
                colours.add(px)
                inked += px != b"\xff\xff\xff"
        sampled = len(rows[::4]) * len(range(0, w * bpp, bpp * 4))
        if inked < sampled * 0.02 or len(colours) < 16:
            problems.append(f"blank screenshot: {inked}/{sampled} sampled pixels not white, {len(colours)} colours")
    for p in problems:
        print("report_check: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
