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
  const unlock = document.getElementById("unlock");
  const passphrase = document.getElementById("passphrase");
  const attempts = document.getElementById("attempts");
  const unlockButton = document.getElementById("unlock-button");
  const fileSection = document.getElementById("file");
  const fileName = document.getElementById("file-name");
  let key = "";
  // clientKey opens an end-to-end secret: the part after the dot in the
  // fragment, never sent anywhere.
  let clientKey = "";
  const e2e = window.readonceE2E;
  // A revealed file: its bytes stay in this variable, for the Download
  // button, and are never put into the page.
  let file = null;

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  // The page that showed a secret drops the key from its address and marks
  // its own history entry: a reload of that entry says "already read",
  // while any other link opened in the tab is judged on its own.
  function forgetKey(shown) {
    history.replaceState(shown ? { readonce: "shown" } : null, "", location.pathname + location.search);
  }

  // start reads the key from the fragment; it runs on load and again when
  // another link is opened in the same tab (only the fragment changes, so
  // the page is not reloaded).
  function start() {
    ready.hidden = true;
    secret.hidden = true;
    fileSection.hidden = true;
    file = null;
    content.value = "";
    reveal.disabled = false;
    reveal.hidden = false;
    unlock.hidden = true;
    passphrase.value = "";
    unlockButton.disabled = false;
    say("");
    const raw = location.hash.slice(1);
    let fragment = "";
    try {
      fragment = decodeURIComponent(raw);
    } catch (e) { // a damaged %-escape
      fragment = "";
    }
    if (raw === "" && history.state && history.state.readonce === "shown") {
      say("This secret has already been read: it was shown once, on this page, and is destroyed now. Reloading cannot bring it back.", "error");
      return;
    }
    // The access key, and for an end-to-end secret ".key": both checked
    // before anything is asked of the server, so a damaged link consumes
    // nothing.
    const parts = /^([A-Za-z0-9_-]{43})(?:\.([A-Za-z0-9_-]{43}))?$/.exec(fragment);
    key = parts ? parts[1] : "";
    clientKey = parts && parts[2] ? parts[2] : "";
    if (!parts || (clientKey && !e2e.validKey(clientKey))) {
      key = "";
      clientKey = "";
      say("This link is incomplete: the part after # is missing or damaged. Nothing was revealed. Ask the sender for the whole link.", "error");
      return;
    }
    if (clientKey && !e2e.available) {
      key = "";
      clientKey = "";
      say("This secret was encrypted in the sender's browser, and this browser cannot decrypt it here: the page is not served over HTTPS. " +
        "Nothing was revealed. Open the link over HTTPS, or with the readonce command-line tool.", "error");
      return;
    }
    ready.hidden = false;
  }
  start();
  window.addEventListener("hashchange", start);

  reveal.addEventListener("click", async function () {
    if (!key) {
      return;
    }
    const asked = key;
    reveal.disabled = true;
    say("Revealing…");
    let response;
    try {
      response = await fetch("/api/v1/secrets/" + encodeURIComponent(asked), { cache: "no-store" });
    } catch (err) {
      say("Could not reach the server. Nothing was revealed; try again.", "error");
      reveal.disabled = false;
      return;
    }
    if (asked !== key) { // another link was opened meanwhile: this answer is not for it
      return;
    }
    await answered(response);
    reveal.disabled = false;
  });

  // answered shows what a reveal (with a passphrase or without) came back
  // with. Only a 200 consumed the secret; every other answer leaves it as
  // it was, but for the last wrong passphrase.
  async function answered(response) {
    const body = await response.json().catch(function () { return {}; });
    if (response.status === 200) {
      forgetKey(true);
      ready.hidden = true;
      passphrase.value = "";
      say("");
      if (body.media_type === e2e.mediaType && typeof body.content_base64 === "string" && body.filename === null) {
        await decrypted(bytesOf(body.content_base64), clientKey);
        return;
      }
      show(typeof body.content_base64 === "string" ?
        { file: { bytes: bytesOf(body.content_base64), name: typeof body.filename === "string" ? body.filename : "" } } :
        { text: body.content });
      return;
    }
    if (response.status === 404 && body.detail === "Not Found") {
      // No such route: a server older than this page (say, mid-upgrade)
      // has no passphrase reveal. Nothing was read or counted.
      say("The server cannot check passphrases right now (it may be updating). Nothing was revealed; try again in a minute.", "error");
      return;
    }
    if (response.status === 404) {
      forgetKey(false);
      ready.hidden = true;
      say("This secret has already been read, or it has expired. Ask the sender to share it again.", "error");
      return;
    }
    if (response.status === 403 && typeof body.attempts_left === "number") {
      passphrase.value = "";
      if (body.detail === "Wrong passphrase" && body.attempts_left === 0) {
        forgetKey(false);
        ready.hidden = true;
        say("Wrong passphrase, and that was the last attempt: the secret is destroyed. Ask the sender to share it again.", "error");
        return;
      }
      reveal.hidden = true;
      unlock.hidden = false;
      attempts.textContent = body.attempts_left === 1 ? "One wrong attempt left: the next wrong one destroys the secret." :
        body.attempts_left + " wrong attempts left before the secret is destroyed.";
      say(body.detail === "Wrong passphrase" ? "Wrong passphrase. Nothing was revealed; check it and try again." :
        "Enter the passphrase to reveal the secret.", body.detail === "Wrong passphrase" ? "error" : "");
      passphrase.focus();
      return;
    }
    if (response.status === 429) {
      say("Too many tries from your network. Nothing was revealed or counted; wait a minute and try again.", "error");
      return;
    }
    // 503: nothing was shown or counted; the key stays for another try.
    say("The server is busy. Nothing was shown; wait a moment and try again.", "error");
  }

  // decrypted shows an end-to-end secret the server just gave up, opened
  // with the link's key. It is destroyed on the server either way, and a
  // failure says so.
  async function decrypted(ciphertext, withKey) {
    const opened = withKey ? await e2e.decrypt(withKey, ciphertext) : null;
    ciphertext.fill(0);
    if (!opened) {
      say((withKey ? "This secret could not be decrypted: the key in the link is wrong, or the data was altered. " :
        "This secret was encrypted in the sender's browser, and this link lacks its key (the part after the dot). ") +
        "It was revealed, so it is destroyed on the server now. Ask the sender to share it again.", "error");
      return;
    }
    if (opened.file) {
      opened.file.name = e2e.safeName(opened.file.name); // the server could not check a name it never saw
    }
    show(opened);
  }

  // show puts a revealed secret on the page: a text in the box, a file
  // behind the Download button (its bytes are never put into the page).
  function show(revealed) {
    if (revealed.file) {
      file = { bytes: revealed.file.bytes, name: revealed.file.name };
      fileName.textContent = (file.name || "A file without a name") + " — " + file.bytes.length + " bytes";
      fileSection.hidden = false;
      document.getElementById("file-title").focus();
      return;
    }
    content.value = revealed.text;
    secret.hidden = false;
    document.getElementById("secret-title").focus();
  }

  unlock.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!key) {
      return;
    }
    if (passphrase.value === "") {
      say("Type the passphrase first.", "error");
      passphrase.focus();
      return;
    }
    const asked = key;
    unlockButton.disabled = true;
    say("Checking the passphrase…");
    let response;
    try {
      response = await fetch("/api/v1/secrets/" + encodeURIComponent(asked) + "/reveal", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ passphrase: passphrase.value }),
        cache: "no-store",
      });
    } catch (err) {
      say("Could not reach the server. Nothing was revealed or counted; try again.", "error");
      unlockButton.disabled = false;
      return;
    }
    if (asked !== key) {
      return;
    }
    await answered(response);
    unlockButton.disabled = false;
  });

  document.getElementById("burn").addEventListener("click", async function () {
    if (!key) {
      return;
    }
    const asked = key;
    this.disabled = true;
    let response;
    try {
      response = await fetch("/api/v1/secrets/" + encodeURIComponent(asked), { method: "DELETE", cache: "no-store" });
    } catch (err) {
      say("Could not reach the server. Nothing was burned; try again.", "error");
      this.disabled = false;
      return;
    }
    if (asked !== key) {
      return;
    }
    this.disabled = false;
    if (response.status === 204 || response.status === 404) {
      forgetKey(false);
      ready.hidden = true;
      say(response.status === 204 ? "Burned unread: nobody can open this link now." :
        "This secret has already been read, or it has expired.", response.status === 204 ? "ok" : "error");
      return;
    }
    say("The server is busy. Nothing was burned; wait a moment and try again.", "error");
  });

  function bytesOf(b64) {
    const binary = atob(b64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  // Download saves the file: an octet-stream Blob behind a link with the
  // download attribute, so the browser stores it and renders nothing (an
  // .html or .svg file included). The page's CSP lets no blob: URL load as
  // a frame, an image or a script either.
  document.getElementById("download").addEventListener("click", function () {
    if (!file) {
      return;
    }
    const url = URL.createObjectURL(new Blob([file.bytes], { type: "application/octet-stream" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = file.name || "secret.bin";
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    say("Downloaded " + a.download + ".", "ok");
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
