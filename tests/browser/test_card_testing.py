"""A card tester on our card page in Chromium: declined test cards one after another, the real
webhooks counting each decline, until the card page refuses with a message a person can read."""

from __future__ import annotations

import re
from typing import Any

from payments.card_testing import MESSAGE_TOO_MANY_ATTEMPTS
from tests.browser.steps import add_poster_and_check_out, outcome, pay_on_our_page

DECLINED = ["4000000000000002", "4000000000009995", "4000000000000069", "4000000000000127"]


def test_a_burst_of_declined_cards_ends_with_a_clear_message(page: Any, site: Any, settings: Any) -> None:
    # given a low limit for one email address, to keep the burst short
    settings.CARD_TESTING_MAX_PER_EMAIL = 6
    add_poster_and_check_out(page, site, method="payment_element")
    tries = 0
    for number in DECLINED:
        # when card after card is declined and "Try again" is pressed
        pay_on_our_page(page, number)
        outcome(page, "declined")
        tries += 1
        assert site.emulator.wait_for_deliveries(timeout=10)  # the decline's webhook has counted
        page.get_by_role("link", name="Try again").click()
        page.wait_for_load_state()
        if page.get_by_text(MESSAGE_TOO_MANY_ATTEMPTS).count():
            break
        page.wait_for_url(re.compile(r"/orders/[^/]+/pay/$"))
    # then the card page is refused after three declines, saying why and that nothing was
    # charged (placing the order, three card pages and two declines were the six attempts allowed)
    assert tries == 3
    assert page.get_by_role("heading", name="We couldn't start your payment").is_visible()
    assert page.get_by_text(MESSAGE_TOO_MANY_ATTEMPTS).is_visible()
    assert page.locator('input[name="cardnumber"]').count() == 0
