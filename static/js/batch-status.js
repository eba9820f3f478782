// Live batch page: while the batch is being checked or made (or its print file prepared), poll
// the small JSON status endpoint, move the progress bar and each row's badge, and reload the
// page when the batch moves to another stage so its new content (review table, downloads) shows.
(function () {
  const root = document.querySelector("[data-batch-root]");
  const badge = document.querySelector("[data-batch-status]");
  if (!root || !badge) return;
  const pendingPrints = (root.dataset.printPending || "").trim().split(/\s+/).filter(Boolean);
  if (!root.dataset.live && !pendingPrints.length) return;
  const url = root.dataset.statusUrl;
  const bar = root.querySelector("[data-batch-progress]");
  const text = root.querySelector("[data-batch-progress-text]");
  let delay = 1500;

  function updateRows(rows) {
    rows.forEach((row) => {
      const tr = root.querySelector(`tr[data-row="${row.number}"]`);
      if (!tr) return;
      const el = tr.querySelector("[data-row-status]");
      if (el) {
        el.className = "badge " + row.status;
        el.textContent = row.label;
      }
      const problems = tr.querySelector("[data-row-problems]");
      if (problems && row.error && !problems.dataset.live) {
        const item = document.createElement("li");
        item.className = "err";
        item.textContent = row.error;
        problems.appendChild(item);
        problems.dataset.live = "1";
      }
    });
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      const data = await response.json();
      if (data.status !== badge.dataset.batchStatus) {
        window.location.reload();
        return;
      }
      if (bar) {
        bar.max = data.progress.total || 1;
        bar.value = data.progress.done;
      }
      if (text) text.textContent = text.textContent.replace(/^\d+(\D+)\d+/, data.progress.done + "$1" + data.progress.total);
      updateRows(data.rows);
      if (pendingPrints.some((fmt) => data.print_files[fmt] === "ready" || data.print_files[fmt] === "failed")) {
        window.location.reload();
        return;
      }
      delay = 1500;
    } catch (e) {
      delay = Math.min(delay * 2, 30000);
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
