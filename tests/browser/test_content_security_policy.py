"""The pages' Content-Security-Policy in Chromium: what it blocks is seen, and fails a test."""

from __future__ import annotations

from typing import Any

from tests.browser.steps import wait_for


def test_an_inline_script_without_the_nonce_is_blocked_and_reported(page: Any, site: Any) -> None:
    # given our shop front, served with its policy
    page.goto(site.url + "/")
    # when something injects an inline script (as an XSS would), and an image from elsewhere
    page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.appendChild(s);
        }"""
    )
    # then it does not run, and the violation is reported where the page fixture looks for it
    assert wait_for(lambda: len(page.csp_violations) >= 1, timeout=5)
    assert page.evaluate("window.injected === undefined")
    assert "script-src" in page.csp_violations[0]
    page.csp_violations.clear()  # seen here on purpose: the fixture fails any other test on one


def test_the_shop_front_and_cart_load_with_no_violation(page: Any, site: Any) -> None:
    page.goto(site.url + "/")
    page.get_by_role("button", name="Add Analytical Engine poster to cart").click()
    page.wait_for_url("**/cart/")
    assert page.csp_violations == []
