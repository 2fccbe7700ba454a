"""HTML pages. The home page says what the platform is and where its API is described."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from parcelguard import __version__

router = APIRouter(include_in_schema=False)

HOME = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>parcelguard</title>
<style>
  body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }}
  h1 {{ font-size: 1.8rem; margin-bottom: .2rem; }}
  .sub {{ color: #5a6577; margin-top: 0; }}
  ul {{ padding-left: 1.2rem; }}
  code {{ background: #f1f3f6; padding: .1rem .3rem; border-radius: 3px; }}
  footer {{ margin-top: 2rem; color: #5a6577; font-size: .9rem; }}
</style>
</head>
<body>
<h1>parcelguard</h1>
<p class="sub">Real name at the back, privacy at the front (后台实名制 + 前台隐私化).</p>
<p>parcelguard makes <strong>real-name intake</strong> (实名收寄) and <strong>privacy waybills</strong>
(隐私面单) work together for express carriers and their regulator: every sender's identity is verified
and sealed so that only the regulator can read it, while labels, courier terminals and public
look-ups show no one's personal data. Every access to personal data is checked and written to a
tamper-evident log.</p>
<ul>
  <li><a href="/docs">API reference</a> (interactive) and <a href="/openapi.json">OpenAPI document</a></li>
  <li><a href="/healthz">/healthz</a>: the process is up; <a href="/readyz">/readyz</a>: the database is reachable and migrated</li>
  <li>Everything else lives under <code>/api/v1/</code>; sign in at <code>POST /api/v1/auth/token</code>.</li>
</ul>
<footer>parcelguard {version}</footer>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse)
def home() -> HTMLResponse:
    return HTMLResponse(HOME.format(version=__version__))
