"""The page around the plots: one self-contained HTML file, written atomically.

Everything the page needs travels inside it (CSS inline, images and audio as ``data:`` URIs, no
script, no web font), so a report opens offline, can be mailed, and never calls a server.
Numbers a reader (or a test) may want to check carry ``data-*`` attributes that hold the exact
value next to the formatted text.
"""

import base64
import html
import json
import os
from importlib import metadata

from ..errors import ParameterError

__all__ = ["esc", "data_uri", "fmt_metric", "fmt_seconds", "fmt_db", "fmt_int", "card", "table",
           "page", "write_atomic", "check_output_path"]


def esc(value):
    """Escape ``value`` (any object, via ``str``) for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def data_uri(data, mime):
    """``data:`` URI of raw bytes."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def fmt_metric(x):
    """Metrics in [0, 1] are shown with three decimals: 0.8123 → '0.812'."""
    return "–" if x is None else f"{float(x):.3f}"


def fmt_seconds(x):
    """Durations in seconds with two decimals: 1.2345 → '1.23'."""
    return "–" if x is None else f"{float(x):.2f}"


def fmt_db(x):
    """Levels in dBFS with one decimal; silence (-inf or None) as '−inf'."""
    if x is None or float(x) == float("-inf"):
        return "−inf"
    return f"{float(x):.1f}"


def fmt_int(x):
    return f"{int(x):d}"


def fmt_duration_long(seconds):
    """A human reading of a long duration: '2 h 05 min', '3 min 12 s', '4.2 s'."""
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(round(s % 60)):02d} s"
    return f"{int(s // 3600)} h {int(round((s % 3600) / 60)):02d} min"


def attrs(**kw):
    """HTML attributes from keywords (``data_metric`` → ``data-metric``); None values dropped."""
    out = []
    for key, value in kw.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        out.append(f' {name}="{esc(value)}"')
    return "".join(out)


def card(title, value_html, *, sub=None, tone=None, **data):
    """A summary card: big value, small title, optional second line; ``data`` become attributes
    of the value element."""
    cls = "card" + (f" card-{tone}" if tone else "")
    sub_html = f'<div class="card-sub">{sub}</div>' if sub else ""
    return (f'<div class="{cls}"><div class="card-title">{esc(title)}</div>'
            f'<div class="card-value"{attrs(**data)}>{value_html}</div>{sub_html}</div>')


