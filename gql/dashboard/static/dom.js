// Small DOM helpers the dashboard's scripts share. Loaded first.
"use strict";

window.reelgraphDom = (() => {
  // An element with a class and text: text goes in as text, never as markup.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A button that does not submit; `label` names it for screen readers and as a tooltip.
  function button(className, text, label, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    if (label) {
      node.setAttribute("aria-label", label);
      node.title = label;
    }
    node.addEventListener("click", onClick);
    return node;
  }

  return { el, button };
})();
