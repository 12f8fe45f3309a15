"""index.html: built from a packaged Jinja2 template and the `markdown` library, opens with the
ranking and quality-against-cost figures, is self-contained, and in headless Chromium every
image and audio file loads, the tables render, and a screenshot is taken."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.report.html import TEMPLATE, markdown_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (python -m bench doctor --install)")
CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images], auds = [...document.querySelectorAll('audio')];
  const tables = [...document.querySelectorAll('table')];
  const res = {images: imgs.length, audio: auds.length, tables: tables.length, badAudio: [],
               badImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
                              .map(i => i.getAttribute('src')),
               emptyTables: tables.filter(t => t.rows.length < 2 || t.offsetHeight === 0).length};
  let pending = auds.length;
  const done = () => { const pre = document.createElement('pre'); pre.id = 'afx-check';
                       pre.textContent = JSON.stringify(res); document.body.appendChild(pre); };
  if (!pending) done();
  auds.forEach(a => {
    const fin = ok => { if (!ok) res.badAudio.push(a.getAttribute('src'));
                        if (--pending === 0) done(); };
    if (a.readyState >= 1) { fin(true); return; }
    a.addEventListener('loadedmetadata', () => fin(true), {once: true});
    a.addEventListener('error', () => fin(false), {once: true});
    a.preload = 'auto'; a.load();
  });
});
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with no network side-channels, as root in a container."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--hide-scrollbars"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True,
                          timeout=120, check=False)


def check_page(page: Path, tmp: Path) -> dict:
    """Load a copy of ``page`` (same directory, so relative paths hold) with the checker."""
    probe = page.with_name("_check.html")
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    out = chromium("--virtual-time-budget=20000", "--allow-file-access-from-files",
                   "--dump-dom", probe.as_uri(), profile=tmp / "profile")
    probe.unlink()
    found = re.search(r'<pre id="afx-check">(.*?)</pre>', out.stdout)
    assert found, f"checker did not finish: {out.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_page_is_self_contained(reports_dir: Path):
    page = (reports_dir / "index.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<script" not in page and "@import" not in page
    for ref in re.findall(r'(?:src|href)="([^"#][^"]*)"', page):
        assert (reports_dir / ref).is_file(), ref
    assert page.count("<audio") == 2 * 5  # 2 examples × (input, reference, target, 2 outputs)
    assert "<em>input</em>" in page and "<strong>0.51 ± 0.0248</strong>" in page


def test_page_opens_with_ranking_then_quality_against_cost_then_tables(reports_dir: Path):
    page = (reports_dir / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images[:2] == ["figures/ranking_smoke.png", "figures/quality_cost_smoke.png"]
    assert page.index("figures/quality_cost_smoke.png") < page.index("<table")
    assert page.count("figures/ranking_smoke.png") == 1  # not repeated in the gallery


def test_markdown_goes_through_the_markdown_library():
    html = markdown_html("# Title\n\n## T\n\n_random_encoder_ and synthetic_speech\n\n"
                         "| a | b |\n|---|---|\n| 1 | **2** |\n\n- x\n\n![c](f.png)")
    assert "Title" not in html  # the page's section carries the title
    assert '<h3 id="t">T</h3>' in html
    assert "<em>random_encoder</em> and synthetic_speech" in html
    assert "<td><strong>2</strong></td>" in html and "<li>x</li>" in html
    assert '<img alt="c" src="f.png">' in html


def test_template_is_package_data():
    import tomllib
    from fnmatch import fnmatch

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["bench.report"]
    template = (root / "bench" / "report" / "templates" / TEMPLATE)
    assert template.is_file()
    assert any(fnmatch(f"templates/{TEMPLATE}", p) for p in patterns)


@needs_chromium
def test_chromium_loads_images_audio_and_tables(reports_dir: Path, tmp_path: Path):
    site = tmp_path / "site"
    shutil.copytree(reports_dir, site)
    result = check_page(site / "index.html", tmp_path)
    page = (site / "index.html").read_text()
    assert result["images"] == page.count("<img") > 5
    assert result["audio"] == page.count("<audio") > 0
    assert result["badImages"] == [] and result["badAudio"] == []
    assert result["tables"] >= 5 and result["emptyTables"] == 0
    shot = Path(os.environ.get("AFX_REPORT_SCREENSHOT", tmp_path / "index.png"))
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", (site / "index.html").as_uri(),
             profile=tmp_path / "profile")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


@needs_chromium
def test_checker_catches_missing_files(tmp_path: Path):
    page = tmp_path / "index.html"
    page.write_text('<html><body><table><tr><td>a</td></tr><tr><td>b</td></tr></table>'
                    '<img src="missing.png"><audio src="missing.flac"></audio></body></html>')
    result = check_page(page, tmp_path)
    assert result["badImages"] == ["missing.png"] and result["badAudio"] == ["missing.flac"]
