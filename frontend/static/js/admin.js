/* Admin page: users and roles. */
"use strict";

(function () {
  const { api, el, showStatus } = window.QTLens;
  const body = document.getElementById("user-body");
  const statusNode = document.getElementById("admin-status");
  const form = document.getElementById("add-user");
  const ROLES = ["clinician", "researcher", "admin"];

  async function change(username, patch) {
    try {
      await api("PATCH", `/api/v1/admin/users/${encodeURIComponent(username)}`, patch);
      showStatus(statusNode, `Updated ${username}.`, false);
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
    load();
  }

  function row(user) {
    const role = el("select", { "aria-label": `Role of ${user.username}`, dataset: { testid: `role-${user.username}` } },
      ROLES.map((r) => el("option", { value: r, selected: r === user.role }, r)));
    role.addEventListener("change", () => change(user.username, { role: role.value }));
    const active = el("input", { type: "checkbox", checked: user.is_active, "aria-label": `${user.username} active`,
      dataset: { testid: `active-${user.username}` } });
    active.addEventListener("change", () => change(user.username, { is_active: active.checked }));
    return el("tr", {}, el("td", {}, user.username), el("td", {}, user.pseudonym), el("td", {}, role), el("td", {}, active));
  }

  async function load() {
    try {
      const users = await api("GET", "/api/v1/admin/users");
      body.replaceChildren(...users.map(row));
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      const user = await api("POST", "/api/v1/admin/users", data);
      showStatus(statusNode, `Created ${user.role} ${user.username}.`, false);
      form.reset();
      load();
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
  });
  load();
})();
