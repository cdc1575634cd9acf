/* The chat page: inbox, thread, composer. Renders from the JSON the server embedded,
 * then stays live through SamiaRealtime. Messages are keyed by id, so a message that
 * arrives twice (push and catch-up) is shown once, and the list is always in id order.
 * Sends go through an outbox kept in localStorage: a message typed offline, or whose
 * request failed, is retried with the same client_msg_id until the server has it.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("boot").textContent);
  const me = boot.me;
  const current = boot.current;
  const sessions = new Map(boot.sessions.map((s) => [s.id, s]));
  const $ = (id) => document.getElementById(id);
  const Media = window.SamiaMedia;
  const Emergency = window.SamiaEmergency;
  const Approvals = window.SamiaApprovals;
  const DELETE_WINDOW_MS = 5 * 60 * 1000;
  const TYPING_SHOW_MS = 4000;
  const TYPING_SEND_EVERY_MS = 2000;

  // --- HTTP -----------------------------------------------------------------------------
  function csrfToken() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function api(method, path, body) {
    const res = await fetch("/api" + path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty body */ }
    if (res.status === 401) { window.location.href = "/login/?next=" + encodeURIComponent(location.pathname); }
    return { status: res.status, ok: res.ok, data };
  }

  // --- small helpers ---------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function timeOf(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function shortWhen(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const today = new Date();
    return d.toDateString() === today.toDateString()
      ? timeOf(iso)
      : d.toLocaleDateString([], { day: "numeric", month: "short" });
  }
  function newClientMsgId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  function peerOf(session) {
    const others = session.members.filter((m) => m.id !== me.id);
    return others.find((m) => m.role === "reader") || others[0] || session.members[0];
  }
  function sessionTitle(session) {
    if (me.role === "client" || me.role === "reader") return peerOf(session)?.display_name || "—";
    return session.members.map((m) => m.display_name).join(" · ") || "Session " + session.id;
  }
  function previewText(m) {
    if (!m) return "";
    if (m.status === "deleted") return "Message deleted";
    if (m.status === "redacted") return "Message removed by a moderator";
    const who = m.sender && m.sender.id === me.id ? "You: " : "";
    return who + bodyText(m);
  }
  // A voice note, photo or file has no text of its own: say what it is instead.
  function bodyText(m) {
    return (Media.isMedia(m) && Media.label(m, me.id)) || m.body;
  }
  // A reply preview carries no kind: an empty body is an attachment unless it is a tombstone.
  function quoteText(p) {
    if (p.status === "deleted" || p.status === "redacted") return "Message deleted";
    if (p.body) return p.body;
    const original = thread && thread.messages.get(p.id);
    return (original && bodyText(original)) || "Attachment";
  }

  // --- inbox -----------------------------------------------------------------------------
  function renderInbox() {
    const list = $("session-list");
    const ordered = [...sessions.values()].sort((a, b) =>
      (b.last_activity_at || "").localeCompare(a.last_activity_at || ""));
    list.replaceChildren(...ordered.map(renderSessionItem));
    $("inbox-empty").hidden = ordered.length > 0;
  }

  function renderSessionItem(s) {
    const li = el("li", "session-item" + (s.unread_count ? " has-unread" : ""));
    li.dataset.sessionId = s.id;
    if (current && current.session.id === s.id) li.setAttribute("aria-current", "page");
    const a = el("a");
    a.href = "/s/" + s.id + "/";
    const peer = peerOf(s);
    const avatar = el("div", "avatar" + (peer && peer.online && peer.id !== me.id ? " is-online" : ""),
      (sessionTitle(s)[0] || "?").toUpperCase());
    avatar.setAttribute("aria-hidden", "true");
    const main = el("div", "session-main");
    const name = el("div", "session-name", sessionTitle(s));
    if (s.status !== "active") name.append(el("span", "tag tag--" + s.status, s.status));
    if (s.kind !== "reading") name.append(el("span", "tag", s.kind));
    main.append(name, el("div", "session-preview", previewText(s.last_message) || s.service_name));
    const side = el("div", "session-side", shortWhen(s.last_activity_at));
    if (s.unread_count) {
      const badge = el("span", "unread", String(s.unread_count));
      badge.setAttribute("aria-label", s.unread_count + " unread");
      side.append(badge);
    }
    a.append(avatar, main, side);
    li.append(a);
    return li;
  }

  // --- thread state ------------------------------------------------------------------------
  const thread = current ? {
    id: current.session.id,
    readOnly: current.read_only,
    messages: new Map(),     // id -> message
    lastId: 0,               // highest id we hold: the catch-up cursor
    firstId: null,
    hasMoreBefore: current.page.has_more,
    replyTo: null,
    typingTimer: null,
    lastTypingSent: 0,
    catchingUp: null,
  } : null;

  const outboxKey = thread ? "samia.outbox." + me.id + "." + thread.id : null;
  function loadOutbox() {
    try { return JSON.parse(localStorage.getItem(outboxKey) || "[]"); } catch (_) { return []; }
  }
  function saveOutbox(items) { localStorage.setItem(outboxKey, JSON.stringify(items)); }
  let outbox = thread ? loadOutbox() : [];

  function session() { return sessions.get(thread.id) || current.session; }

  function nearBottom() {
    const w = $("messages-wrap");
    return w.scrollHeight - w.scrollTop - w.clientHeight < 120;
  }
  function scrollToBottom() {
    const w = $("messages-wrap");
    w.scrollTop = w.scrollHeight;
    $("new-pill").hidden = true;
  }

  function otherMembersReadUpTo() {
    const others = session().members.filter((m) => m.id !== me.id);
    return others.length ? Math.min(...others.map((m) => m.last_read_id || 0)) : 0;
  }

  function renderMessage(m) {
    const mine = m.sender && m.sender.id === me.id;
    const system = m.kind === "system";
    const tomb = m.status === "deleted" || m.status === "redacted";
    const li = el("li", "msg " + (system ? "msg--system" : mine ? "msg--mine" : "msg--theirs") +
      (tomb ? " msg--tombstone" : "") + (m.pending ? " msg--pending" : "") + (m.failed ? " msg--failed" : ""));
    if (m.id) li.dataset.id = m.id;
    if (m.client_msg_id) li.dataset.clientMsgId = m.client_msg_id;
    const bubble = el("div", "bubble");
    // Focusable, so keyboard and touch users reach the reply/delete actions too.
    if (!system) bubble.tabIndex = 0;
    if (!mine && !system && me.role !== "client" && me.role !== "reader") {
      bubble.append(el("div", "sender", m.sender ? m.sender.display_name : ""));
    }
    if (m.reply_preview && !tomb) {
      const q = el("div", "quote");
      q.append(el("strong", null, m.reply_preview.sender || ""),
        document.createTextNode(quoteText(m.reply_preview)));
      bubble.append(q);
    }
    if (!tomb && Approvals.isHeld(m)) {
      // Held for review: the sender and staff hear it, everyone else sees its place.
      li.classList.add("msg--media", "msg--" + m.kind, "msg--held", "msg--" + m.status.replace("_", "-"));
      bubble.append(Approvals.renderHeld(m, { mine }));
    } else if (!tomb && Media.isMedia(m)) {
      li.classList.add("msg--media", "msg--" + m.kind);
      bubble.append(Media.renderAttachment(m, { mine }));
    } else {
      bubble.append(document.createTextNode(
        tomb ? (m.status === "deleted" ? "Message deleted" : "Message removed by a moderator") : m.body));
    }
    if (!system) {
      const meta = el("div", "meta");
      meta.append(el("span", null, m.created_at ? timeOf(m.created_at) : ""));
      if (mine && !tomb) {
        let ticks;
        if (m.pending) ticks = el("span", "ticks", "🕓");
        else if (m.id && m.id <= otherMembersReadUpTo()) ticks = el("span", "ticks ticks--read", "✓✓");
        else ticks = el("span", "ticks", "✓");
        ticks.setAttribute("aria-label", m.pending ? "sending" : ticks.textContent === "✓✓" ? "read" : "sent");
        meta.append(ticks);
      }
      bubble.append(meta);
    }
    li.append(bubble);
    if (m.failed) li.append(el("div", "msg-error", m.failed));
    if (!system && !tomb && m.id && !thread.readOnly && session().status === "active") {
      const actions = el("div", "msg-actions");
      const reply = el("button", null, "Reply");
      reply.type = "button";
      reply.addEventListener("click", () => startReply(m));
      actions.append(reply);
      if (mine && Date.now() - new Date(m.created_at).getTime() < DELETE_WINDOW_MS) {
        const del = el("button", null, "Delete");
        del.type = "button";
        del.addEventListener("click", () => deleteMessage(m));
        actions.append(del);
      }
      li.append(actions);
    }
    return li;
  }

  function renderThread() {
    const list = $("messages");
    const ordered = [...thread.messages.values()].sort((a, b) => a.id - b.id);
    const pending = outbox.filter((p) => !ordered.some((m) => m.client_msg_id === p.client_msg_id && m.sender && m.sender.id === me.id));
    list.replaceChildren(...ordered.map(renderMessage), ...pending.map((p) => renderMessage({
      ...p, kind: "text", status: "sent", sender: me, pending: !p.error, failed: p.error,
      reply_preview: p.reply_preview,
    })));
    $("load-earlier").hidden = !thread.hasMoreBefore;
  }

  function renderHeader() {
    const s = session();
    const peer = peerOf(s);
    $("peer-name").textContent = sessionTitle(s);
    const online = me.role === "client" || me.role === "reader"
      ? peer && peer.online
      : s.members.some((m) => m.online);
    $("peer-avatar").textContent = (sessionTitle(s)[0] || "?").toUpperCase();
    $("peer-avatar").classList.toggle("is-online", !!online);
    const bits = [];
    if (me.role === "client" || me.role === "reader") bits.push(online ? "online" : "offline");
    if (s.service_name) bits.push(s.service_name);
    if (s.booking_ref) bits.push(s.booking_ref);
    $("peer-sub").textContent = bits.join(" · ");
    const pill = $("status-pill");
    pill.textContent = s.status;
    pill.dataset.status = s.status;
    const actions = $("status-actions");
    actions.replaceChildren(...(current.status_actions || [])
      .filter((a) => allowedFrom(a).includes(s.status))
      .map((a) => {
        const b = el("button", null, a);
        b.type = "button";
        b.addEventListener("click", () => changeStatus(a));
        return b;
      }));
    const banner = $("readonly-banner");
    const input = $("composer-input");
    let note = "";
    if (thread.readOnly) note = "You are viewing this conversation read-only. Your access is recorded.";
    else if (s.status === "locked") note = "This reading is over. The conversation is read-only.";
    else if (s.status === "paused") note = "This session is paused by our team. You can write again when it resumes.";
    else if (s.status === "ended") note = "This session has ended.";
    banner.textContent = note;
    banner.hidden = !note;
    const canWrite = !thread.readOnly && s.status === "active";
    $("composer").hidden = thread.readOnly;
    input.disabled = !canWrite;
    $("send-btn").disabled = !canWrite;
    $("attach-btn").disabled = !canWrite;
    $("mic-btn").disabled = !canWrite;
    input.placeholder = canWrite ? "Write a message…" : "Messages are closed";
  }

  function allowedFrom(action) {
    return { pause: ["active"], resume: ["paused"], lock: ["active", "paused"], end: ["active", "paused", "locked"] }[action] || [];
  }

  // --- receiving ---------------------------------------------------------------------------
  function addMessages(list) {
    for (const m of list) {
      noteSenderRead(m);
      thread.messages.set(m.id, m);
      if (m.id > thread.lastId) thread.lastId = m.id;
      if (thread.firstId === null || m.id < thread.firstId) thread.firstId = m.id;
      if (m.sender && m.sender.id === me.id && m.client_msg_id) {
        dropFromOutbox(m.client_msg_id);
      }
    }
  }

  // Sending a message moves the sender's read pointer to it (the server does the same).
  function noteSenderRead(m) {
    const s = sessions.get(m.session_id);
    const member = s && m.sender && s.members.find((x) => x.id === m.sender.id);
    if (member) member.last_read_id = Math.max(member.last_read_id || 0, m.id);
  }

  function announce(m) {
    if (!m.sender || m.sender.id === me.id) return;
    $("announcer").textContent = m.kind === "system" ? m.body : m.sender.display_name + ": " + bodyText(m);
  }

  async function catchUp() {
    if (!thread) return;
    if (thread.catchingUp) return thread.catchingUp;
    thread.catchingUp = (async () => {
      try {
        for (let guard = 0; guard < 100; guard++) {
          const res = await api("GET", `/sessions/${thread.id}/messages?after=${thread.lastId}&limit=100`);
          if (!res.ok) return;
          const stick = nearBottom();
          const fresh = res.data.messages.filter((m) => !thread.messages.has(m.id));
          addMessages(res.data.messages);
          renderThread();
          fresh.forEach(announce);
          if (stick || fresh.some((m) => m.sender && m.sender.id === me.id)) scrollToBottom();
          else if (fresh.length) $("new-pill").hidden = false;
          if (!res.data.has_more) break;
        }
        markRead();
      } finally {
        thread.catchingUp = null;
      }
    })();
    return thread.catchingUp;
  }

  // Catch-up brings the messages after the newest one held. A change to one already shown
  // (a held note released or rejected, a deletion, a redaction) pushed while the socket was
  // down comes back with the newest page instead.
  async function refreshRecent() {
    if (!thread) return;
    const res = await api("GET", `/sessions/${thread.id}/messages?limit=100`);
    if (!res.ok) return;
    for (const m of res.data.messages) {
      const known = thread.messages.get(m.id);
      if (known && (known.status !== m.status || !!known.attachment !== !!m.attachment)) {
        onMessageUpdated({ message: m });
      }
    }
  }

  async function refreshInbox() {
    const res = await api("GET", "/sessions");
    if (!res.ok) return;
    sessions.clear();
    res.data.forEach((s) => sessions.set(s.id, s));
    if (thread && current.read_only && !sessions.has(thread.id)) {
      const one = await api("GET", `/sessions/${thread.id}`);
      if (one.ok) sessions.set(thread.id, one.data);
    }
    // The open thread is being read right now, whatever the count fetched a moment ago.
    if (thread && !thread.readOnly && document.visibilityState === "visible" && sessions.has(thread.id)) {
      sessions.get(thread.id).unread_count = 0;
      markRead();
    }
    renderInbox();
    if (thread) { renderHeader(); renderThread(); }
  }

  function onMessageCreated(ev) {
    const m = ev.message;
    const s = sessions.get(m.session_id);
    noteSenderRead(m);
    if (s) {
      // Our own held note may already be here in full (the upload's reply): keep that.
      s.last_message = Approvals.merge(thread && thread.messages.get(m.id), m);
      s.last_activity_at = m.created_at;
      const viewing = thread && thread.id === m.session_id && document.visibilityState === "visible";
      if (m.sender && m.sender.id !== me.id && m.kind !== "system" && !viewing) {
        s.unread_count = (s.unread_count || 0) + 1;
      }
      renderInbox();
    }
    if (!thread || thread.id !== m.session_id || thread.messages.has(m.id)) return;
    if (ev.previous_id && ev.previous_id > thread.lastId) {
      catchUp(); // we missed something in between: fetch it all, in order
      return;
    }
    const stick = nearBottom() || (m.sender && m.sender.id === me.id);
    addMessages([m]);
    renderThread();
    announce(m);
    if (stick) scrollToBottom(); else $("new-pill").hidden = false;
    markRead();
  }

  function onMessageUpdated(ev) {
    const s = sessions.get(ev.message.session_id);
    const inThread = thread && thread.id === ev.message.session_id && thread.messages.has(ev.message.id);
    const known = inThread ? thread.messages.get(ev.message.id) : null;
    const m = Approvals.merge(known || (s && s.last_message && s.last_message.id === ev.message.id ? s.last_message : null), ev.message);
    if (s && s.last_message && s.last_message.id === m.id) { s.last_message = m; renderInbox(); }
    if (inThread) {
      thread.messages.set(m.id, m);
      renderThread();
      // A held note just released: the client hears it now, so say it arrived.
      if (known && known.status === "pending_review" && m.status === "sent") announce(m);
    }
  }

  // To the sender of a held message: the decision and the message as they see it.
  // To reviewers: the new length of the queue.
  function onApprovalDecided(ev) {
    Approvals.onEvent(ev);
    if (ev.subject !== "message" || !ev.message) return;
    onMessageUpdated({ message: ev.message });
    if (ev.status === "rejected" && thread && thread.id === ev.message.session_id) {
      $("announcer").textContent = "Your voice note was not approved" + (ev.reason ? ": " + ev.reason : ".");
    }
  }

  function onSessionUpdated(ev) {
    const incoming = ev.session;
    const known = sessions.get(incoming.id);
    sessions.set(incoming.id, { ...incoming, unread_count: known ? known.unread_count : 0 });
    renderInbox();
    if (thread && thread.id === incoming.id) { renderHeader(); renderThread(); }
  }

  function onTyping(ev) {
    if (!thread || ev.session_id !== thread.id || ev.user.id === me.id) return;
    $("typing").textContent = ev.user.display_name + " is typing…";
    clearTimeout(thread.typingTimer);
    thread.typingTimer = setTimeout(() => { $("typing").textContent = ""; }, TYPING_SHOW_MS);
  }

  function onRead(ev) {
    const s = sessions.get(ev.session_id);
    if (!s) return;
    const member = s.members.find((m) => m.id === ev.user_id);
    if (member) member.last_read_id = Math.max(member.last_read_id || 0, ev.up_to);
    if (ev.user_id === me.id) s.unread_count = 0;
    renderInbox();
    if (thread && thread.id === ev.session_id) renderThread();
  }

  function onPresence(ev) {
    for (const s of sessions.values()) {
      for (const m of s.members) if (m.id === ev.user_id) m.online = ev.online;
    }
    renderInbox();
    if (thread) renderHeader();
  }

  const handlers = {
    "message.created": onMessageCreated,
    "message.updated": onMessageUpdated,
    "session.updated": onSessionUpdated,
    typing: onTyping,
    read: onRead,
    presence: onPresence,
    "approval.requested": Approvals.onEvent,
    "approval.decided": onApprovalDecided,
  };
  // Emergency requests, on-call state and safety alerts are emergency.js's to show.
  for (const type of Emergency.eventTypes) handlers[type] = Emergency.onEvent;

  // --- sending -----------------------------------------------------------------------------
  function dropFromOutbox(clientMsgId) {
    const before = outbox.length;
    outbox = outbox.filter((p) => p.client_msg_id !== clientMsgId);
    if (outbox.length !== before) saveOutbox(outbox);
  }

  let flushing = false;
  let flushTimer = null;
  async function flushOutbox() {
    if (!thread || flushing) return;
    flushing = true;
    clearTimeout(flushTimer);
    try {
      // Oldest first, one at a time, until nothing sendable is left: items queued while
      // a request is in flight are picked up by the same loop, and order is kept.
      for (;;) {
        const item = outbox.find((p) => !p.error);
        if (!item) return;
        let res;
        try {
          res = await api("POST", `/sessions/${thread.id}/messages`, {
            kind: "text", body: item.body, client_msg_id: item.client_msg_id, reply_to: item.reply_to,
          });
        } catch (_) {
          flushTimer = setTimeout(flushOutbox, 3000); // network down: keep it, try again
          return;
        }
        if (res.ok) {
          dropFromOutbox(item.client_msg_id);
          if (!thread.messages.has(res.data.id)) addMessages([res.data]);
          renderThread();
          scrollToBottom();
        } else if (res.status === 429 || res.status >= 500) {
          flushTimer = setTimeout(flushOutbox, res.status === 429 ? 5000 : 3000);
          return;
        } else {
          // The server refused it for good (closed session, too long…): say why, keep the text.
          item.error = (res.data && res.data.error && res.data.error.message) || "Not sent.";
          saveOutbox(outbox);
          renderThread();
        }
      }
    } finally {
      flushing = false;
    }
  }

  function send(text) {
    const item = {
      client_msg_id: newClientMsgId(),
      body: text,
      reply_to: thread.replyTo ? thread.replyTo.id : null,
      reply_preview: thread.replyTo ? {
        id: thread.replyTo.id, sender: thread.replyTo.sender ? thread.replyTo.sender.username : null,
        body: bodyText(thread.replyTo).slice(0, 140), status: thread.replyTo.status,
      } : null,
      created_at: new Date().toISOString(),
    };
    outbox.push(item);
    saveOutbox(outbox);
    cancelReply();
    renderThread();
    scrollToBottom();
    flushOutbox();
  }

  function startReply(m) {
    thread.replyTo = m;
    $("reply-who").textContent = m.sender ? m.sender.display_name : "";
    $("reply-text").textContent = bodyText(m);
    $("reply-bar").hidden = false;
    $("composer-input").focus();
  }
  function cancelReply() {
    thread.replyTo = null;
    $("reply-bar").hidden = true;
  }

  async function deleteMessage(m) {
    if (!window.confirm("Delete this message for everyone?")) return;
    const res = await api("DELETE", `/messages/${m.id}`);
    if (res.ok) { thread.messages.set(res.data.id, res.data); renderThread(); }
    else showError(res);
  }

  async function changeStatus(action) {
    if (action !== "resume" && !window.confirm(`Really ${action} this session?`)) return;
    const res = await api("POST", `/sessions/${thread.id}/status`, { action });
    if (res.ok) onSessionUpdated({ session: res.data });
    else showError(res);
  }

  function showError(res) {
    const box = $("composer-error");
    box.textContent = (res.data && res.data.error && res.data.error.message) || "Something went wrong.";
    box.hidden = false;
    setTimeout(() => { box.hidden = true; }, 6000);
  }

  let readTimer = null;
  function markRead() {
    if (!thread || thread.readOnly || document.visibilityState !== "visible") return;
    clearTimeout(readTimer);
    readTimer = setTimeout(async () => {
      const mine = session().members.find((m) => m.id === me.id);
      if (!mine || thread.lastId <= (mine.last_read_id || 0)) return;
      const res = await api("POST", `/sessions/${thread.id}/read`, { up_to: thread.lastId });
      if (res.ok) {
        mine.last_read_id = res.data.last_read_id;
        const s = sessions.get(thread.id);
        if (s) { s.unread_count = 0; renderInbox(); }
      }
    }, 300);
  }

  async function loadEarlier() {
    const res = await api("GET", `/sessions/${thread.id}/messages?before=${thread.firstId}&limit=50`);
    if (!res.ok) return;
    const w = $("messages-wrap");
    const fromBottom = w.scrollHeight - w.scrollTop;
    addMessages(res.data.messages);
    thread.hasMoreBefore = res.data.has_more;
    renderThread();
    w.scrollTop = w.scrollHeight - fromBottom;
  }

  // --- wiring ------------------------------------------------------------------------------
  let realtimeOpenedBefore = false;
  const realtime = new window.SamiaRealtime({
    url: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/",
    onEvent: (ev) => { const h = handlers[ev.type]; if (h) h(ev); },
    onOpen: () => {
      $("conn-banner").hidden = true;
      document.body.dataset.realtime = "open";
      refreshInbox();
      if (thread && thread.readOnly) realtime.send({ type: "watch", session_id: thread.id });
      if (thread) {
        // The page's own data is fresh on the first connection; after a drop, it is not.
        const reopened = realtimeOpenedBefore;
        catchUp().then(() => { if (reopened) refreshRecent(); });
        flushOutbox();
      }
      realtimeOpenedBefore = true;
      Emergency.catchUp();
      Approvals.refreshCount();
    },
    onDown: () => {
      $("conn-banner").hidden = false;
      document.body.dataset.realtime = "down";
    },
    onUnauthenticated: () => { window.location.href = "/login/"; },
  });

  renderInbox();
  Approvals.initCounter(api);
  Emergency.init({
    boot,
    csrfToken,
    sessionLabel: (id) => (sessions.has(id) ? sessionTitle(sessions.get(id)) : null),
  });
  if (thread) {
    sessions.set(thread.id, { ...current.session, ...(sessions.get(thread.id) || {}) });
    addMessages(current.page.messages);
    renderHeader();
    renderThread();
    scrollToBottom();
    markRead();

    const input = $("composer-input");
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      input.style.height = "";
      send(text);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $("composer").requestSubmit();
      } else if (e.key === "Escape") {
        cancelReply();
      }
    });
    input.addEventListener("input", () => {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 144) + "px";
      const now = Date.now();
      if (now - thread.lastTypingSent > TYPING_SEND_EVERY_MS && input.value.trim()) {
        thread.lastTypingSent = now;
        realtime.send({ type: "typing", session_id: thread.id });
      }
    });
    $("reply-cancel").addEventListener("click", cancelReply);
    Media.initComposer({
      sessionId: thread.id,
      csrfToken,
      canWrite: () => !thread.readOnly && session().status === "active",
      // Withdrawn in My privacy: the recorder explains instead of starting.
      voiceAllowed: () => boot.voice_consent !== false,
      replyTo: () => (thread.replyTo ? thread.replyTo.id : null),
      clearReply: cancelReply,
      onSent: (m) => {
        // The reply is the sender's own view: it beats a held note's public push.
        const known = thread.messages.get(m.id);
        if (!known || (!known.attachment && m.attachment)) addMessages([m]);
        const s = sessions.get(m.session_id);
        if (s && s.last_message && s.last_message.id === m.id) { s.last_message = thread.messages.get(m.id); renderInbox(); }
        renderThread();
        scrollToBottom();
      },
    });
    $("load-earlier").addEventListener("click", loadEarlier);
    $("new-pill").addEventListener("click", scrollToBottom);
    $("messages-wrap").addEventListener("scroll", () => { if (nearBottom()) $("new-pill").hidden = true; });
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") markRead(); });
    window.addEventListener("online", flushOutbox);
  }
  realtime.connect();
})();
