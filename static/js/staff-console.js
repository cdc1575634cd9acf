/* The staff console dashboard's live counters.
 *
 * On the admin index (the element with [data-console-counts]) this opens the one realtime
 * socket (realtime.js, same origin, session cookie) and keeps the cards' counters current:
 * approval.* events carry the new review queue length, which is shown at once; any event
 * that may change a count (approvals, emergencies, safety alerts) fetches every counter
 * again from the server, as does each (re)connection, so a push the socket missed leaves
 * nothing stale. Other admin pages load this file and do nothing.
 */
(function () {
  "use strict";

  const REFRESH_DELAY_MS = 300;        // a burst of events costs one fetch
  const REFRESH_EVERY_MS = 60000;      // and a quiet socket one fetch a minute
  const COUNT_EVENTS = [
    "approval.requested", "approval.decided",
    "emergency.requested", "emergency.taken", "emergency.closed", "emergency.escalated",
    "emergency.accepted", "emergency.updated", "safety.alert", "session.updated",
  ];

  function setText(selector, value) {
    document.querySelectorAll(selector).forEach((node) => {
      node.textContent = String(value);
      const card = node.closest("[data-card]");
      if (card && card.dataset.card === node.dataset.liveCount) {
        card.classList.toggle("is-empty", Number(value) === 0);
      }
    });
  }

  function start() {
    // The dashboard's cards, or a page showing the review queue's length (its heading).
    const board = document.querySelector("[data-console-counts]");
    const pending = document.querySelector("[data-approvals-pending]");
    if ((!board && !pending) || !window.SamiaRealtime) return;
    const countsUrl = board ? board.dataset.consoleCounts : null;
    const status = board ? board.querySelector("[data-console-live]") : null;
    let timer = null;

    function say(state, text) {
      if (board) board.dataset.live = state;
      if (status) status.textContent = text;
    }

    async function refresh() {
      if (!countsUrl) return;
      clearTimeout(timer);
      try {
        const response = await fetch(countsUrl, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) return;
        const counts = await response.json();
        Object.keys(counts).forEach((key) => setText(`[data-live-count="${key}"]`, counts[key]));
      } catch (_) {
        // Offline: the socket's reconnect will fetch again.
      } finally {
        timer = setTimeout(refresh, REFRESH_EVERY_MS);
      }
    }

    function refreshSoon() {
      clearTimeout(timer);
      timer = setTimeout(refresh, REFRESH_DELAY_MS);
    }

    const socket = new window.SamiaRealtime({
      url: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/",
      onOpen: () => { say("on", "live"); refresh(); },
      onDown: () => say("off", "reconnecting…"),
      onUnauthenticated: () => say("off", "signed out: reload the page"),
      onEvent: (event) => {
        if (!event || typeof event.type !== "string") return;
        if (event.type.startsWith("approval.") && typeof event.pending_count === "number") {
          setText("[data-approvals-pending]", event.pending_count);
        }
        if (COUNT_EVENTS.includes(event.type)) refreshSoon();
      },
    });
    say("off", "connecting…");
    socket.connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
