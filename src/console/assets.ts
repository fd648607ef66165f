/**
 * The console's only static files, served by the Worker itself so the CSP can stay 'self'.
 * No build step: plain CSS, and a few lines of script (copy buttons, focus, Escape, Test now);
 * every page works without it.
 */

/** Below this width, tables become stacked cards (a 390 px phone, with room for zoom). */
const NARROW = "720px";

export const CONSOLE_CSS = `
:root { --fg:#1b1f24; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --card:#fff; --accent:#0b5fff;
  --danger:#c62828; --ok:#1a7f37; --warn-bg:#fff8c5; --warn-line:#d4a72c; --ring:#0b5fff; font-family: system-ui, -apple-system,
  "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; font-size: 15px; line-height: 1.5; overflow-wrap: anywhere; }
a { color: var(--accent); }
.skip { position: absolute; left: 8px; top: -100px; z-index: 10; background: #fff; color: var(--accent); padding: 8px 14px; border-radius: 6px; border: 2px solid var(--ring); }
.skip:focus { top: 8px; }
header.top { background: #111827; color: #fff; }
header.top .bar { max-width: 1200px; margin: 0 auto; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 24px; padding: 10px 20px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; color: #fff; text-decoration: none; }
header.top nav { display: flex; flex-wrap: wrap; gap: 4px; flex: 1 1 auto; }
header.top nav a { color: #d1d5db; text-decoration: none; padding: 6px 10px; border-radius: 6px; }
header.top nav a[aria-current="page"], header.top nav a:hover { background: #1f2937; color: #fff; }
header.top .who { color: #c9ced6; font-size: 13px; display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: center; }
header.top :focus-visible { outline-color: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 64px; }
main:focus { outline: none; }
h1 { font-size: 24px; margin: 0 0 4px; }
h1:focus { outline: none; }
h2 { font-size: 17px; margin: 0 0 12px; }
.lead { color: var(--muted); margin: 0 0 20px; }
.page-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-start; gap: 16px; margin-bottom: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px; margin-bottom: 20px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
th, td { text-align: left; padding: 10px 12px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { background: #f0f3f6; font-size: 13px; color: var(--muted); font-weight: 600; }
tr:last-child td { border-bottom: 0; }
td.actions { text-align: right; white-space: nowrap; }
td.nowrap, td time { white-space: nowrap; }
.button.small, button.small { padding: 4px 10px; font-size: 13px; font-weight: 500; }
.actions form, .actions a { display: inline-flex; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; border: 1px solid var(--line); background: #f6f8fa; white-space: nowrap; }
.badge.ok { color: var(--ok); border-color: #aceebb; background: #dafbe1; }
.badge.off { color: #a40e26; border-color: #ffcecb; background: #ffebe9; }
.badge.warn { color: #6c4a00; border-color: var(--warn-line); background: var(--warn-bg); }
.button, button { display: inline-flex; align-items: center; gap: 6px; font: inherit; font-weight: 600; padding: 7px 14px;
  border-radius: 6px; border: 1px solid #818b98; background: #f6f8fa; color: var(--fg); cursor: pointer; text-decoration: none; }
.button.primary, button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.button.danger, button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
.icon { padding: 5px 8px; background: transparent; border: 1px solid #818b98; border-radius: 6px; color: var(--danger); vertical-align: middle; display: inline-flex; }
.icon svg { display: block; }
.icon:hover { background: #fff; }
/* The ring contrasts at least 3:1 with the page, the cards and the header (WCAG 1.4.11). */
:focus-visible { outline: 3px solid var(--ring); outline-offset: 2px; }
form.stack { display: grid; gap: 16px; max-width: 560px; }
label, legend { font-weight: 600; display: block; margin-bottom: 4px; }
fieldset { border: 0; padding: 0; margin: 0; min-width: 0; }
fieldset label { font-weight: 400; display: flex; gap: 8px; align-items: center; margin: 4px 0; }
input[type=text], input[type=search], input[type=url], input[type=password], input[type=datetime-local], select, textarea { width: 100%; max-width: 100%; font: inherit; padding: 8px 10px; border: 1px solid #818b98; border-radius: 6px; background: #fff; color: var(--fg); }
label.check { font-weight: 400; display: flex; gap: 8px; align-items: center; }
textarea.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; resize: vertical; }
.field-error:empty { display: none; }
[aria-invalid="true"] { border-color: var(--danger); border-width: 2px; }
.field-error { color: #a40e26; font-size: 13px; margin-top: 4px; font-weight: 600; }
.hint { color: var(--muted); font-size: 13px; margin-top: 4px; }
fieldset.grant { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
/* A floated legend sits inside the box, not across its border (it may run to two lines). */
fieldset.grant > legend { float: left; width: 100%; padding: 0; margin-bottom: 8px; }
fieldset.grant > legend + * { clear: both; }
fieldset.grant > label[for] { font-weight: 600; display: block; }
.legend-id { display: block; font-weight: 400; color: var(--muted); }
.scope-list { display: flex; flex-wrap: wrap; gap: 0 20px; }
ul.plain { list-style: none; margin: 0; padding: 0; }
.notice { padding: 12px 16px; border-radius: 8px; border: 1px solid var(--line); background: #fff; margin-bottom: 16px; }
.notice.warn { background: var(--warn-bg); border-color: var(--warn-line); }
.notice.error { background: #ffebe9; border-color: #ffcecb; color: #82071e; }
.notice.error a:not(.button) { color: #82071e; text-decoration: underline; }
.notice.ok { background: #dafbe1; border-color: #aceebb; }
.secret { display: flex; gap: 8px; align-items: flex-start; margin: 6px 0 14px; }
.secret input, .secret textarea { flex: 1 1 auto; min-width: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; resize: vertical; }
.secret button { flex: none; white-space: nowrap; }
header.top .organization { font-weight: 600; color: #fff; overflow-wrap: anywhere; }
.pager { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; margin-bottom: 12px; }
.filters > div { flex: 1 1 160px; max-width: 320px; }
.filters .search { flex-basis: 220px; }
.empty { color: var(--muted); text-align: center; padding: 28px; }
.login { max-width: 380px; margin: 80px auto; }
.confirm-actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
dl.fields { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0; margin: 0; }
dl.fields .field { display: grid; grid-template-columns: 200px minmax(0, 1fr); gap: 12px; padding: 8px 0; border-bottom: 1px solid var(--line); }
dl.fields .field:last-child { border-bottom: 0; }
dl.fields dt { color: var(--muted); font-weight: 600; }
dl.fields dd { margin: 0; min-width: 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.claims { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 12px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
/* Usage charts (src/console/usage.tsx): bars keep 3:1 against white; failures also differ in place (stacked on top). */
.chart { display: grid; grid-template-columns: auto minmax(0, 1fr); grid-template-rows: 160px auto; gap: 4px 8px; }
.chart-scale { display: flex; flex-direction: column; justify-content: space-between; font-size: 12px; color: var(--muted); text-align: right; }
.chart-bars { width: 100%; height: 160px; border-bottom: 1px solid #818b98; display: block; }
.chart-days { grid-column: 2; display: grid; grid-template-columns: repeat(7, minmax(0, 1fr)); list-style: none; margin: 0; padding: 0; font-size: 12px; color: var(--muted); }
.chart-days li { overflow: hidden; white-space: nowrap; text-overflow: clip; }
.chart-day { stroke: var(--line); stroke-width: 1; }
.bar-ok { fill: var(--accent); }
.bar-failed { fill: #cf222e; }
.chart-legend { font-size: 13px; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.swatch.ok { background: var(--accent); }
.swatch.failed { background: #cf222e; margin-left: 8px; }
.usage-table td, .usage-table th { font-size: 14px; font-variant-numeric: tabular-nums; }
.sparkline { width: 70px; height: 20px; display: block; margin-top: 4px; }
/* Key/value editors (src/console/metadata-editor.tsx): column heads on wide screens, a label on each field on narrow ones. */
fieldset.kv { display: grid; gap: 8px; }
fieldset.kv > legend { padding: 0; }
.kv-head, .kv-row { display: grid; gap: 8px; align-items: start; }
.kv-head.kv-meta, .kv-row.kv-meta { grid-template-columns: minmax(0, 2fr) minmax(8.5rem, 1.3fr) minmax(0, 3fr); }
.kv-head.kv-claims, .kv-row.kv-claims { grid-template-columns: minmax(0, 1fr) minmax(0, 1.6fr); }
.kv-head { font-size: 13px; font-weight: 600; color: var(--muted); margin-bottom: -4px; }
.kv-row > .field-error { grid-column: 1 / -1; margin-top: 0; }
fieldset.kv .kv-label { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0,0,0,0); white-space: nowrap; border: 0; }
/* Webhooks (src/console/webhooks.tsx): an event picker grouped by prefix, and a URL as a page's heading. */
fieldset.events { display: grid; gap: 4px; }
fieldset.event-group { margin-top: 8px; }
fieldset.event-group > legend { font-size: 13px; color: var(--muted); }
form.inline { display: inline-flex; }
h1.mono-heading { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 20px; overflow-wrap: anywhere; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0,0,0,0); white-space: nowrap; border: 0; }
@media (max-width: ${NARROW}) {
  main { padding: 16px 12px 48px; }
  header.top .bar { padding: 10px 12px; }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0,0,0,0); }
  table.cards tr { border-bottom: 1px solid var(--line); padding: 8px 0; }
  table.cards tr:last-child { border-bottom: 0; }
  table.cards td { border: 0; padding: 4px 14px; text-align: left; white-space: normal; }
  table.cards td[data-label]::before { content: attr(data-label); display: block; font-size: 12px; color: var(--muted); font-weight: 600; }
  dl.fields .field { grid-template-columns: minmax(0, 1fr); gap: 2px; }
  .filters > div { max-width: none; }
  .kv-head { display: none; }
  .kv-row.kv-meta { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); border-top: 1px solid var(--line); padding-top: 8px; }
  .kv-row.kv-meta > div:nth-child(3) { grid-column: 1 / -1; }
  .kv-row.kv-claims { grid-template-columns: minmax(0, 1fr); border-top: 1px solid var(--line); padding-top: 8px; }
  fieldset.kv .kv-label { position: static; width: auto; height: auto; margin: 0 0 2px; overflow: visible; clip: auto; white-space: normal; display: block; font-size: 13px; font-weight: 600; color: var(--muted); }
}
`;

