/* Recording a voice note in the composer: mic → recording (timer, level meter, pause,
 * cancel) → preview (play it back, send or discard) → upload with progress.
 *
 * A recording is kept until the server has it or the user discards it: a failed send
 * leaves the preview in place with the reason, and Send retries with the same
 * client_msg_id, so a retry after a lost response cannot create a second message.
 */
(function () {
  "use strict";

  const Media = (window.SamiaMedia = window.SamiaMedia || {});
  const MAX_MS = 5 * 60 * 1000;
  const TICK_MS = 50;
  const METER_BAR_PITCH_PX = 6;
  // Opus in WebM where it exists (Chromium, Firefox); AAC in MP4 is what Safari records.
  const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/mp4", "audio/webm", "audio/ogg;codecs=opus"];

  function pickMimeType() {
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    return PREFERRED_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  }

  function extensionFor(type) {
    if (type.includes("mp4") || type.includes("aac")) return "m4a";
    if (type.includes("ogg")) return "ogg";
    return "webm";
  }

  /** The microphone and MediaRecorder, with elapsed time and input levels; no DOM. */
  class VoiceRecorder {
    static supported() {
      return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
    }

    constructor({ onTick, onAutoStop }) {
      this.onTick = onTick;
      this.onAutoStop = onAutoStop;
      this.levels = [];   // one 0..1 sample per tick while recording: the preview waveform
      this.chunks = [];
      this.elapsedBefore = 0;
      this.segmentStart = 0;
      this.state = "idle";
    }

    get elapsedMs() {
      return this.elapsedBefore + (this.state === "recording" ? performance.now() - this.segmentStart : 0);
    }

    /** Resolves to true once recording runs, or to false if cancel() came first (the
     *  permission prompt can take a while). Rejects with the browser's error. */
    async start() {
      this.state = "starting";
      // Created inside the click, before any await, so autoplay rules let it run.
      const Ctx = window.AudioContext || window.webkitAudioContext;
      this.audioCtx = Ctx ? new Ctx() : null;
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err) {
        this._release();
        throw err;
      }
      if (this.state !== "starting") {
        stream.getTracks().forEach((t) => t.stop());
        return false;
      }
      this.stream = stream;
      try {
        const mimeType = pickMimeType();
        this.recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
        this.recorder.addEventListener("dataavailable", (e) => { if (e.data && e.data.size) this.chunks.push(e.data); });
        if (this.audioCtx) {
          this.analyser = this.audioCtx.createAnalyser();
          this.analyser.fftSize = 1024;
          this.audioCtx.createMediaStreamSource(stream).connect(this.analyser);
          this.samples = new Float32Array(this.analyser.fftSize);
          if (this.audioCtx.state === "suspended") this.audioCtx.resume().catch(() => {});
        }
        // A time slice, so a recorder that dies mid-way still leaves what it had.
        this.recorder.start(1000);
      } catch (err) {
        this._release();
        throw err;
      }
      this.state = "recording";
      this.segmentStart = performance.now();
      this.timer = setInterval(() => this._tick(), TICK_MS);
      return true;
    }

    pause() {
      if (this.state !== "recording") return;
      this.recorder.pause();
      this.elapsedBefore = this.elapsedMs;
      this.state = "paused";
    }

    resume() {
      if (this.state !== "paused") return;
      this.recorder.resume();
      this.segmentStart = performance.now();
      this.state = "recording";
    }

    /** Resolves to {blob, mimeType, durationMs, waveform}. Only while recording or paused. */
    stop() {
      const durationMs = Math.min(MAX_MS, this.elapsedMs);
      this.state = "stopping";
      clearInterval(this.timer);
      return new Promise((resolve) => {
        this.recorder.addEventListener("stop", () => {
          const type = (this.recorder.mimeType || pickMimeType() || "audio/webm").split(";")[0];
          const blob = new Blob(this.chunks, { type });
          const waveform = Media.resample(this.levels.map((l) => Math.round(l * 100)), 64);
          this._release();
          resolve({ blob, mimeType: type, durationMs, waveform });
        }, { once: true });
        if (this.recorder.state !== "inactive") this.recorder.stop();
        else this.recorder.dispatchEvent(new Event("stop"));
      });
    }

    cancel() {
      clearInterval(this.timer);
      if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
      this.chunks = [];
      this._release();
      this.state = "idle";
    }

    _level() {
      if (!this.analyser) return 0;
      this.analyser.getFloatTimeDomainData(this.samples);
      let sum = 0;
      for (const s of this.samples) sum += s * s;
      const rms = Math.sqrt(sum / this.samples.length);
      // Loudness is logarithmic: map -60..0 dBFS onto 0..1 so speech fills the meter.
      const db = 20 * Math.log10(rms || 1e-8);
      return Math.min(1, Math.max(0, (db + 60) / 60));
    }

    _tick() {
      if (this.state !== "recording") { this.onTick(this.elapsedMs, null); return; }
      const level = this._level();
      this.levels.push(level);
      this.onTick(this.elapsedMs, level);
      if (this.elapsedMs >= MAX_MS) this.onAutoStop();
    }

    _release() {
      // Stopping the tracks is what turns the browser's "recording" indicator off.
      if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
      if (this.audioCtx && this.audioCtx.state !== "closed") this.audioCtx.close().catch(() => {});
      this.stream = null;
      this.audioCtx = null;
      this.analyser = null;
    }
  }

  function micErrorMessage(err) {
    if (!err) return "Voice notes are not supported in this browser.";
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      return "Microphone access is blocked. Allow the microphone for this site in your browser settings to record a voice note.";
    }
    if (err.name === "NotFoundError" || err.name === "OverconstrainedError") return "No microphone was found on this device.";
    if (err.name === "NotReadableError") return "The microphone is in use by another app.";
    return "The microphone could not be started.";
  }

  /**
   * Wire the recorder panel of the composer. `ctx` gives the session id and callbacks:
   * onSent(message), replyTo() -> id|null, clearReply(), setRecording(bool), showError(text).
   */
  function initRecorder(ctx) {
    const $ = (id) => document.getElementById(id);
    const micBtn = $("mic-btn");
    const panel = $("recorder");
    const preview = $("rec-preview");
    const pauseBtn = $("rec-pause");
    const meter = $("rec-meter");
    const timeEl = $("rec-time");
    const progress = $("rec-progress");
    const note = $("rec-note");
    const sendBtn = $("rec-send");
    let rec = null;
    let take = null;    // the stopped recording: {blob, durationMs, waveform, clientMsgId, player, url}
    let sending = false;

    let bars = [];
    let recent = [];
    function resetMeter() {
      // As many bars as fit, so the meter looks the same on a phone and on a desktop.
      const count = Math.max(16, Math.floor(meter.clientWidth / METER_BAR_PITCH_PX));
      bars = Array.from({ length: count }, () => document.createElement("span"));
      meter.replaceChildren(...bars);
      recent = [];
    }

    function setMode(mode) {
      panel.hidden = mode !== "recording";
      preview.hidden = mode !== "preview";
      ctx.setRecording(mode !== "idle");
    }

    async function startRecording() {
      if (rec || take) return;
      ctx.showError("");
      if (ctx.voiceAllowed && !ctx.voiceAllowed()) {
        ctx.showError("Voice notes are off: you withdrew your consent to voice recording. " +
          "You can allow them again in My privacy.");
        return;
      }
      if (!VoiceRecorder.supported()) { ctx.showError(micErrorMessage(null)); return; }
      rec = new VoiceRecorder({
        onTick(ms, level) {
          timeEl.textContent = Media.formatDuration(ms);
          if (level === null) return;
          // The newest level enters on the inline-end side and older ones move along.
          recent.push(level);
          if (recent.length > bars.length) recent.shift();
          const offset = bars.length - recent.length;
          recent.forEach((l, i) => bars[offset + i].style.setProperty("--level", l.toFixed(2)));
        },
        onAutoStop() {
          stopRecording("That's the 5-minute maximum: listen back, then send or discard.");
        },
      });
      timeEl.textContent = "0:00";
      panel.dataset.state = "recording";
      setPauseButton(false);
      setMode("recording");
      resetMeter();
      const starting = rec;
      try {
        if (!(await starting.start())) return; // cancelled while the browser was asking
      } catch (err) {
        if (rec !== starting) return; // cancelled meanwhile: the refusal no longer matters
        rec = null;
        setMode("idle");
        ctx.showError(micErrorMessage(err));
        micBtn.focus();
        return;
      }
      $("rec-stop").focus();
    }

    function setPauseButton(paused) {
      pauseBtn.replaceChildren(Media.icon(paused ? "mic" : "pause"));
      pauseBtn.setAttribute("aria-label", paused ? "Resume recording" : "Pause recording");
      panel.dataset.state = paused ? "paused" : "recording";
    }

    async function stopRecording(message) {
      if (!rec || (rec.state !== "recording" && rec.state !== "paused")) return;
      const r = rec;
      const result = await r.stop();
      rec = null;
      if (!result.blob.size) { setMode("idle"); ctx.showError("Nothing was recorded. Try again."); return; }
      const url = URL.createObjectURL(result.blob);
      take = { ...result, url, clientMsgId: Media.newClientMsgId() };
      take.player = new Media.VoicePlayer({
        src: url, durationMs: result.durationMs, waveform: result.waveform, label: "your recording",
      });
      $("rec-preview-player").replaceChildren(take.player.root);
      setNote(message || "", false);
      progress.hidden = true;
      setMode("preview");
      sendBtn.focus();
    }

    function cancelRecording() {
      if (rec) rec.cancel();
      rec = null;
      setMode("idle");
      micBtn.focus();
    }

    function discard() {
      if (sending) return;
      if (take) { take.player.destroy(); URL.revokeObjectURL(take.url); }
      take = null;
      setMode("idle");
      micBtn.focus();
    }

    function setNote(text, isError) {
      note.textContent = text;
      note.hidden = !text;
      note.classList.toggle("is-error", !!isError);
    }

    async function send() {
      if (!take || sending) return;
      sending = true;
      take.player.pause();
      preview.dataset.state = "sending";
      sendBtn.disabled = true;
      setNote("", false);
      progress.hidden = false;
      progress.value = 0;
      const file = new File([take.blob], "voice-note." + extensionFor(take.mimeType), { type: take.mimeType });
      const res = await Media.upload("voice", file, {
        clientMsgId: take.clientMsgId,
        replyTo: ctx.replyTo(),
        onProgress: (frac) => { progress.value = frac; },
      });
      sending = false;
      sendBtn.disabled = false;
      preview.dataset.state = "";
      progress.hidden = true;
      if (res.ok) {
        ctx.clearReply();
        ctx.onSent(res.data);
        discard();
      } else {
        setNote(res.message + " Your recording is kept: send it again or discard it.", true);
      }
    }

    micBtn.addEventListener("click", startRecording);
    $("rec-stop").addEventListener("click", () => stopRecording());
    $("rec-cancel").addEventListener("click", cancelRecording);
    pauseBtn.addEventListener("click", () => {
      if (!rec) return;
      if (rec.state === "recording") { rec.pause(); setPauseButton(true); }
      else if (rec.state === "paused") { rec.resume(); setPauseButton(false); }
    });
    $("rec-discard").addEventListener("click", discard);
    sendBtn.addEventListener("click", send);
    panel.addEventListener("keydown", (e) => { if (e.key === "Escape") cancelRecording(); });
    // Closing the tab would lose a recording silently: ask first.
    window.addEventListener("beforeunload", (e) => {
      if (rec || take) { e.preventDefault(); e.returnValue = ""; }
    });
  }

  Media.VoiceRecorder = VoiceRecorder;
  Media.initRecorder = initRecorder;
})();
