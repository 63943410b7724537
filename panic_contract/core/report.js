// Filtering and sorting only: the page reads whole without it (every row is shown, in the report's order).
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var table = document.getElementById("findings");
  if (!form || !table) { return; }
  form.hidden = false;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr.finding"));
  var shown = document.getElementById("shown");
  function checked(name) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=" + name + "]:checked")).map(function (box) {
      return box.value;
    });
  }
  function apply() {
    var severities = checked("severity"), statuses = checked("status");
    var kind = form.elements.kind.value, flapping = form.elements.flapping && form.elements.flapping.checked;
    var text = form.elements.text.value.trim().toLowerCase(), count = 0;
    rows.forEach(function (row) {
      var group = row.parentNode.dataset, more = row.nextElementSibling;
      var visible = severities.indexOf(group.severity) >= 0 &&
        (!form.querySelector("input[name=status]") || statuses.indexOf(row.dataset.status) >= 0) &&
        (kind === "" || group.kind === kind) &&
        (!flapping || row.dataset.flapping === "1") &&
        (text === "" || (row.textContent + " " + more.textContent).toLowerCase().indexOf(text) >= 0);
      row.hidden = more.hidden = !visible;
      if (visible) { count += 1; }
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      body.hidden = !body.querySelector("tr.finding:not([hidden])");
    });
    shown.textContent = count + " of " + rows.length + " findings shown";
  }
  form.addEventListener("input", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (head) {
    head.classList.add("sortable");
    head.addEventListener("click", function () {
      var column = head.cellIndex, down = head.getAttribute("aria-sort") !== "descending";
      Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (other) {
        other.removeAttribute("aria-sort");
      });
      head.setAttribute("aria-sort", down ? "descending" : "ascending");
      Array.prototype.forEach.call(table.tBodies, function (body) {
        var own = Array.prototype.slice.call(body.querySelectorAll("tr.finding"));
        own.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column];
          var nx = parseFloat(x.dataset.v), ny = parseFloat(y.dataset.v);
          var order = isNaN(nx) || isNaN(ny) ? x.textContent.localeCompare(y.textContent) : nx - ny;
          return down ? -order : order;
        });
        own.forEach(function (row) {
          var more = row.nextElementSibling;
          body.appendChild(row);
          body.appendChild(more);
        });
      });
    });
  });
  apply();
}());