def table(header, rows, *, cls="tbl", numeric_from=1):
    """A table from a header (list of HTML strings) and rows (lists of ready ``<td>`` HTML or plain
    strings, escaped here). Columns from ``numeric_from`` on are right-aligned."""
    head = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{h}</th>'
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, str) and cell.startswith("<td"):
                cells.append(cell)
            else:
                c = "num" if i >= numeric_from else ""
                cells.append(f'<td class="{c}">{esc(cell)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="tbl-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def pretty_json(obj):
    return f'<pre class="json">{esc(json.dumps(obj, indent=2, sort_keys=True, default=str))}</pre>'


CSS = """
:root{--bg:#f4f6f9;--fg:#1c2430;--muted:#5d6b7e;--line:#e2e7ee;--card:#fff;--accent:#2f6fdf;
--good:#1f9d62;--bad:#d2453a;--warn:#c98a07;--head:#14213d}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:linear-gradient(120deg,#14213d,#24407a);color:#fff;padding:28px 0 76px}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
header.top h1{margin:0 0 4px;font-size:26px;font-weight:650;letter-spacing:.2px}
header.top .subtitle{color:#c9d6f2;font-size:14px}
header.top .subtitle code{color:#fff;background:rgba(255,255,255,.12);padding:1px 6px;
border-radius:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:14px;
margin-top:-56px}
.card{background:var(--card);border-radius:10px;padding:14px 16px;
box-shadow:0 1px 2px rgba(20,33,61,.08),0 4px 14px rgba(20,33,61,.06);
border-top:3px solid var(--accent)}
.card-good{border-top-color:var(--good)}.card-bad{border-top-color:var(--bad)}
.card-warn{border-top-color:var(--warn)}
.card-title{font-size:12px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted)}
.card-value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.card-sub{font-size:13px;color:var(--muted)}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(244,246,249,.94);backdrop-filter:blur(4px);
border-bottom:1px solid var(--line);margin-top:18px}
nav.toc .wrap{display:flex;flex-wrap:wrap;gap:4px 18px;padding-top:9px;padding-bottom:9px}
nav.toc a{color:var(--muted);text-decoration:none;font-size:13.5px}
nav.toc a:hover{color:var(--accent)}
section{background:var(--card);border-radius:10px;margin:22px 0;padding:20px 24px;
box-shadow:0 1px 2px rgba(20,33,61,.06)}
section h2{margin:0 0 4px;font-size:19px;font-weight:650}
section .lead{margin:0 0 14px;color:var(--muted);font-size:14px}
h3{font-size:15px;margin:18px 0 8px}
.figs{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
figure{margin:0}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:12.5px;color:var(--muted);margin-top:4px}
.tbl-wrap{overflow-x:auto}
table.tbl{border-collapse:collapse;font-size:13.5px;min-width:50%}
.tbl th,.tbl td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
.tbl th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;
letter-spacing:.4px;border-bottom:2px solid var(--line)}
.tbl tbody tr:hover{background:#f7f9fc}
.num{text-align:right!important;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{position:relative;min-width:90px}
.bar span.fill{position:absolute;left:0;top:5px;bottom:5px;background:#dbe6fb;border-radius:3px;
z-index:0}
.bar span.v{position:relative;z-index:1}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;
line-height:20px}
.pill-bad{background:#fde4e1;color:#a3281e}.pill-warn{background:#fcf0cf;color:#7d5600}
.pill-ok{background:#daf3e6;color:#146b42}.pill-info{background:#e3ecfd;color:#1d4fae}
ul.notes{margin:6px 0;padding-left:20px}ul.notes li{margin:3px 0}
.problems li{color:#8f2219}
.mistakes{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}
.mistake{border:1px solid var(--line);border-radius:9px;padding:12px;background:#fcfdfe}
.mistake img,.example img{max-width:100%;height:auto;display:block}
.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
color:var(--muted);word-break:break-all}
.verdict{margin:4px 0 8px;font-size:14px}
.mistake audio{width:100%;height:34px;margin-top:6px}
.scores{width:100%;font-size:13px;border-collapse:collapse;margin-top:8px}
.scores td{padding:2px 4px}
.scores .sbar{background:#eef2f8;border-radius:3px;height:10px;width:100%;position:relative}
.scores .sbar i{position:absolute;left:0;top:0;bottom:0;border-radius:3px;background:#9bb3de}
.scores tr.is-pred .sbar i{background:var(--bad)}.scores tr.is-true .sbar i{background:var(--good)}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.example{border:1px solid var(--line);border-radius:9px;padding:12px}
.example h3{margin:0 0 6px}.example audio{width:100%;height:34px;margin-top:6px}
.muted{color:var(--muted)}
.note{background:#f3f6fb;border-left:3px solid var(--accent);padding:8px 12px;border-radius:4px;
font-size:14px}
pre.json{background:#0f1a30;color:#dbe6ff;padding:14px;border-radius:8px;overflow:auto;
font-size:12.5px;max-height:520px}
details summary{cursor:pointer;color:var(--accent);font-size:14px;margin:8px 0}
footer{color:var(--muted);font-size:12.5px;padding:10px 0 40px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
@media print{nav.toc{display:none}section{box-shadow:none;border:1px solid var(--line)}}
"""


def page(*, title, subtitle_html, cards_html, sections, footer_html):
    """Assemble the page. ``sections`` is a list of (id, heading, lead_html, body_html)."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(head)}</a>' for sid, head, _, _ in sections)
    body = []
    for sid, head, lead, content in sections:
        lead_html = f'<p class="lead">{lead}</p>' if lead else ""
        body.append(f'<section id="{esc(sid)}"><h2>{esc(head)}</h2>{lead_html}{content}</section>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><div class="wrap"><h1>{esc(title)}</h1>'
        f'<div class="subtitle">{subtitle_html}</div></div></header>'
        f'<div class="wrap"><div class="cards">{cards_html}</div></div>'
        f'<nav class="toc"><div class="wrap">{nav}</div></nav>'
        f'<main class="wrap">{"".join(body)}</main>'
        f'<footer class="wrap">{footer_html}</footer></body></html>\n'
    )


def earmark_version():
    try:
        return metadata.version("earmark")
    except metadata.PackageNotFoundError:
        return "unknown"


def check_output_path(path, owner):
    """Check that the report can be written to ``path``; returns it as a str."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"{owner}: cannot write the report to {path!r}: the folder "
                             f"{folder!r} does not exist.")
    if os.path.isdir(path):
        raise ParameterError(f"{owner}: cannot write the report to {path!r}: it is a folder; "
                             "give a file name such as report.html.")
    return path


def write_atomic(path, parts):
    """Write the strings of ``parts`` (any iterable) to ``path`` as UTF-8, atomically.

    Through :func:`earmark._io.atomic_path`: the text goes to a temporary file in the same
    folder, which replaces ``path`` only once every part is written; a failure part-way (an
    exception, a full disk) leaves an existing ``path`` untouched and no temporary file behind,
    and a replaced report keeps its permissions.
    """
    from .._io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
    return os.fspath(path)


def dataset_name(source):
    """A short name for a dataset: its folder, also when ``source`` is the folder's manifest."""
    source = str(source).rstrip("/\\")
    name = os.path.basename(source) or source
    if name.lower() in ("metadata.csv", "manifest.csv"):
        name = os.path.basename(os.path.dirname(source)) or name
    return name
