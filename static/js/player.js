/* The voice-note player: play/pause, a waveform of bars that doubles as the seek bar,
 * elapsed/total time and a speed button. Used for received notes and for the preview of
 * a note before it is sent, so both look and behave the same.
 *
 * The total comes from the server's duration_ms (the decoded truth), not from the
 * <audio> element: a recording from MediaRecorder often reports Infinity until it has
 * been played to the end. Only one note plays at a time on the page.
 */
(function () {
  "use strict";

  const Media = (window.SamiaMedia = window.SamiaMedia || {});
  const SEEK_STEP_S = 5;
  const SPEEDS = [1, 1.5, 2];
  // Fewer bars than the 64 peaks the server sends: at bubble width, 64 read as a dotted line.
  const BARS = 44;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    play: "M8 5.5v13a1 1 0 0 0 1.5.86l10.4-6.5a1 1 0 0 0 0-1.72L9.5 4.64A1 1 0 0 0 8 5.5z",
    pause: "M7 5h3.5v14H7zM13.5 5H17v14h-3.5z",
    stop: "M7 7h10v10H7z",
    trash: "M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 11a2 2 0 0 1-2 2H9a2 2 0 0 1-2-2L6 9zm4 2v8h1.5v-8H10zm3.5 0v8H15v-8h-1.5z",
    mic: "M12 15a3.5 3.5 0 0 0 3.5-3.5v-6a3.5 3.5 0 1 0-7 0v6A3.5 3.5 0 0 0 12 15zm6-3.5h-1.8a4.2 4.2 0 0 1-8.4 0H6a6 6 0 0 0 5.1 5.9V21h1.8v-3.6A6 6 0 0 0 18 11.5z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z",
    download: "M11 4h2v8.2l3.3-3.3 1.4 1.4L12 16l-5.7-5.7 1.4-1.4 3.3 3.3V4zM5 18h14v2H5z",
    retry: "M12 5a7 7 0 1 1-6.7 9h2.1A5 5 0 1 0 12 7v3L8 6l4-4v3z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    sound: "M4 9v6h4l5 4V5L8 9H4zm12.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z",
    muted: "M4 9v6h4l5 4V5L8 9H4zm12.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4-2.7-2.7z",
    // Held voice notes: waiting for review, and not approved.
    clock: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm-1 3v6.1l5 3 1-1.7-4-2.4V7z",
    blocked: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 0 1 6.3 12.9L7.1 5.7A8 8 0 0 1 12 4zM5.7 7.1l11.2 11.2A8 8 0 0 1 5.7 7.1z",
  };
  // Icons drawn as a ring with a hole: the inner shape must cut out, whatever its direction.
  const EVEN_ODD = new Set(["clock", "blocked"]);

  /** An inline SVG icon; decorative, so the button around it carries the label. */
  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.classList.add("ico");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", "currentColor");
    if (EVEN_ODD.has(name)) path.setAttribute("fill-rule", "evenodd");
    svg.append(path);
    return svg;
  }

  /** m:ss, rounded down like every player's clock (0:02 means "two seconds in"). */
  function formatDuration(ms) {
    const total = Math.max(0, Math.floor((ms || 0) / 1000));
    return Math.floor(total / 60) + ":" + String(total % 60).padStart(2, "0");
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isRtl(node) { return getComputedStyle(node).direction === "rtl"; }

  let playing = null; // the one player allowed to make sound

  class VoicePlayer {
    /**
     * @param {{src: string, durationMs?: number, waveform?: number[], label?: string}} opts
     * `waveform` is a list of 0..100 peaks (any length; resampled to the bar count).
     */
    constructor({ src, durationMs, waveform, label }) {
      this.durationMs = durationMs || 0;
      this.label = label || "voice note";
      this.rateIndex = 0;
      this.pendingSeek = null;
      this.scrubbing = false;
      this.raf = 0;

      this.root = el("div", "vp");
      this.root.dataset.state = "paused";
      this.audio = el("audio");
      this.audio.preload = "metadata";
      this.audio.src = src;

      this.playBtn = el("button", "vp-play");
      this.playBtn.type = "button";
      this.playBtn.setAttribute("aria-label", "Play " + this.label);
      this.playBtn.append(icon("play"), icon("pause"));

      this.wave = el("div", "vp-wave");
      this.wave.tabIndex = 0;
      this.wave.setAttribute("role", "slider");
      this.wave.setAttribute("aria-label", "Seek");
      this.wave.setAttribute("aria-valuemin", "0");
      this.bars = resample(waveform, BARS).map((peak) => {
        const bar = el("span", "vp-bar");
        // A floor keeps silent stretches visible as a line rather than a gap.
        bar.style.setProperty("--peak", Math.max(10, peak) + "%");
        this.wave.append(bar);
        return bar;
      });
      this.playedBars = 0;

      this.time = el("span", "vp-time");
      this.speedBtn = el("button", "vp-speed", "1×");
      this.speedBtn.type = "button";
      this.speedBtn.setAttribute("aria-label", "Playback speed 1×");

      const info = el("div", "vp-info");
      info.append(this.time, this.speedBtn);
      const body = el("div", "vp-body");
      body.append(this.wave, info);
      this.root.append(this.playBtn, body, this.audio);
      this._wire();
      this._paint();
    }

    get totalS() {
      if (this.durationMs) return this.durationMs / 1000;
      return Number.isFinite(this.audio.duration) ? this.audio.duration : 0;
    }

    toggle() {
      if (this.audio.paused) this.play(); else this.audio.pause();
    }

    play() {
      if (playing && playing !== this) playing.audio.pause();
      playing = this;
      // Played to the end last time: start over rather than replay the last instant.
      if (this.totalS && this.audio.currentTime >= this.totalS - 0.05) this.audio.currentTime = 0;
      const p = this.audio.play();
      if (p && p.catch) p.catch(() => { /* an error event explains it; nothing else to do */ });
    }

    pause() { this.audio.pause(); }

    seekTo(seconds) {
      const total = this.totalS;
      const t = Math.min(Math.max(0, seconds), total || seconds);
      if (this.audio.readyState < 1) this.pendingSeek = t; // before metadata, currentTime is ignored
      else this.audio.currentTime = t;
      this._paint(t);
    }

    /** Stop any sound and drop the media resource (used when a preview is discarded). */
    destroy() {
      this.audio.pause();
      cancelAnimationFrame(this.raf);
      this.audio.removeAttribute("src");
      this.audio.load();
      if (playing === this) playing = null;
    }

    _wire() {
      const a = this.audio;
      this.playBtn.addEventListener("click", () => this.toggle());
      this.speedBtn.addEventListener("click", () => {
        this.rateIndex = (this.rateIndex + 1) % SPEEDS.length;
        const rate = SPEEDS[this.rateIndex];
        a.playbackRate = rate;
        this.speedBtn.textContent = rate + "×";
        this.speedBtn.setAttribute("aria-label", "Playback speed " + rate + "×");
      });
      a.addEventListener("loadedmetadata", () => {
        a.playbackRate = SPEEDS[this.rateIndex];
        if (this.pendingSeek !== null) { a.currentTime = this.pendingSeek; this.pendingSeek = null; }
        this._paint();
      });
      a.addEventListener("play", () => {
        if (playing && playing !== this) playing.audio.pause();
        playing = this;
        this.root.dataset.state = "playing";
        this.playBtn.setAttribute("aria-label", "Pause " + this.label);
        this._loop();
      });
      a.addEventListener("pause", () => {
        this.root.dataset.state = "paused";
        this.playBtn.setAttribute("aria-label", "Play " + this.label);
        cancelAnimationFrame(this.raf);
        this._paint();
      });
      a.addEventListener("ended", () => { this._paint(this.totalS); });
      a.addEventListener("timeupdate", () => { if (!this.scrubbing) this._paint(); });
      a.addEventListener("error", () => {
        if (!a.getAttribute("src")) return; // destroyed on purpose
        this.root.dataset.state = "error";
        this.time.textContent = "Can't play this voice note";
      });

      this.wave.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        this.scrubbing = true;
        this.wave.setPointerCapture(e.pointerId);
        this._seekToPointer(e);
      });
      this.wave.addEventListener("pointermove", (e) => { if (this.scrubbing) this._seekToPointer(e); });
      const end = () => { this.scrubbing = false; };
      this.wave.addEventListener("pointerup", end);
      this.wave.addEventListener("pointercancel", end);

      this.wave.addEventListener("keydown", (e) => {
        const now = this.pendingSeek ?? a.currentTime;
        const forward = isRtl(this.wave) ? "ArrowLeft" : "ArrowRight";
        const back = isRtl(this.wave) ? "ArrowRight" : "ArrowLeft";
        let handled = true;
        if (e.key === forward || e.key === "ArrowUp") this.seekTo(now + SEEK_STEP_S);
        else if (e.key === back || e.key === "ArrowDown") this.seekTo(now - SEEK_STEP_S);
        else if (e.key === "Home") this.seekTo(0);
        else if (e.key === "End") this.seekTo(this.totalS);
        else if (e.key === " " || e.key === "Enter") this.toggle();
        else handled = false;
        if (handled) e.preventDefault();
      });
    }

    _seekToPointer(e) {
      const r = this.wave.getBoundingClientRect();
      let frac = (e.clientX - r.left) / r.width;
      if (isRtl(this.wave)) frac = 1 - frac;
      this.seekTo(Math.min(1, Math.max(0, frac)) * this.totalS);
    }

    _loop() {
      // timeupdate fires only ~4 times a second: too coarse for the bar highlight.
      cancelAnimationFrame(this.raf);
      const step = () => {
        if (this.audio.paused) return;
        if (!this.scrubbing) this._paint();
        this.raf = requestAnimationFrame(step);
      };
      this.raf = requestAnimationFrame(step);
    }

    _paint(at) {
      const total = this.totalS;
      const now = Math.min(at ?? this.pendingSeek ?? this.audio.currentTime ?? 0, total || Infinity);
      const frac = total ? now / total : 0;
      const played = Math.round(frac * this.bars.length);
      if (played !== this.playedBars) {
        const [lo, hi] = played > this.playedBars ? [this.playedBars, played] : [played, this.playedBars];
        for (let i = lo; i < hi; i++) this.bars[i].classList.toggle("is-played", i < played);
        this.playedBars = played;
      }
      if (this.root.dataset.state === "error") return;
      // A sub-second note still reads as 0:01, not as an empty 0:00.
      const totalText = formatDuration(total > 0 ? Math.max(1000, total * 1000) : 0);
      this.time.textContent = formatDuration(now * 1000) + " / " + totalText;
      this.wave.setAttribute("aria-valuemax", String(Math.round(total)));
      this.wave.setAttribute("aria-valuenow", String(Math.round(now)));
      this.wave.setAttribute("aria-valuetext", formatDuration(now * 1000) + " of " + totalText);
    }
  }

  /** Peaks at `n` points: the max of each bucket, so short loud sounds are not averaged away. */
  function resample(peaks, n) {
    if (!peaks || !peaks.length) return new Array(n).fill(12);
    if (peaks.length === n) return peaks.map((p) => clamp(p));
    const out = [];
    for (let i = 0; i < n; i++) {
      const from = Math.floor((i * peaks.length) / n);
      const to = Math.max(from + 1, Math.floor(((i + 1) * peaks.length) / n));
      out.push(clamp(Math.max(...peaks.slice(from, to))));
    }
    return out;
  }
  function clamp(p) { return Math.min(100, Math.max(0, Math.round(Number(p) || 0))); }

  Media.VoicePlayer = VoicePlayer;
  Media.icon = icon;
  Media.formatDuration = formatDuration;
  Media.resample = resample;
})();
