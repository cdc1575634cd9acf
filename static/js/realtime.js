/* The one realtime client: a WebSocket per tab that reconnects with jittered backoff.
 *
 * The socket only pushes. It can drop events (the channel layer is at-most-once, and a
 * closed laptop misses everything), so every (re)connection calls onOpen, where the page
 * catches up from the last message id it has over HTTP. A ping every 25 s keeps presence
 * fresh and detects a dead connection that never closed.
 */
(function () {
  "use strict";

  const PING_EVERY_MS = 25000;
  const PONG_TIMEOUT_MS = 10000;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 15000;

  class SamiaRealtime {
    constructor({ url, onEvent, onOpen, onDown, onUnauthenticated }) {
      this.url = url;
      this.onEvent = onEvent;
      this.onOpen = onOpen || (() => {});
      this.onDown = onDown || (() => {});
      this.onUnauthenticated = onUnauthenticated || (() => {});
      this.attempts = 0;
      this.ws = null;
      this.timers = {};
      window.addEventListener("offline", () => this._drop());
      window.addEventListener("online", () => this._reconnectNow());
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") this._checkAlive();
      });
    }

    connect() {
      clearTimeout(this.timers.retry);
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.attempts = 0;
        this._startPing();
        this.onOpen();
      };
      ws.onmessage = (e) => {
        let event;
        try { event = JSON.parse(e.data); } catch (_) { return; }
        if (event.type === "pong") { clearTimeout(this.timers.pong); return; }
        this.onEvent(event);
      };
      ws.onclose = (e) => {
        if (this.ws !== ws) return; // an old socket we already replaced
        this._stopPing();
        this.ws = null;
        if (e.code === 4401) { this.onUnauthenticated(); return; }
        this.onDown();
        this._scheduleReconnect();
      };
    }

    send(obj) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
    }

    get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

    _scheduleReconnect() {
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempts);
      // Full jitter: a restarted server is not hit by every tab in the same instant.
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.attempts += 1;
      this.timers.retry = setTimeout(() => this.connect(), delay);
    }

    _reconnectNow() {
      if (this.isOpen) return;
      this.attempts = 0;
      if (this.ws) this.ws.close(); else this.connect();
    }

    _drop() {
      // The browser knows the network is gone: say so now instead of waiting for TCP.
      if (this.ws) this.ws.close(4000, "offline");
    }

    _checkAlive() {
      if (!this.isOpen) { this._reconnectNow(); return; }
      this._ping();
    }

    _ping() {
      this.send({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => { if (this.ws) this.ws.close(4000, "no pong"); }, PONG_TIMEOUT_MS);
    }

    _startPing() {
      this._stopPing();
      this.timers.ping = setInterval(() => this._ping(), PING_EVERY_MS);
    }

    _stopPing() {
      clearInterval(this.timers.ping);
      clearTimeout(this.timers.pong);
    }
  }

  window.SamiaRealtime = SamiaRealtime;
})();
