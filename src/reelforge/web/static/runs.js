// The live run grid: follow the run's events, refresh the cards that changed.
(() => {
  "use strict";
  const grid = document.querySelector("[data-run-grid]");
  if (!grid || grid.dataset.done === "true") return;
  const runId = grid.dataset.runId;
  const statusBadge = document.querySelector("[data-run-status]");
  const live = document.querySelector("[data-run-live]");
  let done = false;
  let reported = false;
  let pending = null;

  async function refresh() {
    pending = null;
    const response = await fetch(`/runs/${encodeURIComponent(runId)}/cards`, {
      headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store",
    });
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    for (const card of holder.querySelectorAll("[data-job]")) {
      const current = grid.querySelector(`[data-job="${CSS.escape(card.dataset.job)}"]`);
      if (!current) grid.appendChild(card);
      else if (current.dataset.version !== card.dataset.version) current.replaceWith(card);
    }
    const status = response.headers.get("X-Run-Status");
    if (status && statusBadge) {
      statusBadge.textContent = status;
      statusBadge.className = `status ${status}`;
    }
    if (response.headers.get("X-Run-Done") === "true") {
      done = true;
      grid.dataset.done = "true";
      if (live) live.textContent = "";
      await report();
    }
  }

  // What the finished run's response adds above the grid (the key frames' consistency report).
  async function report() {
    if (reported || document.querySelector("[data-consistency]")) return;
    reported = true;
    const response = await fetch(location.pathname, {
      headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store",
    });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const section = page.querySelector("[data-consistency]");
    if (section) grid.before(document.importNode(section, true));
  }

  function soon() {
    if (!pending) pending = setTimeout(() => refresh().catch(() => {}), 100);
  }

  // A running job's progress as its provider reports it (step k of n): a bar on its card.
  function showProgress(message) {
    const event = JSON.parse(message.data);
    const card = grid.querySelector(`[data-job="${CSS.escape(event.job_id || "")}"]`);
    const meta = card && card.querySelector(".meta");
    if (!meta) return;
    let line = meta.querySelector("[data-job-progress]");
    if (!line) {
      line = document.createElement("p");
      line.dataset.jobProgress = "";
      line.className = "run-progress";
      meta.appendChild(line);
    }
    const percent = Number(event.payload.percent) || 0;
    const meter = document.createElement("progress");
    meter.max = 100;
    meter.value = percent;
    meter.setAttribute("aria-label", "progress");
    line.replaceChildren(meter, ` ${event.payload.message || ""} (${percent}%)`);
  }

  function poll() {
    const timer = setInterval(() => {
      if (done) clearInterval(timer);
      else refresh().catch(() => {});
    }, 2000);
  }

  if (!("EventSource" in window)) { poll(); return; }
  const kinds = ["started", "job_started", "job_retrying", "job_pending", "job_succeeded",
                 "job_failed", "job_canceled", "completed"];
  const events = new EventSource(`/v1/runs/${encodeURIComponent(runId)}/stream`);
  for (const kind of kinds) events.addEventListener(kind, soon);
  events.addEventListener("job_progress", showProgress);
  // A retried run completed once before its retry: if it is not done, keep polling.
  events.addEventListener("completed", () => {
    events.close();
    refresh().then(() => { if (!done) poll(); }).catch(() => {});
  });
  // The stream ends when the run does, or cannot be had here (no engine): poll instead.
  events.onerror = () => { events.close(); if (!done) { soon(); poll(); } };
})();
