// The pet list page: log in for a JWT, create pets through the API, and keep the rows whose
// enrichment is not final up to date by polling /rows/ (visible rows only, backing off when
// nothing changes). Rows come from the server already rendered and escaped by Django's templates;
// everything else is set with textContent.
(function () {
  "use strict";
  const store = window.sessionStorage;
  const $ = (id) => document.getElementById(id);
  const POLL_FIRST_MS = 1000;
  const POLL_MAX_MS = 4000; // a retry may be due within seconds: never look less often than this
  let pollDelay = POLL_FIRST_MS;
  let pollTimer = null;

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
    if (pendingIds().length) pollTimer = window.setTimeout(poll, pollDelay);
  }

  async function showNewPet(petId) {
    const [update] = await fetchRows([petId]);
    if (!update || update.deleted) return;
    const table = $("pets-table");
    table.hidden = false;
    const empty = $("no-pets");
    if (empty) empty.remove();
    table.tBodies[0].prepend(rowFromHtml(update.html));
    const count = document.querySelector(".count");
    const total = Number.parseInt((count.textContent.match(/\d+/) || ["0"])[0], 10) + 1;
    count.textContent = "(" + total + ")";
    schedulePoll(true);
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
  });
})();
