"""report.html in a real browser: headless Chromium renders the page, the DOM it built is checked.

The founding incident and a larger fleet (several firewalls, rules and routers, paths assumed) are
audited with the playbook; Chromium loads each report.html from disk, `--dump-dom` gives the DOM
after load, and a screenshot is kept beside the report (the pytest tmp folder) as the artifact of
the run. Every request the browser makes goes to a recording proxy: the page must make none (the
browser's own service requests, which a blank page makes too, are told apart by host). The same
page is also checked statically: no script, no stylesheet, font or image from elsewhere.
"""

import html.parser
import json
import os
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests.integration.test_playbooks import MANGLE, ROUTER, ansible, audit

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.playbook, pytest.mark.skipif(
    CHROMIUM is None,
    reason=("chromium is not installed: scripts/setup.sh installs it (Debian package) when run as root"
            if os.geteuid() == 0 else "not root and no chromium: scripts/setup.sh installs it only when run as root"))]

# Hosts Chromium itself talks to (time, component updates, sign-in) whatever the page: never a report's.
BROWSER_SERVICES = {"clients2.google.com", "accounts.google.com", "update.googleapis.com", "clientservices.googleapis.com",
                    "redirector.gvt1.com", "optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com"}


class Proxy:
    """A TCP listener standing in for an HTTP proxy: it answers nothing and records each request line."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(32)
        self.port = self.server.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.requests.append(conn.recv(4096).split(b"\r\n")[0].decode("latin-1"))
            except OSError:
                pass
            conn.close()

    def hosts(self):
        found = set()
        for line in self.requests:
            match = re.match(r"\S+ (?:https?://)?([^/:\s]+)", line)
            if match:
                found.add(match.group(1))
        return found


@pytest.fixture(scope="module")
def proxy():
    running = Proxy()
    yield running
    running.server.close()


def chromium(proxy, *args):
    command = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
               "--proxy-server=http://127.0.0.1:%d" % proxy.port, "--proxy-bypass-list=<-loopback>", *args]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def external_requests(proxy, page):
    """The hosts the browser contacted while rendering `page`, less those it contacts for a blank page."""
    proxy.requests.clear()
    chromium(proxy, "--dump-dom", "about:blank")
    time.sleep(0.2)
    background = proxy.hosts() | BROWSER_SERVICES
    proxy.requests.clear()
    chromium(proxy, "--dump-dom", page.as_uri())
    time.sleep(0.2)
    return proxy.hosts() - background


class DOM(html.parser.HTMLParser):
    """The elements of the dumped DOM with their attributes, ancestors and text."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": [], "parents": list(self.stack), "children": []}
        if self.stack:
            self.stack[-1]["children"].append(element)
        self.elements.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1]["tag"] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index]["tag"] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"].append(data)

    def find(self, tag=None, **attrs):
        return [e for e in self.elements if (tag is None or e["tag"] == tag)
                and all(e["attrs"].get(key.rstrip("_").replace("_", "-")) == value for key, value in attrs.items())]


def text_of(element):
    return " ".join(" ".join(element["text"]).split())


