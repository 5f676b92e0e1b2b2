/* QTLens shared browser helpers: JSON API calls with CSRF, formatting. No framework. */
"use strict";

window.QTLens = (function () {
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  /** Error carrying the API's {error, message, field} body. */
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `request failed (${status})`);
      this.status = status;
      this.body = body;
    }
  }

  /** Call the JSON API; rejects with ApiError holding the server's plain-language message. */
  async function api(method, url, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrfToken;
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (response.status === 204) return null;
    let payload = null;
    try { payload = await response.json(); } catch (err) { payload = null; }
    if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); }
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  }

  /** Format a number with a fixed number of decimals, or an en dash when missing. */
  function fmt(value, decimals) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Number(value).toFixed(decimals || 0);
  }

  /** A probability as a clinician reads it: whole percent, but never "0 %" or "100 %" — a
   *  model is never certain — so below 0.5 % reads "< 1 %" and from 99.5 % "> 99 %". */
  function percent(probability) {
    if (probability === null || probability === undefined || Number.isNaN(probability)) return "–";
    if (probability < 0.005) return "< 1 %";
    if (probability >= 0.995) return "> 99 %";
    return fmt(100 * probability, 0) + " %";
  }

  /** Create an element with attributes and children (text or nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Plotly configuration with ``extra`` on top of what every chart must have: no Plotly logo,
   * no "Share"/cloud button, no link out (the data never leaves this site). ``showLink`` is
   * gone from plotly.js 4 and kept off for older bundles. */
  function plotConfig(extra) {
    const removed = ["sendChartToCloud", "sendDataToCloud"];
    const wanted = (extra && extra.modeBarButtonsToRemove) || [];
    return { responsive: false, ...extra, displaylogo: false, showLink: false,
      showSendToCloud: false, plotlyServerURL: "",
      modeBarButtonsToRemove: [...wanted, ...removed] };
  }

  /** A moment from the API (ISO 8601 with offset) as local "YYYY-MM-DD HH:MM". */
  function when(iso) {
    const moment = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())} ` +
      `${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
  }

  function showStatus(node, message, isError) {
    node.textContent = message;
    node.classList.toggle("error", Boolean(isError));
  }

  return { api, ApiError, fmt, percent, el, showStatus, plotConfig, when, csrfToken };
})();
