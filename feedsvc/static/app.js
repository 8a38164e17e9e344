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

// ==== Add/edit item: a carrier's keep-alive rule ====
// Without JavaScript, "Show the rule" and "Apply this rule" send the form back and the
// server answers with the rule shown or filled in. Here the same happens in the page: the
// chosen carrier's rule shows at once, and applying it sets the controls its data-fill
// names (the server's own list), plus the provider when none was typed. A country with
// presets narrows the list to its carriers. An unclear rule needs its box ticked first.
function linkCarrierRules() {
  var select = document.getElementById("f-carrier");
  var panel = document.getElementById("presets");
  if (!select || !panel) {
    return;
  }
  var form = select.form;
  var status = document.getElementById("preset-status");
  var blocks = Array.prototype.slice.call(panel.querySelectorAll("[data-preset]"));
  function show(id) {
    blocks.forEach(function (block) {
      block.hidden = block.getAttribute("data-preset") !== id;
    });
    status.textContent = "";
  }
  select.addEventListener("change", function () { show(select.value); });
  var showButton = document.getElementById("show-rule");
  showButton.addEventListener("click", function (event) {
    event.preventDefault();
    show(select.value);
  });

  blocks.forEach(function (block) {
    var apply = block.querySelector("button[name=apply_rule]");
    var box = block.querySelector("input[name=confirm_unclear]");
    var error = block.querySelector(".confirm-error");
    function setError(on) {
      error.hidden = !on;
      error.classList.toggle("field-error", on);
      error.textContent = on ? error.getAttribute("data-message") : "";
      if (on) {
        box.setAttribute("aria-invalid", "true");
      } else {
        box.removeAttribute("aria-invalid");
      }
    }
    if (box) {
      box.addEventListener("change", function () {
        if (box.checked) {
          setError(false);
        }
      });
    }
    apply.addEventListener("click", function (event) {
      event.preventDefault();
      if (box && !box.checked) {
        setError(true);
        box.focus();
        return;
      }
      var fill = JSON.parse(block.getAttribute("data-fill"));
      Object.keys(fill).forEach(function (name) {
        var control = form.elements.namedItem(name);
        if (!control) {
          return;
        }
        control.value = fill[name];
        if (control !== select) {
          control.dispatchEvent(new Event("change", {bubbles: true}));
        }
      });
      var provider = form.elements.namedItem("provider");
      if (provider && !provider.value.trim()) {
        provider.value = block.getAttribute("data-provider");
      }
      status.textContent = status.getAttribute("data-applied");
    });
  });

  var country = document.getElementById("f-country");
  var groups = Array.prototype.slice.call(select.querySelectorAll("optgroup"));
  function narrow() {
    var code = country.value.trim().toUpperCase();
    var chosen = select.options[select.selectedIndex];
    var mine = groups.filter(function (group) { return group.getAttribute("data-country") === code; });
    groups.forEach(function (group) {
      var keep = mine.length === 0 || mine.indexOf(group) >= 0 || group.contains(chosen);
      if (keep) {
        select.appendChild(group);
      } else if (group.parentNode) {
        select.removeChild(group);
      }
    });
  }
  if (country) {
    country.addEventListener("input", narrow);
    country.addEventListener("change", narrow);
    narrow();
  }
}

document.addEventListener("DOMContentLoaded", linkCarrierRules);
