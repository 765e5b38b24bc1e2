// The create page: post the secret, show the one-time share link.
"use strict";
(function () {
  const form = document.getElementById("create-form");
  const content = document.getElementById("content");
  const ttl = document.getElementById("ttl");
  const create = document.getElementById("create");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const shareURL = document.getElementById("share-url");
  const expires = document.getElementById("expires");
  const wantReceipt = document.getElementById("receipt");
  const receiptResult = document.getElementById("receipt-result");
  const receiptURL = document.getElementById("receipt-url");
  const burn = document.getElementById("burn");
  const passphrase = document.getElementById("passphrase");
  const showPassphrase = document.getElementById("show-passphrase");
  const passphraseNote = document.getElementById("passphrase-note");
  const sealedNote = document.getElementById("sealed-note");
  const e2eNote = document.getElementById("e2e-note");
  const maxPassphraseBytes = 1024;
  let receiptToken = "";
  const maxBytes = Number(content.closest("form").dataset.maxBytes || "0");
  const maxFileBytes = Number(content.closest("form").dataset.maxFileBytes || "0");
  const fileInput = document.getElementById("file");
  const fileInfo = document.getElementById("file-info");
  const clearFile = document.getElementById("clear-file");
  const drop = document.getElementById("drop");

  // End-to-end where the browser can (a secure context): the page posts
  // only ciphertext and the key goes into the link's fragment. Elsewhere
  // (plain http to a non-local host) the server seals it, and the page
  // says so.
  const e2e = window.readonceE2E;

  // fileProblem says what keeps f from being shared, or "".
  function fileProblem(f) {
    if (new TextEncoder().encode(f.name).length > 255) {
      return "its name is too long: at most 255 bytes. Rename it and choose it again";
    }
    if (e2e.nameProblem(f.name)) {
      return e2e.nameProblem(f.name) + ". Rename it and choose it again";
    }
    if (maxFileBytes > 0 && f.size > maxFileBytes) {
      return "too large: at most " + sizeText(maxFileBytes);
    }
    if (f.size === 0) {
      return "it is empty";
    }
    return "";
  }

  // Sign-in, where the server asks for it: the form waits behind a link to
  // the identity provider, and the page says who is signed in.
  const needsLogin = form.dataset.login === "on";
  async function checkSignIn() {
    if (!needsLogin) {
      return;
    }
    let session = { signed_in: false };
    try {
      const response = await fetch("/auth/session", { cache: "no-store" });
      session = await response.json();
    } catch (err) {
      say("Could not reach the server. Reload the page to try again.", "error");
    }
    const signin = document.getElementById("signin");
    const signedIn = document.getElementById("signed-in");
    signin.hidden = session.signed_in === true;
    form.hidden = session.signed_in !== true;
    signedIn.hidden = session.signed_in !== true;
    if (session.signed_in === true) {
      document.getElementById("who").textContent = session.name;
    }
    if (new URLSearchParams(location.search).get("signin") === "failed") {
      say("Signing in did not work. Try again.", "error");
      history.replaceState(null, "", location.pathname);
    }
  }
  if (needsLogin) {
    checkSignIn();
    document.getElementById("signout").addEventListener("click", async function () {
      try {
        await fetch("/auth/logout", { method: "POST", cache: "no-store" });
      } catch (err) { /* the cookie expires on its own */ }
      await checkSignIn();
      document.getElementById("signin-title").focus();
    });
  }

  function chosenFile() {
    return fileInput.files && fileInput.files.length > 0 ? fileInput.files[0] : null;
  }

  function sizeText(n) {
    return n < 1024 ? n + " bytes" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(2) + " MiB";
  }

  // showFile says which file will be shared, and that the text is not:
  // a secret is a text or a file, never both.
  function showFile() {
    const f = chosenFile();
    fileInfo.hidden = !f;
    clearFile.hidden = !f;
    content.disabled = !!f;
    if (f) {
      const problem = fileProblem(f);
      fileInfo.textContent = "Sharing the file " + f.name + " (" + sizeText(f.size) + ")" + (problem ? ": " + problem + "." : ".");
    }
  }

  fileInput.addEventListener("change", showFile);
  clearFile.addEventListener("click", function () {
    fileInput.value = "";
    showFile();
    fileInput.focus();
  });
  drop.addEventListener("dragover", function (event) {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length > 0) {
      fileInput.files = event.dataTransfer.files;
      showFile();
    }
  });

  // base64 of a file's bytes, in chunks (String.fromCharCode takes so many
  // arguments at most).
  function base64Of(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const text = content.value;
    const file = chosenFile();
    if (file && fileProblem(file)) {
      say("That file cannot be shared: " + fileProblem(file) + ".", "error");
      fileInput.focus();
      return;
    }
    if (!file && text.length === 0) {
      say("Write the secret first, or choose a file.", "error");
      content.focus();
      return;
    }
    if (!file && maxBytes > 0 && new TextEncoder().encode(text).length > maxBytes) {
      say("That is too long: at most " + Math.floor(maxBytes / 1024) + " KiB.", "error");
      content.focus();
      return;
    }
    const pass = passphrase.value;
    if (new TextEncoder().encode(pass).length > maxPassphraseBytes) {
      say("The passphrase is too long: at most " + maxPassphraseBytes + " bytes.", "error");
      passphrase.focus();
      return;
    }
    create.disabled = true;
    say("Creating…");
    try {
      const request = { ttl_hours: Number(ttl.value), receipt: wantReceipt.checked };
      let clientKey = "";
      if (e2e.available) {
        // The name and type travel inside the ciphertext, never beside it.
        const secret = file ? { file: { name: file.name, type: file.type, bytes: new Uint8Array(await file.arrayBuffer()) } } : { text: text };
        const sealed = await e2e.encrypt(secret);
        if (file) {
          secret.file.bytes.fill(0);
        }
        request.content_base64 = base64Of(sealed.ciphertext);
        request.media_type = e2e.mediaType;
        clientKey = sealed.key;
      } else if (file) {
        request.content_base64 = base64Of(await file.arrayBuffer());
        request.filename = file.name;
        if (file.type) {
          request.media_type = file.type;
        }
      } else {
        request.content = text;
      }
      if (pass !== "") {
        request.passphrase = pass;
      }
      const response = await fetch("/api/v1/secrets/", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
        cache: "no-store",
      });
      const body = await response.json().catch(function () { return {}; });
      if (response.status === 401 && needsLogin) {
        await checkSignIn();
        say("Your sign-in has expired: sign in again. Nothing was stored.", "error");
        return;
      }
      if (response.status !== 201) {
        let detail = typeof body.detail === "string" ? body.detail : "The server refused the secret.";
        if (Array.isArray(body.detail) && body.detail.length > 0 && typeof body.detail[0].msg === "string") {
          detail = body.detail[0].msg; // a 422: say what is wrong, e.g. with the file's name
        }
        say("Could not create the link: " + detail, "error");
        return;
      }
      content.value = ""; // the secret does not stay on the page, nor its file or passphrase
      fileInput.value = "";
      showFile();
      passphrase.value = "";
      setShown(false);
      passphraseNote.hidden = body.passphrase_required !== true;
      shareURL.value = clientKey ? body.share_url + "." + clientKey : body.share_url;
      sealedNote.hidden = clientKey !== "";
      e2eNote.hidden = clientKey === "";
      expires.textContent = "on " + new Date(body.expires_at).toLocaleString();
      receiptToken = typeof body.receipt_token === "string" ? body.receipt_token : "";
      // The receipt page keeps the token in the fragment, as the share page
      // keeps the key: it is never sent in a request line or a Referer.
      receiptURL.value = receiptToken ? new URL(body.share_url).origin + "/r#" + receiptToken : "";
      receiptResult.hidden = !receiptToken;
      burn.disabled = false;
      form.hidden = true;
      result.hidden = false;
      say("");
      document.getElementById("result-title").focus();
    } catch (err) {
      say("Could not reach the server. Try again.", "error");
    } finally {
      create.disabled = false;
    }
  });

  function setShown(shown) {
    passphrase.type = shown ? "text" : "password";
    showPassphrase.textContent = shown ? "Hide" : "Show";
    showPassphrase.setAttribute("aria-pressed", shown ? "true" : "false");
  }

  showPassphrase.addEventListener("click", function () {
    setShown(passphrase.type === "password");
    passphrase.focus();
  });

  document.getElementById("copy-link").addEventListener("click", function () {
    copy(shareURL.value, shareURL);
  });

  document.getElementById("copy-receipt").addEventListener("click", function () {
    copy(receiptURL.value, receiptURL);
  });

  burn.addEventListener("click", async function () {
    if (!receiptToken) {
      return;
    }
    burn.disabled = true;
    say("Burning…");
    try {
      const response = await fetch("/api/v1/receipts/" + encodeURIComponent(receiptToken), { method: "DELETE", cache: "no-store" });
      const body = await response.json().catch(function () { return {}; });
      if (response.status === 200) {
        say("Burned: nobody can open the link now.", "ok");
        return;
      }
      if (response.status === 409) {
        say(body.state === "revealed" ? "Too late: it was already opened." : "Too late: it has expired.", "error");
        return;
      }
      say("Could not burn it (the server is busy). Try again.", "error");
    } catch (err) {
      say("Could not reach the server. Try again.", "error");
    }
    burn.disabled = false;
  });

  document.getElementById("another").addEventListener("click", function () {
    result.hidden = true;
    form.hidden = false;
    shareURL.value = "";
    receiptURL.value = "";
    receiptToken = "";
    content.focus();
  });

  function copy(text, field) {
    const done = function () { say("Copied.", "ok"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(field) && done(); });
    } else if (fallback(field)) {
      done();
    }
  }

  function fallback(field) {
    field.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
})();
