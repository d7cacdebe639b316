// Stadtpuls field tools. Plain script, no libraries. Everything shown is set with textContent, never as HTML.
// The technician key lives in sessionStorage and travels only in the X-API-Key header (no cookie).
"use strict";

const API = "/v1/technician";
const KEY = "stadtpuls.technician.key";
const $ = (id) => document.getElementById(id);
let current = null; // DevEUI on screen
let pollTimer = null;

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

async function call(path, options) {
  const opts = options || {};
  const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "" };
  if (opts.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method: opts.method || "GET", headers, cache: "no-store",
    body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
  });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (response.status === 401) { signOut("Your key was not accepted. Sign in again."); throw new Error("signed out"); }
  if (!response.ok) throw new Error(problem(body, response.status));
  return body;
}

function problem(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (detail && detail.message) return detail.message;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("\n");
  return `request failed (${status})`;
}

function when(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  const seconds = Math.round((Date.now() - d.getTime()) / 1000);
  const ago = seconds < 90 ? `${Math.max(seconds, 0)} s ago` : seconds < 5400 ? `${Math.round(seconds / 60)} min ago`
    : seconds < 172800 ? `${Math.round(seconds / 3600)} h ago` : `${Math.round(seconds / 86400)} days ago`;
  return `${d.toLocaleString()} (${ago})`;
}

// --- views -------------------------------------------------------------------------------------------------

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-pressed", String(b.dataset.view === view));
  if (view !== "device") stopPolling();
  if (view === "alarms") loadAlarms();
  if (view === "register") map.draw();
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    const me = await call("/me");
    $("who").textContent = `${me.name}, ${me.municipality}`;
    $("signin").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    await loadChoices();
    show("find");
    find("");
  } catch (error) {
    if (error.message !== "signed out") $("signin-error").textContent = error.message;
  }
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  stopPolling();
  $("app").hidden = true; $("signout").hidden = true; $("signin").hidden = false;
  $("who").textContent = "";
  $("signin-error").textContent = message || "";
  $("key").value = "";
  $("key").focus();
}

async function loadChoices() {
  const [models, sites] = await Promise.all([call("/models"), call("/sites")]);
  const select = $("model");
  select.replaceChildren(el("option", "Choose a model", { value: "" }));
  for (const m of models) select.append(el("option", `${m.model} (${m.name})`, { value: m.model }));
  $("site-list").replaceChildren(...sites.map((s) => el("option", null, { value: s.name })));
  const placed = sites.find((s) => s.lat !== null && s.lon !== null);
  if (placed) map.center(placed.lat, placed.lon);
}

// --- find --------------------------------------------------------------------------------------------------

async function find(q) {
  $("find-status").textContent = "Searching…";
  try {
    const devices = await call(`/devices?q=${encodeURIComponent(q)}`);
    $("find-status").textContent = devices.length ? `${devices.length} device(s)` : "No device found.";
    $("results").replaceChildren(...devices.map(deviceCard));
    const placed = devices.find((d) => d.lat !== null && d.lon !== null);
    if (placed && !map.placed) map.center(placed.lat, placed.lon);
  } catch (error) {
    $("find-status").textContent = error.message;
  }
}

function deviceCard(d) {
  const link = el("a", null, { href: `#device/${d.dev_eui}` });
  link.append(el("strong", d.name), el("small", `${d.dev_eui} · ${d.site} · ${d.status}`));
  link.addEventListener("click", (event) => { event.preventDefault(); openDevice(d.dev_eui); });
  const item = el("li");
  item.append(link);
  return item;
}

// --- one device --------------------------------------------------------------------------------------------

async function openDevice(eui) {
  current = eui;
  show("device");
  $("device-h").textContent = eui;
  $("device-live").textContent = "Loading…";
  await refresh();
}

function stopPolling() { if (pollTimer) clearTimeout(pollTimer); pollTimer = null; }

async function refresh(delay) {
  stopPolling();
  const eui = current;
  let next = 15000;
  try {
    const detail = await call(`/devices/${encodeURIComponent(eui)}`);
    if (eui !== current) return;
    render(detail);
    next = detail.waiting_for_first_uplink ? 3000 : 15000;
  } catch (error) {
    $("device-live").textContent = error.message;
    next = Math.min((delay || 3000) * 2, 30000); // back off on a slow or broken connection
  }
  if (!$("device").hidden) pollTimer = setTimeout(() => refresh(next), next);
}

function facts(target, pairs) {
  target.replaceChildren();
  for (const [label, value] of pairs) target.append(el("dt", label), el("dd", value));
}

