// The matrix's toggles: POST to /admin/templates/SLUG/PROJECT/enable|disable with the page's CSRF token in a
// header (a cross-site form cannot send one), then swap in the cell the server renders back. The schedules page's
// actions (run now, enable, disable) POST to /admin/projects/PROJECT/scenarios/ID/ACTION and swap in the row.
(function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function showMessage(cell, text) {
    let box = cell.querySelector('[data-role="message"]');
    if (!box) {
      box = document.createElement("div");
      box.className = "message";
      box.setAttribute("role", "status");
      box.dataset.role = "message";
      cell.appendChild(box);
    }
    box.textContent = text;
  }

  function describe(status, body) {
    try {
      const detail = JSON.parse(body).detail;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail)) return detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
    } catch (ignored) {
      const page = new DOMParser().parseFromString(body, "text/html").querySelector("#page-error");
      if (page) return page.textContent;
    }
    return "The server answered " + status + ".";
  }

  async function post(cell, action, parameters) {
    const url = "/admin/templates/" + encodeURIComponent(cell.dataset.slug) + "/" +
      encodeURIComponent(cell.dataset.project) + "/" + action;
    const init = { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } };
    if (parameters) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ parameters: parameters });
    }
    cell.setAttribute("aria-busy", "true");
    cell.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(url, init);
      const body = await response.text();
      if (response.status === 401) {
        window.location.assign("/admin/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (response.headers.get("X-Honeyframe-Fragment") === "cell") {
        cell.innerHTML = body;
        const toggle = cell.querySelector('[data-role="toggle"]');
        cell.classList.toggle("enabled", toggle.classList.contains("on"));
        cell.classList.toggle("disabled", !toggle.classList.contains("on"));
      } else {
        cell.querySelectorAll("button").forEach((b) => { b.disabled = false; });
        showMessage(cell, describe(response.status, body));
      }
    } catch (error) {
      cell.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      showMessage(cell, "The API could not be reached: " + error);
    } finally {
      cell.removeAttribute("aria-busy");
    }
  }

  function formValues(form) {
    const values = {};
    form.querySelectorAll("input[name], select[name]").forEach((input) => {
      const list = (input.dataset.type || "").startsWith("list[");
      if (input.tagName === "SELECT" && input.multiple) {
        const chosen = Array.from(input.selectedOptions).map((o) => o.value).filter(Boolean);
        if (chosen.length) values[input.name] = chosen;
        return;
      }
      const text = input.value.trim();
      if (!text) return;
      values[input.name] = list ? text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean) : text;
    });
    return values;
  }

  async function scenarioAction(row, action) {
    const table = row.closest("table.schedules");
    const url = "/admin/projects/" + encodeURIComponent(table.dataset.project) + "/scenarios/" +
      encodeURIComponent(row.dataset.scenario) + "/" + action;
    row.setAttribute("aria-busy", "true");
    row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() },
      });
      const body = await response.text();
      if (response.status === 401) {
        window.location.assign("/admin/login?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (response.headers.get("X-Honeyframe-Fragment") === "row") {
        const parsed = new DOMParser().parseFromString(body, "text/html");
        const errorRow = table.querySelector('tr[data-error-of="' + row.dataset.scenario + '"]');
        if (errorRow) errorRow.remove();
        const rows = Array.from(parsed.querySelectorAll("tbody > tr"));
        rows.forEach((fresh) => row.parentNode.insertBefore(document.importNode(fresh, true), row));
        row.remove();
      } else {
        row.querySelectorAll("button").forEach((b) => { b.disabled = false; });
        showMessage(row.querySelector("td.actions"), describe(response.status, body));
      }
    } catch (error) {
      row.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      showMessage(row.querySelector("td.actions"), "The API could not be reached: " + error);
    } finally {
      row.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest('button[data-role="scenario-action"]');
    const row = button && button.closest("tr[data-scenario]");
    if (row) scenarioAction(row, button.dataset.action);
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-role]");
    const cell = button && button.closest("td.cell");
    if (!cell) return;
    const form = cell.querySelector('[data-role="values-form"]');
    const role = button.dataset.role;
    if (role === "toggle") {
      if (button.dataset.action === "enable" && button.dataset.needsValues === "yes" && form) {
        form.hidden = false;
        const first = form.querySelector("input[required], select[required]");
        if (first) first.focus();
      } else {
        post(cell, button.dataset.action, null);
      }
    } else if (role === "edit" && form) {
      form.hidden = !form.hidden;
    } else if (role === "cancel" && form) {
      form.hidden = true;
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest('[data-role="values-form"]');
    if (!form) return;
    event.preventDefault();
    post(form.closest("td.cell"), "enable", formValues(form));
  });
})();
