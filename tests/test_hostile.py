"""Hostile data: labels holding HTML or script, very long strings, emoji and right-to-left text
are shown as text in every report page and chart, never executed, and nothing is fetched from
any host; parameters with quotes and newlines survive papermill's injection.

The report check runs the real pipeline once (``slow``) on a small generated company whose
labels are replaced by payloads, then opens every page in headless Chromium. Chromium is sent
through a local proxy that counts every request it makes (``--proxy-server`` with loopback not
bypassed), so "no request left the machine" means the proxy saw nothing.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from .nbutil import OPEN, write_notebook

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
PERIOD = "2026-10"
MARK = "sa-hostile"  # every payload URL holds this path


def payloads(port: int) -> dict[str, str]:
    """Label -> payload. Each would change the page (title, a new element) or fetch a URL
    from the local counting server if it were ever interpreted as HTML."""
    url = f"http://127.0.0.1:{port}/{MARK}"
    return {
        "product_line": "Service <script>document.title='PWNED'</script> US$ 5 & HK$ 6",
        "region": f'华中"><img src={url}/img.png onerror="document.title=\'PWNED\'">',
        "customer_type": "Distributor 🚚 موزع <sa-pwned>x</sa-pwned>",
        "rep_name": f"<script src={url}/rep.js></script>王伟‮evil‬",
        # long, but within the 200-character limit on labels (longer ones are refused on input)
        "customer_id": "C" + "很长的客户名称" * 18 + f"<iframe src={url}/frame>",
        "plan_name": f"FY2026 <img src=x onerror=\"location='{url}/plan'\">",
        "rationale": f"<a href={url}/click>click</a> <style>body{{display:none}}</style>",
    }


def make_hostile_data(dest: Path, port: int) -> dict[str, str]:
    """A small company (from the sample generator) whose labels are replaced by payloads."""
    from salesanalysis.data.sample import SampleSpec, generate
    from salesanalysis.paths import SAMPLE_PLAN

    p = payloads(port)
    frames = generate(SampleSpec(n_customers_start=90, monthly_new_customers=2.0))
    tx, reps, market = frames["transactions"], frames["reps"], frames["market"]
    swap = {
        "product_line": {"Service Contracts": p["product_line"]},
        "region": {"华中": p["region"]},
        "customer_type": {"Distributor": p["customer_type"]},
    }
    for col, m in swap.items():
        tx[col] = tx[col].replace(m)
        if col in market.columns:
            market[col] = market[col].replace(m)
        if col in reps.columns:
            reps[col] = reps[col].replace(m)
    top = tx.groupby("customer_id")["revenue"].sum().idxmax()  # the biggest customer shows up
    tx["customer_id"] = tx["customer_id"].replace({top: p["customer_id"]})
    reps.loc[reps.index[0], "name"] = p["rep_name"]
    dest.mkdir(parents=True)
    for name, df in {"transactions": tx, "reps": reps, "market": market}.items():
        df.to_csv(dest / f"{name}.csv", index=False, lineterminator="\n")
    plan = yaml.safe_load(SAMPLE_PLAN.read_text(encoding="utf-8"))
    labels = {old: new for m in swap.values() for old, new in m.items()}

    def relabel(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: relabel(x) for k, x in v.items()}
        if isinstance(v, list):
            return [relabel(x) for x in v]
        return labels.get(v, v) if isinstance(v, str) else v

    plan["strategies"] = relabel(plan["strategies"])
    plan["name"] = p["plan_name"]
    plan["pins"] = []  # the sample's pin is sized for the big sample company
    plan["strategies"][0]["rationale"] = p["rationale"]
    (dest / "plan.yaml").write_text(
        yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return p


# --------------------------------------------------------------------------------------------
# a proxy that counts every request


class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def _count(self) -> None:
        type(self).hits.append(f"{self.command} {self.path}")
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _count  # noqa: N815

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def counting_proxy():
    _Counter.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Counter.hits
    server.shutdown()
    server.server_close()


def chromium(page: Path, mode: list[str], tmp: Path, port: int) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--metrics-recording-only",
        "--no-default-browser-check",
        "--mute-audio",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{port}",
        "--proxy-bypass-list=<-loopback>",
        "--virtual-time-budget=3000",
        "--window-size=1280,2400",
        *mode,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class _Dom(html.parser.HTMLParser):
    """Elements, attributes, title and visible text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title = ""
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title":
            self.title += data
        self.text.append(data)


def parse(markup: str) -> _Dom:
    d = _Dom()
    d.feed(markup)
    return d


