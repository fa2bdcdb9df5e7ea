// zchat's room page: shows the backlog, then new messages as they come,
// over a WebSocket (?transport=ws, the default) or by long polling
// (?transport=poll); sends what the user types the same way.
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
      ws.onmessage = function (e) { show(JSON.parse(e.data)); };
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
          const r = await fetch("/poll/" + enc(uid), { method: "POST" });
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
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "message=" + enc(text),
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
