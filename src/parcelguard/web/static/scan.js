// The check-a-courier form, made quicker where the browser allows. Progressive enhancement only: without
// this script the form posts the pasted text or the photo and the server does the rest.
//  - A camera with BarcodeDetector: scan the courier's QR code live, fill the text field and submit.
//  - A photo chosen in the file field: submit at once (the server reads the QR code from it).
(function () {
  "use strict";

  var form = document.getElementById("check-form");
  if (!form) { return; }
  var input = document.getElementById("token");
  var photo = document.getElementById("photo");
  var scanner = document.getElementById("scanner");
  var toggle = document.getElementById("scan-toggle");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var submitButton = form.querySelector("button[type=submit]");
  var stream = null;
  var timer = null;
  var sending = false;

  function send() {
    if (sending) { return; }
    sending = true;
    if (submitButton) { submitButton.disabled = true; }
    form.submit();  // not requestSubmit(): no submit event to recurse into
  }

  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    sending = true;
    // Disabled after the submission has begun, so the button's own click still posts the form.
    window.setTimeout(function () { if (submitButton) { submitButton.disabled = true; } }, 0);
  });

  photo.addEventListener("change", function () {
    if (photo.files && photo.files.length > 0) { send(); }
  });

  // Sent back from the browser's cache (Back button): the form is usable again.
  window.addEventListener("pageshow", function () {
    sending = false;
    if (submitButton) { submitButton.disabled = false; }
  });

  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;  // the photo field is the way: the server decodes it
  }

  function stop() {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    video.srcObject = null;
    video.hidden = true;
    status.hidden = true;
    toggle.textContent = form.dataset.scanStart;
  }

  function fail() {
    stop();
    status.textContent = form.dataset.cameraFailed;
    status.hidden = false;
  }

  function start(detector) {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        status.hidden = false;
        toggle.textContent = form.dataset.scanStop;
        return video.play();
      })
      .then(function () { look(detector); })
      .catch(fail);
  }

  function look(detector) {
    if (!stream) { return; }
    detector.detect(video).then(function (codes) {
      var found = codes.find(function (code) { return code.rawValue; });
      if (found) {
        stop();
        input.value = found.rawValue;
        photo.value = "";
        send();
        return;
      }
      timer = window.setTimeout(function () { look(detector); }, 200);
    }).catch(function () {
      timer = window.setTimeout(function () { look(detector); }, 400);  // a frame not ready yet
    });
  }

  var formats = window.BarcodeDetector.getSupportedFormats
    ? window.BarcodeDetector.getSupportedFormats() : Promise.resolve(["qr_code"]);
  formats.then(function (supported) {
    if (supported.indexOf("qr_code") < 0) { return; }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    scanner.hidden = false;
    toggle.addEventListener("click", function () {
      if (stream) { stop(); } else { start(detector); }
    });
  }).catch(function () { /* no camera scanning: the photo field remains */ });
}());
