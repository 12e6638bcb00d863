/* Chairside's page behaviour, wired by data attributes: the Content-Security-Policy allows
   no inline script (onclick=, hx-on, htmx filters that eval) and no style attributes, so
   what those did is done here, for every page and for every fragment htmx swaps in. */
(function () {
  "use strict";

  function applyStyles(root) {
    // Widths and shares computed on the server, set through the CSSOM (allowed by the policy).
    root.querySelectorAll("[data-procedure-percent]").forEach(function (element) {
      element.style.setProperty("--procedure-percent", element.dataset.procedurePercent + "%");
    });
    root.querySelectorAll("[data-width-percent]").forEach(function (element) {
      element.style.width = element.dataset.widthPercent + "%";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyStyles(document);
  });
  // htmx fires htmx:load on every piece of content it adds to the page.
  document.addEventListener("htmx:load", function (event) {
    applyStyles(event.target);
  });

  // A link or token shown once: focusing the box selects it, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print-page]")) {
      window.print();
    }
  });

  // A polling fragment is not refreshed while the user is working inside it (typing a
  // reading, say): the swap would take their input away.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (element.hasAttribute("data-poll-unless-focused") && element.contains(document.activeElement)) {
      event.preventDefault();
    }
  });
})();
