// Small conveniences on top of pages that work without JavaScript.
"use strict";

// Sign-up: propose the browser's time zone while the field is still at its default.
function detectTimezone() {
  var select = document.querySelector("select[data-detect-timezone]");
  if (!select || !window.Intl) {
    return;
  }
  var touched = false;
  select.addEventListener("change", function () { touched = true; });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!touched && zone) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) {
        select.value = zone;
        break;
      }
    }
  }
}

// "Use my default alarms": the item's own rows are ignored while it is ticked, so dim them;
// typing into a row means the item gets its own alarms, so untick it.
function linkAlarmToggle() {
  var boxes = document.querySelectorAll("input[type=checkbox][data-toggles]");
  Array.prototype.forEach.call(boxes, function (box) {
    var rows = document.getElementById(box.getAttribute("data-toggles"));
    if (!rows) {
      return;
    }
    function update() {
      rows.classList.toggle("is-dimmed", box.checked);
    }
    box.addEventListener("change", update);
    rows.addEventListener("input", function () {
      if (box.checked) {
        box.checked = false;
        update();
      }
    });
    update();
  });
}

document.addEventListener("DOMContentLoaded", function () {
  detectTimezone();
  linkAlarmToggle();
});
