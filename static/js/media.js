/* Attachments in the thread: how a voice note, photo or file message looks, the photo
 * lightbox, and sending files (paperclip, drag-and-drop, paste) with upload progress.
 *
 * chat.js re-renders the whole message list on every change, so the node built for an
 * attachment is cached by message and state and handed back each time: a voice note
 * keeps playing, and a photo does not flicker, while new messages arrive.
 */
(function () {
  "use strict";

  const Media = (window.SamiaMedia = window.SamiaMedia || {});
  const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
  const IMAGE_BOX = { width: 240, height: 300 };
  const DEFAULT_MESSAGES = {
    0: "Couldn't reach the server. Check your connection and try again.",
    413: "This file is too large (10 MB at most).",
    415: "This type of file can't be sent. Photos, PDFs and text files are fine.",
    429: "Too many uploads just now. Wait a moment and try again.",
  };
  const nodes = new Map();
  let config = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function newClientMsgId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function humanSize(bytes) {
    if (!Number.isFinite(bytes)) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  function attachmentKind(m) {
    if (m.kind === "voice" || m.kind === "image" || m.kind === "file") return m.kind;
    if (!m.attachment) return null;
    const type = m.attachment.content_type || "";
    if (type.startsWith("audio/")) return "voice";
    if (type.startsWith("image/")) return "image";
    return "file";
  }

  // --- what a message shows -----------------------------------------------------------
  function isMedia(m) { return attachmentKind(m) !== null; }

  /** One line for the inbox, the reply bar and the screen-reader announcement. */
  function label(m, viewerId) {
    const kind = attachmentKind(m);
    const a = m.attachment;
    const mine = m.sender && m.sender.id === viewerId;
    if (kind === "voice") {
      if (m.status === "pending_review" && !mine) return "🎤 Voice note awaiting review";
      if (m.status === "rejected") return "🎤 Voice note not approved";
      return a && a.duration_ms ? `🎤 Voice note (${Media.formatDuration(Math.max(1000, a.duration_ms))})` : "🎤 Voice note";
    }
    if (kind === "image") return "🖼 Photo";
    if (kind === "file") return "📄 " + ((a && a.name) || "File");
    return null;
  }

  function renderAttachment(m, { mine }) {
    const a = m.attachment;
    const key = [m.id, m.status, a ? a.id : "none", mine ? "mine" : "theirs"].join(":");
    const cached = nodes.get(key);
    if (cached) {
      keepFocus(cached);
      return cached;
    }
    const node = build(m, mine);
    nodes.set(key, node);
    return node;
  }

  function keepFocus(node) {
    // Moving a node out of the page drops focus; give it back once the list is rebuilt,
    // so a keyboard user seeking through a note is not thrown to the top of the page.
    const focused = document.activeElement;
    if (!focused || !node.contains(focused)) return;
    queueMicrotask(() => {
      if (focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    });
  }

  function build(m, mine) {
    const kind = attachmentKind(m);
    const a = m.attachment;
    const wrap = el("div", "att att--" + kind);
    // Held messages (awaiting review, rejected) are drawn by approvals.js, not here.
    if (!a) {
      wrap.classList.add("att--notice");
      wrap.append(el("span", "att-notice-icon", kind === "voice" ? "🎤" : "📎"),
        el("span", "att-notice-text", "Attachment unavailable"));
      return wrap;
    }
    if (kind === "voice") {
      const player = new Media.VoicePlayer({ src: a.url, durationMs: a.duration_ms, waveform: a.waveform });
      wrap.append(player.root);
    } else if (kind === "image") {
      wrap.append(imageThumb(a));
    } else {
      wrap.append(fileCard(a));
    }
    if (kind !== "voice" && m.body && m.body !== a.name) wrap.append(el("div", "att-caption", m.body));
    return wrap;
  }

  function imageThumb(a) {
    const btn = el("button", "att-image");
    btn.type = "button";
    btn.setAttribute("aria-label", "Open photo" + (a.name ? " " + a.name : ""));
    const img = el("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = a.name || "Photo";
    img.src = a.url;
    // Reserve the final size now, so the thread does not jump when the photo arrives.
    if (a.width && a.height) {
      const scale = Math.min(1, IMAGE_BOX.width / a.width, IMAGE_BOX.height / a.height);
      img.width = Math.max(48, Math.round(a.width * scale));
      img.height = Math.max(48, Math.round(a.height * scale));
    } else {
      img.width = IMAGE_BOX.width;
      img.height = Math.round(IMAGE_BOX.width * 0.75);
    }
    img.addEventListener("error", () => {
      // Gone from the store or not allowed any more: say so instead of a broken-image icon.
      btn.classList.add("is-broken");
      btn.disabled = true;
      btn.replaceChildren(el("span", null, "🖼"), el("span", null, "Photo unavailable"));
    });
    btn.append(img);
    btn.addEventListener("click", () => openLightbox(a));
    return btn;
  }

  function fileCard(a) {
    const card = el("div", "att-file");
    const ext = (a.name || "").split(".").pop().toUpperCase();
    const badge = el("span", "att-file-icon", a.content_type === "application/pdf" ? "PDF" : (ext.length <= 4 && ext) || "FILE");
    badge.setAttribute("aria-hidden", "true");
    const main = el("div", "att-file-main");
    const name = el("span", "att-file-name", a.name || "File");
    name.title = a.name || "";
    main.append(name, el("span", "att-file-size", humanSize(a.size_bytes)));
    const link = el("a", "att-file-download");
    link.href = a.url;
    link.download = a.name || "";
    link.setAttribute("aria-label", "Download " + (a.name || "file") + ", " + humanSize(a.size_bytes));
    link.append(Media.icon("download"));
    card.append(badge, main, link);
    return card;
  }

  // --- lightbox -------------------------------------------------------------------------
  let lightbox = null;
  function openLightbox(a) {
    if (!lightbox) {
      lightbox = el("dialog", "lightbox");
      lightbox.setAttribute("aria-label", "Photo");
      const close = el("button", "lightbox-close");
      close.type = "button";
      close.setAttribute("aria-label", "Close photo");
      close.append(Media.icon("close"));
      lightbox.append(el("img", "lightbox-img"), close);
      // Any click closes it, the photo included: there is nothing else to do in there.
      lightbox.addEventListener("click", () => lightbox.close());
      document.body.append(lightbox);
    }
    const img = lightbox.querySelector("img");
    img.src = a.url;
    img.alt = a.name || "Photo";
    lightbox.showModal();
  }

  // --- upload -----------------------------------------------------------------------------
  /**
   * POST one file as a voice note or a file message, reporting upload progress (0..1).
   * Resolves (never rejects) to {ok, status, data, code, message}.
   */
  function upload(kind, file, { clientMsgId, replyTo, onProgress }) {
    if (file.size > MAX_UPLOAD_BYTES) {
      return Promise.resolve({ ok: false, status: 413, code: "FILE_TOO_LARGE", message: DEFAULT_MESSAGES[413] });
    }
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("client_msg_id", clientMsgId);
    if (replyTo) form.append("reply_to", String(replyTo));
    return new Promise((resolve) => {
      // XMLHttpRequest rather than fetch: fetch cannot report upload progress.
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/sessions/${config.sessionId}/${kind === "voice" ? "voice" : "files"}`);
      xhr.setRequestHeader("X-CSRFToken", config.csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* a proxy's HTML page */ }
        if (xhr.status === 401) window.location.href = "/login/?next=" + encodeURIComponent(location.pathname);
        const ok = xhr.status === 200 || xhr.status === 201;
        const err = (data && data.error) || {};
        resolve({
          ok, status: xhr.status, data,
          code: ok ? null : err.code || null,
          message: ok ? null : err.message || DEFAULT_MESSAGES[xhr.status] || "Not sent. Please try again.",
        });
      });
      const offline = () => resolve({ ok: false, status: 0, code: "NETWORK", message: DEFAULT_MESSAGES[0] });
      xhr.addEventListener("error", offline);
      xhr.addEventListener("timeout", offline);
      xhr.send(form);
    });
  }

  function retryable(res) { return res.status === 0 || res.status === 429 || res.status >= 500; }

  // --- the upload tray: one card per file being sent, kept with its reason if refused --
  function initFiles(ctx) {
    const tray = document.getElementById("upload-tray");
    let queue = Promise.resolve();

    function enqueue(file) {
      const item = { file, clientMsgId: newClientMsgId(), replyTo: ctx.replyTo() };
      item.node = trayCard(item);
      tray.append(item.node);
      ctx.clearReply();
      schedule(item);
    }

    function schedule(item) {
      // One at a time, in the order chosen, so the thread shows them in that order.
      queue = queue.then(() => sendItem(item));
    }

    async function sendItem(item) {
      const { node } = item;
      node.dataset.state = "uploading";
      node.querySelector(".upload-status").textContent = "Sending…";
      const bar = node.querySelector("progress");
      bar.hidden = false;
      bar.value = 0;
      const res = await upload("file", item.file, {
        clientMsgId: item.clientMsgId, replyTo: item.replyTo,
        onProgress: (frac) => { bar.value = frac; },
      });
      if (res.ok) {
        removeCard(item);
        ctx.onSent(res.data);
        return;
      }
      node.dataset.state = "error";
      if (res.code) node.dataset.errorCode = res.code;
      bar.hidden = true;
      node.querySelector(".upload-status").textContent = res.message;
      node.querySelector(".upload-retry").hidden = !retryable(res);
    }

    function trayCard(item) {
      const node = el("div", "upload-item");
      node.setAttribute("role", "group");
      node.setAttribute("aria-label", "Sending " + item.file.name);
      const thumb = el("div", "upload-thumb");
      if (item.file.type.startsWith("image/")) {
        item.previewUrl = URL.createObjectURL(item.file);
        const img = el("img");
        img.src = item.previewUrl;
        img.alt = "";
        // Named like a photo but not one: the server will say so; no broken-image icon meanwhile.
        img.addEventListener("error", () => { thumb.textContent = "📄"; });
        thumb.append(img);
      } else {
        thumb.textContent = "📄";
      }
      const main = el("div", "upload-main");
      const name = el("div", "upload-name", item.file.name);
      const bar = el("progress");
      bar.max = 1;
      bar.setAttribute("aria-label", "Upload progress");
      const status = el("div", "upload-status");
      status.setAttribute("role", "status");
      main.append(name, bar, status);
      const retry = el("button", "icon-btn upload-retry");
      retry.type = "button";
      retry.hidden = true;
      retry.setAttribute("aria-label", "Try sending " + item.file.name + " again");
      retry.append(Media.icon("retry"));
      retry.addEventListener("click", () => { retry.hidden = true; schedule(item); });
      const remove = el("button", "icon-btn upload-remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + item.file.name);
      remove.append(Media.icon("close"));
      remove.addEventListener("click", () => { if (node.dataset.state !== "uploading") removeCard(item); });
      node.append(thumb, main, retry, remove);
      return node;
    }

    function removeCard(item) {
      if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
      item.node.remove();
    }

    const input = document.getElementById("file-input");
    document.getElementById("attach-btn").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      [...input.files].forEach(enqueue);
      input.value = ""; // choosing the same file again must fire change again
    });

    // Drag a file anywhere onto the conversation to send it.
    const thread = document.getElementById("thread");
    const dropZone = el("div", "drop-zone", "Drop to send");
    dropZone.hidden = true;
    thread.append(dropZone);
    let depth = 0;
    const carriesFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    thread.addEventListener("dragenter", (e) => {
      if (!carriesFiles(e) || !ctx.canWrite()) return;
      e.preventDefault();
      depth += 1;
      dropZone.hidden = false;
    });
    thread.addEventListener("dragover", (e) => {
      if (!carriesFiles(e) || !ctx.canWrite()) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    thread.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) dropZone.hidden = true;
    });
    thread.addEventListener("drop", (e) => {
      depth = 0;
      dropZone.hidden = true;
      if (!carriesFiles(e) || !ctx.canWrite()) return;
      e.preventDefault();
      [...e.dataTransfer.files].forEach(enqueue);
    });
    document.getElementById("composer-input").addEventListener("paste", (e) => {
      const files = e.clipboardData ? [...e.clipboardData.files] : [];
      if (!files.length || !ctx.canWrite()) return;
      e.preventDefault();
      files.forEach(enqueue);
    });
  }

  /**
   * Wire the composer's media tools. ctx: sessionId, csrfToken(), canWrite(),
   * replyTo() -> message id or null, clearReply(), onSent(message).
   */
  function initComposer(ctx) {
    config = ctx;
    const row = document.getElementById("composer-row");
    const input = document.getElementById("composer-input");
    const note = document.getElementById("media-note");
    // The mic and send share one spot: mic while the box is empty, send once there is text.
    const syncHasText = () => row.classList.toggle("has-text", input.value.trim() !== "");
    input.addEventListener("input", syncHasText);
    document.getElementById("composer").addEventListener("submit", () => setTimeout(syncHasText));
    syncHasText();

    const full = {
      ...ctx,
      showError(text) { note.textContent = text; note.hidden = !text; },
      // The text box is out of the way while a voice note is being made.
      setRecording(on) { row.hidden = on; },
    };
    initFiles(full);
    Media.initRecorder(full);
  }

  Object.assign(Media, { isMedia, label, renderAttachment, upload, initComposer, newClientMsgId, humanSize, keepFocus });
})();
