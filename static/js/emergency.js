/* Emergency readings and safety alerts on the chat page: the reader's on-call switch and
 * siren, the client's request and waiting screen, the staff panel of open requests and
 * safety alerts, and the "Safety alert" action of a thread.
 *
 * chat.js owns the socket: it hands this module every emergency.*, on_call.* and safety.*
 * event, and calls catchUp() whenever the socket (re)opens. The database is the source of
 * truth, so the lists are fetched again then, and again when a request's next escalation
 * step falls due: a push that never came (a dropped socket, a worker whose channel layer
 * does not reach this server) leaves nothing stale for long.
 */
(function () {
  "use strict";

  const Emergency = (window.SamiaEmergency = window.SamiaEmergency || {});
  const EVENT_TYPES = [
    "emergency.requested", "emergency.taken", "emergency.closed", "emergency.escalated",
    "emergency.accepted", "emergency.updated", "on_call.updated", "safety.alert",
  ];
  const STAFF_ROLES = ["monitor", "admin", "super_admin"];
  const OPEN = ["pending", "escalated"];
  const CARD_LINGER_MS = 3000;      // a siren card that closes says why for this long
  const NAVIGATE_DELAY_MS = 900;    // "Noor accepted": long enough to be read
  const DEADLINE_GRACE_MS = 1500;   // the worker applies a due step within about a second
  const STEP_LABELS = { readers: "Ringing readers", staff: "Team alerted", super_admins: "Super admins alerted", closed: "Closed" };

  let ctx = null;
  let me = null;
  const $ = (id) => document.getElementById(id);
  const isStaff = () => STAFF_ROLES.includes(me.role);

  // --- small helpers -------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function button(cls, text, onClick) {
    const b = el("button", cls, text);
    b.type = "button";
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }
  // The player's icon set (player.js loads first): one way to draw an icon on the page.
  const icon = (name) => window.SamiaMedia.icon(name);
  const at = (iso) => (iso ? Date.parse(iso) : NaN);
  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function age(iso) {
    const s = Math.max(0, Math.floor((Date.now() - at(iso)) / 1000));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function whenAgain(seconds) {
    if (!seconds) return "later";
    if (seconds < 90) return "in a minute";
    if (seconds < 90 * 60) return "in about " + Math.round(seconds / 60) + " minutes";
    const then = new Date(Date.now() + seconds * 1000);
    const time = then.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return then.toDateString() === new Date().toDateString() ? "after " + time : "tomorrow after " + time;
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function rungOf(request) {
    const first = (request.timeline || []).find((e) => e.kind === "requested");
    return first && first.detail && typeof first.detail.rung === "number" ? first.detail.rung : null;
  }
  // Outside an open modal dialog the page is inert, live regions included: speak from the
  // siren's own region while it is open.
  function announce(text) {
    const siren = $("em-siren");
    const box = siren && siren.open ? $("siren-live") : $("announcer");
    if (box) box.textContent = text;
  }
  // Declined and silenced requests, per user, shared by the person's tabs.
  function stored(key) {
    try { return new Set(JSON.parse(localStorage.getItem(key) || "[]")); } catch (_) { return new Set(); }
  }
  function store(key, set) {
    try { localStorage.setItem(key, JSON.stringify([...set].slice(-50))); } catch (_) { /* private mode */ }
  }

  // One timer for every countdown and age on the page; each clock drops itself once its
  // node has left the page.
  const clocks = new Set();
  function everySecond(node, fn) {
    const tick = () => { if (node.isConnected) fn(); else clocks.delete(tick); };
    clocks.add(tick);
    fn();
  }

  // --- HTTP: like chat.js's api(), plus the error code and Retry-After -------------------
  async function call(method, path, body) {
    let res;
    try {
      res = await fetch("/api" + path, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": ctx.csrfToken() },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      return { ok: false, status: 0, data: null, code: "NETWORK", message: "Couldn't reach the server. Check your connection and try again." };
    }
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty body */ }
    if (res.status === 401) window.location.href = "/login/?next=" + encodeURIComponent(location.pathname);
    const err = (data && data.error) || {};
    return {
      ok: res.ok, status: res.status, data,
      code: res.ok ? null : err.code || null,
      message: res.ok ? null : err.message || "Something went wrong. Please try again.",
      retryAfter: Number(res.headers.get("Retry-After")) || null,
    };
  }

  // --- sound: a two-tone alarm made with WebAudio ------------------------------------------
  // Browsers keep audio off until the person has tapped or typed on the page; until then
  // the siren says so and offers a button, and any tap anywhere turns the sound on.
  const Alarm = {
    audio: null,
    loop: null,
    nextAt: 0,
    muted: false,
    wanted: false,
    listeners: new Set(),

    context() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      if (!this.audio) {
        this.audio = new Ctx();
        this.audio.onstatechange = () => this.changed();
      }
      return this.audio;
    },
    unlock() {
      const audio = this.context();
      if (audio && audio.state === "suspended") audio.resume().catch(() => {}).then(() => this.changed());
    },
    get blocked() { return !this.audio || this.audio.state !== "running"; },
    changed() {
      document.body.dataset.sound = this.blocked ? "blocked" : "on";
      this.listeners.forEach((fn) => fn());
      if (this.wanted && !this.muted && !this.blocked && !this.loop) this._start();
    },

    tone(freq, start, length, peak, out) {
      const audio = this.audio;
      const osc = audio.createOscillator();
      const overtone = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "triangle";
      overtone.type = "sine";
      osc.frequency.value = freq;
      overtone.frequency.value = freq * 2;
      const over = audio.createGain();
      over.gain.value = 0.35;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(peak, start + 0.03);
      gain.gain.setValueAtTime(peak, start + length - 0.06);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
      osc.connect(gain);
      overtone.connect(over).connect(gain);
      gain.connect(out || audio.destination);
      for (const o of [osc, overtone]) { o.start(start); o.stop(start + length + 0.02); }
    },

    /** The siren: high-low, high-low, until stopped. */
    siren(on) {
      const was = this.wanted;
      this.wanted = on;
      if (!on) { this._stop(); return; }
      if (was) return;
      this.context();
      this.changed();
      try { if (navigator.vibrate) navigator.vibrate([400, 200, 400]); } catch (_) { /* not a phone */ }
    },
    _start() {
      this.nextAt = 0;
      // Tones are queued about a second ahead; one gain in front of them all lets a stop
      // (Accept, Mute) silence what is already queued, at once.
      this.master = this.audio.createGain();
      this.master.connect(this.audio.destination);
      const cycle = () => {
        if (this.blocked) return; // a suspended context's clock stands still: queue nothing
        const start = Math.max(this.audio.currentTime + 0.05, this.nextAt);
        this.tone(932, start, 0.46, 0.22, this.master);
        this.tone(698, start + 0.5, 0.46, 0.22, this.master);
        this.nextAt = start + 1.1;
      };
      cycle();
      this.loop = setInterval(cycle, 1100);
      document.body.dataset.alarm = "siren";
    },
    _stop() {
      clearInterval(this.loop);
      this.loop = null;
      if (this.master) {
        this.master.gain.value = 0;
        this.master.disconnect();
        this.master = null;
      }
      if (document.body.dataset.alarm === "siren") delete document.body.dataset.alarm;
    },
    mute(on) {
      this.muted = on;
      if (on) this._stop(); else this.changed();
      this.listeners.forEach((fn) => fn());
    },

    /** Two soft rising notes, once: something new needs a look (a safety alert). */
    chime() {
      const audio = this.context();
      if (!audio || this.blocked || this.muted) return;
      const t = audio.currentTime + 0.03;
      this.tone(784, t, 0.2, 0.16);
      this.tone(1175, t + 0.22, 0.32, 0.16);
      document.body.dataset.chimedAt = String(Date.now());
    },
  };

  // --- toasts ----------------------------------------------------------------------------
  function toast(text, { tone = "info", link = null } = {}) {
    const box = $("em-toasts");
    if (!box) return;
    const item = el("div", "em-toast em-toast--" + tone);
    // Errors and alarms interrupt a screen reader; the rest waits its turn.
    item.setAttribute("role", tone === "info" ? "status" : "alert");
    item.append(el("span", "em-toast-text", text));
    if (link) {
      const a = el("a", "em-toast-link", link.text);
      a.href = link.href;
      item.append(a);
    }
    const close = button("em-toast-close", "✕", () => item.remove());
    close.setAttribute("aria-label", "Dismiss");
    item.append(close);
    box.append(item);
    setTimeout(() => item.remove(), tone === "info" ? 5000 : 9000);
  }

  // --- dialogs ------------------------------------------------------------------------------
  // A modal <dialog> that must not vanish under a stray Escape (Chrome closes a dialog on the
  // second Escape even when cancel is prevented): it opens again while it still has a job.
  function guardDialog(dialog, stillNeeded, onEscape) {
    dialog.addEventListener("cancel", (e) => {
      if (!stillNeeded()) return;
      e.preventDefault();
      if (onEscape) onEscape();
    });
    dialog.addEventListener("close", () => {
      if (stillNeeded() && !dialog.open) dialog.showModal();
    });
  }
  function counter(textarea, output, max) {
    const sync = () => {
      const n = textarea.value.length;
      output.textContent = n + " / " + max;
      output.classList.toggle("is-near", n > max * 0.9);
    };
    textarea.addEventListener("input", sync);
    sync();
    return sync;
  }

  // --- the siren: readers' rings and staff escalations, in one alert dialog ---------------
  const Siren = {
    cards: new Map(), // request id -> {request, kind: "reader"|"staff", state, node, addedAt}
    titleTimer: null,
    savedTitle: document.title,

    dialog() { return $("em-siren"); },

    add(request, kind) {
      const known = this.cards.get(request.id);
      if (known) {
        if (known.state === "ringing") { known.request = request; known.refresh(); }
        return;
      }
      const card = { request, kind, state: "ringing", addedAt: Date.now() };
      card.node = kind === "reader" ? readerCard(card) : staffCard(card);
      this.cards.set(request.id, card);
      $("siren-list").append(card.node);
      const first = this.cards.size === 1;
      this.sync();
      if (first) card.node.querySelector(".btn-accept, .btn-take").focus();
      else announce("Another emergency: " + request.client.first_name + " needs a reader.");
    },

    /** Close one card, saying why for a moment (no message: at once). */
    close(id, message) {
      const card = this.cards.get(id);
      if (!card || card.state !== "ringing") return; // closing already, or accepted here
      card.state = "closing";
      card.node.dataset.state = "closing";
      card.node.querySelectorAll("button, select").forEach((b) => { b.disabled = true; });
      const note = card.node.querySelector(".siren-note");
      note.textContent = message || "";
      note.hidden = !message;
      this.sync();
      setTimeout(() => this.remove(id), message ? CARD_LINGER_MS : 0);
    },

    remove(id) {
      const card = this.cards.get(id);
      if (!card) return;
      const hadFocus = card.node.contains(document.activeElement);
      card.node.remove();
      this.cards.delete(id);
      this.sync();
      if (hadFocus) {
        const next = $("siren-list").querySelector(".siren-card[data-state=ringing] .btn-accept, .siren-card[data-state=ringing] .btn-take");
        if (next) next.focus();
      }
    },

    closeAll(kind, message) {
      for (const card of [...this.cards.values()]) if (card.kind === kind) this.close(card.request.id, message);
    },

    ringing() { return [...this.cards.values()].filter((c) => c.state === "ringing"); },

    sync() {
      const dialog = this.dialog();
      const ringing = this.ringing();
      if (this.cards.size && !dialog.open) dialog.showModal();
      if (!this.cards.size && dialog.open) dialog.close();
      dialog.dataset.count = String(ringing.length);
      $("siren-title").textContent = ringing.length > 1
        ? ringing.length + " emergency readings waiting"
        : ringing.some((c) => c.kind === "staff") ? "No reader has answered" : "Emergency reading";
      Alarm.siren(ringing.length > 0);
      this.flashTitle(ringing.length > 0);
      syncSoundButton();
    },

    flashTitle(on) {
      if (on && !this.titleTimer) {
        this.savedTitle = document.title;
        let flip = false;
        this.titleTimer = setInterval(() => {
          flip = !flip;
          document.title = flip ? "🚨 Emergency reading" : this.savedTitle;
        }, 1000);
      } else if (!on && this.titleTimer) {
        clearInterval(this.titleTimer);
        this.titleTimer = null;
        document.title = this.savedTitle;
      }
    },
  };

  function syncSoundButton() {
    const b = $("siren-sound");
    if (!b) return;
    const state = Alarm.blocked ? "blocked" : Alarm.muted ? "muted" : "on";
    b.dataset.state = state;
    b.replaceChildren(icon(state === "on" ? "sound" : "muted"),
      el("span", null, state === "blocked" ? "Turn on sound" : "Mute"));
    b.setAttribute("aria-pressed", String(state === "muted"));
    b.setAttribute("aria-label", state === "blocked" ? "Turn on the alarm sound" : "Mute the alarm");
  }

  function cardShell(card, who) {
    const r = card.request;
    const li = el("li", "siren-card siren-card--" + card.kind);
    li.dataset.requestId = r.id;
    li.dataset.state = "ringing";
    li.setAttribute("aria-label", "Emergency request from " + r.client.first_name);
    const head = el("p", "siren-who");
    head.append(el("strong", null, r.client.first_name), document.createTextNode(" " + who));
    li.append(head);
    const reason = el("blockquote", "siren-reason" + (r.reason ? "" : " is-empty"), r.reason || "No reason given.");
    li.append(reason);
    const timer = el("div", "siren-timer");
    const label = el("span", "siren-timer-label");
    const value = el("span", "siren-timer-value");
    value.setAttribute("role", "timer");
    const bar = el("div", "siren-bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = el("span");
    bar.append(fill);
    timer.append(label, value, bar);
    li.append(timer);
    everySecond(li, () => {
      const req = card.request;
      const due = at(req.next_step_at);
      const countdown = card.kind === "reader" && req.status === "pending" && Number.isFinite(due) && due > Date.now();
      if (countdown) {
        const span = Math.max(1, due - at(req.created_at));
        label.textContent = "Our team is alerted in";
        value.textContent = clock(due - Date.now());
        fill.style.inlineSize = Math.max(0, Math.min(100, ((due - Date.now()) / span) * 100)) + "%";
        bar.hidden = false;
      } else {
        label.textContent = req.status === "escalated" && card.kind === "reader" ? "Our team is alerted · waiting" : "Waiting";
        value.textContent = clock(Date.now() - at(req.created_at));
        bar.hidden = true;
      }
    });
    card.refresh = () => {
      reason.textContent = card.request.reason || "No reason given.";
    };
    return li;
  }

  function cardFooter(li) {
    const note = el("p", "siren-note");
    note.setAttribute("role", "status");
    note.hidden = true;
    li.append(note);
    return note;
  }

  // --- reader: on call, the siren, accept and decline ---------------------------------------
  const Reader = {
    onCall: false,
    declinedKey: null,
    declined: new Set(),

    init(onCall) {
      this.declinedKey = "samia.declined." + me.id;
      this.declined = stored(this.declinedKey);
      const sw = $("on-call");
      sw.addEventListener("click", () => this.toggle());
      // Another tab declined: stop ringing here too.
      window.addEventListener("storage", (e) => {
        if (e.key !== this.declinedKey) return;
        this.declined = stored(this.declinedKey);
        this.declined.forEach((id) => Siren.close(id));
      });
      this.set(onCall);
      for (const r of ctx.boot.emergencies || []) this.ring(r);
    },

    set(onCall) {
      this.onCall = !!onCall;
      const sw = $("on-call");
      sw.setAttribute("aria-checked", String(this.onCall));
      document.body.dataset.onCall = String(this.onCall);
      // An applicant's switch is disabled, with the reason in its hint.
      if ($("on-call-hint").dataset.fixed) return;
      $("on-call-hint").textContent = this.onCall
        ? "You'll be rung for emergency readings."
        : "Turn on to be rung for emergency readings.";
      if (!this.onCall) Siren.closeAll("reader");
    },

    async toggle() {
      const sw = $("on-call");
      if (sw.getAttribute("aria-busy") === "true") return;
      Alarm.unlock(); // this tap is the gesture that lets a later siren be heard
      sw.setAttribute("aria-busy", "true");
      const res = await call("POST", "/readers/me/on-call", { on_call: !this.onCall });
      sw.removeAttribute("aria-busy");
      if (res.ok) this.set(res.data.on_call);
      else toast(res.message, { tone: "error" });
    },

    onEvent(ev) {
      if (ev.type === "on_call.updated") {
        this.set(ev.on_call);
        // The socket joined the siren group just before this event: fetch what rang before.
        if (ev.on_call) catchUp();
      } else if (ev.type === "emergency.requested") {
        if (this.onCall) this.ring(ev.request);
      } else if (ev.type === "emergency.taken") {
        const mine = ev.taken_by && ev.taken_by.id === me.id;
        Siren.close(ev.request_id, mine ? "You accepted this in another tab." : "Taken by another reader");
      } else if (ev.type === "emergency.closed") {
        Siren.close(ev.request_id, ev.status === "cancelled" ? "The client cancelled" : "No longer waiting: the request expired");
      }
    },

    ring(request) {
      if (!OPEN.includes(request.status) || this.declined.has(request.id)) return;
      Siren.add(request, "reader");
      planDeadline();
    },

    async refresh() {
      const asked = Date.now();
      const res = await call("GET", "/emergencies");
      if (!res.ok) return;
      const open = new Map(res.data.map((r) => [r.id, r]));
      res.data.forEach((r) => this.ring(r));
      for (const card of Siren.cards.values()) {
        // Gone from the open list while we were not looking: someone took it, or it ended.
        if (card.kind === "reader" && card.state === "ringing" && !open.has(card.request.id) && card.addedAt < asked) {
          Siren.close(card.request.id, "No longer waiting");
        }
      }
    },

    async accept(card, li) {
      const id = card.request.id;
      const note = li.querySelector(".siren-note");
      li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      li.dataset.busy = "true";
      const res = await call("POST", `/emergencies/${id}/accept`);
      if (res.ok) {
        card.state = "accepted";
        li.dataset.state = "accepted";
        note.textContent = "Opening the reading with " + card.request.client.first_name + "…";
        note.hidden = false;
        Alarm.siren(false);
        Siren.flashTitle(false);
        window.location.href = "/s/" + res.data.session_id + "/";
        return;
      }
      delete li.dataset.busy;
      if (res.code === "ALREADY_TAKEN") Siren.close(id, "Taken by another reader");
      else if (res.code === "EMERGENCY_CLOSED" || res.status === 404) Siren.close(id, res.message);
      else {
        li.querySelectorAll("button").forEach((b) => { b.disabled = false; });
        note.textContent = res.message;
        note.hidden = false;
      }
    },

    async decline(card) {
      const id = card.request.id;
      this.declined.add(id);
      store(this.declinedKey, this.declined);
      Siren.close(id);
      // Recorded on the request's timeline; the siren is gone whatever the answer.
      await call("POST", `/emergencies/${id}/decline`);
    },
  };

  function readerCard(card) {
    const li = cardShell(card, "needs a reader now");
    const actions = el("div", "siren-actions");
    const accept = button("btn btn-accept", "Accept", () => Reader.accept(card, li));
    accept.setAttribute("aria-label", "Accept the emergency reading with " + card.request.client.first_name);
    const decline = button("btn btn-decline", "Decline", () => Reader.decline(card));
    decline.setAttribute("aria-label", "Decline the emergency reading with " + card.request.client.first_name);
    actions.append(accept, decline);
    li.append(actions);
    cardFooter(li);
    return li;
  }

  // --- client: ask for an emergency reading, then wait ----------------------------------------
  const Client = {
    request: null,
    leaving: false,

    init() {
      const dialog = $("em-request");
      const form = $("em-request-form");
      const reason = $("em-reason");
      const syncCount = counter(reason, $("em-reason-count"), 500);
      $("emergency-btn").addEventListener("click", () => {
        if (this.request) { this.showWaiting(); return; }
        $("em-request-error").hidden = true;
        dialog.showModal();
        reason.focus();
      });
      $("em-request-cancel").addEventListener("click", () => dialog.close());
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const send = $("em-request-send");
        send.disabled = true;
        const res = await call("POST", "/emergencies", { reason: reason.value.trim() });
        send.disabled = false;
        if (res.ok || res.code === "EMERGENCY_OPEN") {
          dialog.close();
          reason.value = "";
          syncCount();
          if (res.ok) this.update(res.data); else await this.refresh();
          return;
        }
        const box = $("em-request-error");
        box.textContent = res.status === 429
          ? res.message + " You can ask again " + whenAgain(res.retryAfter) + "."
          : res.message;
        box.hidden = false;
      });

      const waiting = $("em-waiting");
      guardDialog(waiting, () => !!this.request && OPEN.includes(this.request.status));
      $("em-wait-cancel").addEventListener("click", () => this.cancelOrClose());
      everySecond(waiting, () => {
        if (this.request) $("em-wait-elapsed").textContent = clock(Date.now() - at(this.request.created_at));
      });
      const open = (ctx.boot.emergencies || []).find((r) => OPEN.includes(r.status));
      if (open) this.update(open);
    },

    showWaiting() {
      const waiting = $("em-waiting");
      if (!waiting.open) waiting.showModal();
    },

    /** Show what happened to the request: ringing, escalated, answered or over. */
    update(request) {
      if (this.leaving) return; // on the way to the session already
      if (this.request && request.id !== this.request.id && !OPEN.includes(request.status)) return;
      this.request = request;
      const r = request;
      const status = $("em-wait-status");
      const sub = $("em-wait-sub");
      const cancel = $("em-wait-cancel");
      const screen = $("em-waiting");
      screen.dataset.status = r.status;
      $("em-wait-error").hidden = true;
      const reason = $("em-wait-reason");
      reason.textContent = r.reason ? "“" + r.reason + "”" : "";
      reason.hidden = !r.reason;
      cancel.textContent = "Cancel request";
      cancel.disabled = false;
      if (r.status === "pending") {
        const rung = rungOf(r);
        status.textContent = rung ? "Ringing " + plural(rung, "reader", "readers") + "…" : "Looking for a reader…";
        sub.textContent = (rung ? "Stay here: the first to answer opens a reading with you. " : "No reader is on call this minute. ")
          + "If no one answers within " + plural(ctx.boot.emergency_settings.escalate_staff_seconds, "second", "seconds")
          + ", our team steps in.";
      } else if (r.status === "escalated") {
        status.textContent = "Escalated to our team…";
        sub.textContent = "Someone from SAMIA is finding a reader for you right now. Stay here.";
      } else if (r.status === "accepted") {
        this.opened(r.accepted_by, r.session_id);
      } else if (r.status === "cancelled") {
        status.textContent = "Request cancelled.";
        sub.textContent = "";
        cancel.disabled = true;
        setTimeout(() => this.finish(), 1200);
      } else if (r.status === "expired") {
        status.textContent = "No one could answer in time.";
        sub.textContent = "We're so sorry. Please try again in a little while.";
        cancel.textContent = "Close";
      }
      const reached = { pending: 0, escalated: 1, accepted: 2 }[r.status];
      for (const li of screen.querySelectorAll(".em-steps li")) {
        const n = Number(li.dataset.step);
        li.dataset.state = reached === undefined ? "idle" : n < reached ? "done" : n === reached ? "current" : "idle";
        if (n === reached) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
      }
      if (OPEN.includes(r.status) || r.status === "accepted") this.showWaiting();
      planDeadline();
    },

    opened(reader, sessionId) {
      if (this.leaving) return;
      this.leaving = true;
      const screen = $("em-waiting");
      screen.dataset.status = "accepted";
      $("em-wait-status").textContent = ((reader && reader.display_name) || "A reader") + " accepted — opening your reading…";
      $("em-wait-sub").textContent = "";
      $("em-wait-cancel").disabled = true;
      this.showWaiting();
      setTimeout(() => { window.location.href = "/s/" + sessionId + "/"; }, NAVIGATE_DELAY_MS);
    },

    finish() {
      this.request = null;
      const screen = $("em-waiting");
      if (screen.open) screen.close();
      $("emergency-btn").focus();
    },

    async cancelOrClose() {
      const r = this.request;
      if (!r || !OPEN.includes(r.status)) { this.finish(); return; }
      const cancel = $("em-wait-cancel");
      cancel.disabled = true;
      const res = await call("POST", `/emergencies/${r.id}/cancel`);
      if (res.ok) { this.update(res.data); return; }
      cancel.disabled = false;
      if (res.code === "ALREADY_TAKEN" || res.code === "EMERGENCY_CLOSED") { await this.refresh(); return; }
      const box = $("em-wait-error");
      box.textContent = res.message;
      box.hidden = false;
    },

    onEvent(ev) {
      if (ev.type === "emergency.updated" && ev.request.client.id === me.id) this.update(ev.request);
      else if (ev.type === "emergency.accepted") this.opened(ev.reader, ev.session_id);
    },

    async refresh() {
      const res = await call("GET", "/emergencies");
      if (!res.ok) return;
      if (res.data.length) { this.update(res.data[0]); return; }
      if (this.request && OPEN.includes(this.request.status)) {
        // It closed while we were not looking: find out how.
        const one = await call("GET", `/emergencies/${this.request.id}`);
        if (one.ok) this.update(one.data);
      }
    },
  };

  // --- staff: open emergencies and safety alerts -----------------------------------------------
  const Staff = {
    requests: new Map(),
    alerts: new Map(),
    readers: [],
    nodes: new Map(), // "r:<id>" / "a:<id>" -> list item
    dismissedKey: null,
    dismissed: new Set(),

    init() {
      this.dismissedKey = "samia.em-dismissed." + me.id;
      this.dismissed = stored(this.dismissedKey);
      window.addEventListener("storage", (e) => {
        if (e.key !== this.dismissedKey) return;
        this.dismissed = stored(this.dismissedKey);
        for (const r of this.requests.values()) if (this.dismissed.has(this.ringKey(r))) Siren.remove(r.id);
      });
      for (const r of ctx.boot.emergencies || []) this.upsertRequest(r, { quiet: true });
      for (const a of ctx.boot.safety_alerts || []) this.upsertAlert(a, { quiet: true });
      this.render();
      this.loadReaders();
    },

    async loadReaders() {
      const res = await call("GET", "/readers");
      if (!res.ok) return;
      this.readers = res.data;
      document.querySelectorAll("select.em-assign-select").forEach((s) => this.fillReaders(s));
    },

    fillReaders(select) {
      const chosen = select.value;
      const options = [el("option", null, "Assign to…")];
      options[0].value = "";
      for (const r of this.readers) {
        const o = el("option", null, r.display_name + (r.on_call ? " · on call" : ""));
        o.value = String(r.id);
        options.push(o);
      }
      select.replaceChildren(...options);
      select.value = this.readers.some((r) => String(r.id) === chosen) ? chosen : "";
    },

    ringKey(r) { return r.id + ":" + (me.role === "super_admin" ? r.step : "staff"); },

    upsertRequest(r, { quiet = false } = {}) {
      const known = this.requests.get(r.id);
      if (OPEN.includes(r.status)) {
        this.requests.set(r.id, r);
        if (r.status === "escalated" && !this.dismissed.has(this.ringKey(r))) Siren.add(r, "staff");
      } else {
        this.requests.delete(r.id);
        if (known || Siren.cards.has(r.id)) {
          const taker = r.accepted_by;
          const why = r.status === "accepted"
            ? (taker && taker.id === me.id ? "You took it." : (taker ? taker.display_name : "Someone") + " took it.")
            : r.status === "cancelled" ? "The client cancelled." : "Expired unanswered.";
          Siren.close(r.id, why);
          if (!quiet && known && r.status !== "accepted") announce("Emergency from " + r.client.first_name + ": " + why);
        }
      }
      if (!quiet) this.render();
      planDeadline();
    },

    upsertAlert(a, { quiet = false } = {}) {
      const isNew = !this.alerts.has(a.id);
      if (a.status === "resolved") this.alerts.delete(a.id); else this.alerts.set(a.id, a);
      if (quiet) return;
      this.render();
      if (isNew && a.status === "open") {
        Alarm.chime();
        const where = ctx.sessionLabel(a.session_id) || "session " + a.session_id;
        toast("Safety alert in " + where + ": " + a.reason, { tone: "alarm", link: { href: "/s/" + a.session_id + "/", text: "Open" } });
        const node = this.nodes.get("a:" + a.id);
        if (node) node.classList.add("is-new");
      }
    },

    onEvent(ev) {
      if (ev.type === "emergency.updated" || ev.type === "emergency.escalated") this.upsertRequest(ev.request);
      else if (ev.type === "safety.alert") this.upsertAlert(ev.alert);
    },

    async refresh() {
      this.loadReaders(); // who is on call changes: keep the "Assign to…" lists current
      const [reqs, alerts] = await Promise.all([call("GET", "/emergencies"), call("GET", "/safety-alerts")]);
      if (reqs.ok) {
        const open = new Set(reqs.data.map((r) => r.id));
        for (const [id, r] of [...this.requests]) {
          if (!open.has(id)) {
            // Closed while we were not looking: ask how, so the siren can say it.
            const one = await call("GET", `/emergencies/${id}`);
            this.upsertRequest(one.ok ? one.data : { ...r, status: "expired" }, { quiet: true });
          }
        }
        reqs.data.forEach((r) => this.upsertRequest(r, { quiet: true }));
      }
      if (alerts.ok) {
        const open = new Set(alerts.data.map((a) => a.id));
        for (const id of [...this.alerts.keys()]) if (!open.has(id)) this.alerts.delete(id);
        alerts.data.forEach((a) => this.upsertAlert(a, { quiet: !!this.alerts.get(a.id) }));
      }
      this.render();
      planDeadline();
    },

    async assign(r, readerId, busyNode) {
      busyNode.querySelectorAll("button, select").forEach((b) => { b.disabled = true; });
      const res = await call("POST", `/emergencies/${r.id}/assign`, { reader_id: readerId });
      busyNode.querySelectorAll("button, select").forEach((b) => { b.disabled = false; });
      if (res.ok) {
        if (readerId === me.id) {
          Alarm.siren(false);
          window.location.href = "/s/" + res.data.session_id + "/";
          return;
        }
        const reader = this.readers.find((x) => x.id === readerId);
        toast("Assigned to " + (reader ? reader.display_name : "the reader") + ".");
        return;
      }
      toast(res.message, { tone: "error" });
      if (res.code === "ALREADY_TAKEN" || res.code === "EMERGENCY_CLOSED") this.refresh();
    },

    dismiss(r) {
      this.dismissed.add(this.ringKey(r));
      store(this.dismissedKey, this.dismissed);
      Siren.remove(r.id);
      const node = this.nodes.get("r:" + r.id);
      const take = node && node.querySelector(".btn-take");
      if (take) take.focus();
    },

    assignControls(r, host) {
      const wrap = el("div", "em-assign");
      const take = button("btn-sm btn-take", "Take it myself", () => this.assign(this.requests.get(r.id) || r, me.id, host));
      take.setAttribute("aria-label", "Take it myself: " + r.client.first_name + "'s emergency reading");
      const pick = el("div", "em-assign-pick");
      const select = el("select", "em-assign-select");
      select.setAttribute("aria-label", "Reader to assign " + r.client.first_name + "'s emergency to");
      this.fillReaders(select);
      const go = button("btn-sm btn-assign", "Assign", () => {
        if (!select.value) { select.focus(); return; }
        this.assign(this.requests.get(r.id) || r, Number(select.value), host);
      });
      go.setAttribute("aria-label", "Assign " + r.client.first_name + "'s emergency to the chosen reader");
      pick.append(select, go);
      wrap.append(take, pick);
      return wrap;
    },

    render() {
      const reqs = [...this.requests.values()].sort((a, b) =>
        (b.status === "escalated") - (a.status === "escalated") || a.created_at.localeCompare(b.created_at));
      const alerts = [...this.alerts.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
      this.place($("em-list"), reqs.map((r) => this.requestItem(r)));
      this.place($("sa-list"), alerts.map((a) => this.alertItem(a)));
      for (const [key, node] of [...this.nodes]) if (!node.isConnected) this.nodes.delete(key);
      $("em-list-empty").hidden = reqs.length > 0;
      $("sa-list-empty").hidden = alerts.length > 0;
      const escalated = reqs.filter((r) => r.status === "escalated").length;
      const count = $("em-count");
      count.textContent = String(reqs.length);
      count.dataset.level = escalated ? "alarm" : reqs.length ? "open" : "none";
      const saCount = $("sa-count");
      const open = alerts.filter((a) => a.status === "open").length;
      saCount.textContent = String(alerts.length);
      saCount.dataset.level = open ? "alarm" : alerts.length ? "open" : "none";
      $("em-staff").dataset.alarm = String(escalated > 0 || open > 0);
    },

    /** Put the items in order, moving only what moved (a moved node loses focus). */
    place(list, items) {
      const keep = new Set(items);
      [...list.children].forEach((c) => { if (!keep.has(c)) c.remove(); });
      items.forEach((item, i) => { if (list.children[i] !== item) list.insertBefore(item, list.children[i] || null); });
    },

    requestItem(r) {
      const key = "r:" + r.id;
      let li = this.nodes.get(key);
      if (!li) {
        li = el("li", "em-item");
        li.dataset.requestId = r.id;
        const head = el("div", "em-item-head");
        const name = el("strong", "em-item-name", r.client.first_name);
        const chip = el("span", "em-chip");
        const when = el("span", "em-age");
        head.append(el("span", "em-dot"), name, chip, when);
        const reason = el("p", "em-item-reason");
        const step = el("p", "em-item-step");
        li.append(head, reason, step, this.assignControls(r, li));
        everySecond(li, () => {
          const cur = this.requests.get(r.id) || r;
          when.textContent = "waiting " + age(cur.created_at);
        });
        this.nodes.set(key, li);
      }
      li.classList.toggle("is-escalated", r.status === "escalated");
      li.querySelector(".em-chip").textContent = r.status === "escalated" ? "Escalated" : "Ringing";
      li.querySelector(".em-chip").dataset.status = r.status;
      const reason = li.querySelector(".em-item-reason");
      reason.textContent = r.reason || "No reason given.";
      reason.classList.toggle("is-empty", !r.reason);
      const rung = rungOf(r);
      li.querySelector(".em-item-step").textContent = STEP_LABELS[r.step] + (rung !== null ? " · " + plural(rung, "reader", "readers") + " rung" : "");
      li.setAttribute("aria-label", "Emergency from " + r.client.first_name + ", " + (r.status === "escalated" ? "escalated" : "ringing readers"));
      return li;
    },

    alertItem(a) {
      const key = "a:" + a.id;
      let li = this.nodes.get(key);
      if (!li) {
        li = el("li", "sa-item");
        li.dataset.alertId = a.id;
        const head = el("div", "em-item-head");
        const link = el("a", "sa-link");
        link.href = "/s/" + a.session_id + "/";
        const chip = el("span", "em-chip");
        const when = el("span", "em-age");
        head.append(el("span", "em-dot"), link, chip, when);
        const reason = el("p", "em-item-reason sa-reason");
        const by = el("p", "em-item-step sa-by");
        const actions = el("div", "em-assign");
        const ack = button("btn-sm btn-ack", "Acknowledge", () => this.decide(a.id, "acknowledge", li));
        const resolve = button("btn-sm btn-resolve", "Resolve", () => this.decide(a.id, "resolve", li));
        actions.append(ack, resolve);
        li.append(head, reason, by, actions);
        everySecond(li, () => { when.textContent = age((this.alerts.get(a.id) || a).created_at) + " ago"; });
        li.addEventListener("focusin", () => li.classList.remove("is-new"));
        this.nodes.set(key, li);
      }
      const label = ctx.sessionLabel(a.session_id) || "Session " + a.session_id;
      const link = li.querySelector(".sa-link");
      link.textContent = label;
      link.setAttribute("aria-label", "Open the conversation " + label);
      li.dataset.status = a.status;
      const chip = li.querySelector(".em-chip");
      chip.textContent = a.status === "open" ? "Open" : "Acknowledged";
      chip.dataset.status = a.status;
      li.querySelector(".sa-reason").textContent = a.reason;
      const raiser = a.raised_by ? a.raised_by.display_name + " (" + a.raised_by.role + ")" : "someone";
      li.querySelector(".sa-by").textContent = "Raised by " + raiser
        + (a.acknowledged_by ? " · acknowledged by " + (a.acknowledged_by.id === me.id ? "you" : a.acknowledged_by.display_name) : "");
      li.querySelector(".btn-ack").hidden = a.status !== "open";
      li.querySelector(".btn-ack").setAttribute("aria-label", "Acknowledge the safety alert in " + label);
      li.querySelector(".btn-resolve").setAttribute("aria-label", "Resolve the safety alert in " + label);
      li.setAttribute("aria-label", "Safety alert in " + label + ", " + a.status);
      return li;
    },

    async decide(id, action, li) {
      li.classList.remove("is-new");
      li.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      const res = await call("POST", `/safety-alerts/${id}/${action}`);
      li.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      if (res.ok) {
        this.upsertAlert(res.data);
        announce(action === "acknowledge" ? "Safety alert acknowledged." : "Safety alert resolved.");
        return;
      }
      toast(res.message, { tone: "error" });
      if (res.code === "ALREADY_DECIDED") this.refresh();
    },
  };

  function staffCard(card) {
    const li = cardShell(card, "is still waiting");
    const actions = el("div", "siren-actions siren-actions--staff");
    const controls = Staff.assignControls(card.request, li);
    const later = button("btn btn-decline", "Not now", () => Staff.dismiss(card.request));
    later.title = "Silence this alert; the request stays in the panel";
    actions.append(controls, later);
    li.append(actions);
    cardFooter(li);
    return li;
  }

  // --- in a thread: raise a safety alert ---------------------------------------------------------
  function initSafety(sessionId) {
    const btn = $("safety-btn");
    const dialog = $("safety-dialog");
    if (!btn || !dialog) return;
    btn.hidden = false;
    const form = $("safety-form");
    const reason = $("safety-reason");
    const error = $("safety-error");
    const done = $("safety-done");
    const syncCount = counter(reason, $("safety-count"), 300);
    btn.addEventListener("click", () => {
      form.hidden = false;
      done.hidden = true;
      error.hidden = true;
      dialog.showModal();
      reason.focus();
    });
    $("safety-cancel").addEventListener("click", () => dialog.close());
    $("safety-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => btn.focus());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        error.textContent = "Say briefly what is wrong.";
        error.hidden = false;
        reason.focus();
        return;
      }
      const send = $("safety-send");
      send.disabled = true;
      const res = await call("POST", `/sessions/${sessionId}/safety-alerts`, { reason: text });
      send.disabled = false;
      if (!res.ok) {
        error.textContent = res.status === 429
          ? "You've sent several alerts just now. Our team has them; you can send another " + whenAgain(res.retryAfter) + "."
          : res.message;
        error.hidden = false;
        return;
      }
      reason.value = "";
      syncCount();
      form.hidden = true;
      done.hidden = false;
      $("safety-done-title").focus();
    });
  }

  // --- catching up ------------------------------------------------------------------------------
  let catchingUp = null;
  function catchUp() {
    if (catchingUp) return catchingUp;
    catchingUp = (async () => {
      try {
        if (me.role === "reader") { if (Reader.onCall) await Reader.refresh(); } else if (me.role === "client") await Client.refresh();
        else if (isStaff()) await Staff.refresh();
      } finally {
        catchingUp = null;
        planDeadline();
      }
    })();
    return catchingUp;
  }

  // When a request's next step falls due, look again a moment later; if the step is late
  // (no worker, or its push never reached us), keep looking, less and less often.
  let deadlineTimer = null;
  let overdueTries = 0;
  function openRequests() {
    if (me.role === "client") return Client.request && OPEN.includes(Client.request.status) ? [Client.request] : [];
    if (me.role === "reader") return Siren.ringing().map((c) => c.request);
    return isStaff() ? [...Staff.requests.values()] : [];
  }
  function planDeadline() {
    clearTimeout(deadlineTimer);
    const due = openRequests().map((r) => at(r.next_step_at)).filter(Number.isFinite);
    if (!due.length) { overdueTries = 0; return; }
    const wait = Math.min(...due) + DEADLINE_GRACE_MS - Date.now();
    let delay;
    if (wait > 0) { overdueTries = 0; delay = wait; } else { delay = Math.min(30000, 2000 * 2 ** overdueTries); overdueTries += 1; }
    deadlineTimer = setTimeout(catchUp, delay);
  }

  // --- wiring --------------------------------------------------------------------------------------
  /**
   * ctx: boot (the page's JSON), csrfToken(), sessionLabel(id) -> a session's title or null.
   */
  function init(context) {
    ctx = context;
    me = ctx.boot.me;
    setInterval(() => clocks.forEach((tick) => tick()), 1000);
    const siren = $("em-siren");
    if (siren) {
      guardDialog(siren, () => Siren.cards.size > 0, () => Alarm.mute(true));
      $("siren-sound").addEventListener("click", () => {
        if (Alarm.blocked) { Alarm.unlock(); Alarm.mute(false); } else Alarm.mute(!Alarm.muted);
      });
      Alarm.listeners.add(syncSoundButton);
      // Browsers start audio only after a gesture: the first tap or key anywhere counts.
      const unlock = () => Alarm.unlock();
      document.addEventListener("pointerdown", unlock, { capture: true });
      document.addEventListener("keydown", unlock, { capture: true });
      syncSoundButton();
    }
    if (me.role === "reader") Reader.init(ctx.boot.on_call);
    else if (me.role === "client") Client.init();
    else if (isStaff()) Staff.init();
    const current = ctx.boot.current;
    if (current && !current.read_only && (me.role === "client" || me.role === "reader")) initSafety(current.session.id);
    planDeadline();
  }

  function onEvent(ev) {
    if (!ctx) return;
    if (me.role === "reader") Reader.onEvent(ev);
    else if (me.role === "client") Client.onEvent(ev);
    else if (isStaff()) Staff.onEvent(ev);
  }

  Object.assign(Emergency, { eventTypes: EVENT_TYPES, init, onEvent, catchUp });
})();
