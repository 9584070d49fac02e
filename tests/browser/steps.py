"""What a customer does in the shop, step by step, for the browser tests."""

from __future__ import annotations

import re
import time
from typing import Any

from django.contrib.auth.models import User

from orders.models import Fulfillment, Order

FUTURE_EXPIRY = "12 / 34"
# Where "Continue to payment" lands: our card page, or the emulator's hosted Checkout page.
PAYMENT_PAGES = {
    "payment_element": re.compile(r"/orders/[^/]+/pay/$"),
    "checkout": re.compile(r"/c/pay/cs_"),
}


def add_poster_and_check_out(page: Any, site: Any, *, method: str) -> None:
    """From the shop front to the checkout form, submitted with the keyboard where it matters."""
    page.goto(site.url + "/")
    page.get_by_role("button", name="Add Analytical Engine poster to cart").click()
    page.wait_for_url(re.compile(r"/cart/$"))
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.locator("#id_billing_line1").fill("12 St James's Square")
    page.locator("#id_billing_city").fill("London")
    page.locator("#id_billing_postal_code").fill("SW1Y 4JH")
    page.locator("#id_billing_country").select_option("GB")
    labels = {
        "payment_element": "Pay by card on this site",
        "checkout": "Pay on Stripe's secure checkout page",
    }
    page.get_by_label(labels[method]).check()
    page.get_by_role("button", name="Continue to payment").focus()
    page.keyboard.press("Enter")
    # The order exists once we have left the checkout form for the page that takes the card.
    page.wait_for_url(PAYMENT_PAGES[method])


def fill_card(page: Any, number: str) -> None:
    page.locator('input[name="cardnumber"]').fill(number)
    page.locator('input[name="exp-date"]').fill(FUTURE_EXPIRY)
    page.locator('input[name="cvc"]').fill("123")


def pay_on_our_page(page: Any, number: str) -> None:
    page.wait_for_selector('input[name="cardnumber"]')
    fill_card(page, number)
    page.locator("#pay-button").click()


def pay_on_hosted_page(page: Any, number: str) -> None:
    page.wait_for_selector('input[name="cardnumber"]')
    fill_card(page, number)
    page.locator("#submit-button").click()


def outcome(page: Any, kind: str) -> None:
    """Wait until the order page says `kind` (it polls while the order is not final)."""
    page.wait_for_selector(f'#order-status[data-outcome="{kind}"]')


def latest_order() -> Order:
    order = Order.objects.order_by("-pk").first()
    assert order is not None
    return order


def wait_for(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def assert_fulfilled_once(order: Order) -> None:
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Fulfillment.objects.filter(order=order).count() == 1


def staff_log_in(
    page: Any, base_url: str, username: str, password: str, *, next_path: str = "/admin/"
) -> None:
    """Log a staff member in as a person would: the login form, then the code from their
    authenticator app (a confirmed device is made for them if they have none)."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=User.objects.get(username=username), name="Authenticator", confirmed=True
        )
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/staff/security/verify/"))
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_role("textbox").first.fill(f"{code:06d}")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0]) + r"(\?.*)?$"))
