/*
 * Stripe.js stand-in, served by the Stripe emulator at /v3/.
 *
 * Implements the part of Stripe.js a Payment Element integration uses: Stripe(pk), elements(),
 * elements.create("payment"), confirmPayment, retrievePaymentIntent, handleNextAction.
 * Unlike real Stripe.js there are no iframes: the card inputs are ordinary inputs in the page,
 * so browser tests can fill them directly. They belong to no form (their `form` attribute points
 * nowhere), so card data is never posted to the shop even if its form submits without JavaScript.
 */
(function () {
  "use strict";

  // The emulator's origin: where this file was loaded from (the server fills in the fallback).
  var script = document.currentScript;
  var ORIGIN = script && script.src ? new URL(script.src).origin : "__STRIPE_EMULATOR_ORIGIN__";

  var MESSAGES = {
    incomplete_number: "Your card number is incomplete.",
    invalid_number: "Your card number is invalid.",
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration month is invalid.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    incomplete_cvc: "Your card's security code is incomplete.",
    payment_intent_authentication_failure:
      "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
    api_connection_error: "We could not connect to Stripe. Check your connection and try again."
  };

  function IntegrationError(message) {
    var err = new Error(message);
    err.name = "IntegrationError";
    return err;
  }

  // Stripe's nested form encoding: a[b][c]=v, arrays as a[0]=v.
  function encodeForm(value, prefix, out) {
    out = out || [];
    Object.keys(value).forEach(function (key) {
      var v = value[key];
      var name = prefix ? prefix + "[" + key + "]" : key;
      if (v === undefined || v === null) return;
      if (typeof v === "object") {
        encodeForm(v, name, out);
      } else {
        out.push(encodeURIComponent(name) + "=" + encodeURIComponent(String(v)));
      }
    });
    return out.join("&");
  }

  function intentId(clientSecret) {
    var match = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret || "");
    if (!match) {
      throw IntegrationError(
        "Invalid value for clientSecret: expected a PaymentIntent client secret of the form " +
          "${id}_secret_${secret}."
      );
    }
    return match[1];
  }

  // A "simple" CORS request (form body, no custom headers), like Stripe.js: no preflight needed.
  function api(key, method, path, params) {
    var body = encodeForm(Object.assign({ key: key }, params));
    var url = ORIGIN + path;
    var init = { method: method, credentials: "omit" };
    if (method === "GET") {
      url += "?" + body;
    } else {
      init.headers = { "Content-Type": "application/x-www-form-urlencoded" };
      init.body = body;
    }
    return fetch(url, init).then(
      function (resp) {
        return resp.json().catch(function () {
          return { error: { type: "api_error", message: "Unexpected answer from the emulator (" + resp.status + ")." } };
        });
      },
      function () {
        return { error: { type: "api_connection_error", message: MESSAGES.api_connection_error } };
      }
    );
  }

  // What the customer should read: Stripe.js replaces the API's developer text for a failed 3DS.
  function customerError(error, paymentIntent) {
    var out = Object.assign({}, error);
    if (out.code === "payment_intent_authentication_failure") out.message = MESSAGES[out.code];
    if (paymentIntent && !out.payment_intent) out.payment_intent = paymentIntent;
    return out;
  }

  function navigate(url) {
    window.location.assign(url);
    return new Promise(function () {}); // the page is going away; Stripe.js never resolves here
  }

  function returnUrlFor(returnUrl, pi, status) {
    var url = new URL(returnUrl, window.location.href);
    url.searchParams.set("payment_intent", pi.id);
    url.searchParams.set("payment_intent_client_secret", pi.client_secret);
    url.searchParams.set("redirect_status", status);
    return url.toString();
  }

  // 3DS without a return_url: the emulator's 3DS page in a modal iframe, which posts a message
  // to us when the customer has chosen (what Stripe.js does with its own challenge frame).
  function threeDsModal(url) {
    return new Promise(function (resolve) {
      var overlay = document.createElement("div");
      overlay.className = "se-3ds-overlay";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      overlay.setAttribute("aria-label", "Authenticate your payment");
      var frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "3D Secure authentication";
      frame.name = "stripe-emulator-3ds";
      frame.className = "se-3ds-frame";
      overlay.appendChild(frame);
      function onMessage(event) {
        if (event.origin !== ORIGIN || !event.data || event.data.type !== "stripe-emulator-3ds") return;
        window.removeEventListener("message", onMessage);
        overlay.remove();
        resolve(event.data);
      }
      window.addEventListener("message", onMessage);
      document.body.appendChild(overlay);
      frame.focus();
    });
  }

  // ---- card field helpers ---------------------------------------------------------------

  function digits(value) {
    return (value || "").replace(/\D/g, "");
  }

  function isAmex(number) {
    return /^3[47]/.test(number);
  }

  function brandOf(number) {
    if (/^4/.test(number)) return "visa";
    if (isAmex(number)) return "amex";
    if (/^(5[1-5]|2[2-7])/.test(number)) return "mastercard";
    if (/^(6011|65|64[4-9])/.test(number)) return "discover";
    if (/^35/.test(number)) return "jcb";
    if (/^3[068]/.test(number)) return "diners";
    if (/^62/.test(number)) return "unionpay";
    return "unknown";
  }

  function luhnOk(number) {
    var sum = 0;
    for (var i = 0; i < number.length; i++) {
      var d = +number.charAt(number.length - 1 - i);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function formatNumber(raw) {
    var d = digits(raw).slice(0, 19);
    if (isAmex(d)) {
      d = d.slice(0, 15);
      return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].filter(Boolean).join(" ");
    }
    return d.replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  function formatExpiry(raw) {
    var d = digits(raw).slice(0, 4);
    if (d.length === 1 && d > "1") d = "0" + d; // "4" can only mean April
    return d.length > 2 ? d.slice(0, 2) + " / " + d.slice(2) : d;
  }

  // Reformat in place and keep the caret after the same number of digits.
  function reformat(input, format) {
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var before = digits(input.value.slice(0, caret)).length;
    var next = format(input.value);
    if (next === input.value) return;
    input.value = next;
    var pos = 0;
    var seen = 0;
    while (pos < next.length && seen < before) {
      if (/\d/.test(next.charAt(pos))) seen++;
      pos++;
    }
    if (document.activeElement === input) input.setSelectionRange(pos, pos);
  }

  // Shaped like Stripe.js's validation errors; which input to flag rides along, hidden from callers.
  function validationError(code, field) {
    var error = { type: "validation_error", code: code, message: MESSAGES[code] };
    Object.defineProperty(error, "_field", { value: field, enumerable: false });
    return error;
  }

  // ---- the Payment Element --------------------------------------------------------------

  var STYLE = [
    ".se-element{font-family:var(--se-font,system-ui,sans-serif);color:var(--se-text,#30313d)}",
    ".se-element fieldset{border:0;margin:0;padding:0;min-width:0}",
    ".se-element legend{font-weight:600;margin-bottom:.5rem;padding:0}",
    ".se-field{margin-bottom:.75rem}",
    ".se-field label{display:block;font-size:.9rem;margin-bottom:.25rem}",
    ".se-field input{width:100%;box-sizing:border-box;font:inherit;font-size:16px;padding:.65rem .75rem;",
    "border:1px solid #c4c9d2;border-radius:var(--se-radius,6px);background:#fff;color:inherit}",
    ".se-field input:focus{outline:2px solid var(--se-primary,#0570de);outline-offset:1px}",
    ".se-field input[aria-invalid=true]{border-color:var(--se-danger,#df1b41);color:var(--se-danger,#df1b41)}",
    ".se-row{display:grid;grid-template-columns:1fr 1fr;gap:.75rem}",
    ".se-brand{font-size:.8rem;color:#6d6e78;min-height:1em}",
    ".se-3ds-overlay{position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:center;",
    "justify-content:center;z-index:2147483647}",
    ".se-3ds-frame{width:min(500px,95vw);height:min(600px,90vh);border:0;border-radius:8px;background:#fff}"
  ].join("");

  // A stylesheet from the emulator's origin rather than an inline <style>, so that a shop's
  // Content-Security-Policy that allows the Stripe.js origin (and no inline style) allows it.
  // STYLE above is what /v3/elements.css serves.
  function ensureStyle() {
    if (document.getElementById("stripe-emulator-style")) return;
    var link = document.createElement("link");
    link.id = "stripe-emulator-style";
    link.rel = "stylesheet";
    link.href = ORIGIN + "/v3/elements.css";
    document.head.appendChild(link);
  }

  var FIELDS = [
    { key: "number", id: "Field-numberInput", name: "cardnumber", label: "Card number",
      autocomplete: "cc-number", placeholder: "1234 1234 1234 1234", maxlength: 23, numeric: true },
    { key: "expiry", id: "Field-expiryInput", name: "exp-date", label: "Expiration date (MM / YY)",
      autocomplete: "cc-exp", placeholder: "MM / YY", maxlength: 7, numeric: true },
    { key: "cvc", id: "Field-cvcInput", name: "cvc", label: "Security code",
      autocomplete: "cc-csc", placeholder: "CVC", maxlength: 4, numeric: true },
    { key: "postal", id: "Field-postalCodeInput", name: "postal", label: "ZIP / Postal code (optional)",
      autocomplete: "postal-code", placeholder: "", maxlength: 10, numeric: false }
  ];

  function PaymentElement(elements, options) {
    this._elements = elements;
    this._options = options || {};
    this._handlers = {};
    this._container = null;
    this._root = null;
    this._inputs = {};
    this._destroyed = false;
  }

  PaymentElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };

  PaymentElement.prototype.off = function (event, handler) {
    var list = this._handlers[event] || [];
    this._handlers[event] = handler ? list.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  PaymentElement.prototype.once = function (event, handler) {
    var self = this;
    function wrapped(payload) {
      self.off(event, wrapped);
      handler(payload);
    }
    return this.on(event, wrapped);
  };

  PaymentElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).slice().forEach(function (handler) {
      handler(Object.assign({ elementType: "payment" }, payload));
    });
  };

  PaymentElement.prototype.mount = function (target) {
    if (this._destroyed) throw IntegrationError("This Element has already been destroyed.");
    var container = typeof target === "string" ? document.querySelector(target) : target;
    if (!container) {
      throw IntegrationError("The selector you specified (" + target + ") applies to no DOM elements.");
    }
    if (this._root) this.unmount();
    ensureStyle();
    // Stripe.js takes over the container: a "Loading…" placeholder inside it goes away.
    if (container.childNodes.length) {
      console.warn("Stripe emulator: mount() replaces the child nodes of", container);
      container.textContent = "";
    }
    this._container = container;
    this._root = this._build();
    container.appendChild(this._root);
    container.classList.add("StripeElement", "StripeElement--empty");
    var self = this;
    setTimeout(function () { self._emit("ready", {}); }, 0);
    return this;
  };

  PaymentElement.prototype._build = function () {
    var self = this;
    var vars = (this._elements._appearance && this._elements._appearance.variables) || {};
    var root = document.createElement("div");
    root.className = "se-element";
    root.setAttribute("data-stripe-emulator", "payment-element");
    if (vars.colorPrimary) root.style.setProperty("--se-primary", vars.colorPrimary);
    if (vars.colorText) root.style.setProperty("--se-text", vars.colorText);
    if (vars.colorDanger) root.style.setProperty("--se-danger", vars.colorDanger);
    if (vars.fontFamily) root.style.setProperty("--se-font", vars.fontFamily);
    if (vars.borderRadius) root.style.setProperty("--se-radius", vars.borderRadius);
    var fieldset = document.createElement("fieldset");
    var legend = document.createElement("legend");
    legend.textContent = "Card";
    fieldset.appendChild(legend);
    var row = null;
    FIELDS.forEach(function (spec) {
      var wrap = document.createElement("div");
      wrap.className = "se-field";
      var label = document.createElement("label");
      label.htmlFor = spec.id;
      label.textContent = spec.label;
      var input = document.createElement("input");
      input.id = spec.id;
      input.name = spec.name;
      input.type = "text";
      input.autocomplete = spec.autocomplete;
      input.placeholder = spec.placeholder;
      input.maxLength = spec.maxlength;
      input.spellcheck = false;
      input.setAttribute("form", "stripe-emulator-detached"); // no form owner: never posted to the shop
      if (spec.numeric) input.inputMode = "numeric";
      if (spec.key !== "postal") input.setAttribute("aria-required", "true");
      wrap.appendChild(label);
      wrap.appendChild(input);
      self._inputs[spec.key] = input;
      input.addEventListener("input", function () { self._onInput(spec.key); });
      input.addEventListener("keydown", function (event) { self._onKeydown(event); });
      input.addEventListener("focus", function () { self._onFocus(true); });
      input.addEventListener("blur", function () { self._onFocus(false); });
      if (spec.key === "number") {
        var brand = document.createElement("div");
        brand.className = "se-brand";
        brand.setAttribute("data-testid", "card-brand");
        self._brand = brand;
        wrap.appendChild(brand);
        fieldset.appendChild(wrap);
      } else if (spec.key === "expiry" || spec.key === "cvc") {
        if (!row) {
          row = document.createElement("div");
          row.className = "se-row";
          fieldset.appendChild(row);
        }
        row.appendChild(wrap);
      } else {
        fieldset.appendChild(wrap);
      }
    });
    root.appendChild(fieldset);
    return root;
  };

  PaymentElement.prototype._onInput = function (key) {
    var input = this._inputs[key];
    if (key === "number") {
      reformat(input, formatNumber);
      var brand = brandOf(digits(input.value));
      this._brand.textContent = brand === "unknown" || !input.value ? "" : brand;
      this._inputs.cvc.maxLength = isAmex(digits(input.value)) ? 4 : 3;
    } else if (key === "expiry") {
      reformat(input, formatExpiry);
    } else if (key === "cvc") {
      reformat(input, function (v) { return digits(v).slice(0, 4); });
    }
    input.removeAttribute("aria-invalid");
    var state = this._state();
    this._container.classList.toggle("StripeElement--empty", state.empty);
    this._container.classList.toggle("StripeElement--complete", state.complete);
    this._container.classList.remove("StripeElement--invalid");
    this._emit("change", {
      empty: state.empty,
      complete: state.complete,
      collapsed: false,
      value: { type: "card" }
    });
  };

  // Enter submits the surrounding form, as it does from inside Stripe's iframe.
  PaymentElement.prototype._onKeydown = function (event) {
    if (event.key !== "Enter") return;
    var form = this._container && this._container.closest("form");
    if (!form) return;
    event.preventDefault();
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { cancelable: true, bubbles: true }));
  };

  PaymentElement.prototype._onFocus = function (focused) {
    if (!this._container) return;
    this._container.classList.toggle("StripeElement--focus", focused);
    this._emit(focused ? "focus" : "blur", {});
  };

  PaymentElement.prototype._state = function () {
    var inputs = this._inputs;
    var empty = ["number", "expiry", "cvc"].every(function (k) { return !inputs[k].value; });
    return { empty: empty, complete: !this._validate() };
  };

  // Stripe.js's client-side checks, in its order: number, then expiry, then CVC.
  PaymentElement.prototype._validate = function () {
    var number = digits(this._inputs.number.value);
    var minimum = isAmex(number) ? 15 : /^36/.test(number) ? 14 : 16;
    if (number.length < minimum) return validationError("incomplete_number", "number");
    if (!luhnOk(number)) return validationError("invalid_number", "number");
    var exp = digits(this._inputs.expiry.value);
    if (exp.length < 4) return validationError("incomplete_expiry", "expiry");
    var month = +exp.slice(0, 2);
    var year = 2000 + +exp.slice(2, 4);
    if (month < 1 || month > 12) return validationError("invalid_expiry_month", "expiry");
    var now = new Date();
    if (year < now.getFullYear()) return validationError("invalid_expiry_year_past", "expiry");
    if (year === now.getFullYear() && month < now.getMonth() + 1) {
      return validationError("invalid_expiry_month_past", "expiry");
    }
    var cvc = digits(this._inputs.cvc.value);
    if (cvc.length < (isAmex(number) ? 4 : 3)) return validationError("incomplete_cvc", "cvc");
    return null;
  };

  PaymentElement.prototype._markInvalid = function (error) {
    var input = this._inputs[error._field];
    if (input) input.setAttribute("aria-invalid", "true");
    if (this._container) this._container.classList.add("StripeElement--invalid");
  };

  PaymentElement.prototype._paymentMethodData = function () {
    var exp = digits(this._inputs.expiry.value);
    var data = {
      type: "card",
      card: {
        number: digits(this._inputs.number.value),
        exp_month: +exp.slice(0, 2),
        exp_year: 2000 + +exp.slice(2, 4),
        cvc: digits(this._inputs.cvc.value)
      }
    };
    var postal = this._inputs.postal.value.trim();
    if (postal) data.billing_details = { address: { postal_code: postal } };
    return data;
  };

  PaymentElement.prototype.focus = function () {
    if (this._inputs.number) this._inputs.number.focus();
  };

  PaymentElement.prototype.blur = function () {
    if (document.activeElement && this._root && this._root.contains(document.activeElement)) {
      document.activeElement.blur();
    }
  };

  PaymentElement.prototype.clear = function () {
    var inputs = this._inputs;
    Object.keys(inputs).forEach(function (k) { inputs[k].value = ""; });
  };

  PaymentElement.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };

  PaymentElement.prototype.unmount = function () {
    if (this._root && this._root.parentNode) this._root.parentNode.removeChild(this._root);
    if (this._container) {
      this._container.classList.remove(
        "StripeElement", "StripeElement--empty", "StripeElement--complete",
        "StripeElement--invalid", "StripeElement--focus"
      );
    }
    this._root = null;
    this._container = null;
    this._inputs = {};
  };

  PaymentElement.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    this._elements._forget(this);
  };

  // ---- Elements group -------------------------------------------------------------------

  function Elements(stripe, options) {
    options = options || {};
    this._stripe = stripe;
    this._clientSecret = options.clientSecret || null;
    this._appearance = options.appearance || {};
    this._payment = null;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "payment") {
      throw IntegrationError('The emulator\'s Stripe.js supports only elements.create("payment"), not "' + type + '".');
    }
    if (this._payment && !this._payment._destroyed) {
      throw IntegrationError("Can only create one Element of type payment.");
    }
    this._payment = new PaymentElement(this, options);
    return this._payment;
  };

  Elements.prototype.getElement = function (type) {
    return type === "payment" ? this._payment : null;
  };

  Elements.prototype.update = function (options) {
    if (options && options.appearance) this._appearance = options.appearance;
  };

  // Validate the form before an async step, as Stripe.js's elements.submit() does.
  Elements.prototype.submit = function () {
    var element = this._mounted();
    var error = element._validate();
    if (error) {
      element._markInvalid(error);
      return Promise.resolve({ error: error });
    }
    return Promise.resolve({ selectedPaymentMethod: "card" });
  };

  Elements.prototype._forget = function (element) {
    if (this._payment === element) this._payment = null;
  };

  Elements.prototype._mounted = function () {
    if (!this._payment || !this._payment._root) {
      throw IntegrationError("The Payment Element must be mounted before confirming the payment.");
    }
    return this._payment;
  };

  // ---- Stripe ---------------------------------------------------------------------------

  function StripeClient(key) {
    if (typeof key !== "string" || !key) {
      throw IntegrationError("Please call Stripe() with your publishable key. You used an empty string.");
    }
    if (/^(sk|rk)_/.test(key)) {
      throw IntegrationError(
        "You should not use your secret key with Stripe.js. Please pass a publishable key instead."
      );
    }
    if (!/^pk_(test|live)_/.test(key)) throw IntegrationError("Invalid API Key provided: " + key);
    this._key = key;
  }

  StripeClient.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  StripeClient.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = intentId(clientSecret);
    return api(this._key, "GET", "/v3/payment_intents/" + id, { client_secret: clientSecret }).then(
      function (body) {
        return body.error ? { error: body.error } : { paymentIntent: body };
      }
    );
  };

  StripeClient.prototype.confirmPayment = function (options) {
    var self = this;
    return Promise.resolve().then(function () {
      options = options || {};
      var elements = options.elements;
      if (!(elements instanceof Elements)) {
        throw IntegrationError("stripe.confirmPayment(): the `elements` argument is required.");
      }
      var params = Object.assign({}, options.confirmParams || {});
      var redirect = options.redirect || "always";
      if (redirect !== "always" && redirect !== "if_required") {
        throw IntegrationError("stripe.confirmPayment(): `redirect` must be 'always' or 'if_required'.");
      }
      if (redirect === "always" && !params.return_url) {
        throw IntegrationError(
          "stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless passing " +
            "`redirect: 'if_required'`"
        );
      }
      var clientSecret = options.clientSecret || elements._clientSecret;
      var id = intentId(clientSecret);
      var element = elements._mounted();
      var invalid = element._validate();
      if (invalid) {
        element._markInvalid(invalid);
        return { error: invalid };
      }
      var pmd = element._paymentMethodData();
      var extra = params.payment_method_data || {};
      if (extra.billing_details) {
        pmd.billing_details = Object.assign({}, pmd.billing_details, extra.billing_details);
      }
      params.payment_method_data = Object.assign({}, extra, pmd);
      params.client_secret = clientSecret;
      return api(self._key, "POST", "/v3/payment_intents/" + id + "/confirm", params).then(function (body) {
        if (body.error) return { error: customerError(body.error) };
        return self._afterConfirm(body, params.return_url, redirect);
      });
    });
  };

  StripeClient.prototype._afterConfirm = function (pi, returnUrl, redirect) {
    if (pi.status === "succeeded" || pi.status === "processing" || pi.status === "requires_capture") {
      if (redirect === "if_required") return { paymentIntent: pi };
      return navigate(returnUrlFor(returnUrl, pi, "succeeded"));
    }
    if (pi.status === "requires_action") return this._nextAction(pi);
    if (pi.last_payment_error) return { error: customerError(pi.last_payment_error, pi) };
    return { paymentIntent: pi };
  };

  StripeClient.prototype._nextAction = function (pi) {
    var self = this;
    var action = pi.next_action || {};
    if (action.type === "redirect_to_url") return navigate(action.redirect_to_url.url);
    if (action.type === "use_stripe_sdk") {
      return threeDsModal(action.use_stripe_sdk.stripe_js).then(function () {
        return self.retrievePaymentIntent(pi.client_secret).then(function (result) {
          var updated = result.paymentIntent;
          if (!updated) return result;
          if (updated.status === "requires_payment_method" && updated.last_payment_error) {
            return { error: customerError(updated.last_payment_error, updated) };
          }
          return { paymentIntent: updated };
        });
      });
    }
    return Promise.resolve({ paymentIntent: pi });
  };

  function setupIntentId(clientSecret) {
    var match = /^(seti_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(clientSecret || "");
    if (!match) {
      throw IntegrationError(
        "Invalid value for clientSecret: expected a SetupIntent client secret of the form " +
          "${id}_secret_${secret}."
      );
    }
    return match[1];
  }

  StripeClient.prototype.retrieveSetupIntent = function (clientSecret) {
    var id = setupIntentId(clientSecret);
    return api(this._key, "GET", "/v3/setup_intents/" + id, { client_secret: clientSecret }).then(
      function (body) {
        return body.error ? { error: body.error } : { setupIntent: body };
      }
    );
  };

  // confirmSetup: the card is saved for later (off-session) payments; 3-D Secure, if the card
  // asks for it, runs in the modal; then the browser goes to return_url as Stripe.js does.
  StripeClient.prototype.confirmSetup = function (options) {
    var self = this;
    return Promise.resolve().then(function () {
      options = options || {};
      var elements = options.elements;
      if (!(elements instanceof Elements)) {
        throw IntegrationError("stripe.confirmSetup(): the `elements` argument is required.");
      }
      var params = Object.assign({}, options.confirmParams || {});
      var redirect = options.redirect || "always";
      if (redirect === "always" && !params.return_url) {
        throw IntegrationError("stripe.confirmSetup(): the `confirmParams.return_url` argument is required.");
      }
      var clientSecret = options.clientSecret || elements._clientSecret;
      var id = setupIntentId(clientSecret);
      var element = elements._mounted();
      var invalid = element._validate();
      if (invalid) {
        element._markInvalid(invalid);
        return { error: invalid };
      }
      params.payment_method_data = element._paymentMethodData();
      params.client_secret = clientSecret;
      var returnUrl = params.return_url;
      function finish(seti) {
        if (seti.status === "succeeded" && redirect === "always") {
          var sep = returnUrl.indexOf("?") >= 0 ? "&" : "?";
          return navigate(returnUrl + sep + "setup_intent=" + encodeURIComponent(seti.id) + "&redirect_status=succeeded");
        }
        if (seti.last_setup_error) return { error: customerError(seti.last_setup_error), setupIntent: seti };
        return { setupIntent: seti };
      }
      return api(self._key, "POST", "/v3/setup_intents/" + id + "/confirm", params).then(function (body) {
        if (body.error) return { error: customerError(body.error) };
        if (body.status !== "requires_action") return finish(body);
        return threeDsModal(body.next_action.use_stripe_sdk.stripe_js).then(function () {
          return self.retrieveSetupIntent(clientSecret).then(function (result) {
            return result.setupIntent ? finish(result.setupIntent) : result;
          });
        });
      });
    });
  };

  StripeClient.prototype.handleNextAction = function (options) {
    var self = this;
    var clientSecret = (options || {}).clientSecret;
    return this.retrievePaymentIntent(clientSecret).then(function (result) {
      if (result.error) return result;
      var pi = result.paymentIntent;
      if (pi.status !== "requires_action") return { paymentIntent: pi };
      return self._nextAction(pi);
    });
  };

  function Stripe(key, options) {
    return new StripeClient(key, options);
  }
  Stripe.version = 3;
  Stripe.emulator = true; // lets a page (or a test) tell the stand-in from the real thing

  window.Stripe = Stripe;
})();
