// Live processing status on the portrait page: poll a small JSON endpoint while anything is
// still being processed, update each badge as its job finishes, and reload once everything is
// done so previews, posters and the marker report appear.
(function () {
  const root = document.querySelector("[data-status-url]");
  const badge = document.querySelector("[data-portrait-status]");
  if (!root || !badge) return;
  const url = root.dataset.statusUrl;
  let delay = 1500;
  function setBadge(el, status, label) {
    if (!el) return;
    el.className = "badge " + status;
    el.textContent = label;
  }
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      data.jobs.forEach((job) => {
        const el = job.video ? document.querySelector(`[data-video-status="${job.video}"]`) : document.querySelector(`[data-job-kind="${job.kind}"]`);
        setBadge(el, job.status, job.label);
      });
      const before = badge.dataset.portraitStatus;
      setBadge(badge, data.status, data.status_label);
      badge.dataset.portraitStatus = data.status;
      if (data.status !== "processing") {
        if (before === "processing") window.location.reload();
        return;
      }
      delay = 1500;
    } catch (e) {
      delay = Math.min(delay * 2, 30000);
    }
    setTimeout(poll, delay);
  }
  if (badge.dataset.portraitStatus === "processing") setTimeout(poll, delay);
})();
