/*
 * Cookie consent: the banner's buttons and the one gate through which optional scripts load.
 *
 * A script of an optional category is written in the page as
 *   <script type="text/plain" data-consent-category="analytics" data-src="/static/js/x.js">
 * which the browser never runs. Only activateAllowed() below turns it into a real script,
 * and only when the visitor's consent cookie allows its category for the cookie policy
 * version now in force. The CSP stays strict: no inline script, same-origin sources only.
 */
(function () {
  "use strict";

  var CONSENT_COOKIE = "console_consent";
  var CATEGORIES = ["preferences", "analytics", "marketing"];
  var GPC_BLOCKED = ["analytics", "marketing"];

  function banner() {
    return document.getElementById("consent-banner");
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return null;
  }

  // The cookie reads "<policy version id>.<preferences><analytics><marketing>.<banner
  // version>" with the categories as 0/1. A choice made against another policy version
  // or other banner wording is no choice: the banner asks again.
  function readChoice(root) {
    var value = readCookie(CONSENT_COOKIE);
    var match = value && /^(\d+)\.([01]{3})\.([A-Za-z0-9-]*)$/.exec(value);
    if (
      !match ||
      !root ||
      match[1] !== root.getAttribute("data-policy-version") ||
      match[3] !== root.getAttribute("data-banner-version")
    ) {
      return null;
    }
    var choice = {};
    CATEGORIES.forEach(function (category, index) {
      choice[category] = match[2].charAt(index) === "1";
    });
    return choice;
  }

  function gpcOn(root) {
    return !!root && root.getAttribute("data-gpc") === "1";
  }

  function allowed(choice, category, root) {
    if (!choice || !choice[category]) {
      return false;
    }
    return !(gpcOn(root) && GPC_BLOCKED.indexOf(category) !== -1);
  }

  function categoryCookies(root) {
    try {
      return JSON.parse(root.getAttribute("data-category-cookies") || "{}");
    } catch (error) {
      return {};
    }
  }

  // Withdrawal (or no decision for the current policy) removes the category's cookies.
  function clearRefused(choice, root) {
    var cookies = categoryCookies(root);
    Object.keys(cookies).forEach(function (category) {
      if (allowed(choice, category, root)) {
        return;
      }
      cookies[category].forEach(function (name) {
        document.cookie = name + "=; Max-Age=0; path=/; SameSite=Lax";
      });
    });
  }

  // The gate: the only place an optional script is turned into one that runs.
  function activateAllowed(choice, root) {
    var inert = document.querySelectorAll('script[type="text/plain"][data-consent-category]');
    Array.prototype.forEach.call(inert, function (placeholder) {
      var category = placeholder.getAttribute("data-consent-category");
      var src = placeholder.getAttribute("data-src") || "";
      if (placeholder.hasAttribute("data-consent-loaded") || !allowed(choice, category, root)) {
        return;
      }
      // Same-origin paths only, whatever a template says.
      if (src.charAt(0) !== "/" || src.charAt(1) === "/") {
        return;
      }
      var script = document.createElement("script");
      script.src = src;
      script.async = true;
      placeholder.setAttribute("data-consent-loaded", "");
      placeholder.parentNode.insertBefore(script, placeholder.nextSibling);
    });
  }

  function announce(message) {
    var status = document.getElementById("consent-status");
    if (status) {
      status.textContent = message;
    }
  }

  function hideBanner(root) {
    root.hidden = true;
    var main = document.getElementById("main");
    if (main && root.contains(document.activeElement)) {
      main.focus();
    }
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function submitDecision(form, submitter, root) {
    var body = {
      choice: submitter.value === "save" ? "custom" : submitter.value,
      method: form.getAttribute("data-consent-method") || "button",
    };
    CATEGORIES.forEach(function (category) {
      var box = form.elements.namedItem(category);
      body[category] = !!(box && box.checked && !box.disabled);
    });
    return fetch(root.getAttribute("data-consent-endpoint"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("consent not recorded");
      }
      return response.json();
    });
  }

  function init() {
    var root = banner();
    if (!root) {
      return;
    }
    var choice = readChoice(root);
    clearRefused(choice, root);
    activateAllowed(choice, root);

    if (!root.hidden) {
      root.focus();
    }

    var customize = root.querySelector("[data-consent-customize]");
    var panel = document.getElementById("consent-categories");
    if (customize && panel) {
      customize.setAttribute("role", "button");
      customize.addEventListener("click", function (event) {
        event.preventDefault();
        panel.hidden = !panel.hidden;
        customize.setAttribute("aria-expanded", String(!panel.hidden));
        if (!panel.hidden) {
          var first = panel.querySelector("input:not([disabled])");
          if (first) {
            first.focus();
          }
        }
      });
      customize.addEventListener("keydown", function (event) {
        if (event.key === " ") {
          event.preventDefault();
          customize.click();
        }
      });
    }

    var form = root.querySelector("[data-consent-form]");
    if (!form) {
      return;
    }
    var fallback = false;
    form.addEventListener("submit", function (event) {
      if (fallback) {
        return; // let the browser post the form itself
      }
      event.preventDefault();
      var submitter = event.submitter || form.querySelector('button[value="reject_all"]');
      submitDecision(form, submitter, root)
        .then(function () {
          var decided = readChoice(root);
          clearRefused(decided, root);
          activateAllowed(decided, root);
          hideBanner(root);
          announce("Your cookie choices were saved.");
        })
        .catch(function () {
          fallback = true;
          form.requestSubmit(submitter);
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
