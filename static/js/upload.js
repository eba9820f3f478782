// Upload forms with a progress bar. Without JavaScript the form posts normally; with it, the
// file goes up through XMLHttpRequest so the progress events can drive the bar, and the server's
// validation messages are shown next to their fields.
(function () {
  function clearErrors(form) {
    form.querySelectorAll(".errorlist[data-js]").forEach((el) => el.remove());
  }
  function showErrors(form, errors) {
    Object.entries(errors).forEach(([field, messages]) => {
      const list = document.createElement("ul");
      list.className = "errorlist" + (field === "__all__" ? " nonfield" : "");
      list.dataset.js = "1";
      messages.forEach((text) => {
        const item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
      const input = field === "__all__" ? null : form.querySelector(`[name="${field}"]`);
      if (input && input.parentElement) input.parentElement.insertBefore(list, input);
      else form.prepend(list);
    });
  }
  document.querySelectorAll("form[data-upload-form]").forEach((form) => {
    const box = form.querySelector("[data-upload-progress]");
    const bar = box && box.querySelector("progress");
    const label = box && box.querySelector("[data-upload-percent]");
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return;
      event.preventDefault();
      clearErrors(form);
      const button = form.querySelector("button[type=submit]");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable || !bar) return;
        const pct = Math.round((100 * e.loaded) / e.total);
        bar.value = pct;
        label.textContent = pct < 100 ? pct + "%" : form.dataset.processingText || "…";
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* an HTML error page */ }
        if (body.redirect) { window.location.assign(body.redirect); return; }
        if (box) box.hidden = true;
        if (button) button.disabled = false;
        const fallback = xhr.status === 413 ? form.dataset.msgTooLarge : form.dataset.msgFailed;
        showErrors(form, body.errors || { __all__: [fallback + " (" + xhr.status + ")"] });
      });
      xhr.addEventListener("error", () => {
        if (box) box.hidden = true;
        if (button) button.disabled = false;
        showErrors(form, { __all__: [form.dataset.msgNetwork] });
      });
      if (box) box.hidden = false;
      if (button) button.disabled = true;
      xhr.send(new FormData(form));
    });
  });
})();
