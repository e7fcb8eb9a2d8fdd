// The pet list page: log in for a JWT, create pets through the API, and keep the rows up to date
// without a reload. The live event stream (GET /api/events/, Server-Sent Events) says which pet
// changed; the page then fetches that row from /rows/. While the stream is down (and, slowly,
// while it is up, for the "processing" state it does not carry) the rows whose enrichment is not
// final are polled instead. Rows come from the server already rendered and escaped by Django's
// templates; everything else is set with textContent.
(function () {
  "use strict";
  const store = window.sessionStorage;
  const $ = (id) => document.getElementById(id);
  const POLL_FIRST_MS = 1000;
  const POLL_MAX_MS = 4000; // a retry may be due within seconds: never look less often than this
  const POLL_LIVE_MS = 10000; // with the stream open, polling only catches "processing"
  const EVENT_BATCH_MS = 50; // events that come together are fetched together
  const ROWS_PER_FETCH = 100; // what /rows/ answers at most
  let pollDelay = POLL_FIRST_MS;
  let pollTimer = null;
  let liveOpen = false;

  function showMessage(text, kind) {
    const box = $("form-message");
    box.textContent = text;
    box.className = kind || "";
  }

  function refreshAccount() {
    const user = store.getItem("pets.username");
    const loggedIn = Boolean(store.getItem("pets.access"));
    $("login-panel").hidden = loggedIn;
    $("user-panel").hidden = !loggedIn;
    $("current-user").textContent = user || "";
  }

  function describeErrors(body) {
    if (!body || typeof body !== "object") return "Request failed.";
    const parts = [body.error || "Request failed."];
    if (body.fields && typeof body.fields === "object") {
      for (const [field, messages] of Object.entries(body.fields)) {
        parts.push(field + ": " + [].concat(messages).join(" "));
      }
    }
    return parts.join(" ");
  }

  async function postJson(url, payload, token) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(payload) });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    return { response, body };
  }

  // -- rows that update themselves ---------------------------------------------------------------
  function rowFromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim(); // server-rendered by Django, every value escaped
    return template.content.firstElementChild;
  }

  function pendingIds() {
    return Array.from(document.querySelectorAll('#pets-table tr[data-final="false"]'))
      .map((row) => row.dataset.petId);
  }

  async function fetchRows(ids) {
    const response = await fetch("/rows/?ids=" + encodeURIComponent(ids.join(",")), {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("rows: HTTP " + response.status);
    return (await response.json()).rows;
  }

  async function poll() {
    pollTimer = null;
    const ids = pendingIds();
    if (!ids.length) return;
    let changed = false;
    try {
      for (const update of await fetchRows(ids)) {
        const row = document.querySelector('#pets-table tr[data-pet-id="' + update.id + '"]');
        if (!row) continue;
        if (update.deleted) { row.remove(); changed = true; continue; }
        if (update.version !== row.dataset.version) {
          row.replaceWith(rowFromHtml(update.html));
          changed = true;
        }
      }
    } catch (e) {
      changed = false; // the server is busy or restarting: try again later
    }
    pollDelay = changed ? POLL_FIRST_MS : Math.min(pollDelay * 2, POLL_MAX_MS);
    schedulePoll();
  }

  function schedulePoll(soon) {
    if (soon) pollDelay = POLL_FIRST_MS;
    if (pollTimer !== null) window.clearTimeout(pollTimer);
    const delay = liveOpen ? POLL_LIVE_MS : pollDelay;
    if (pendingIds().length) pollTimer = window.setTimeout(poll, delay);
  }

  function rowOf(petId) {
    return document.querySelector('#pets-table tr[data-pet-id="' + CSS.escape(petId) + '"]');
  }

  function addToCount(change) {
    const count = document.querySelector(".count");
    if (!count) return;
    const total = Number.parseInt((count.textContent.match(/\d+/) || ["0"])[0], 10) + change;
    count.textContent = "(" + Math.max(total, 0) + ")";
  }

  // Rows being fetched for a new pet: petId -> whether an event for it came meanwhile.
  const arriving = new Map();

  async function showNewPet(petId) {
    if (rowOf(petId) || arriving.has(petId)) return; // the stream and the form both announce it
    arriving.set(petId, false);
    try {
      const [update] = await fetchRows([petId]);
      if (!update || update.deleted || rowOf(petId)) return;
      const table = $("pets-table");
      table.hidden = false;
      const empty = $("no-pets");
      if (empty) empty.remove();
      table.tBodies[0].prepend(rowFromHtml(update.html));
      addToCount(1);
      schedulePoll(true);
    } finally {
      const changedMeanwhile = arriving.get(petId);
      arriving.delete(petId);
      if (changedMeanwhile) rowChanged(petId); // the row fetched may already be out of date
    }
  }

  // -- live events ---------------------------------------------------------------------------------
  const changedIds = new Set();
  let changedTimer = null;

  function rowChanged(petId) {
    if (arriving.has(petId)) { arriving.set(petId, true); return; }
    if (!rowOf(petId)) return; // not on this page
    changedIds.add(petId);
    if (changedTimer === null) changedTimer = window.setTimeout(refreshChanged, EVENT_BATCH_MS);
  }

  async function refreshChanged() {
    changedTimer = null;
    const ids = Array.from(changedIds);
    changedIds.clear();
    try {
      for (let start = 0; start < ids.length; start += ROWS_PER_FETCH) {
        for (const update of await fetchRows(ids.slice(start, start + ROWS_PER_FETCH))) {
          const row = rowOf(update.id);
          if (!row) continue;
          if (update.deleted) row.remove();
          else if (update.version !== row.dataset.version) row.replaceWith(rowFromHtml(update.html));
        }
      }
    } catch (e) {
      schedulePoll(true); // polling picks them up
    }
  }

  function onEvent(handler) {
    return (message) => {
      let data = null;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      handler(data);
    };
  }

  function listen() {
    if (!window.EventSource) return; // polling alone, as before
    // From the events the page was rendered with: nothing that happened since is missed.
    const after = document.body.dataset.eventsAfter;
    const stream = new EventSource("/api/events/" + (after ? "?after=" + encodeURIComponent(after) : ""));
    const indicator = $("live-status");
    const setLive = (open) => {
      liveOpen = open;
      indicator.hidden = !open;
      document.body.dataset.live = open ? "open" : "closed";
      schedulePoll(true);
    };
    stream.onopen = () => setLive(true);
    stream.onerror = () => setLive(false); // it reconnects by itself
    const forPet = (data) => rowChanged(String(data.pet_id));
    stream.addEventListener("task.done", onEvent(forPet));
    stream.addEventListener("task.retrying", onEvent(forPet));
    stream.addEventListener("task.dead", onEvent(forPet));
    stream.addEventListener("task.cancelled", onEvent(forPet));
    stream.addEventListener("pet.updated", onEvent((data) => rowChanged(String(data.pet.id))));
    stream.addEventListener("pet.created", onEvent((data) => {
      if ($("pets-table").dataset.newest === "true") showNewPet(String(data.pet.id)).catch(() => {});
    }));
    stream.addEventListener("pet.deleted", onEvent((data) => {
      const row = rowOf(String(data.pet_id));
      if (row) { row.remove(); addToCount(-1); }
    }));
    stream.addEventListener("reset", () => { // events were missed: look at every row again
      document.querySelectorAll("#pets-table tr[data-pet-id]").forEach((row) => rowChanged(row.dataset.petId));
    });
  }

  // -- account and forms -------------------------------------------------------------------------
  async function onLogin(event) {
    event.preventDefault();
    const form = event.target;
    const username = form.username.value;
    const { response, body } = await postJson("/api/token/", { username, password: form.password.value });
    if (response.ok) {
      store.setItem("pets.access", body.access);
      store.setItem("pets.refresh", body.refresh);
      store.setItem("pets.username", username);
      form.reset();
      showMessage("Logged in.", "ok");
    } else {
      showMessage(describeErrors(body), "error");
    }
    refreshAccount();
  }

  async function onCreate(event) {
    event.preventDefault();
    const form = event.target;
    const pet = {
      name: form.name.value,
      species: form.species.value,
      age: Number.parseInt(form.age.value, 10),
      owner: form.owner.value,
      vaccinated: form.vaccinated.checked,
    };
    const { response, body } = await postJson("/api/pets/", pet, store.getItem("pets.access"));
    if (response.status === 401) {
      store.removeItem("pets.access");
      refreshAccount();
      showMessage("Your session has expired: please log in again.", "error");
      return;
    }
    if (!response.ok) {
      showMessage(describeErrors(body), "error");
      return;
    }
    form.reset();
    const note = body.task_queued ? " Enrichment queued." : " Enrichment could not be queued yet.";
    showMessage(body.message + ": " + body.pet.name + "." + note, "ok");
    try {
      await showNewPet(body.pet.id);
    } catch (e) {
      showMessage(body.message + ": " + body.pet.name + "." + note + " Reload to see it.", "ok");
    }
  }

  async function onLogout() {
    const refresh = store.getItem("pets.refresh");
    store.removeItem("pets.access");
    store.removeItem("pets.refresh");
    store.removeItem("pets.username");
    refreshAccount();
    if (refresh) {
      try {
        await postJson("/api/token/logout/", { refresh }); // revoke it, not just forget it
      } catch (e) {
        // offline: the refresh token is forgotten here and lapses at its expiry
      }
    }
    showMessage("Logged out.", "ok");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", onLogin);
    $("create-form").addEventListener("submit", onCreate);
    $("logout").addEventListener("click", onLogout);
    refreshAccount();
    schedulePoll(true);
    if ($("pets-table")) listen();
  });
})();
