"""/docs and /redoc name nothing outside the gateway, and every asset they name is served by it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_is_self_contained(gateway, page):
    response = gateway.http.get(page)
    assert response.status_code == 200
    html = response.text
    assert "cdn." not in html and "fonts.googleapis" not in html
    urls = [a or b for a, b in URL_ATTRIBUTE.findall(html)]
    assert urls, html
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, html
    for url in urls:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = gateway.http.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    if page == "/docs":
        assert "validatorUrl" in html  # Swagger UI would otherwise send the schema to an online validator
