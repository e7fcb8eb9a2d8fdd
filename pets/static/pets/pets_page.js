// The pet list page: log in for a JWT, then create pets through the API.
// Everything shown comes from the server-rendered, escaped HTML or is set with textContent.
(function () {
  "use strict";
  const store = window.sessionStorage;
  const $ = (id) => document.getElementById(id);

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
    window.setTimeout(() => window.location.reload(), 800);
  }

  function onLogout() {
    store.removeItem("pets.access");
    store.removeItem("pets.refresh");
    store.removeItem("pets.username");
    showMessage("Logged out.", "ok");
    refreshAccount();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", onLogin);
    $("create-form").addEventListener("submit", onCreate);
    $("logout").addEventListener("click", onLogout);
    refreshAccount();
  });
})();
