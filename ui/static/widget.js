/*!
 * cs-assistant chat widget: one tag embeds it on any page.
 *
 *   <script src="https://host/widget.js" data-endpoint="https://host"
 *           data-title="Support" data-color="#2f6f4f" data-greeting="Hi!" defer></script>
 *
 * Plain JS, no build step. Every piece of text from the server or the user is written with
 * textContent: this file never uses HTML string APIs.
 */
(function () {
  "use strict";

  if (window.__csaWidget) return;

  var script =
    document.currentScript ||
    (function () {
      var all = document.querySelectorAll("script[src*='widget.js']");
      return all[all.length - 1] || null;
    })();
  if (!script) return;

  var ds = script.dataset || {};
  var scriptUrl = new URL(script.src, document.baseURI);
  var ENDPOINT = String(ds.endpoint || scriptUrl.origin).replace(/\/+$/, "");
  var TITLE = ds.title || "Support";
  var SUBTITLE = ds.subtitle || "We usually answer right away";
  var GREETING = ds.greeting === undefined ? "Hi! How can I help?" : ds.greeting;
  var COLOR = ds.color || "#2f6f4f";
  var POSITION = ds.position === "left" ? "left" : "right";
  var HANDOFF_TEXT = "I'd like to talk to a person";
  var POLL_MS = Math.max(1000, parseInt(ds.pollInterval || "4000", 10) || 4000);
  var STORAGE_KEY = "csa:conversation:" + ENDPOINT;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var uid = "csa-" + Math.random().toString(36).slice(2, 8);

  var STATUS_TEXT = {
    bot: SUBTITLE,
    waiting_for_agent: "Connecting you with a person…",
    agent: "You're chatting with our team",
    closed: "This conversation has ended",
  };

  var state = {
    conversationId: null,
    status: "bot",
    busy: false,
    open: false,
    unread: 0,
    seenAgentIds: {},
    pollTimer: null,
    loaded: false,
  };

  /* ------------------------------------------------------------------ storage */

  function storageGet() {
    try {
      return window.localStorage.getItem(STORAGE_KEY);
    } catch (e) {
      return null;
    }
  }
  function storageSet(value) {
    try {
      if (value) window.localStorage.setItem(STORAGE_KEY, value);
      else window.localStorage.removeItem(STORAGE_KEY);
    } catch (e) {
      /* storage may be disabled: the conversation then lasts one page view */
    }
  }

  /* ------------------------------------------------------------------ DOM helpers */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(paths, size) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 24));
    svg.setAttribute("height", String(size || 24));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG_NS, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    });
    return svg;
  }

  var ICONS = {
    chat: ["M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16h.5A1.5 1.5 0 0 1 4 14.5z"],
    close: ["M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"],
    send: ["M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z"],
    person: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-4.4 0-8 2.2-8 5v1h16v-1c0-2.8-3.6-5-8-5z"],
  };

  function formatTime(date) {
    try {
      return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return "";
    }
  }

  /* ------------------------------------------------------------------ build the widget */

  var root = el("div", "csa-root csa-pos-" + POSITION);
  root.setAttribute("data-csa-status", "bot");
  root.style.visibility = "hidden"; // shown once widget.css has loaded (no flash of unstyled UI)

  var launcher = el("button", "csa-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat: " + TITLE);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", uid + "-panel");
  var launcherOpen = el("span", "csa-launcher-icon csa-launcher-icon--open");
  launcherOpen.appendChild(icon(ICONS.chat, 28));
  var launcherClose = el("span", "csa-launcher-icon csa-launcher-icon--close");
  launcherClose.appendChild(icon(ICONS.close, 26));
  var badge = el("span", "csa-badge");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(launcherOpen);
  launcher.appendChild(launcherClose);
  launcher.appendChild(badge);

  var panel = el("section", "csa-panel");
  panel.id = uid + "-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", uid + "-title");
  panel.hidden = true;

  var header = el("header", "csa-header");
  var avatar = el("span", "csa-avatar");
  avatar.appendChild(icon(ICONS.chat, 20));
  var heading = el("div", "csa-heading");
  var titleEl = el("h2", "csa-title", TITLE);
  titleEl.id = uid + "-title";
  var statusEl = el("p", "csa-status");
  var statusDot = el("span", "csa-status-dot");
  statusDot.setAttribute("aria-hidden", "true");
  var statusText = el("span", "csa-status-text", STATUS_TEXT.bot);
  statusEl.appendChild(statusDot);
  statusEl.appendChild(statusText);
  heading.appendChild(titleEl);
  heading.appendChild(statusEl);
  var closeBtn = el("button", "csa-icon-btn csa-close");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Close chat");
  closeBtn.appendChild(icon(ICONS.close, 20));
  header.appendChild(avatar);
  header.appendChild(heading);
  header.appendChild(closeBtn);

  var log = el("div", "csa-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;

  var quick = el("div", "csa-quick");
  quick.setAttribute("role", "group");
  quick.setAttribute("aria-label", "Suggested replies");
  quick.hidden = true;

  var errorEl = el("p", "csa-error");
  errorEl.setAttribute("role", "alert");
  errorEl.hidden = true;

  var form = el("form", "csa-form");
  form.setAttribute("novalidate", "");
  var inputLabel = el("label", "csa-sr-only", "Type your message");
  inputLabel.htmlFor = uid + "-input";
  var input = el("textarea", "csa-input");
  input.id = uid + "-input";
  input.rows = 1;
  input.placeholder = "Write a message…";
  input.setAttribute("autocomplete", "off");
  var sendBtn = el("button", "csa-send");
  sendBtn.type = "submit";
  sendBtn.setAttribute("aria-label", "Send message");
  sendBtn.appendChild(icon(ICONS.send, 20));
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendBtn);

  var footer = el("div", "csa-footer");
  var humanBtn = el("button", "csa-human");
  humanBtn.type = "button";
  humanBtn.appendChild(icon(ICONS.person, 16));
  humanBtn.appendChild(el("span", null, "Talk to a person"));
  var newBtn = el("button", "csa-link", "Start a new conversation");
  newBtn.type = "button";
  newBtn.hidden = true;
  footer.appendChild(humanBtn);
  footer.appendChild(newBtn);

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(quick);
  panel.appendChild(errorEl);
  panel.appendChild(form);
  panel.appendChild(footer);
  root.appendChild(panel);
  root.appendChild(launcher);

  /* the accent colour: validated, with a readable text colour on top of it */
  function applyColor(color) {
    var ok = window.CSS && CSS.supports ? CSS.supports("color", color) : true;
    if (!ok) return;
    root.style.setProperty("--csa-accent", color);
    var probe = el("span");
    probe.style.color = color;
    probe.style.display = "none";
    root.appendChild(probe);
    var m = getComputedStyle(probe).color.match(/[\d.]+/g);
    root.removeChild(probe);
    if (!m || m.length < 3) return;
    var lum = function (c) {
      c = c / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    var L = 0.2126 * lum(+m[0]) + 0.7152 * lum(+m[1]) + 0.0722 * lum(+m[2]);
    root.style.setProperty("--csa-on-accent", L > 0.45 ? "#1d1d1b" : "#ffffff");
  }

  function injectCss(done) {
    var href = new URL("widget.css", scriptUrl).href;
    var existing = document.querySelector("link[data-csa-widget-css]");
    if (existing) return done();
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-csa-widget-css", "");
    link.onload = done;
    link.onerror = done;
    (document.head || document.documentElement).appendChild(link);
    window.setTimeout(done, 3000); // never stay invisible if the stylesheet hangs
  }

  /* ------------------------------------------------------------------ messages */

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollToBottom(force) {
    if (force || nearBottom()) log.scrollTop = log.scrollHeight;
  }

  var ROLE_NAMES = { customer: "You", bot: TITLE, agent: "Support agent", system: "" };

  function addMessage(role, text, opts) {
    opts = opts || {};
    var stick = nearBottom();
    var row = el("div", "csa-msg csa-msg--" + role);
    if (opts.id !== undefined && opts.id !== null) row.setAttribute("data-id", String(opts.id));
    if (role === "system") {
      row.appendChild(el("p", "csa-note", text));
    } else {
      var who = opts.author && role === "agent" ? opts.author : ROLE_NAMES[role] || role;
      var label = el("span", "csa-sr-only", who + ": ");
      var bubble = el("div", "csa-bubble");
      var body = el("span", "csa-text", text);
      bubble.appendChild(label);
      bubble.appendChild(body);
      row.appendChild(bubble);
      var meta = el("div", "csa-meta");
      if (role === "agent") meta.appendChild(el("span", "csa-meta-who", who + " · "));
      var when = opts.time ? new Date(opts.time) : new Date();
      meta.appendChild(el("span", null, isNaN(when.getTime()) ? "" : formatTime(when)));
      row.appendChild(meta);
      row._csaText = body;
    }
    log.appendChild(row);
    scrollToBottom(stick || role === "customer");
    return row;
  }

  function addTyping() {
    var row = el("div", "csa-msg csa-msg--bot csa-msg--pending");
    var bubble = el("div", "csa-bubble");
    var dots = el("span", "csa-typing");
    dots.setAttribute("aria-label", TITLE + " is typing");
    dots.setAttribute("role", "img");
    for (var i = 0; i < 3; i++) dots.appendChild(el("span", "csa-dot"));
    var body = el("span", "csa-text");
    bubble.appendChild(dots);
    bubble.appendChild(body);
    row.appendChild(bubble);
    row._csaText = body;
    row._csaDots = dots;
    log.appendChild(row);
    scrollToBottom(true);
    return row;
  }

  function setBotText(row, text) {
    var stick = nearBottom();
    if (row._csaDots && row._csaDots.parentNode) {
      row._csaDots.parentNode.removeChild(row._csaDots);
      row._csaDots = null;
      var label = el("span", "csa-sr-only", TITLE + ": ");
      row._csaText.parentNode.insertBefore(label, row._csaText);
    }
    row._csaText.textContent = text;
    scrollToBottom(stick);
  }

  function finishBotRow(row) {
    row.classList.remove("csa-msg--pending");
    if (!row.querySelector(".csa-meta")) row.appendChild(el("div", "csa-meta", formatTime(new Date())));
  }

  function clearLog() {
    while (log.firstChild) log.removeChild(log.firstChild);
    if (GREETING) addMessage("bot", GREETING, { greeting: true });
  }

  function showQuickReplies(options) {
    while (quick.firstChild) quick.removeChild(quick.firstChild);
    var list = (options || []).filter(function (t) {
      return typeof t === "string" && t.trim();
    });
    list.slice(0, 6).forEach(function (text) {
      var b = el("button", "csa-chip", text);
      b.type = "button";
      b.addEventListener("click", function () {
        send(text);
      });
      quick.appendChild(b);
    });
    quick.hidden = list.length === 0;
    if (list.length) scrollToBottom(true);
  }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  /* ------------------------------------------------------------------ status & polling */

  function setStatus(status) {
    if (!STATUS_TEXT[status]) status = "bot";
    var prev = state.status;
    state.status = status;
    root.setAttribute("data-csa-status", status);
    statusText.textContent = STATUS_TEXT[status];
    humanBtn.hidden = status !== "bot";
    newBtn.hidden = status !== "closed";
    if (prev !== status && state.loaded) {
      if (status === "agent") addMessage("system", "A member of our team has joined the chat.");
      if (status === "closed") addMessage("system", "This conversation has been closed.");
    }
    if (status === "waiting_for_agent" || status === "agent") startPolling();
    else stopPolling();
  }

  function startPolling() {
    if (state.pollTimer || !state.conversationId) return;
    state.pollTimer = window.setTimeout(pollOnce, POLL_MS);
  }
  function stopPolling() {
    if (state.pollTimer) window.clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function pollOnce() {
    state.pollTimer = null;
    if (!state.conversationId) return;
    if (document.hidden) {
      state.pollTimer = window.setTimeout(pollOnce, POLL_MS);
      return;
    }
    var id = state.conversationId;
    fetchConversation(id)
      .then(function (conv) {
        if (!conv || id !== state.conversationId) return;
        showError("");
        (conv.messages || []).forEach(function (m) {
          if (m.role === "agent" && !state.seenAgentIds[m.id]) {
            state.seenAgentIds[m.id] = true;
            addMessage("agent", m.text, { id: m.id, time: m.created_at, author: m.author });
            if (!state.open) bumpUnread();
          }
        });
        setStatus(conv.status);
      })
      .catch(function () {
        /* transient: try again on the next tick */
      })
      .then(function () {
        if (state.status === "waiting_for_agent" || state.status === "agent") startPolling();
      });
  }

  function bumpUnread() {
    state.unread += 1;
    badge.textContent = String(state.unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", "Open chat: " + TITLE + " (" + state.unread + " new)");
  }

  /* ------------------------------------------------------------------ HTTP */

  function HttpError(status, detail) {
    this.status = status;
    this.detail = detail;
  }

  function detailText(body, status) {
    var d = body && body.detail !== undefined ? body.detail : body;
    if (Array.isArray(d)) {
      d = d
        .map(function (x) {
          return x && x.msg ? x.msg : JSON.stringify(x);
        })
        .join("; ");
    } else if (d && typeof d === "object") {
      d = JSON.stringify(d);
    }
    return d ? String(d) : "HTTP " + status;
  }

  function readError(res) {
    return res
      .json()
      .catch(function () {
        return null;
      })
      .then(function (body) {
        throw new HttpError(res.status, detailText(body, res.status));
      });
  }

  function fetchConversation(id) {
    return fetch(ENDPOINT + "/v1/conversations/" + encodeURIComponent(id), {
      headers: { Accept: "application/json" },
      credentials: "omit",
    }).then(function (res) {
      if (res.status === 404) return null;
      if (!res.ok) return readError(res);
      return res.json();
    });
  }

  function postJson(path, payload, accept) {
    return fetch(ENDPOINT + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: accept },
      body: JSON.stringify(payload),
      credentials: "omit",
    });
  }

  function chatOnce(payload) {
    return postJson("/v1/chat", payload, "application/json").then(function (res) {
      if (!res.ok) return readError(res);
      return res.json();
    });
  }

  /** Streams a reply; onDelta(text) per chunk. Resolves with the final JSON. */
  function chatStream(payload, onDelta) {
    var gotDelta = false;
    function fallback(err) {
      if (gotDelta) throw err;
      return chatOnce(payload);
    }
    return postJson("/v1/chat/stream", payload, "text/event-stream")
      .then(
        function (res) {
          if (res.status === 404 || res.status === 405) return chatOnce(payload);
          if (!res.ok) return readError(res);
          if (!res.body || !res.body.getReader) return fallback(new Error("no stream"));
          var reader = res.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          var final = null;

          function handle(block) {
            var event = "message";
            var data = [];
            block.split(/\r?\n/).forEach(function (line) {
              if (!line || line.charAt(0) === ":") return;
              var i = line.indexOf(":");
              var field = i < 0 ? line : line.slice(0, i);
              var value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
              if (field === "event") event = value;
              else if (field === "data") data.push(value);
            });
            if (!data.length) return;
            var parsed;
            try {
              parsed = JSON.parse(data.join("\n"));
            } catch (e) {
              return;
            }
            if (event === "delta" && parsed && typeof parsed.text === "string") {
              gotDelta = true;
              onDelta(parsed.text);
            } else if (event === "final") {
              final = parsed;
            } else if (event === "error") {
              throw new HttpError(0, detailText(parsed, "stream"));
            }
          }

          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) {
                buffer += decoder.decode();
                if (buffer.trim()) handle(buffer);
                if (final) return final;
                throw new Error("The reply was interrupted.");
              }
              buffer += decoder.decode(chunk.value, { stream: true });
              var parts = buffer.split(/\r?\n\r?\n/);
              buffer = parts.pop();
              for (var i = 0; i < parts.length; i++) {
                handle(parts[i]);
                if (final) {
                  reader.cancel().catch(function () {});
                  return final;
                }
              }
              return pump();
            });
          }
          return pump().catch(function (err) {
            if (err instanceof HttpError) throw err;
            return fallback(err);
          });
        },
        function (err) {
          return fallback(err); // network failure before anything arrived
        }
      );
  }

  /* ------------------------------------------------------------------ sending */

  function setBusy(busy) {
    state.busy = busy;
    sendBtn.disabled = busy;
    humanBtn.disabled = busy;
    root.classList.toggle("csa-busy", busy);
    Array.prototype.forEach.call(quick.querySelectorAll("button"), function (b) {
      b.disabled = busy;
    });
  }

  function errorMessage(err) {
    if (err instanceof HttpError) {
      return err.status
        ? "Sorry, something went wrong (" + err.status + "): " + err.detail
        : "Sorry, something went wrong: " + err.detail;
    }
    return "We couldn't reach support. Check your connection and try again.";
  }

  function send(rawText) {
    var text = String(rawText || "").trim();
    if (!text || state.busy) return;
    if (state.status === "closed") startNewConversation(true);
    showError("");
    showQuickReplies([]);
    var fromInput = input.value.trim() === text;
    if (fromInput) {
      input.value = "";
      autosize();
    }
    var mine = addMessage("customer", text);
    var reply = addTyping();
    var streamed = "";
    setBusy(true);

    var payload = { message: text };
    if (state.conversationId) payload.conversation_id = state.conversationId;

    chatStream(payload, function (delta) {
      streamed += delta;
      setBotText(reply, streamed);
    })
      .then(function (res) {
        if (res.conversation_id) {
          state.conversationId = res.conversation_id;
          storageSet(res.conversation_id);
        }
        if (res.reply) setBotText(reply, res.reply);
        else if (!streamed) reply.parentNode.removeChild(reply);
        finishBotRow(reply);
        if (res.action === "clarify") showQuickReplies(res.quick_replies);
        setStatus(res.status || (res.action === "handoff" ? "waiting_for_agent" : state.status));
      })
      .catch(function (err) {
        if (reply.parentNode) reply.parentNode.removeChild(reply);
        if (!streamed && mine.parentNode) {
          mine.parentNode.removeChild(mine);
          if (fromInput && !input.value) {
            input.value = text; // keep what the customer typed
            autosize();
          }
        }
        showError(errorMessage(err));
      })
      .then(function () {
        setBusy(false);
        if (state.open && document.activeElement !== input) input.focus();
      });
  }

  function startNewConversation(keepInput) {
    stopPolling();
    state.conversationId = null;
    state.seenAgentIds = {};
    storageSet(null);
    clearLog();
    showQuickReplies([]);
    showError("");
    setStatus("bot");
    if (!keepInput) input.focus();
  }

  /* ------------------------------------------------------------------ history */

  function restore() {
    var id = storageGet();
    if (!id) {
      state.loaded = true;
      return;
    }
    state.conversationId = id;
    fetchConversation(id)
      .then(function (conv) {
        if (!conv) {
          state.conversationId = null;
          storageSet(null); // unknown (expired, or another server): start fresh
          return;
        }
        (conv.messages || []).forEach(function (m) {
          var role = m.role === "customer" || m.role === "agent" ? m.role : "bot";
          if (role === "agent") state.seenAgentIds[m.id] = true;
          addMessage(role, m.text, { id: m.id, time: m.created_at, author: m.author });
        });
        setStatus(conv.status);
        scrollToBottom(true);
      })
      .catch(function (err) {
        showError(
          err instanceof HttpError
            ? "We couldn't load your earlier messages: " + err.detail
            : "We couldn't reach support to load your earlier messages."
        );
      })
      .then(function () {
        state.loaded = true;
      });
  }

  /* ------------------------------------------------------------------ open / close, events */

  function openPanel() {
    if (state.open) return;
    state.open = true;
    panel.hidden = false;
    root.classList.add("csa-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat");
    state.unread = 0;
    badge.hidden = true;
    scrollToBottom(true);
    input.focus();
  }

  function closePanel(returnFocus) {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    root.classList.remove("csa-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat: " + TITLE);
    if (returnFocus !== false) launcher.focus();
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  launcher.addEventListener("click", function () {
    if (state.open) closePanel();
    else openPanel();
  });
  closeBtn.addEventListener("click", function () {
    closePanel();
  });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      closePanel();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send(input.value);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send(input.value);
    }
  });
  input.addEventListener("input", function () {
    autosize();
    if (!errorEl.hidden) showError("");
  });
  humanBtn.addEventListener("click", function () {
    send(HANDOFF_TEXT);
  });
  newBtn.addEventListener("click", function () {
    startNewConversation(false);
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.pollTimer) {
      stopPolling();
      pollOnce();
    }
  });

  /* ------------------------------------------------------------------ start */

  function mount() {
    applyColor(COLOR);
    clearLog();
    restore();
    injectCss(function () {
      root.style.visibility = "";
    });
  }

  window.__csaWidget = {
    open: openPanel,
    close: closePanel,
    send: send,
    reset: function () {
      startNewConversation(true);
    },
    endpoint: ENDPOINT,
  };

  function attach() {
    document.body.appendChild(root);
    mount();
  }
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);
})();
