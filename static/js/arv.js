// Small behaviours for every page, kept out of the HTML so the Content-Security-Policy can forbid
// inline scripts: confirmations before destructive posts, and selects that submit on change.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
