// Batch upload: drop a ZIP or many files on the page. A ZIP goes up in one request; separate
// files go one request each into a draft batch (so no request carries more than one file and
// each shows its own progress), then the batch is sent for checking. Without JavaScript the form
// posts normally.
(function () {
  const form = document.querySelector("form[data-batch-form]");
  if (!form) return;
  const archiveInput = form.querySelector('input[name="archive"]');
  const filesInput = form.querySelector('input[name="files"]');
  const zone = form.querySelector("[data-dropzone]");
  const summary = form.querySelector("[data-dropzone-summary]");
  const box = form.querySelector("[data-upload-progress]");
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-upload-percent]");
  const button = form.querySelector("button[type=submit]");
  const csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;

  function clearErrors() {
    form.querySelectorAll(".errorlist[data-js]").forEach((el) => el.remove());
  }
  function showError(text) {
    const list = document.createElement("ul");
    list.className = "errorlist nonfield";
    list.dataset.js = "1";
    const item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
    form.prepend(list);
  }
  function firstError(body, status) {
    const errors = (body && body.errors) || {};
    const all = Object.values(errors).flat();
    if (all.length) return all.join(" ");
    return (status === 413 ? form.dataset.msgTooLarge : form.dataset.msgFailed) + " (" + status + ")";
  }
  function describe() {
    const files = Array.from(filesInput.files || []);
    const zip = archiveInput.files && archiveInput.files[0];
    const names = zip ? [zip.name] : files.map((f) => f.name);
    summary.hidden = names.length === 0;
    summary.textContent = names.slice(0, 5).join(", ") + (names.length > 5 ? " … (" + names.length + ")" : "");
  }
  function put(input, files) {
    const transfer = new DataTransfer();
    files.forEach((f) => transfer.items.add(f));
    input.files = transfer.files;
  }

  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    })
  );
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const dropped = Array.from(event.dataTransfer.files || []);
    if (dropped.length === 1 && /\.zip$/i.test(dropped[0].name)) {
      put(archiveInput, dropped);
      put(filesInput, []);
    } else {
      put(filesInput, dropped);
      put(archiveInput, []);
    }
    describe();
  });
  archiveInput.addEventListener("change", describe);
  filesInput.addEventListener("change", describe);

  function send(url, data, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      if (onProgress) xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded));
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* an HTML error page */ }
        resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, body });
      });
      xhr.addEventListener("error", () => resolve({ ok: false, status: 0, body: { errors: { __all__: [form.dataset.msgNetwork] } } }));
      data.append("csrfmiddlewaretoken", csrf);
      xhr.send(data);
    });
  }
  function progress(loaded, total, text) {
    const pct = total ? Math.min(100, Math.round((100 * loaded) / total)) : 0;
    bar.value = pct;
    label.textContent = text || pct + "%";
  }
  function fail(text) {
    box.hidden = true;
    button.disabled = false;
    showError(text);
  }

  async function sendFiles(files) {
    const draftData = new FormData();
    draftData.append("sheet_format", form.querySelector('[name="sheet_format"]').value);
    const draft = await send(form.dataset.draftUrl, draftData);
    if (!draft.ok) return fail(firstError(draft.body, draft.status));
    const total = files.reduce((sum, f) => sum + f.size, 0);
    let sent = 0;
    for (let i = 0; i < files.length; i++) {
      const data = new FormData();
      data.append("file", files[i]);
      const text = form.dataset.msgSending.replace("{name}", files[i].name).replace("{n}", i + 1).replace("{total}", files.length);
      const result = await send(draft.body.add_url, data, (loaded) => progress(sent + loaded, total, text));
      if (!result.ok) {
        send(draft.body.cancel_url, new FormData());
        return fail(files[i].name + ": " + firstError(result.body, result.status));
      }
      sent += files[i].size;
    }
    progress(total, total, form.dataset.processingText);
    const done = await send(draft.body.submit_url, new FormData());
    if (!done.ok) return fail(firstError(done.body, done.status));
    window.location.assign(done.body.redirect || draft.body.redirect);
  }

  async function sendArchive() {
    const data = new FormData(form);
    data.delete("files");
    data.delete("csrfmiddlewaretoken");
    const file = archiveInput.files[0];
    const result = await send(form.action || window.location.href, data, (loaded) =>
      progress(loaded, file.size, loaded >= file.size ? form.dataset.processingText : null)
    );
    if (result.ok && result.body.redirect) return window.location.assign(result.body.redirect);
    fail(firstError(result.body, result.status));
  }

  form.addEventListener("submit", (event) => {
    const files = Array.from(filesInput.files || []);
    const zip = archiveInput.files && archiveInput.files[0];
    if (!files.length && !zip) return; // the server explains what is missing
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    box.hidden = false;
    progress(0, 1);
    if (zip && !files.length) sendArchive();
    else if (files.length && !zip) sendFiles(files);
    else fail(form.dataset.msgFailed);
  });
})();
