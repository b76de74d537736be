// Passkey ceremonies for the e-ID pages: ask the server for options (a challenge it keeps),
// let the browser's authenticator answer, send the answer back, follow the redirect it returns.
(function () {
  "use strict";

  async function post(url, csrf, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || data.detail || response.statusText);
    return data;
  }

  function showError(box, message) {
    const slot = box.querySelector(".field-error");
    slot.textContent = message;
    slot.hidden = false;
  }

  async function login(box) {
    const options = await post("/eid/passkey/login/options", box.dataset.csrf);
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
    const result = await post("/eid/passkey/login", box.dataset.csrf, {
      credential: credential.toJSON(), next: box.dataset.next || "", acr: box.dataset.acr || "",
    });
    window.location.assign(result.redirect);
  }

  async function register(box) {
    const options = await post("/me/passkeys/options", box.dataset.csrf);
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
    const name = box.querySelector("input[name=passkey_name]");
    const result = await post("/me/passkeys", box.dataset.csrf, {
      credential: credential.toJSON(), name: name ? name.value : "",
    });
    window.location.assign(result.redirect);
  }

  document.querySelectorAll("[data-passkey]").forEach((box) => {
    const button = box.querySelector("button");
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) {
      button.disabled = true;
      showError(box, box.dataset.unsupported);
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await (box.dataset.passkey === "register" ? register(box) : login(box));
      } catch (error) {
        showError(box, error.message);
        button.disabled = false;
      }
    });
  });
})();
