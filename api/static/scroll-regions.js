// A wide table or report scrolls sideways inside its box on a narrow screen. A box that
// scrolls is put in the tab order, so that its hidden columns can be scrolled to without a
// mouse (WCAG 2.1.1; axe-core's scrollable-region-focusable); focused, a screen reader reads
// the table inside. No role or name is added: the page's sections already name the tables,
// and a second region of the same name would only repeat them. A box that does not scroll
// stays out of the tab order; boxes a template made focusable are left as they are.
(function () {
  "use strict";
  var MARK = "data-scroll-region";

  function mark() {
    document.querySelectorAll(".table-wrap, .report").forEach(function (box) {
      var ours = box.hasAttribute(MARK);
      if (!ours && box.hasAttribute("tabindex")) {
        return;
      }
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !ours) {
        box.setAttribute(MARK, "");
        box.setAttribute("tabindex", "0");
      } else if (!scrolls && ours) {
        box.removeAttribute("tabindex");
        box.removeAttribute(MARK);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
  document.addEventListener("toggle", mark, true); // a <details> opened: its tables show
  document.addEventListener("htmx:afterSettle", mark);
})();