function render(detail) {
  const d = detail.device;
  $("device-h").textContent = d.name;
  const h = detail.health;
  $("device-live").textContent = detail.problem ? detail.problem
    : detail.waiting_for_first_uplink ? "Waiting for the first uplink…"
    : `Last uplink ${when(h && h.last_uplink)}`;
  facts($("device-facts"), [
    ["DevEUI", d.dev_eui], ["Model", d.model], ["Site", d.site], ["Status", d.status],
    ["Location", d.lat !== null ? `${d.lat.toFixed(6)}, ${d.lon.toFixed(6)}` : "not set"],
    ["Installed on", d.installed_on || "—"], ["Notes", d.notes || "—"],
  ]);
  $("values").tBodies[0].replaceChildren(...detail.values.map((v) => {
    const row = el("tr");
    const name = v.channel ? `${v.quantity} (${v.channel})` : v.quantity;
    row.append(el("td", name), el("td", `${v.value} ${v.unit}`.trim()), el("td", when(v.time)));
    return row;
  }));
  if (!detail.values.length) {
    const row = el("tr");
    row.append(el("td", "No values yet", { colspan: "3" }));
    $("values").tBodies[0].append(row);
  }
  facts($("device-health"), h ? [
    ["Signal", h.rssi !== null ? `RSSI ${h.rssi} dBm, SNR ${h.snr} dB` : "—"],
    ["Gateways", h.gateways !== null ? String(h.gateways) : "—"],
    ["Battery", h.battery !== null ? `${h.battery} ${h.battery_unit}` : "—"],
    ["Uplinks 24 h", String(h.uplinks_24h)],
    ["Lost 24 h", h.loss_24h !== null ? `${h.lost_24h} (${(h.loss_24h * 100).toFixed(1)} %)` : "—"],
    ["Restarts 24 h", String(h.restarts_24h)],
    ["Firmware", h.firmware ? `${h.firmware}${h.reset_cause ? ", last reset: " + h.reset_cause : ""}` : "—"],
  ] : [["Health", "unknown"]]);
  $("device-alarms").replaceChildren(...(detail.alarms.length ? detail.alarms.map(alarmCard) : [el("li", "No open alarms", { class: "card" })]));
  $("device-history").replaceChildren(...detail.history.map((c) => el(
    "li", `${new Date(c.changed_at).toLocaleString()}: ${c.from_status ? c.from_status + " → " : ""}${c.to_status} by ${c.changed_by}${c.note ? " (" + c.note + ")" : ""}`)));
}

function alarmCard(a) {
  const item = el("li", null, { class: a.severity });
  const body = el("div", null, { class: "card" });
  body.append(el("strong", `${a.kind.replace(/_/g, " ")}: ${a.device_name || a.dev_eui}`),
    el("small", `${a.message} · ${a.site} · since ${when(a.raised_at)}`));
  item.append(body);
  if (a.dev_eui) {
    const open = el("button", "Open device", { type: "button", class: "secondary" });
    open.addEventListener("click", () => openDevice(a.dev_eui));
    body.append(open);
  }
  return item;
}

async function setStatus(status) {
  $("status-error").textContent = "";
  if (status === "retired" && !confirm("Retire this device for good?")) return;
  try {
    await call(`/devices/${encodeURIComponent(current)}/status`, { method: "POST", json: { status, note: "" } });
    await refresh();
  } catch (error) {
    $("status-error").textContent = error.message;
  }
}

// --- register ----------------------------------------------------------------------------------------------

function number(id) {
  const raw = $(id).value.trim().replace(",", ".");
  return raw === "" ? null : Number(raw);
}

async function register(event) {
  event.preventDefault();
  $("register-error").textContent = "";
  const form = event.target;
  const body = {
    dev_eui: form.dev_eui.value.trim(), name: form.name.value.trim(), model: form.model.value,
    site: form.site.value.trim(), lat: number("lat"), lon: number("lon"),
    installed_on: form.installed_on.value || null, notes: form.notes.value.trim() || null,
  };
  for (const [field, label] of [["dev_eui", "DevEUI"], ["name", "Name"], ["model", "Model"], ["site", "Site"]]) {
    if (!body[field]) { $("register-error").textContent = `${label} is required.`; form[field].focus(); return; }
  }
  if (Number.isNaN(body.lat) || Number.isNaN(body.lon)) {
    $("register-error").textContent = "Latitude and longitude must be numbers."; return;
  }
  try {
    const device = await call("/devices", { method: "POST", json: body });
    form.reset();
    map.clear();
    await loadChoices();
    openDevice(device.dev_eui);
  } catch (error) {
    $("register-error").textContent = error.message;
  }
}

function locate() {
  if (!navigator.geolocation) { $("gps-status").textContent = "This browser cannot tell its position."; return; }
  $("gps-status").textContent = "Finding your position…";
  navigator.geolocation.getCurrentPosition((position) => {
    const { latitude, longitude, accuracy } = position.coords;
    map.pick(latitude, longitude, true);
    $("gps-status").textContent = `Position found (± ${Math.round(accuracy)} m).`;
  }, (error) => { $("gps-status").textContent = `No position: ${error.message}`; },
  { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 });
}

