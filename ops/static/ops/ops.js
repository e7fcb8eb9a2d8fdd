// The operations panel: its live part (consumers, queue, delayed tasks) is fetched again from
// /ops/state/ when the event stream reports a task's outcome (at most once a second) and every
// five seconds (heartbeat ages move on their own). Rendered and escaped by Django's templates.
(function () {
  "use strict";
  const REFRESH_MS = 5000;
  const EVENT_REFRESH_MS = 1000;
  let pending = null;

  async function refresh() {
    pending = null;
    try {
      const response = await fetch("/ops/state/", { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok) return;
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      document.getElementById("state").replaceChildren(template.content);
    } catch (e) {
      // the API is restarting: the next tick tries again
    }
  }

  function soon() {
    if (pending === null) pending = window.setTimeout(refresh, EVENT_REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.setInterval(refresh, REFRESH_MS);
    if (!window.EventSource) return;
    const stream = new EventSource("/api/events/");
    const indicator = document.getElementById("live-status");
    stream.onopen = () => { indicator.hidden = false; document.body.dataset.live = "open"; };
    stream.onerror = () => { indicator.hidden = true; document.body.dataset.live = "closed"; };
    for (const kind of ["task.done", "task.retrying", "task.dead", "task.cancelled", "pet.created", "pet.updated"]) {
      stream.addEventListener(kind, soon);
    }
  });
})();