def inert_problems(dom: _Dom, page: str) -> list[str]:
    """Payloads that became markup: a new element, attribute, handler, script or remote URL."""
    out = []
    if "PWNED" in dom.title:
        out.append(f"{page}: a script from the data changed the title")
    for tag, attrs in dom.tags:
        if tag in ("sa-pwned", "iframe"):
            out.append(f"{page}: <{tag}> from the data became an element")
        for k, v in attrs.items():
            if k.startswith("on"):
                out.append(f"{page}: <{tag} {k}=...> handler attribute")
            if v and k in ("src", "href", "action", "srcset", "data", "poster"):
                if re.match(r"\s*(https?:|//)", v):
                    out.append(f"{page}: remote URL <{tag} {k}={v[:90]}>")
                elif MARK in v:
                    out.append(f"{page}: payload URL in <{tag} {k}={v[:90]}>")
        if tag == "script" and attrs.get("src"):
            out.append(f"{page}: external script {attrs.get('src')}")
    return out


def assert_inert(dom: _Dom, page: str) -> None:
    problems = inert_problems(dom, page)
    assert not problems, "\n".join(problems)


# requests Chromium makes on its own (component updater, network time, sign-in); they reach
# the local proxy like everything else and are answered there, never by the internet
BROWSER_SERVICES = re.compile(
    r"^\S+ (https?://)?([\w.-]+\.)?(google\.com|googleapis\.com|gvt1\.com|"
    r"gstatic\.com)(:\d+)?(/|$)"
)


# --------------------------------------------------------------------------------------------
# the report in a real browser


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> dict[str, Any]:
    """One run of the real pipeline on the hostile company (shared by the checks below)."""
    from salesanalysis.report.pipeline import discover_steps, run_pipeline

    if not discover_steps():
        pytest.skip("no notebooks/NN_*.ipynb yet")
    root = tmp_path_factory.mktemp("hostile")
    port_holder = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)  # reserve a free port
    port = port_holder.server_address[1]
    port_holder.server_close()
    data = root / "data"
    p = make_hostile_data(data, port)
    before = {f.name: f.read_bytes() for f in data.iterdir()}
    out = root / "reports"
    result = run_pipeline(PERIOD, data, data / "plan.yaml", out, echo=None)
    after = {f.name: f.read_bytes() for f in data.iterdir()}
    assert after == before, "an input file changed"
    return {
        "root": root,
        "out": out,
        "folder": result.folder,
        "port": port,
        "payloads": p,
        "result": result,
    }


def _pages(rep: dict[str, Any]) -> list[Path]:
    folder = rep["folder"]
    steps = sorted(folder.glob("[0-9][0-9]_*.html"))
    return [rep["out"] / "index.html", folder / "index.html", *steps]