// --- map: Web Mercator tiles when configured, a plain grid otherwise ---------------------------------------

const map = {
  lat: 51.1657, lon: 10.4515, zoom: 17, placed: false, picked: null,
  world(lat, lon, zoom) {
    const size = 256 * 2 ** zoom;
    const s = Math.sin((lat * Math.PI) / 180);
    return [((lon + 180) / 360) * size, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size];
  },
  unworld(x, y, zoom) {
    const size = 256 * 2 ** zoom;
    const lon = (x / size) * 360 - 180;
    const lat = (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / size))) * 180) / Math.PI;
    return [lat, lon];
  },
  center(lat, lon) { this.lat = lat; this.lon = lon; this.placed = true; this.draw(); },
  pick(lat, lon, recenter) {
    this.picked = [lat, lon];
    $("lat").value = lat.toFixed(6); $("lon").value = lon.toFixed(6);
    if (recenter) this.center(lat, lon); else this.draw();
  },
  clear() { this.picked = null; this.draw(); },
  draw() {
    const box = $("map");
    const width = box.clientWidth || 320, height = box.clientHeight || 220;
    const [cx, cy] = this.world(this.lat, this.lon, this.zoom);
    const left = cx - width / 2, top = cy - height / 2;
    const parts = [];
    const tiles = document.body.dataset.tiles;
    if (tiles) {
      const n = 2 ** this.zoom;
      for (let tx = Math.floor(left / 256); tx <= Math.floor((left + width) / 256); tx++) {
        for (let ty = Math.floor(top / 256); ty <= Math.floor((top + height) / 256); ty++) {
          if (ty < 0 || ty >= n) continue;
          const src = tiles.replace("{z}", this.zoom).replace("{x}", ((tx % n) + n) % n).replace("{y}", ty);
          const img = el("img", null, { src, alt: "", loading: "lazy" });
          img.style.left = `${tx * 256 - left}px`; img.style.top = `${ty * 256 - top}px`;
          parts.push(img);
        }
      }
    }
    if (this.picked) {
      const [px, py] = this.world(this.picked[0], this.picked[1], this.zoom);
      const pin = el("div", null, { class: "pin" });
      pin.style.left = `${px - left}px`; pin.style.top = `${py - top}px`;
      parts.push(pin);
    }
    const metres = (32 * 156543.03 * Math.cos((this.lat * Math.PI) / 180)) / 2 ** this.zoom;
    parts.push(el("span", `grid ${metres.toFixed(metres < 10 ? 1 : 0)} m`, { class: "scale" }));
    box.replaceChildren(...parts);
  },
  tap(event) {
    const box = $("map").getBoundingClientRect();
    const [cx, cy] = this.world(this.lat, this.lon, this.zoom);
    const x = cx - box.width / 2 + (event.clientX - box.left), y = cy - box.height / 2 + (event.clientY - box.top);
    const [lat, lon] = this.unworld(x, y, this.zoom);
    this.pick(lat, lon, false);
  },
};

// --- alarms ------------------------------------------------------------------------------------------------

async function loadAlarms(run) {
  $("alarms-status").textContent = run ? "Checking…" : "Loading…";
  try {
    const alarms = await call(run ? "/alarms/check" : "/alarms", run ? { method: "POST" } : undefined);
    $("alarms-status").textContent = alarms.length ? `${alarms.length} open alarm(s)` : "No open alarms.";
    $("alarm-list").replaceChildren(...alarms.map(alarmCard));
  } catch (error) {
    $("alarms-status").textContent = error.message;
  }
}

// --- wiring ------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("key").value.trim()); });
  $("signout").addEventListener("click", () => signOut("Signed out."));
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));
  $("find-form").addEventListener("submit", (e) => { e.preventDefault(); find($("q").value.trim()); });
  $("register-form").addEventListener("submit", register);
  $("gps").addEventListener("click", locate);
  $("map").addEventListener("click", (e) => map.tap(e));
  $("zoom-in").addEventListener("click", () => { map.zoom = Math.min(19, map.zoom + 1); map.draw(); });
  $("zoom-out").addEventListener("click", () => { map.zoom = Math.max(3, map.zoom - 1); map.draw(); });
  for (const field of ["lat", "lon"]) $(field).addEventListener("change", () => {
    const lat = number("lat"), lon = number("lon");
    if (lat !== null && lon !== null && !Number.isNaN(lat) && !Number.isNaN(lon)) map.pick(lat, lon, true);
  });
  for (const b of document.querySelectorAll("[data-status]")) b.addEventListener("click", () => setStatus(b.dataset.status));
  $("alarms-check").addEventListener("click", () => loadAlarms(true));
  const saved = sessionStorage.getItem(KEY);
  if (saved) signIn(saved); else $("key").focus();
});
