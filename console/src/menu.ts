// A menu button (WAI-ARIA APG "menu button" pattern): aria-haspopup, aria-expanded, arrow keys,
// Home/End, Escape and Tab close it. Disabled items stay focusable (aria-disabled) so their reason
// can be read.

import { h, uid } from "./dom";

export interface MenuItem {
  label: string;
  disabled?: boolean;
  /** id of the element that says why the item is disabled */
  describedBy?: string;
  onSelect: () => void;
}

export function menuButton(label: string, items: MenuItem[]): HTMLElement {
  const menuId = uid("menu");
  const buttonId = uid("menu-button");
  const button = h(
    "button",
    { type: "button", id: buttonId, class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": menuId },
    label,
    h("span", { class: "menu-caret", "aria-hidden": "true" }, "▾"),
  );
  const entries = items.map((item) =>
    h(
      "li",
      {
        role: "menuitem",
        tabindex: "-1",
        class: "menu-item",
        "aria-disabled": item.disabled ? "true" : undefined,
        "aria-describedby": item.describedBy,
      },
      item.label,
    ),
  );
  const menu = h("ul", { id: menuId, role: "menu", class: "menu", "aria-labelledby": buttonId, hidden: true }, entries);
  const wrapper = h("div", { class: "menu-wrapper" }, button, menu);

  const isOpen = (): boolean => !menu.hidden;
  const focusItem = (index: number): void => {
    const n = entries.length;
    const target = entries[((index % n) + n) % n];
    target?.focus();
  };
  const open = (index: number): void => {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    focusItem(index);
  };
  const close = (returnFocus: boolean): void => {
    if (!isOpen()) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (returnFocus) button.focus();
  };
  const select = (index: number): void => {
    const item = items[index];
    if (!item || item.disabled) return;
    close(true);
    item.onSelect();
  };

  button.addEventListener("click", () => (isOpen() ? close(true) : open(0)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      open(entries.length - 1);
    }
  });
  entries.forEach((entry, index) => {
    entry.addEventListener("click", () => select(index));
    entry.addEventListener("keydown", (event) => {
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          focusItem(index + 1);
          break;
        case "ArrowUp":
          event.preventDefault();
          focusItem(index - 1);
          break;
        case "Home":
          event.preventDefault();
          focusItem(0);
          break;
        case "End":
          event.preventDefault();
          focusItem(entries.length - 1);
          break;
        case "Escape":
          event.preventDefault();
          close(true);
          break;
        case "Tab":
          close(false);
          break;
        case "Enter":
        case " ":
          event.preventDefault();
          select(index);
          break;
        default:
          if (event.key.length === 1 && /\S/.test(event.key)) {
            const start = index + 1;
            for (let i = 0; i < entries.length; i++) {
              const j = (start + i) % entries.length;
              if (items[j]?.label.toLowerCase().startsWith(event.key.toLowerCase())) {
                focusItem(j);
                break;
              }
            }
          }
      }
    });
  });
  document.addEventListener("click", (event) => {
    if (isOpen() && !wrapper.contains(event.target as Node)) close(false);
  });
  wrapper.addEventListener("focusout", (event) => {
    const next = event.relatedTarget as Node | null;
    if (isOpen() && next && !wrapper.contains(next)) close(false);
  });
  return wrapper;
}
