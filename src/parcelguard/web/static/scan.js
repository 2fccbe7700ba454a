// QR fields, made quicker where the browser allows. Progressive enhancement only: without this script a
// form posts the pasted text or the photo and the server reads the code.
// A QR field is an element with data-qr="submit" (scanning or choosing a photo sends its form: checking a
// courier, scanning a label) or data-qr="fill" (scanning fills the field and the person goes on: the
// sender's real-name QR on the pickup form). Inside it: [data-qr-input] (the text field),
// [data-qr-photo] (the file field), [data-qr-scanner] (hidden until a camera can scan) holding
// [data-qr-toggle], a <video> and [data-qr-status]. The form's data-scan-start, data-scan-stop and
// data-camera-failed give the button's and the status's texts in the page's language.
(function () {
  "use strict";

  function guard(form) {
    // One submission at a time; the button is disabled after the submission has begun.
    if (form.dataset.qrGuarded) { return; }
    form.dataset.qrGuarded = "1";
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending) { event.preventDefault(); return; }
      form.dataset.sending = "1";
      window.setTimeout(function () { if (button) { button.disabled = true; } }, 0);
    });
    window.addEventListener("pageshow", function () {  // back from the browser's cache: usable again
      delete form.dataset.sending;
      if (button) { button.disabled = false; }
    });
  }

  function send(form) {
    if (form.dataset.sending) { return; }
    form.dataset.sending = "1";
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    form.submit();  // not requestSubmit(): no submit event to recurse into
  }

  function setup(box) {
    var form = box.closest("form");
    if (!form) { return; }
    var submits = box.dataset.qr === "submit";
    var input = box.querySelector("[data-qr-input]");
    var photo = box.querySelector("[data-qr-photo]");
    var scanner = box.querySelector("[data-qr-scanner]");
    var toggle = box.querySelector("[data-qr-toggle]");
    var video = box.querySelector("video");
    var status = box.querySelector("[data-qr-status]");
    var stream = null;
    var timer = null;
    guard(form);

    if (photo && submits) {
      photo.addEventListener("change", function () {
        if (photo.files && photo.files.length > 0) { send(form); }
      });
    }
    if (!scanner || !("BarcodeDetector" in window) || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia) {
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

    function found(text) {
      stop();
      input.value = text;
      if (photo) { photo.value = ""; }
      input.dispatchEvent(new Event("change", { bubbles: true }));
      if (submits) { send(form); } else { input.focus(); }
    }

    function look(detector) {
      if (!stream) { return; }
      detector.detect(video).then(function (codes) {
        var code = codes.find(function (c) { return c.rawValue; });
        if (code) { found(code.rawValue); return; }
        timer = window.setTimeout(function () { look(detector); }, 200);
      }).catch(function () {
        timer = window.setTimeout(function () { look(detector); }, 400);  // a frame not ready yet
      });
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
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-qr]"), setup);
}());
