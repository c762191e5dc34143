// Google Identity Services glue for /login: renders the "Continue with Google"
// button and exchanges the returned ID token for a MistralChat session.
// Loaded only when the server has GOOGLE_CLIENT_ID set.
(function () {
  function start() {
    var el = document.getElementById("google-signin");
    if (!el || !window.google || !google.accounts || !google.accounts.id) return false;
    var redirect = el.getAttribute("data-redirect") || "/";
    if (redirect.charAt(0) !== "/" || redirect.indexOf("//") === 0) redirect = "/";
    google.accounts.id.initialize({
      client_id: el.getAttribute("data-client-id"),
      callback: function (resp) {
        fetch("/api/auth/google/token", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ id_token: resp.credential }),
        }).then(function (r) {
          if (r.ok) { window.location.assign(redirect); return; }
          return r.json().then(function (b) {
            var err = document.getElementById("google-error");
            if (err) { err.textContent = (b && b.error) || "Google sign-in failed — please try again"; err.hidden = false; }
          });
        });
      },
    });
    google.accounts.id.renderButton(el, { theme: "outline", size: "large", text: "continue_with", width: 300 });
    return true;
  }
  if (!start()) {
    var tries = 0;
    var timer = setInterval(function () { if (start() || ++tries > 50) clearInterval(timer); }, 200);
  }
})();
