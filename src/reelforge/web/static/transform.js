// The Cinematic Switch page: send the form, follow the NDJSON progress, show the result.
(() => {
  "use strict";
  const form = document.getElementById("transform-form");
  const messages = JSON.parse(document.getElementById("transform-messages").textContent);
  const panel = document.getElementById("progress-panel");
  const bar = document.getElementById("progress");
  const status = document.getElementById("status");
  const errorBox = document.getElementById("error");
  const result = document.getElementById("result");
  const submit = document.getElementById("submit");
  const description = document.getElementById("scene_description");
  const counter = document.getElementById("description-count");
  const PROVIDER_CODES = ["REPLICATE_ERROR", "RUNWAY_ERROR", "LEONARDO_ERROR", "FAL_ERROR",
    "GOOGLE_ERROR", "LOCAL_STUDIO_ERROR", "provider_error", "provider_unavailable",
    "provider_rate_limited", "provider_invalid_input", "content_rejected"];

  description.addEventListener("input", () => { counter.textContent = description.value.trim().length; });

  function say(text, percent) {
    panel.hidden = false;
    status.textContent = text;
    if (percent === undefined) bar.removeAttribute("value"); else bar.value = percent;
  }

  // A missing field in the user's words, not the API's field name.
  const MISSING = { media: messages.choose_media, scene_description: messages.describe_scene };

  function userMessage(error) {
    if (!error) return messages.failed;
    if (error.code === "TIMEOUT") return messages.timeout;
    const field = error.details && error.details.field;
    if (field && MISSING[field] && /^Missing required field/.test(error.message || "")) return MISSING[field];
    if (PROVIDER_CODES.includes(error.code)) return messages.failed;
    return error.message || messages.failed;
  }

  function fail(body) {
    const error = body && body.error;
    errorBox.textContent = userMessage(error);
    errorBox.dataset.code = error ? error.code : "";
    errorBox.hidden = false;
    panel.hidden = true;
    submit.disabled = false;
  }

  function identityChip(score) {
    const chip = document.createElement("span");
    chip.className = "identity";
    if (score.distance === null || score.distance === undefined) {
      chip.textContent = "likeness: " + (score.note || "n/a");
    } else {
      chip.classList.add(score.passed ? "pass" : "fail");
      chip.textContent = "likeness " + (score.passed ? "kept" : "changed") + " (" + score.distance.toFixed(2) + ")";
    }
    return chip;
  }

  function show(envelope) {
    const data = envelope.result.data;
    const scores = (data.identity && data.identity.scores) || [];
    document.getElementById("result-meta").textContent =
      data.variation_count + " made with " + data.model_used + " in " + data.processing_time + " s";
    const warnings = document.getElementById("warnings");
    warnings.replaceChildren(...(data.warnings || []).map((text) => {
      const item = document.createElement("li"); item.textContent = text; return item;
    }));
    const outputs = document.getElementById("outputs");
    outputs.replaceChildren(...data.transformed_media_urls.map((url, index) => {
      const card = document.createElement("article");
      card.className = "card output";
      const isVideo = /\.(mp4|mov)$/i.test(url);
      const media = document.createElement(isVideo ? "video" : "img");
      media.src = url;
      if (isVideo) { media.controls = true; media.muted = true; } else { media.alt = "Transformed image " + (index + 1); }
      const meta = document.createElement("div");
      meta.className = "meta";
      if (scores[index]) meta.append(identityChip(scores[index]), document.createElement("br"));
      const link = document.createElement("a");
      link.href = url; link.download = ""; link.className = "download"; link.textContent = "Download";
      meta.append(link);
      card.append(media, meta);
      return card;
    }));
    result.hidden = false;
    say("Done.", 100);
    submit.disabled = false;
  }

  const STEPS = {
    received: () => say("Uploaded. Checking the media…"),
    checked: (e) => say(e.media_kind === "video" ? "Video accepted. Starting…" : "Face found. Starting…"),
    provider: (e) => say("Sending to " + e.provider + "…"),
    queued: () => say("Queued…"),
    job_started: (e) => say("Transforming" + (e.label ? " (" + e.label + ")" : "") + "…"),
    job_succeeded: (e) => say("Finished " + (e.label || "a variation") + "…"),
    job_failed: (e) => say((e.label || "A variation") + " failed; waiting for the rest…"),
    fallback: (e) => say("Trying " + e.provider + " instead…"),
    scoring: () => say("Checking the likeness…"),
  };

  function handle(event) {
    if (event.event === "result") show(event.body);
    else if (event.event === "error") fail(event.body);
    else if (STEPS[event.event]) STEPS[event.event](event);
  }

  function missingFields() {
    const missing = [];
    if (!document.getElementById("media").files.length) missing.push(messages.choose_media);
    if (!description.value.trim()) missing.push(messages.describe_scene);
    return missing;
  }

  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    errorBox.hidden = true;
    result.hidden = true;
    const missing = missingFields();
    if (missing.length) {
      errorBox.textContent = missing.join(" ");
      errorBox.dataset.code = "INVALID_INPUT";
      errorBox.hidden = false;
      return;
    }
    submit.disabled = true;
    const xhr = new XMLHttpRequest();
    let seen = 0;
    const consume = () => {
      if (xhr.status !== 200) return;
      const text = xhr.responseText;
      let end;
      while ((end = text.indexOf("\n", seen)) >= 0) {
        const line = text.slice(seen, end);
        seen = end + 1;
        if (line.trim()) handle(JSON.parse(line));
      }
    };
    xhr.open("POST", "/generate/cinematic");
    xhr.setRequestHeader("Accept", "application/x-ndjson");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) say("Uploading… " + Math.round(100 * e.loaded / e.total) + "%", 100 * e.loaded / e.total);
    };
    xhr.onprogress = consume;
    xhr.onload = () => {
      if (xhr.status === 200) { consume(); return; }
      try { fail(JSON.parse(xhr.responseText)); } catch (_) { fail(null); }
    };
    xhr.onerror = () => fail(null);
    say("Uploading…", 0);
    xhr.send(new FormData(form));
  });
})();
