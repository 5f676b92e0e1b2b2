/* Account page: personal API tokens. */
"use strict";

(function () {
  const { api, el, showStatus } = window.QTLens;
  const body = document.getElementById("token-body");
  const form = document.getElementById("new-token");
  const once = document.getElementById("token-once");
  const statusNode = document.getElementById("token-status");
  const day = (iso) => (iso ? new Date(iso).toLocaleDateString() : "never");

  async function load() {
    const tokens = await api("GET", "/api/v1/me/tokens");
    body.replaceChildren(...tokens.map((t) => {
      const revoke = el("button", { type: "button", class: "link-button" }, "Revoke");
      revoke.addEventListener("click", async () => {
        await api("DELETE", `/api/v1/me/tokens/${t.id}`);
        load();
      });
      return el("tr", {}, el("td", {}, t.name), el("td", {}, day(t.created_at)), el("td", {}, day(t.expires_at)),
        el("td", {}, t.revoked_at ? "revoked" : "active"), el("td", {}, t.revoked_at ? "" : revoke));
    }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      const created = await api("POST", "/api/v1/me/tokens", { name: data.name, expires_days: Number(data.expires_days) });
      once.hidden = false;
      once.replaceChildren("Copy this token now — it is not shown again: ", el("code", {}, created.token));
      form.reset();
      load();
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
  });
  load().catch((error) => showStatus(statusNode, error.message, true));
})();
