"""`reports/index.html`: one self-contained static page (inline CSS, no scripts, no network)
with the leaderboard and runtime tables, the figures and audio players for a few examples."""

from __future__ import annotations

import html
import re
from pathlib import Path

from bench.report.audio import Examples

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1, h2, h3, h4 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.4em 0; }
audio { width: 220px; }
nav { display: inline; } nav a { margin-right: 1em; }
code { background: #f4f4f4; padding: 0 0.2em; }
figure { margin: 0.5em 0 1.5em; }
figcaption { font-size: 0.85em; color: #555; }
"""
GALLERY = (("bars_", "Metrics per task (mean ± 95% CI)"),
           ("convergence_", "Convergence"),
           ("importance_", "Optuna hyperparameter importance"),
           ("proxy_fidelity", "Proxy fidelity"),
           ("spectrogram_", "Spectrograms of the first listening example"))
INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
          (re.compile(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)"), r"<em>\1</em>"),
          (re.compile(r"`([^`]+)`"), r"<code>\1</code>")]
IMAGE = re.compile(r"^!\[(.*)\]\((.+)\)$")


def inline(text: str) -> str:
    """Escape ``text`` and apply the Markdown inline marks the reports use."""
    out = html.escape(text, quote=False)
    for pattern, repl in INLINE:
        out = pattern.sub(repl, out)
    return out


def markdown_to_html(text: str, shift: int = 1) -> str:
    """The Markdown subset the reports write (headings, lists, pipe tables, images,
    paragraphs; one-line HTML comments are dropped) as HTML; headings move down ``shift``
    levels."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(6, len(line) - len(line.lstrip("#")) + shift)
            out.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif m := IMAGE.match(line):
            out.append(_figure(m.group(2), m.group(1)))
        elif line.startswith("<!--") and line.rstrip().endswith("-->"):
            pass  # a section marker (write_runtime_section), not content
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    return "\n".join(out)


def _table(block: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
    head, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-:") for c in r)]
    parts = ["<table><thead><tr>", *(f"<th>{inline(c)}</th>" for c in head), "</tr></thead><tbody>"]
    for row in body:
        parts += ["<tr>", *(f"<td>{inline(c)}</td>" for c in row), "</tr>"]
    return "".join([*parts, "</tbody></table>"])


def _figure(src: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def gallery(figures: list[str]) -> str:
    """The figures (paths relative to the page) grouped by kind."""
    out = []
    for prefix, title in GALLERY:
        mine = sorted(f for f in figures if Path(f).name.startswith(prefix))
        if mine:
            out += [f"<h3>{html.escape(title)}</h3>",
                    *(_figure(f, Path(f).stem.replace("_", " ")) for f in mine)]
    return "\n".join(out) or "<p>No figures yet.</p>"


def listening(examples: list[Examples], where: dict[Path, str]) -> str:
    """One table per task: a row per example, a player per signal and strategy output."""
    if not examples:
        return "<p>No saved audio examples yet.</p>"
    out = ["<p>Input, reference, target (when known) and each strategy's output; files are the "
           "16-bit FLAC the runs saved (peak-normalized only if they would clip).</p>"]
    for ex in examples:
        columns = ex.columns()
        out += [f"<h3>{html.escape(ex.task)} ({html.escape(ex.budget)} budget, "
                f"{html.escape(ex.seed)})</h3>", "<table><thead><tr><th>example</th>",
                *(f"<th>{html.escape(ex.label(c))}</th>" for c in columns),
                "</tr></thead><tbody>"]
        for i, row in sorted(ex.files.items()):
            cells = [f'<td><audio controls preload="metadata" src="{html.escape(where[row[c]])}">'
                     f"</audio></td>" if c in row else "<td>—</td>" for c in columns]
            out += [f"<tr><td>{i}</td>", *cells, "</tr>"]
        out.append("</tbody></table>")
    return "\n".join(out)


def _untitled(markdown: str) -> str:
    """``markdown`` without its leading ``# title`` line (the page's section has one)."""
    first, _, rest = markdown.partition("\n")
    return rest if first.startswith("# ") else markdown


def render_index(leaderboard_md: str, runtime_md: str, figures: list[str],
                 examples: list[Examples], where: dict[Path, str]) -> str:
    """The whole page as a string (deterministic for the same inputs)."""
    sections = [("leaderboard", "Leaderboard", markdown_to_html(_untitled(leaderboard_md))),
                ("runtime", "Runtime", markdown_to_html(_untitled(runtime_md))),
                ("figures", "Figures", gallery(figures)),
                ("listening", "Listening examples", listening(examples, where))]
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "\n".join(f'<section id="{key}">\n<h1>{title}</h1>\n{content}\n</section>'
                     for key, title, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>afx-bench report</title>\n<style>" + CSS + "</style>\n</head>\n<body>\n"
            f"<header><strong>afx-bench</strong> report · <nav>{nav}</nav></header>\n{body}\n"
            "</body>\n</html>\n")
