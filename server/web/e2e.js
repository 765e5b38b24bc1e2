// End-to-end ciphertext, version 1 — the bytes client/e2e/e2e.go writes down:
//
//   0       1        version 0x01
//   1       12       nonce, random
//   13      n + 16   AES-256-GCM(key, nonce, body, "readonce/e2e" ‖ 0x01)
//
// The key (32 random bytes) travels only in the link's fragment:
// /s#<access key>.<key>, base64url without padding. The body is the sealed
// envelopes' (seal/doc.go): kind 0x01 text (u32 length, content) or 0x02
// file (u8 name length, name, u8 type length, type, u32 length, content),
// big-endian, zero-padded to 256 bytes then to a Padmé bucket. The Go
// client and this file open the same vectors (client/e2e/testdata/v1.json).
"use strict";
window.readonceE2E = (function () {
  const version = 1;
  const headerSize = 13;
  const tagSize = 16;
  const mediaType = "application/vnd.readonce.e2e";
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const label = new TextEncoder().encode("readonce/e2e");
  const ad = new Uint8Array(label.length + 1);
  ad.set(label);
  ad[label.length] = version;

  // WebCrypto exists only in a secure context (HTTPS, or localhost).
  const available = !!(window.crypto && window.crypto.subtle && window.isSecureContext);

  function bitLen(n) {
    let l = 0;
    for (; n > 0; n = Math.floor(n / 2)) {
      l++;
    }
    return l;
  }

  // paddedLen: 256 bytes at least, then Padmé (at most 12 % more).
  function paddedLen(n) {
    if (n <= 256) {
      return 256;
    }
    const e = bitLen(n) - 1;
    const s = bitLen(e);
    const step = Math.pow(2, e - s);
    return Math.ceil(n / step) * step;
  }

  // fields is what a secret's body holds before its content.
  function fields(secret) {
    if (!secret.file) {
      return { kind: 1, name: null, type: null, content: new TextEncoder().encode(secret.text) };
    }
    const name = new TextEncoder().encode(secret.file.name || "");
    const type = new TextEncoder().encode(secret.file.type || "");
    if (name.length > 255 || type.length > 255) {
      throw new RangeError("A file name or type of more than 255 bytes");
    }
    return { kind: 2, name: name, type: type, content: secret.file.bytes };
  }

  function bodyLength(f) {
    return paddedLen(5 + f.content.length + (f.kind === 2 ? 2 + f.name.length + f.type.length : 0));
  }

  // ciphertextLength is what encrypt(secret) will post, before base64.
  function ciphertextLength(secret) {
    return headerSize + bodyLength(fields(secret)) + tagSize;
  }

  function body(secret) {
    const f = fields(secret);
    const out = new Uint8Array(bodyLength(f));
    let i = 1;
    out[0] = f.kind;
    if (f.kind === 2) {
      out[i] = f.name.length;
      out.set(f.name, i + 1);
      i += 1 + f.name.length;
      out[i] = f.type.length;
      out.set(f.type, i + 1);
      i += 1 + f.type.length;
    }
    new DataView(out.buffer).setUint32(i, f.content.length);
    out.set(f.content, i + 4);
    return out;
  }

  // parseBody checks the framing exactly as Go does, or returns null.
  function parseBody(b) {
    if (b.length < 5) {
      return null;
    }
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let i = 1;
    let name = null;
    let type = null;
    if (b[0] === 2) {
      for (const which of ["name", "type"]) {
        if (i >= b.length || i + 1 + b[i] > b.length) {
          return null;
        }
        const value = b.subarray(i + 1, i + 1 + b[i]);
        i += 1 + b[i];
        if (which === "name") { name = value; } else { type = value; }
      }
    } else if (b[0] !== 1) {
      return null;
    }
    if (b.length < i + 4) {
      return null;
    }
    const n = view.getUint32(i);
    const start = i + 4;
    if (n > b.length - start || paddedLen(start + n) !== b.length) {
      return null;
    }
    for (let j = start + n; j < b.length; j++) {
      if (b[j] !== 0) {
        return null;
      }
    }
    const content = b.slice(start, start + n);
    const text = new TextDecoder();
    if (b[0] === 1) {
      return { text: text.decode(content) };
    }
    return { file: { name: text.decode(name), type: text.decode(type), bytes: content } };
  }

  function encodeKey(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      const chars = Math.min(4, Math.ceil((bytes.length - i) * 4 / 3));
      for (let j = 0; j < chars; j++) {
        s += alphabet[(n >> (18 - 6 * j)) & 63];
      }
    }
    return s;
  }

  // decodeKey reads a link's key: 43 base64url characters, one spelling
  // only (the last one's two spare bits zero), else null.
  function decodeKey(s) {
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(s) || alphabet.indexOf(s[42]) % 4 !== 0) {
      return null;
    }
    const out = new Uint8Array(32);
    let bits = 0;
    let acc = 0;
    let o = 0;
    for (const c of s) {
      acc = ((acc << 6) | alphabet.indexOf(c)) & 0xffff; // 13 bits at most are pending
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >> bits) & 0xff;
      }
    }
    return out;
  }

  async function aesKey(raw, use) {
    return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [use]);
  }

  // encrypt seals a secret ({text} or {file: {name, type, bytes}}) under a
  // fresh key; keyBytes and nonce are given only by the vector tests.
  async function encrypt(secret, keyBytes, nonce) {
    keyBytes = keyBytes || crypto.getRandomValues(new Uint8Array(32));
    nonce = nonce || crypto.getRandomValues(new Uint8Array(12));
    const plain = body(secret);
    const sealed = new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: ad, tagLength: 128 }, await aesKey(keyBytes, "encrypt"), plain));
    plain.fill(0);
    const out = new Uint8Array(headerSize + sealed.length);
    out[0] = version;
    out.set(nonce, 1);
    out.set(sealed, headerSize);
    return { ciphertext: out, key: encodeKey(keyBytes) };
  }

  // decrypt opens a ciphertext with a link's key: the secret, or null for
  // any failure (a bad key, another version, a changed byte, a bad body).
  async function decrypt(key, ciphertext) {
    const raw = decodeKey(key);
    if (!raw || ciphertext.length < headerSize + tagSize || ciphertext[0] !== version) {
      return null;
    }
    let plain;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: ciphertext.subarray(1, headerSize), additionalData: ad, tagLength: 128 },
        await aesKey(raw, "decrypt"), ciphertext.subarray(headerSize)));
    } catch (e) {
      return null;
    }
    return parseBody(plain);
  }

  // unsafeInName is what the server refuses in a file name it seals
  // (server/decode.go): path separators, control characters, and the
  // bidirectional overrides that make "txt.exe" read as "exe.txt". Inside
  // the ciphertext the server cannot check, so the pages do: the create
  // page refuses such a name, the share page replaces the characters.
  const unsafeInName = /[\/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

  function nameProblem(name) {
    if (name === "." || name === "..") {
      return "it is named . or ..";
    }
    if (new RegExp(unsafeInName.source).test(name)) {
      return "its name holds a slash, a control character or a direction override";
    }
    return "";
  }

  function safeName(name) {
    const cleaned = name.replace(unsafeInName, "_");
    return cleaned === "." || cleaned === ".." ? "_" : cleaned;
  }

  return {
    available: available,
    nameProblem: nameProblem,
    safeName: safeName,
    mediaType: mediaType,
    validKey: function (s) { return decodeKey(s) !== null; },
    ciphertextLength: ciphertextLength,
    encrypt: encrypt,
    decrypt: decrypt,
  };
})();