@pytest.mark.slow
def test_hostile_run_succeeds_with_every_step(hostile_report):
    run = json.loads((hostile_report["folder"] / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "ok", run.get("error")
    assert all(s["status"] == "ok" and s["html"] for s in run["steps"])


@pytest.mark.slow
def test_hostile_html_is_escaped_and_self_contained(hostile_report):
    """Static check of every page: payloads only as escaped text; no remote URL anywhere."""
    p = hostile_report["payloads"]
    shown = {k: 0 for k in p}
    problems = []
    for page in _pages(hostile_report):
        raw = page.read_text(encoding="utf-8")
        low = raw.lower()
        for needle in (
            "<script>document.title",
            "<sa-pwned>",
            "<iframe",
            "<img src=http",
            "<script src=http",
            "<a href=http",
            "<style>body{display:none}",
        ):
            if needle.lower() in low:
                problems.append(f"{page.name}: unescaped payload {needle!r}")
        if re.search(r"""url\(\s*["']?(https?:)?//""", raw, re.I):
            problems.append(f"{page.name}: remote CSS url()")
        dom = parse(raw)
        problems += inert_problems(dom, page.name)  # incl. no http(s) URL in any src/href
        text = "".join(dom.text)
        for k, v in p.items():
            shown[k] += v[:40] in text
    assert not problems, "\n".join(problems)
    # the labels that reports show are shown, as text, somewhere
    assert shown["product_line"] > 0, "the hostile product line is shown as text"


@pytest.mark.slow
@pytest.mark.skipif(
    not HAVE_CHROMIUM,
    reason=f"{CHROMIUM} is not installed (CI installs it with .ci/install-chromium.sh)",
)
def test_hostile_report_in_headless_chromium(hostile_report, tmp_path, counting_proxy):
    """Each page in a real browser: no script from the data ran, no request left the machine,
    a screenshot is saved for a person to look at."""
    port, hits = counting_proxy
    # the payloads point at the port reserved when the data was made; the browser's traffic
    # (any host, loopback included) goes to the counting proxy instead
    problems = []
    for page in _pages(hostile_report):
        r = chromium(page, ["--dump-dom"], tmp_path, port)
        assert r.returncode == 0, r.stderr[-2000:]
        dom = parse(r.stdout)
        assert dom.tags, f"{page.name}: empty DOM"
        problems += inert_problems(dom, page.name)
        shot = tmp_path / f"{page.parent.name}_{page.stem}.png"
        r = chromium(page, [f"--screenshot={shot}"], tmp_path, port)
        assert r.returncode == 0 and shot.exists() and shot.stat().st_size > 1000, r.stderr[-2000:]
    from_pages = [h for h in hits if not BROWSER_SERVICES.match(h)]
    assert not from_pages, f"requests from the pages: {from_pages}"
    assert not [h for h in hits if MARK in h or "127.0.0.1" in h]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# parameters with quotes and newlines through papermill


WEIRD = 'da\'ta "quoted" \\ new\nline $(touch PWNED) ${HOME} `id` {x} 华东 🚀'


def test_papermill_parameters_with_quotes_and_newlines(tmp_path: Path, monkeypatch):
    """A data folder and plan path with quotes, a newline, backslashes and shell syntax reach
    the notebook unchanged and are never run as code."""
    from salesanalysis.report.pipeline import run_pipeline

    monkeypatch.chdir(tmp_path)
    base = Path(__file__).parent / "bad_input" / "base"
    data = tmp_path / WEIRD
    shutil.copytree(base, data)
    plan = data / f"plan {WEIRD}.yaml"
    shutil.copy(base / "plan.yaml", plan)
    nb = tmp_path / "nb"
    write_notebook(
        nb / "01_params.ipynb",
        OPEN,
        "import json, pathlib\npathlib.Path('params.json').write_text(json.dumps("
        "{'period': period, 'data_dir': data_dir, 'plan_file': plan_file, "
        "'rows': len(ctx.cube)}))",
    )
    out = tmp_path / "reports"
    r = run_pipeline("2025-03", data, plan, out, notebooks_dir=nb, echo=None)
    got = json.loads((r.folder / "params.json").read_text(encoding="utf-8"))
    assert got["data_dir"] == str(data.resolve())
    assert got["plan_file"] == str(plan.resolve())
    assert got["period"] == "2025-03" and got["rows"] > 0
    assert not list(tmp_path.rglob("PWNED")), "a parameter was run as shell or code"
    run = json.loads((r.folder / "run.json").read_text(encoding="utf-8"))
    assert run["parameters"]["data_dir"] == str(data.resolve())
    page = (r.folder / "index.html").read_text(encoding="utf-8")
    assert_inert(parse(page), "index.html")


@pytest.mark.parametrize(
    "value", [WEIRD, '"', "\\", '\\"', "'''", '"""', "\r\n", "\x00x", "\u2028", "a\\nb"]
)
def test_papermill_translation_round_trips(value: str):
    """papermill writes str parameters as Python literals that evaluate back to the value."""
    import ast

    from papermill.translators import PythonTranslator

    code = PythonTranslator.translate(value)
    assert ast.literal_eval(code) == value


def test_plan_is_read_with_a_safe_loader(tmp_path: Path):
    from salesanalysis.errors import PlanError
    from salesanalysis.targets.plan import load_plan

    p = tmp_path / "plan.yaml"
    p.write_text(
        "fiscal_year: !!python/object/apply:os.system ['touch PWNED']\n", encoding="utf-8"
    )
    with pytest.raises(PlanError):
        load_plan(p)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_formatting_escapes_labels():
    """Tables go through salesanalysis.report.formatting, which escapes labels."""
    formatting = pytest.importorskip("salesanalysis.report.formatting")
    df = pd.DataFrame({"region": ["<script>x</script>", "a&b"], "revenue": [1234.5, 2.0]})
    fn = next(
        (
            getattr(formatting, n)
            for n in ("format_table", "table", "fmt_table", "style_table")
            if hasattr(formatting, n)
        ),
        None,
    )
    if fn is None:
        pytest.skip("no table formatter in salesanalysis.report.formatting")
    out = fn(df)
    markup = out.to_html() if hasattr(out, "to_html") else str(out)
    assert "<script>x</script>" not in markup and "&lt;script&gt;" in markup
