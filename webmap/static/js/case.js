/* The case page (/cases/<id>): each move's form goes to the case's moves API as JSON; the page
 * then reloads with the new state, or shows the API's problem. section.moves carries the URL
 * and the page's CSRF token (webmap/templates/case_panel.html); the API's problem title is in the reader's
 * language already, and data-failed says it when the answer is not one. */

const moves = document.querySelector("section.moves");
const panel = document.querySelector("main.case-panel");
if (panel) document.documentElement.lang = panel.dataset.lang;  // the page is in the reader's language

if (moves) {
  const { url, csrf, failed } = moves.dataset;
  document.querySelectorAll("form.move").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { move: form.dataset.move };
      new FormData(form).forEach((value, key) => {
        if (value === "") return;
        body[key] = key === "extra_hours" || key === "target" ? Number(value) : value;
      });
      const error = document.getElementById("move-error");
      error.textContent = "";
      const response = await fetch(url, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
      if (response.ok) {
        window.location.reload();
        return;
      }
      const problem = await response.json().catch(() => ({ title: failed }));
      error.textContent = problem.title + (problem.detail ? ": " + problem.detail : "");
    });
  });
}
