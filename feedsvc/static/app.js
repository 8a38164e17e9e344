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

// "Renewed": a second tap while the first is on its way would reach the server as a change
// made in the meantime and be refused, so later taps wait for the answer instead.
function submitOnce() {
  var forms = document.querySelectorAll("form[data-submit-once]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (form.hasAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "");
    });
  });
  // A page shown again from the back button must accept a tap again.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(forms, function (form) {
      form.removeAttribute("data-sent");
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  detectTimezone();
  linkAlarmToggle();
  submitOnce();
});

// ==== Calendars page: copy a calendar address ====
// The address sits in a read-only field that works without JavaScript; the Copy button
// appears only here. Without the clipboard API (or when it refuses), select the text instead.
function linkCopyButtons() {
  var buttons = document.querySelectorAll("button[data-copy-target]");
  Array.prototype.forEach.call(buttons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field) {
      return;
    }
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    function selectAddress() {
      field.focus();
      field.select();
      field.setSelectionRange(0, field.value.length);
      say(button.getAttribute("data-selected"));
    }
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () {
          say(button.getAttribute("data-copied"));
        }, selectAddress);
      } else {
        selectAddress();
      }
    });
    // A tap on the field selects the whole address, ready for the device's own Copy.
    field.addEventListener("focus", function () {
      field.select();
    });
    button.hidden = false;
  });
}

document.addEventListener("DOMContentLoaded", linkCopyButtons);

// ==== Add/edit item: propose the chosen country's carriers first ====
// Every carrier stays in the list (any name can be typed anyway); those of the country in
// the Country field come first, so a phone's short suggestion list shows them.
function linkProviderPicker() {
  var country = document.getElementById("f-country");
  var list = document.getElementById("providers");
  if (!country || !list) {
    return;
  }
  var all = Array.prototype.slice.call(list.options);
  function update() {
    var code = country.value.trim().toUpperCase();
    var mine = all.filter(function (option) { return option.getAttribute("data-country") === code; });
    var rest = all.filter(function (option) { return mine.indexOf(option) < 0; });
    mine.concat(rest).forEach(function (option) { list.appendChild(option); });
  }
  country.addEventListener("input", update);
  country.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", linkProviderPicker);
