/**
 * The console's only static files, served by the Worker itself so the CSP can stay 'self'.
 * No build step: plain CSS, and a few lines of script for the copy buttons (the pages work
 * without it).
 */

export const CONSOLE_CSS = `
:root { --fg:#1b1f24; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --card:#fff; --accent:#0b5fff;
  --danger:#c62828; --ok:#1a7f37; --warn-bg:#fff8c5; --warn-line:#d4a72c; font-family: system-ui, -apple-system,
  "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; font-size: 15px; line-height: 1.5; }
a { color: var(--accent); }
header.top { background: #111827; color: #fff; }
header.top .bar { max-width: 1200px; margin: 0 auto; display: flex; align-items: center; gap: 24px; padding: 10px 20px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; color: #fff; text-decoration: none; }
header.top nav { display: flex; gap: 4px; flex: 1; }
header.top nav a { color: #d1d5db; text-decoration: none; padding: 6px 10px; border-radius: 6px; }
header.top nav a[aria-current="page"], header.top nav a:hover { background: #1f2937; color: #fff; }
header.top .who { color: #9ca3af; font-size: 13px; display: flex; gap: 12px; align-items: center; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; }
.lead { color: var(--muted); margin: 0 0 20px; }
.page-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; margin-bottom: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px; margin-bottom: 20px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
th, td { text-align: left; padding: 10px 12px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { background: #f0f3f6; font-size: 13px; color: var(--muted); font-weight: 600; }
tr:last-child td { border-bottom: 0; }
td.actions { text-align: right; white-space: nowrap; }
td.nowrap, td time, td a { white-space: nowrap; }
.table-wrap { overflow-x: auto; }
.button.small, button.small { padding: 4px 10px; font-size: 13px; font-weight: 500; }
td.actions form { display: inline; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; border: 1px solid var(--line); background: #f6f8fa; }
.badge.ok { color: var(--ok); border-color: #aceebb; background: #dafbe1; }
.badge.off { color: var(--danger); border-color: #ffcecb; background: #ffebe9; }
.button, button { display: inline-flex; align-items: center; gap: 6px; font: inherit; font-weight: 600; padding: 7px 14px;
  border-radius: 6px; border: 1px solid var(--line); background: #f6f8fa; color: var(--fg); cursor: pointer; text-decoration: none; }
.button.primary, button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.button.danger, button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.icon { padding: 5px 8px; background: transparent; border-color: var(--line); color: var(--danger); vertical-align: middle; }
button.icon svg { display: block; }
button.icon:hover { color: var(--danger); border-color: var(--line); background: #fff; }
button:focus-visible, .button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #80b3ff; outline-offset: 1px; }
form.stack { display: grid; gap: 16px; max-width: 560px; }
label, legend { font-weight: 600; display: block; margin-bottom: 4px; }
fieldset { border: 0; padding: 0; margin: 0; }
fieldset label { font-weight: 400; display: flex; gap: 8px; align-items: center; margin: 4px 0; }
input[type=text], input[type=password], select { width: 100%; font: inherit; padding: 8px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.hint { color: var(--muted); font-size: 13px; margin-top: 4px; }
.notice { padding: 12px 16px; border-radius: 8px; border: 1px solid var(--line); background: #fff; margin-bottom: 16px; }
.notice.warn { background: var(--warn-bg); border-color: var(--warn-line); }
.notice.error { background: #ffebe9; border-color: #ffcecb; color: #82071e; }
.notice.ok { background: #dafbe1; border-color: #aceebb; }
.secret { display: flex; gap: 8px; align-items: center; margin: 6px 0 14px; }
.secret input { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.pager { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
.filters { display: flex; gap: 8px; align-items: flex-end; margin-bottom: 12px; }
.filters input { width: 320px; }
.empty { color: var(--muted); text-align: center; padding: 28px; }
.login { max-width: 380px; margin: 80px auto; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0,0,0,0); border: 0; }
`;

export const COPY_JS = `
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  try { await navigator.clipboard.writeText(field.value); } catch { field.select(); document.execCommand("copy"); }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});
`;
