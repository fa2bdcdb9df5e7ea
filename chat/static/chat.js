// zchat's room page: shows the backlog, then new messages as they come,
// over a WebSocket (?transport=ws, the default) or by long polling
// (?transport=poll); sends what the user types the same way.
//
// The session: joining (loading this page) set the HttpOnly cookie
// zchat_UID, which this script cannot read; the browser sends it with the
// same-origin fetches and the WebSocket below, which is all the server
// needs.
(function () {
  "use strict";
  const room = DATA.room, uid = DATA.uid;
  const transport = new URLSearchParams(location.search).get("transport") === "poll" ? "poll" : "ws";
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  const input = document.getElementById("message");
  const seen = new Set();
  document.getElementById("title").textContent = room + " — " + uid;
  document.title = "zchat: " + room;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.dataset.transport = transport;
    status.textContent = text;
  }

  function show(m) {
    if (m.room !== room) return;
    const key = m.server + ":" + m.seq;
    if (seen.has(key)) return;
    seen.add(key);
    const li = document.createElement("li");
    li.className = "msg";
    const who = document.createElement("span");
    who.className = "uid";
    who.textContent = m.uid;
    const where = document.createElement("span");
    where.className = "server";
    where.textContent = m.server;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = m.text;
    li.append(who, text, where);
    list.appendChild(li);
    li.scrollIntoView();
  }

  DATA.backlog.forEach(show);

  const enc = encodeURIComponent;
  let send;
  if (transport === "ws") {
    let ws;
    const connect = function () {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(scheme + location.host + "/ws/" + enc(room) + "/" + enc(uid));
      ws.onopen = function () { setStatus("open", "connected (WebSocket)"); };
      ws.onmessage = function (e) {
        const m = JSON.parse(e.data);
        if (m.error) setStatus("open", "refused: " + m.error);
        else show(m);
      };
      ws.onclose = function () {
        setStatus("closed", "disconnected, retrying…");
        setTimeout(connect, 1000);
      };
    };
    connect();
    send = function (text) { ws.send(text); };
  } else {
    const poll = async function () {
      for (;;) {
        try {
          const r = await fetch("/poll/" + enc(uid), { method: "POST", credentials: "same-origin" });
          // 403: the session is gone (the server forgot an idle user);
          // loading the page again joins again.
          if (r.status === 403) { location.reload(); return; }
          if (!r.ok) throw new Error("poll: " + r.status);
          setStatus("open", "connected (long polling)");
          (await r.json()).forEach(show);
        } catch (e) {
          setStatus("closed", "disconnected, retrying…");
          await new Promise(function (ok) { setTimeout(ok, 1000); });
        }
      }
    };
    poll();
    send = function (text) {
      fetch("/put/" + enc(room) + "/" + enc(uid), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "message=" + enc(text),
      }).then(function (r) {
        if (!r.ok) r.text().then(function (t) { setStatus("open", "refused: " + r.status + " " + t.trim()); });
      });
    };
  }

  document.getElementById("say").addEventListener("submit", function (e) {
    e.preventDefault();
    const text = input.value.trim();
    if (text) send(text);
    input.value = "";
  });
})();
