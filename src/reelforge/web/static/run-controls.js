// The run page's queue controls: pause or resume the run, change its priority, retry its
// failed jobs, through the API (the sign-in cookie rides along).
(() => {
  "use strict";
  const box = document.querySelector("[data-run-controls]");
  if (!box) return;
  const runId = box.dataset.runId;
  const note = box.querySelector("[data-control-note]");

  async function post(action, body) {
    const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/${action}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
    }
    return data;
  }

  box.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    button.disabled = true;
    try {
      await post(action);
      if (action === "retry") { window.location.reload(); return; }
      const paused = action === "pause";
      button.dataset.action = paused ? "resume" : "pause";
      button.textContent = paused ? "Resume" : "Pause";
      note.textContent = paused ? "paused: jobs not yet submitted wait" : "resumed";
    } catch (error) {
      note.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });

  const priority = box.querySelector("[data-priority]");
  if (priority) {
    priority.addEventListener("change", async () => {
      try {
        const moved = await post("priority", { priority: priority.value });
        note.textContent = `priority ${moved.priority} (${moved.requeued} jobs moved)`;
      } catch (error) {
        note.textContent = error.message;
      }
    });
  }
})();
