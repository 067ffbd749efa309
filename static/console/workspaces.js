// Progressive enhancement for the workspace data residency form: the default-geo select only
// offers the allowed geos. The server validates the same rule; without this file the select
// lists every geo and a mismatch comes back as a field error.
(() => {
  const form = document.getElementById("residency-form");
  if (!form) return;
  const select = form.querySelector("#default-geo");
  const all = Array.from(select.options).map((o) => ({ value: o.value, text: o.text }));
  const boxes = Array.from(form.querySelectorAll('input[name="allowed_geos"]'));

  function allowed() {
    const mode = form.querySelector('input[name="allowed_mode"]:checked');
    if (!mode || mode.value === "unrestricted") return all.map((o) => o.value);
    return boxes.filter((b) => b.checked).map((b) => b.value);
  }

  // The geo the person chose last: narrowing and widening the allowed geos brings it back.
  let wanted = select.value;
  select.addEventListener("change", () => { wanted = select.value; });

  function sync() {
    let keep = allowed();
    // No geo ticked yet: keep every option (the server asks to tick one) rather than an empty select.
    if (keep.length === 0) keep = all.map((o) => o.value);
    select.replaceChildren(...all.filter((o) => keep.includes(o.value)).map((o) => new Option(o.text, o.value)));
    if (keep.includes(wanted)) select.value = wanted;
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "allowed_geos" && event.target.checked) {
      const restricted = form.querySelector('input[name="allowed_mode"][value="restricted"]');
      if (restricted) restricted.checked = true;
    }
    if (event.target.name === "allowed_mode" || event.target.name === "allowed_geos") sync();
  });
  sync();
})();