export const COPY_JS = `
const announce = (text) => {
  const region = document.getElementById("announce");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
};

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  try { await navigator.clipboard.writeText(field.value); } catch { field.select(); document.execCommand("copy"); }
  const state = button.querySelector(".copy-state");
  state.textContent = "Copied";
  announce(button.dataset.label + " copied to the clipboard.");
  setTimeout(() => { state.textContent = "Copy"; }, 1500);
});

// Focus: the first field with an error; after an action, the page's heading.
const focusFirst = () => {
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); return; }
  if (document.body.dataset.focus === "heading") {
    const heading = document.querySelector("main h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }
};
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusFirst); else focusFirst();

// A pasted JWK Set is checked here before it is sent, by the server's rules (src/lib/client-jwks.ts):
// JSON, {"keys": [...]}, 1 to 5 keys, a unique kid each, and no private member. The server checks
// again (and more: key types and sizes).
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const jwksProblem = (text) => {
  let set;
  try { set = JSON.parse(text); } catch { return "this is not valid JSON."; }
  if (typeof set !== "object" || set === null || !Array.isArray(set.keys)) return 'it must be {"keys": [...]}.';
  if (set.keys.length < 1 || set.keys.length > 5) return "it must hold 1 to 5 keys.";
  const kids = new Set();
  for (const [i, key] of set.keys.entries()) {
    if (typeof key !== "object" || key === null || Array.isArray(key)) return "keys[" + i + "] is not a JWK.";
    if (PRIVATE_MEMBERS.some((member) => member in key)) return "keys[" + i + "] holds a private member: send public keys only.";
    if (typeof key.kid !== "string" || key.kid.length < 1 || key.kid.length > 128) return "keys[" + i + "] needs a kid (1 to 128 characters).";
    if (kids.has(key.kid)) return "keys[" + i + "] repeats the kid " + JSON.stringify(key.kid).slice(0, 40) + ".";
    kids.add(key.kid);
  }
  return null;
};
const jwksField = (form) => form.querySelector("textarea[data-jwks]");
const jwksWanted = (form, field) => {
  const method = form.querySelector("input[name=token_endpoint_auth_method]:checked");
  return method ? method.value === "private_key_jwt" : field.required || field.value.trim() !== "";
};
const showJwksProblem = (field, problem) => {
  const message = document.getElementById("jwks-error");
  if (message) message.textContent = problem ? "JWK Set: " + problem : "";
  if (problem) {
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", "jwks-error jwks-hint");
  } else {
    field.removeAttribute("aria-invalid");
    field.setAttribute("aria-describedby", "jwks-hint");
  }
};
document.addEventListener("submit", (event) => {
  const form = event.target;
  const field = form instanceof HTMLFormElement ? jwksField(form) : null;
  if (!field || event.submitter?.getAttribute("formmethod") === "get") return;
  const problem = jwksWanted(form, field) ? jwksProblem(field.value) : null;
  showJwksProblem(field, problem);
  if (problem) { event.preventDefault(); field.focus(); }
}, true);
// Once the field is marked, the mark goes as soon as the set is right (a new problem waits for
// the next submit, so the layout does not move under a click).
document.addEventListener("input", (event) => {
  const field = event.target.closest?.("textarea[data-jwks]");
  if (!field || field.getAttribute("aria-invalid") !== "true") return;
  if (!jwksProblem(field.value)) showJwksProblem(field, null);
});

// Escape on a confirmation page is its Cancel.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  const cancel = document.querySelector("a[data-cancel]");
  if (cancel) location.assign(cancel.href);
});

// Test now: the result appears on this page, so the secret shown once stays in view.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-inline-result]");
  if (!form) return;
  event.preventDefault();
  const target = document.getElementById(form.dataset.inlineResult);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin" });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const result = page.getElementById(form.dataset.inlineResult);
    target.replaceChildren(...(result ? result.childNodes : [document.createTextNode("The test could not run; try again.")]));
  } catch {
    target.textContent = "The test could not run; try again.";
  } finally {
    button.disabled = false;
  }
  target.setAttribute("tabindex", "-1");
  target.focus();
  announce(target.querySelector("h2, h3")?.textContent ?? "Test finished.");
});
`;
