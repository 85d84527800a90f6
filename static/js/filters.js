// Filter forms: a search box that queries as one types (its own hx-get, fired on input) must not
// also query when it loses focus. The browser fires "change" on that blur, which would bubble to
// the filter form (hx-trigger "change") and send the same query again; its late answer redraws the
// results under the click that caused the blur, and the click on a result is lost. Boxes without
// their own hx-get still reach the form: their change is how they search.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("form.filters input[type=search][hx-get]")) {
      event.stopPropagation(); // capture phase at document: the form never sees it
    }
  }, true);
})();
