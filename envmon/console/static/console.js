// envmon console: live updates, ages, the signature dialog. No inline script
// anywhere (Content-Security-Policy: script-src 'self').
"use strict";

(function () {
  const body = document.body;

  // --- ages: "12 min" next to each <time data-age> ---------------------------
  function ageLabel(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
    return Math.floor(s / 86400) + " d " + String(Math.floor((s % 86400) / 3600)).padStart(2, "0") + " h";
  }
  function refreshAges() {
    const now = Date.now();
    document.querySelectorAll("time[data-age]").forEach(function (el) {
      const t = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(t)) el.textContent = ageLabel((now - t) / 1000);
    });
  }
  setInterval(refreshAges, 5000);

  // --- live parts: refetched when the journal changes --------------------------
  function signedOut() {
    window.location.assign("/signin?expired=1");
  }
  function refreshLive() {
    document.querySelectorAll("[data-live-src]").forEach(function (el) {
      fetch(el.getAttribute("data-live-src"), {
        headers: { "X-Envmon-Live": "1" },
        credentials: "same-origin",
        redirect: "manual",
      }).then(function (resp) {
        if (resp.status === 401 || resp.type === "opaqueredirect") { signedOut(); return null; }
        return resp.ok ? resp.text() : null;
      }).then(function (html) {
        if (html !== null && html !== undefined) {
          el.innerHTML = html;
          refreshAges();
          // The tab shows how many alarms wait for acknowledgement.
          const titled = el.querySelector("[data-title]");
          if (titled) document.title = titled.getAttribute("data-title");
        }
      }).catch(function () { /* the next change tries again */ });
    });
  }
  let lastSeq = parseInt(body.getAttribute("data-seq") || "-1", 10);
  function listen() {
    const source = new EventSource("/events?seq=" + lastSeq);
    source.addEventListener("head", function (ev) {
      const seq = parseInt(ev.data, 10);
      if (seq !== lastSeq) { lastSeq = seq; refreshLive(); }
    });
    source.addEventListener("expired", function () { source.close(); signedOut(); });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused outright (signed out, or the console restarted): ask once.
        setTimeout(function () {
          fetch("/session", { headers: { "X-Envmon-Live": "1" } }).then(function (r) {
            if (r.status === 401) signedOut(); else listen();
          }).catch(function () { setTimeout(listen, 5000); });
        }, 2000);
      }
    };
  }
  if (body.hasAttribute("data-live")) listen();

  // --- the signature dialog ------------------------------------------------------
  // The form comes from the server (GET /sign/...?fragment=1) and is posted with
  // fetch; a refusal comes back as the form with its reason, a signature made
  // as X-Envmon-Location, where the result is shown.
  const dialog = document.getElementById("sign-dialog");
  function show(html) {
    dialog.innerHTML = html;
    const form = dialog.querySelector("form");
    if (form) form.addEventListener("submit", submitForm);
    dialog.querySelectorAll("[data-close]").forEach(function (el) {
      el.addEventListener("click", function (ev) { ev.preventDefault(); dialog.close(); });
    });
    if (!dialog.open) dialog.showModal();
    const focus = dialog.querySelector("[role=alert]") && dialog.querySelector("input[type=password]")
      || dialog.querySelector("select, textarea, input:not([type=hidden]), button, .button");
    if (focus) focus.focus();
  }
  function showText(text) {
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    show('<div class="signform"><div class="buttons"><button type="button" data-close>Close</button></div></div>');
    dialog.querySelector(".signform").prepend(p);
  }
  function submitForm(ev) {
    ev.preventDefault();
    const form = ev.target;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    const csrf = form.querySelector("input[name=csrf]");
    fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRF-Token": csrf ? csrf.value : "",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(new FormData(form)).toString(),
    }).then(function (resp) {
      if (resp.status === 401) { signedOut(); return; }
      const next = resp.headers.get("X-Envmon-Location");
      if (next) { window.location.assign(next); return; }
      const html = (resp.headers.get("Content-Type") || "").indexOf("text/html") === 0;
      return resp.text().then(function (text) { if (html) show(text); else showText(text); });
    }).catch(function () {
      if (button) button.disabled = false;
      showText("The console cannot be reached; nothing was signed. Try again.");
    });
  }
  document.addEventListener("click", function (ev) {
    const link = ev.target.closest("a[data-dialog]");
    if (!link || !dialog || typeof dialog.showModal !== "function") return;
    ev.preventDefault();
    const url = new URL(link.href);
    url.searchParams.set("fragment", "1");
    fetch(url, { credentials: "same-origin", redirect: "manual" }).then(function (resp) {
      if (resp.type === "opaqueredirect" || resp.status === 401) { signedOut(); return null; }
      return resp.text();
    }).then(function (html) { if (html) show(html); });
  });
})();
