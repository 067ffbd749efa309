// Progressive enhancement only: every page works without this file.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  const text = source.value !== undefined ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    source.select && source.select();
    document.execCommand && document.execCommand("copy");
  }
  button.textContent = "Copied";
  button.dataset.copied = "true";
});
// Focus for keyboard and screen-reader users (issue 13). A confirmation puts focus on its own
// heading (the `autofocus` attribute, no script needed). Coming back from one, focus goes to the
// control the address's #fragment names (the switch that was toggled, the link that was followed),
// or else to the message saying what happened, so nobody tabs through the menu again to find it.
(() => {
  if (document.activeElement && document.activeElement !== document.body) return;
  let id = decodeURIComponent(location.hash.slice(1));
  if (id === "main") {
    // the skip link's fragment, carried over by a form posted after using it: not a place to return
    // to (the browser would move the focus there, away from the message saying what happened)
    history.replaceState(null, "", location.pathname + location.search);
    id = "";
  }
  const target = id && document.getElementById(id);
  if (target && target.matches("a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), [tabindex]")) {
    target.focus();
    return;
  }
  const messages = document.getElementById("messages");
  if (messages) messages.focus();
})();
