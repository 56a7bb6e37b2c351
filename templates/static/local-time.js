// Beside each instant a page shows in UTC, the same instant in the viewer's own time zone. Without this script
// (or in UTC) the page says UTC alone: nothing depends on it.
for (const shown of document.querySelectorAll("time[datetime][data-local]")) {
  const at = new Date(shown.getAttribute("datetime"));
  if (Number.isNaN(at.getTime()) || at.getTimezoneOffset() === 0) continue;
  const local = document.createElement("span");
  local.className = "local-time";
  local.textContent = ` (${at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })} your time)`;
  shown.after(local);
}
