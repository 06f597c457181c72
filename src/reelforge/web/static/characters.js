// The character image workspace: generate, suggest, pick a reference, delete. Server-rendered
// first; this script only talks to the page's own /v1 routes and redraws the grid.
(() => {
  "use strict";
  const root = document.querySelector("[data-character-id]");
  if (!root) return;
  const api = `/v1/characters/${encodeURIComponent(root.dataset.characterId)}`;
  const $ = (id) => document.getElementById(id);
  const promptBox = $("reference-prompt");
  const statusLine = $("status");
  const alertLine = $("error");
  // What the page last put in the prompt box: anything else was typed by the user, and a
  // suggestion never replaces it.
  let suggested = promptBox.value;
  const userEdited = () => promptBox.value !== suggested;

  async function call(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path.startsWith("/") ? path : `${api}/${path}`, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok || data.success === false) {
      throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
    }
    return data;
  }

  function say(text) { statusLine.textContent = text; alertLine.textContent = ""; }
  function fail(error) { statusLine.textContent = ""; alertLine.textContent = error.message; }

  async function busy(text, work) {
    const buttons = document.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    say(text);
    try {
      await work();
    } catch (error) {
      fail(error);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // -- prompt suggestions --------------------------------------------------------------------
  function offer(prompt) {
    $("suggestion-text").textContent = prompt;
    $("suggestion").hidden = false;
  }

  async function suggest(onLoad) {
    try {
      const data = await call("GET", "initial-image-prompt");
      if (!userEdited()) {
        promptBox.value = data.prompt;
        suggested = data.prompt;
        $("suggestion").hidden = true;
      } else if (!onLoad) {
        offer(data.prompt);
      }
    } finally {
      // How many suggestions have come back (and been placed or offered).
      root.dataset.suggestions = String(Number(root.dataset.suggestions || 0) + 1);
    }
  }

  $("suggest-prompt").addEventListener("click", () =>
    busy("Asking for a suggestion…", async () => { await suggest(false); say(""); }));
  $("use-suggestion").addEventListener("click", () => {
    promptBox.value = $("suggestion-text").textContent;
    suggested = promptBox.value;
    $("suggestion").hidden = true;
  });

  // -- the grid ------------------------------------------------------------------------------
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function card(image) {
    const article = el("article", { class: "card image-card", "data-image-id": image.id,
                                     "data-kind": image.kind });
    if (image.thumbnailUrl) {
      article.append(el("img", { src: image.thumbnailUrl, alt: `${image.kind} image` }));
    }
    const meta = el("div", { class: "meta" });
    meta.append(el("span", { class: "kind" }, image.kind));
    meta.append(el("span", { class: `status ${image.status}` }, image.status));
    if (image.metrics && image.metrics.angle) {
      meta.append(el("span", { class: "angle" }, image.metrics.angle));
    }
    meta.append(el("p", { class: "prompt" }, image.prompt));
    meta.append(el("time", { datetime: image.createdAt },
                   image.createdAt.slice(0, 19).replace("T", " ")));
    if (image.error) meta.append(el("p", { class: "error" }, image.error));
    meta.append(el("button", { type: "button", class: "secondary delete",
                               "data-image-id": image.id }, "Delete"));
    article.append(meta);
    return article;
  }

  function drawReferences(images) {
    const box = $("reference-choices");
    const chosen = box.querySelector("input:checked");
    const keep = chosen ? chosen.value : null;
    box.querySelectorAll("label.choice, #no-reference").forEach((n) => n.remove());
    const references = images.filter((image) => image.kind === "reference");
    if (!references.length) {
      box.append(el("p", { class: "muted", id: "no-reference" },
                    "No reference image yet: generate one first."));
    }
    references.forEach((image, index) => {
      const label = el("label", { class: "choice" });
      const input = el("input", { type: "radio", name: "reference", value: image.id });
      input.checked = keep ? image.id === keep : index === 0;
      label.append(input);
      if (image.thumbnailUrl) label.append(el("img", { src: image.thumbnailUrl, alt: "reference" }));
      label.append(el("span", {}, image.createdAt.slice(0, 19).replace("T", " ")));
      box.append(label);
    });
    if (!box.querySelector("input:checked")) {
      const first = box.querySelector("input");
      if (first) first.checked = true;
    }
  }

  async function refresh() {
    const data = await call("GET", "images");
    $("image-grid").replaceChildren(...data.images.map(card));
    $("empty-grid").hidden = data.images.length > 0;
    drawReferences(data.images);
  }

  async function settle(result, what) {
    if (result.pending) {
      say(`${what}: still running (run ${result.runId}); the grid updates when it is done.`);
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const run = await call("GET", `/v1/runs/${encodeURIComponent(result.runId)}`);
        if (run.done) break;
      }
    }
    await refresh();
    const failed = (result.failed || []).length;
    say(`${what}: done${failed ? ` (${failed} failed)` : ""}.`);
  }

  // -- actions -------------------------------------------------------------------------------
  $("generate-reference").addEventListener("click", () =>
    busy("Generating the reference image…", async () => {
      const result = await call("POST", "generate-initial-image", { prompt: promptBox.value });
      await settle(result, "Reference image");
    }));

  $("generate-portfolio").addEventListener("click", () =>
    busy("Generating the 360° set…", async () => {
      const chosen = document.querySelector("#reference-choices input:checked");
      const body = chosen ? { referenceImageId: chosen.value } : {};
      const result = await call("POST", "generate-360-set", body);
      await settle(result, "360° set");
    }));

  $("generate-scene").addEventListener("click", () =>
    busy("Generating the scene image…", async () => {
      const result = await call("POST", "generate-scene-image",
                                { sceneContext: $("scene-context").value });
      await settle(result, "Scene image");
    }));

  $("image-grid").addEventListener("click", (event) => {
    const button = event.target.closest("button.delete");
    if (!button) return;
    const id = button.dataset.imageId;
    busy("Deleting…", async () => {
      const result = await call("DELETE", `images/${encodeURIComponent(id)}`);
      const remote = result.remote || {};
      let note = "Deleted.";
      if (remote.attempted) {
        note += remote.deleted ? " The Character Library deleted its copy too."
                               : ` The Character Library did not: ${remote.reason}.`;
      }
      await refresh();
      say(note);
    });
  });

  // On load: the configured suggester's prompt, unless the user is already typing.
  suggest(true).catch(() => {});
})();
