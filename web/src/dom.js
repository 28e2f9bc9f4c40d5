// A tiny DOM builder: h("button", {onclick}, "Settle") -> <button>Settle</button>.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function replace(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// Message area: one calm sentence, kind "error" | "info" | "ok".
export function say(text, kind = "info") {
  const box = document.getElementById("message");
  box.className = `message ${kind}`;
  box.textContent = text;
  box.hidden = !text;
}