def dump_dom(proxy, page):
    run = chromium(proxy, "--dump-dom", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    dom = DOM()
    dom.feed(run.stdout)
    return dom, run.stdout


def screenshot(proxy, page, height):
    shot = page.with_name("report.png")
    run = chromium(proxy, "--screenshot=%s" % shot, "--window-size=1200,%d" % height, page.as_uri())
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, tall = struct.unpack(">II", data[16:24])
    assert (width, tall) == (1200, height)
    return shot


def assert_self_contained(text):
    """No script; nothing fetched from elsewhere: every src/href is a fragment, and CSS imports nothing."""
    assert "<script" not in text.lower()
    assert not re.search(r"<(link|img|iframe|object|embed|audio|video|source)\b", text, re.IGNORECASE)
    for attribute, value in re.findall(r"""\b(src|href|xlink:href|action|srcset|poster)\s*=\s*["']([^"']*)""", text,
                                       re.IGNORECASE):
        assert value.startswith("#"), "%s=%r reaches outside the page" % (attribute, value)
    assert "@import" not in text and "@font-face" not in text
    assert not [url for url in re.findall(r"url\(([^)]*)\)", text) if not url.strip("'\"").startswith("#")]


def assert_readable_without_colour(text):
    """Every colour the page sets is a grey: meaning is carried by words, borders and dash patterns."""
    style = text[text.index("<style>"):text.index("</style>")]
    colours = re.findall(r"#([0-9a-fA-F]{3,6})\b", style)
    assert colours
    for colour in colours:
        full = "".join(c * 2 for c in colour) if len(colour) == 3 else colour
        assert full[0:2] == full[2:4] == full[4:6], "#%s is a colour, not a grey" % colour
    assert not re.search(r"\b(rgb|hsl)a?\(|\b(red|green|orange|yellow|blue)\b", style)


def print_to_pdf(proxy, page):
    pdf = page.with_name("report.pdf")
    run = chromium(proxy, "--no-pdf-header-footer", "--print-to-pdf=%s" % pdf, page.as_uri())
    assert run.returncode == 0 and pdf.is_file(), run.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/Type\s*/Page\b", data))


def check_conflicts_drawn(dom, findings):
    sections = [e for e in dom.find("section") if "conflict" in e["attrs"].get("class", "").split()]
    assert len(sections) == len(findings["conflicts"])
    by_id = {section["attrs"]["id"]: section for section in sections}
    assert set(by_id) == {"conflict-%d" % number for number in range(1, len(findings["conflicts"]) + 1)}
    for number, conflict in enumerate(findings["conflicts"], 1):
        section = by_id["conflict-%d" % number]
        figures = [child for child in section["children"] if child["tag"] == "figure"]
        assert len(figures) == 1, "conflict %d has no picture" % number
        svgs = [child for child in figures[0]["children"] if child["tag"] == "svg"]
        assert len(svgs) == 1
        drawn = text_of(svgs[0])
        marker, treatment = conflict["marker"], conflict["treatment"]
        # Both ends, the byte, each deciding line and both fates are in the picture itself.
        assert "Firewall %s" % marker["host"] in drawn and "%s:%d" % (marker["file"], marker["line"]) in drawn
        assert "DS byte 0x%02x" % conflict["ds_byte"] in drawn
        assert "RFC 1349 reading" in drawn
        assert "Router %s, entering %s" % (treatment["host"], treatment["interface"]) in drawn
        for line in treatment["lines"]:
            assert re.search(r"\b%d\s+%s" % (line["line"], re.escape(" ".join(line["text"].split()[:2]))), drawn), line
        assert treatment["action"].upper() in drawn and "Unmarked (DS byte 0x00): %s" % treatment["unmarked_action"] in drawn
        rects = [e for e in dom.elements if e["tag"] == "rect" and svgs[0] in e["parents"]]
        assert len(rects) == 6  # firewall, byte, link, router, marked fate, unmarked fate
        # Section text (outside the picture) names the rule, the router and the fate too.
        section_text = text_of(section)
        assert marker["rule"] in section_text


def test_founding_incident_report_html_renders_with_its_path_picture(tmp_path, proxy):
    run = ansible("ansible-playbook", "diffserv.audit.audit", "-i", "inventories/example",
                  "-e", "diffserv_report_dir=%s" % tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    findings = json.loads((tmp_path / "findings.json").read_text())
    page = tmp_path / "report.html"
    text = page.read_text()
    assert_self_contained(text)
    dom, dumped = dump_dom(proxy, page)
    check_conflicts_drawn(dom, findings)
    # The five marking rules of the incident (the partner's dump, the modern partner's nft ruleset) share
    # one router treatment: one group lists them all, with the nine deciding lines once, each with its
    # file and text.
    groups = [e for e in dom.find("article") if "group" in e["attrs"].get("class", "")]
    assert len(groups) == 1
    group_text = text_of(groups[0])
    for line in (35, 23, 25):
        assert "partner-fw.rules:%d" % line in group_text
    for line in (16, 13):
        assert "modern-partner.nft:%d" % line in group_text
    deciding = [e for e in dom.find("table") if "deciding" in e["attrs"].get("class", "") and groups[0] in e["parents"]]
    rows = [text_of(e) for e in dom.elements if e["tag"] == "tr" and deciding[0] in e["parents"]][1:]
    expected = findings["conflicts"][0]["treatment"]["lines"]
    assert len(deciding) == 1 and len(rows) == len(expected) == 9
    for row, line in zip(rows, expected):
        assert row.startswith("%s:%d %s" % (line["file"], line["line"], line["text"])), row
    # No Python repr: nft's own braces (`tcp dport { 110, 465 }`) are rule text, a dict would open with {'.
    assert "Confirmed by a router trace of a tcp packet" in group_text and "{'" not in group_text
    assert "tcp dport { 110, 465, 993, 995, 1110 }" in group_text
    summary = dom.find("table", id="summary-table")[0]
    assert len([row for row in dom.elements if row["tag"] == "tr" and summary in row["parents"]]) == 1 + 5
    assert "drops-lower-effort" in text_of(dom.find("section", id="advisories")[0])
    assert text_of(dom.find("section", id="observations")[0]).endswith("None recorded in this run.")
    assert "['" not in dumped and "{'" not in dumped
    assert external_requests(proxy, page) == set()
    screenshot(proxy, page, 3200)
    assert_readable_without_colour(text)
    assert print_to_pdf(proxy, page) >= 2  # printable: Chromium lays it out on pages


def test_larger_fleet_report_html_draws_every_conflict(tmp_path, proxy):
    rules = "".join("-A POSTROUTING -o eth0 -p tcp -m tcp --dport %d -j TOS --set-tos 0x04\n" % port
                    for port in (25, 110, 143, 465, 587))
    firewalls = {"fw-%d" % n: MANGLE % rules for n in range(4)}
    routers = {"rtr-pbr": ROUTER.format(name="rtr-pbr", uplink=" ip policy route-map null_policy_route"),
               "rtr-acl": ROUTER.format(name="rtr-acl", uplink=" ip access-group 107 in"),
               "rtr-both": ROUTER.format(name="rtr-both", uplink=" ip access-group 107 in\n ip policy route-map null_policy_route")}
    started = time.perf_counter()
    run, findings, report = audit(tmp_path, firewalls, routers)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(findings["conflicts"]) == 4 * 5 * 3
    page = report / "report.html"
    assert_self_contained(page.read_text())
    began = time.perf_counter()
    dom, _dumped = dump_dom(proxy, page)
    check_conflicts_drawn(dom, findings)
    # One group per router treatment (the same deciding lines), each listing the 4 x 5 rules sent into it.
    groups = [e for e in dom.find("article") if "group" in e["attrs"].get("class", "")]
    assert len(groups) == 3
    for group in groups:
        assert len([c for c in group["children"] if c["tag"] == "section"]) == 20
        listed = [e for e in dom.elements if e["tag"] == "li" and group in e["parents"] and e["parents"][-1]["tag"] == "ul"
                  and "#conflict-" in "".join(a["attrs"].get("href", "") for a in e["children"])]
        assert len(listed) == 20
    assert external_requests(proxy, page) == set()
    screenshot(proxy, page, 2000)
    print("larger case: audit %.1f s, browser load + DOM %.1f s" % (began - started, time.perf_counter() - began))


def test_the_request_detector_sees_a_page_that_loads_from_elsewhere(tmp_path, proxy):
    """The negative control: the no-external-request check would catch an image or a stylesheet."""
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://leak.example.invalid/x.png">'
                    '<link rel="stylesheet" href="https://fonts.example.invalid/a.css"></body></html>')
    assert {"leak.example.invalid", "fonts.example.invalid"} <= external_requests(proxy, page)
    with pytest.raises(AssertionError):
        assert_self_contained(page.read_text())
