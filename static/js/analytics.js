/*
 * First-party demonstration of an analytics script. It is loaded only by the consent
 * gate in consent.js, and only sets a cookie that says it ran.
 */
(function () {
  "use strict";
  document.cookie = "_console_analytics=1; Max-Age=2592000; path=/; SameSite=Lax";
  document.documentElement.setAttribute("data-analytics-loaded", "");
})();
