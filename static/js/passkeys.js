// Once django-otp-webauthn's script has saved a new passkey, go on to the page named by
// data-done-url on #passkey-setup (the recovery codes, or where the person was going).
document.addEventListener("otp_webauthn.register_complete", function () {
  var setup = document.getElementById("passkey-setup");
  if (setup && setup.dataset.doneUrl) {
    window.location.assign(setup.dataset.doneUrl);
  }
});
