// The cutscene player and the media settings form (see features/cutscenes/pages.py).
//
// The player renders a session's turns from the state the server embeds, then follows the
// session's announcements on /api/media/sse (starting after the last one the state covers;
// the browser's EventSource resends Last-Event-ID when it reconnects). Each turn shows
// "Cutscene rendering…" until its media are in: the still first, then the clip inline.
"use strict";

(function () {
  const API = "/api/media";

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class Player {
    constructor(root, state) {
      this.root = root;
      this.state = state;
      this.cards = new Map();
      this.source = null;
      for (const turn of state.turns) this.renderTurn(turn);
      this.connect(state.last_event_id);
    }

    card(cutsceneId, turnNumber, narrative) {
      let card = this.cards.get(cutsceneId);
      if (!card) {
        const article = make("article", "turn panel");
        article.dataset.cutscene = cutsceneId;
        const title = make("h3", "turn-title", turnNumber == null ? "Turn" : `Turn ${turnNumber}`);
        const text = make("div", "narrative");
        const slot = make("div", "cutscene");
        const indicator = make("div", "cutscene-rendering", "🎬 Cutscene rendering…");
        indicator.setAttribute("role", "status");
        indicator.hidden = true;
        const still = make("img", "cutscene-still");
        still.alt = "Cutscene still";
        still.hidden = true;
        const clip = make("div", "cutscene-clip");
        clip.hidden = true;
        const note = make("p", "cutscene-note muted");
        note.hidden = true;
        slot.append(still, clip, indicator, note);
        article.append(title, text, slot);
        this.root.append(article);
        card = {
          article, text, indicator, still, clip, note,
          expectsClip: false, image: "pending", video: "pending", skipped: null,
        };
        this.cards.set(cutsceneId, card);
      }
      if (narrative && !card.text.textContent) card.text.textContent = narrative;
      return card;
    }

    renderTurn(turn) {
      const card = this.card(turn.cutscene_id, turn.turn_number, turn.narrative || turn.location_name);
      card.expectsClip = Boolean(turn.video);
      if (turn.image) this.apply(card, "image", turn.image.status, turn.image.url, turn.image.error);
      if (turn.video) {
        const poster = turn.image && turn.image.url;
        this.apply(card, "video", turn.video.status, turn.video.url, turn.video.error, poster);
      }
      if (turn.clip_skipped) card.skipped = turn.clip_skipped;
      this.refresh(card);
    }

    apply(card, assetType, status, url, error, poster) {
      if (status === "complete") {
        if (assetType === "image") this.showStill(card, url);
        else this.showClip(card, url, poster);
      } else if (status === "failed") {
        card[assetType] = "failed";
        if (error && error.code === "budget_exhausted") card.skipped = error.message;
        else card.failure = (error && error.message) || "failed";
      }
    }

    showStill(card, url) {
      card.image = "ready";
      if (card.video !== "ready") {
        card.still.src = url;
        card.still.hidden = false;
      }
    }

    showClip(card, url, poster) {
      card.video = "ready";
      card.expectsClip = true;
      const video = make("video", "cutscene-video");
      video.muted = true;
      video.defaultMuted = true;
      video.setAttribute("muted", "");
      video.loop = true;
      video.playsInline = true;
      video.autoplay = this.state.auto_play !== false;
      if (poster || card.still.src) video.poster = poster || card.still.src;
      video.src = url;
      const unmute = make("button", "secondary unmute", "🔊 Unmute");
      unmute.type = "button";
      unmute.addEventListener("click", () => {
        video.muted = !video.muted;
        unmute.textContent = video.muted ? "🔊 Unmute" : "🔇 Mute";
        if (!video.muted) video.play().catch(() => {});
      });
      const full = make("button", "secondary fullscreen", "⛶ Full screen");
      full.type = "button";
      full.addEventListener("click", () => this.cinema(video));
      video.addEventListener("dblclick", () => this.cinema(video));
      const controls = make("div", "clip-controls");
      controls.append(unmute, full);
      card.clip.replaceChildren(video, controls);
      card.clip.hidden = false;
      card.still.hidden = true;
      if (video.autoplay) video.play().catch(() => {});
    }

    cinema(video) {
      // A full-screen cinematic view: the clip moves into an overlay and back on close.
      const home = video.parentElement;
      const overlay = make("div", "cinema");
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-label", "Cutscene");
      const close = make("button", "secondary cinema-close", "✕ Close");
      close.type = "button";
      overlay.append(video, close);
      document.body.append(overlay);
      const leave = () => {
        if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
        home.prepend(video);
        overlay.remove();
        video.play().catch(() => {});
      };
      close.addEventListener("click", leave);
      overlay.addEventListener("keydown", (e) => { if (e.key === "Escape") leave(); });
      if (overlay.requestFullscreen) overlay.requestFullscreen().catch(() => {});
      video.play().catch(() => {});
    }

    refresh(card) {
      const stillPending = card.image === "pending";
      const clipPending = card.expectsClip && card.video === "pending" && !card.skipped;
      const failedStill = card.image === "failed";
      card.indicator.hidden = failedStill || !(stillPending || clipPending);
      const notes = [];
      if (failedStill) notes.push(`Cutscene failed: ${card.failure || "no still"}`);
      else if (card.video === "failed" && !card.skipped) notes.push(`Clip failed: ${card.failure || ""}`);
      if (card.skipped) notes.push(`Clip skipped (${card.skipped})`);
      card.note.textContent = notes.join(" · ");
      card.note.hidden = notes.length === 0;
      card.article.classList.toggle("rendering", !card.indicator.hidden);
    }

    onEvent(kind, data) {
      const card = this.card(data.cutscene_id, data.turn_number);
      const type = data.asset_type;
      if (type === "video" && kind !== "skipped") card.expectsClip = true;
      if (kind === "ready") {
        if (type === "image") this.showStill(card, data.url);
        else this.showClip(card, data.url, data.poster);
      } else if (kind === "failed") {
        card[type] = "failed";
        card.failure = data.error ? data.error.message : "failed";
      } else if (kind === "skipped") {
        card.skipped = data.reason || "budget";
        if (type === "video") card.video = "failed";
      }
      this.refresh(card);
    }

    connect(after) {
      const query = new URLSearchParams({
        campaign_id: this.state.campaign_id,
        session_id: this.state.session_id,
        after: String(after || 0),
      });
      this.source = new EventSource(`${API}/sse?${query}`);
      for (const kind of ["pending", "generating", "ready", "failed", "skipped"]) {
        this.source.addEventListener(kind, (e) => this.onEvent(kind, JSON.parse(e.data)));
      }
    }

    close() {
      if (this.source) this.source.close();
      this.source = null;
    }

    async play(form) {
      const data = new FormData(form);
      const status = document.getElementById("turn-status");
      const turn = Number(data.get("turn_number") || 0);
      const narrative = String(data.get("narrative") || "");
      const body = {
        campaign_id: this.state.campaign_id,
        session_id: this.state.session_id,
        turn_number: turn,
        image_prompt: String(data.get("image_prompt") || "").trim() || narrative || "a scene",
        narrative: narrative || null,
        characters: String(data.get("characters") || "").split(",").map((s) => s.trim()).filter(Boolean),
      };
      for (const name of ["motion_prompt", "mood", "cutscene_type"]) {
        const value = String(data.get(name) || "").trim();
        if (value) body[name] = value;
      }
      if (!body.cutscene_type) {
        const npc = String(data.get("new_npc") || "").trim();
        body.signals = {
          use_sakuga: data.get("use_sakuga") === "on",
          narrative_weight: String(data.get("narrative_weight") || "standard"),
          new_entities: npc ? [{ kind: "npc", name: npc }] : [],
        };
      }
      status.textContent = "…";
      const response = await fetch(`${API}/cutscenes`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (!response.ok) {
        status.textContent = answer.error ? answer.error.message : `HTTP ${response.status}`;
        return;
      }
      form.elements.turn_number.value = String(turn + 1);
      if (answer.media_pending) {
        const card = this.card(answer.cutscene_id, turn, narrative);
        card.expectsClip = Boolean(answer.video_asset_id);
        if (answer.clip_skipped) card.skipped = answer.clip_skipped;
        this.refresh(card);
        status.textContent = `${answer.cutscene_type}: rendering in the background`;
      } else {
        const card = this.card(`turn-${turn}-${Date.now()}`, turn, narrative);
        card.image = "none";
        this.refresh(card);
        status.textContent = answer.reason || "no cutscene this turn";
      }
    }
  }

  function settingsForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const text = (name) => String(data.get(name) || "").trim() || null;
      const body = {
        enabled: data.get("enabled") === "on",
        auto_play: data.get("auto_play") === "on",
        budget_per_session_usd: text("budget_per_session_usd"),
        budget_per_campaign_usd: text("budget_per_campaign_usd"),
        image_provider: text("image_provider"),
        image_model: text("image_model"),
        video_provider: text("video_provider"),
        video_model: text("video_model"),
        clip_duration_s: Number(data.get("clip_duration_s") || 6),
        quality: text("quality") || "standard",
      };
      const status = document.getElementById("settings-status");
      const query = new URLSearchParams({ campaign_id: form.dataset.campaign });
      const response = await fetch(`${API}/settings?${query}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      status.textContent = response.ok ? "Saved." : answer.error.message;
    });
  }

  const stateNode = document.getElementById("player-state");
  if (stateNode) {
    const player = new Player(document.getElementById("turns"), JSON.parse(stateNode.textContent));
    window.cutscenePlayer = player;
    const form = document.getElementById("turn-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      player.play(form).catch((error) => {
        document.getElementById("turn-status").textContent = String(error);
      });
    });
    window.addEventListener("pagehide", () => player.close());
  }
  const settings = document.getElementById("settings-form");
  if (settings) settingsForm(settings);
})();
