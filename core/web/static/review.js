// goex-review's only script (the Content-Security-Policy allows no other): the queue refreshes
// itself, and an action's page notices when the action is decided elsewhere.
"use strict";

const EVERY_MS = 2000;

async function refreshQueue(body) {
  const checked = new Set(
    [...body.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value),
  );
  const response = await fetch(body.dataset.refresh, { headers: { Accept: "text/html-fragment" } });
  if (!response.ok) return;
  const template = document.createElement("template");
  template.innerHTML = await response.text(); // rendered and escaped by the server
  for (const box of template.content.querySelectorAll("input[type=checkbox]")) {
    box.checked = checked.has(box.value);
  }
  body.replaceChildren(template.content);
}

async function pollState(badge) {
  const response = await fetch(badge.dataset.poll, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const { state } = await response.json();
  if (state !== badge.dataset.state) {
    window.location.reload();
  }
}

window.addEventListener("DOMContentLoaded", () => {
  const body = document.querySelector("[data-refresh]");
  if (body) setInterval(() => refreshQueue(body).catch(() => {}), EVERY_MS);
  const badge = document.querySelector("[data-poll]");
  if (badge) setInterval(() => pollState(badge).catch(() => {}), EVERY_MS);
});
