// The share page. The key is in the fragment (#…), which browsers never send
// to a server: a link previewer that fetches this page learns nothing, and
// nothing is revealed until a person clicks "Reveal secret".
"use strict";
(function () {
  const ready = document.getElementById("ready");
  const reveal = document.getElementById("reveal");
  const status = document.getElementById("status");
  const secret = document.getElementById("secret");
  const content = document.getElementById("content");
  const key = decodeURIComponent(location.hash.slice(1));
  const readFlag = "readonce:shown-here";

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  function forgetKey() {
    history.replaceState(null, "", location.pathname + location.search);
  }

  if (!/^[A-Za-z0-9_-]{43}$/.test(key)) {
    if (sessionStorage.getItem(readFlag)) {
      say("This secret has already been read: it was shown once, on this page, and is destroyed now. Reloading cannot bring it back.", "error");
    } else {
      say("This link is incomplete: the part after # is missing or damaged. Ask the sender for the whole link.", "error");
    }
    return;
  }
  ready.hidden = false;

  reveal.addEventListener("click", async function () {
    reveal.disabled = true;
    say("Revealing…");
    let response;
    try {
      response = await fetch("/api/v1/secrets/" + encodeURIComponent(key), { cache: "no-store" });
    } catch (err) {
      say("Could not reach the server. Nothing was revealed; try again.", "error");
      reveal.disabled = false;
      return;
    }
    if (response.status === 200) {
      const body = await response.json();
      forgetKey();
      sessionStorage.setItem(readFlag, "1");
      ready.hidden = true;
      content.value = body.content;
      secret.hidden = false;
      say("");
      document.getElementById("secret-title").focus();
      return;
    }
    if (response.status === 404) {
      forgetKey();
      ready.hidden = true;
      say("This secret has already been read, or it has expired. Ask the sender to share it again.", "error");
      return;
    }
    // 429 or 503: nothing was shown; the key stays for another try.
    say("The server is busy. Nothing was shown; wait a moment and try again.", "error");
    reveal.disabled = false;
  });

  document.getElementById("copy-secret").addEventListener("click", function () {
    const done = function () { say("Copied.", "ok"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(content.value).then(done, function () { fallback() && done(); });
    } else if (fallback()) {
      done();
    }
  });

  function fallback() {
    content.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
})();
