/* Held messages in the thread, and the review counter on staff pages.
 *
 * A reader's voice note to a client waits for a reviewer. While it waits, or once it
 * is rejected, the server sends its content only to its sender and to staff; everyone
 * else gets the message with attachment null. So what a held note shows depends on what
 * arrived, not on who is looking: with its file it is the player plus how the review
 * stands, without it a placeholder that keeps the note's place in the thread.
 *
 * Like media.js, the node built for a note is cached by message and state, so a note
 * keeps playing while the list re-renders around it.
 */
(function () {
  "use strict";

  const Media = (window.SamiaMedia = window.SamiaMedia || {});
  const HELD = ["pending_review", "rejected"];
  const nodes = new Map();

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isHeld(m) { return HELD.includes(m.status); }

  /** Without its file the message was stripped for us: the reason, if any, comes with
   *  `review`, which only the sender and staff receive. */
  function reasonOf(m) { return (m.review && m.review.reason) || ""; }

  function renderHeld(m, { mine }) {
    const a = m.attachment;
    const key = [m.id, m.status, a ? a.id : "none", mine ? "mine" : "theirs",
      m.review ? m.review.status : "", reasonOf(m)].join(":");
    const cached = nodes.get(key);
    if (cached) {
      Media.keepFocus(cached);
      return cached;
    }
    const node = a && m.kind === "voice" ? withPlayer(m, mine) : placeholder(m);
    nodes.set(key, node);
    return node;
  }


  /** What someone who may not hear the note sees: no file, no duration, just its place. */
  function placeholder(m) {
    const rejected = m.status === "rejected";
    const wrap = el("div", "att att--voice held held--placeholder held--" + (rejected ? "rejected" : "waiting"));
    const badge = el("span", "held-icon");
    badge.append(Media.icon(rejected ? "blocked" : "clock"));
    const text = el("div", "held-text");
    // Only voice notes are held today (settings.APPROVALS["HOLD"]); name others plainly.
    const noun = { voice: "Voice note", image: "Photo", file: "File" }[m.kind] || "Message";
    text.append(el("span", "held-title", noun + (rejected ? " not approved" : " awaiting review")));
    if (!rejected) text.append(el("span", "held-sub", "It will play here once it is released."));
    wrap.append(badge, text);
    return wrap;
  }

  /** The sender (or staff): the note as recorded, and where its review stands. */
  function withPlayer(m, mine) {
    const a = m.attachment;
    const rejected = m.status === "rejected";
    const wrap = el("div", "att att--voice held held--" + (rejected ? "rejected" : "waiting"));
    const player = new Media.VoicePlayer({ src: a.url, durationMs: a.duration_ms, waveform: a.waveform });
    wrap.append(player.root);
    if (!rejected) {
      const badge = el("span", "held-badge");
      badge.append(Media.icon("clock"), el("span", null, "Pending review"));
      wrap.append(badge);
      if (mine) wrap.append(el("span", "held-sub", "Your client hears it once a reviewer approves it."));
      return wrap;
    }
    const reason = reasonOf(m);
    const verdict = el("div", "held-verdict");
    verdict.setAttribute("role", "note");
    verdict.append(Media.icon("blocked"), el("span", null, reason ? "Not approved: " + reason : "Not approved"));
    wrap.append(verdict);
    if (mine) wrap.append(el("span", "held-sub", "Your client did not receive it. You can record a new voice note."));
    return wrap;
  }

  /**
   * A held message pushed to the whole session carries no content; if we already hold
   * its content (we sent it, or we are staff), keep that and take only the new status.
   * The decision's reason reaches the sender separately (approval.decided).
   */
  function merge(known, incoming) {
    if (!known || !isHeld(incoming) || incoming.attachment || !known.attachment) return incoming;
    const review = known.review && incoming.status === "rejected" && known.review.status === "pending"
      ? { ...known.review, status: "rejected" }
      : known.review;
    return { ...incoming, body: known.body, attachment: known.attachment, review };
  }

  // --- staff: how many notes wait for review -------------------------------------------
  let counter = null;
  let api = null;

  function showCount(n) {
    if (!counter || !Number.isFinite(n)) return;
    counter.hidden = false;
    counter.dataset.count = String(n);
    counter.classList.toggle("has-items", n > 0);
    counter.querySelector(".review-count").textContent = String(n);
  }

  /** Wire the counter if this page has one (staff only). `request(method, path)` is chat.js's api(). */
  function initCounter(request) {
    counter = document.getElementById("review-counter");
    api = request;
  }

  /** Fetch the queue length; called on every (re)connection, since counts pushed while
   *  the socket was down are lost. */
  async function refreshCount() {
    if (!counter || !api) return;
    const res = await api("GET", "/approvals/voice-notes?status=pending");
    if (res.ok && res.data) showCount(res.data.pending_count);
  }

  /** approval.requested / approval.decided to reviewers carry the queue length. */
  function onEvent(ev) {
    if (typeof ev.pending_count === "number") showCount(ev.pending_count);
    if (ev.type === "approval.decided" && ev.subject === "reader_application") applicationDecided(ev);
  }

  /** The applicant hears the admin's decision at once: on call becomes possible, or why not. */
  function applicationDecided(ev) {
    const sw = document.getElementById("on-call");
    const hint = document.getElementById("on-call-hint");
    if (!sw || !hint) return;
    if (ev.status === "approved") {
      sw.disabled = false;
      delete hint.dataset.fixed;
      hint.classList.remove("em-bar-hint--wait");
      hint.textContent = "Your application was approved. Turn on to be rung for emergency readings.";
    } else if (ev.status === "rejected") {
      hint.textContent = "Your reader application was not approved" + (ev.reason ? ": " + ev.reason : ".");
    }
  }

  window.SamiaApprovals = { isHeld, renderHeld, merge, initCounter, refreshCount, onEvent };
})();
