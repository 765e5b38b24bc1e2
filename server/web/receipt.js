// The receipt page. The receipt token is in the fragment (#…), never in a
// request line: the page reads the receipt through the API, which never
// consumes, and can burn a secret that was not opened yet.
"use strict";
(function () {
  const status = document.getElementById("status");
  const section = document.getElementById("receipt");
  const state = document.getElementById("state");
  const when = document.getElementById("when");
  const burn = document.getElementById("burn");
  let token = "";

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  function at(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  function show(r) {
    const words = {
      pending: ["Not opened yet", "It expires on " + at(r.expires_at) + " if nobody opens it."],
      revealed: ["Opened", "It was opened on " + at(r.revealed_at) + " and is destroyed now."],
      burned: ["Burned", "It was burned on " + at(r.burned_at) + ": nobody can open it."],
      expired: ["Expired", "Nobody opened it before " + at(r.expires_at) + "; it is destroyed now."],
    }[r.state] || ["Unknown", ""];
    state.textContent = words[0];
    when.textContent = words[1];
    burn.hidden = r.state !== "pending";
    section.hidden = false;
  }

  async function load() {
    say("Checking…");
    let response;
    try {
      response = await fetch("/api/v1/receipts/" + encodeURIComponent(token), { cache: "no-store" });
    } catch (err) {
      say("Could not reach the server. Try again.", "error");
      return;
    }
    if (response.status === 200) {
      show(await response.json());
      say("");
      return;
    }
    section.hidden = true;
    say(response.status === 404 ? "No such receipt: the link is wrong, or the receipt is past its retention." :
      "The server is busy. Wait a moment and try again.", "error");
  }

  function start() {
    section.hidden = true;
    let raw = location.hash.slice(1);
    try { raw = decodeURIComponent(raw); } catch (e) { raw = ""; }
    if (!/^[A-Za-z0-9_-]{43}$/.test(raw)) {
      token = "";
      say("This receipt link is incomplete: the part after # is missing or damaged.", "error");
      return;
    }
    token = raw;
    load();
  }
  start();
  window.addEventListener("hashchange", start);

  document.getElementById("refresh").addEventListener("click", load);

  burn.addEventListener("click", async function () {
    if (!token) {
      return;
    }
    burn.disabled = true;
    try {
      const response = await fetch("/api/v1/receipts/" + encodeURIComponent(token), { method: "DELETE", cache: "no-store" });
      if (response.status === 200 || response.status === 409) {
        show(await response.json());
        say(response.status === 200 ? "Burned: nobody can open the link now." : "Too late to burn it.", response.status === 200 ? "ok" : "error");
      } else {
        say("Could not burn it (the server is busy). Try again.", "error");
      }
    } catch (err) {
      say("Could not reach the server. Try again.", "error");
    }
    burn.disabled = false;
    document.getElementById("state").focus();
  });
})();
