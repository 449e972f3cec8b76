// Make the download menu's links save files instead of opening them in the browser
// (a notebook opened as raw JSON, or saved as "name.ipynb.html", confuses readers).
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll(
      "a.btn-download-notebook-button, a.btn-download-source-button")) {
    link.setAttribute("download", link.getAttribute("href").split("/").pop());
    link.removeAttribute("target");
  }
});
