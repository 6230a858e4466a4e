() => {
  // The WCAG contrast of every visible text (tests/support/contrast.py says how); one function,
  // as page.evaluate takes it.
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {  // top composited over an opaque `below`
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat(1);
  };
  const lum = (c) => {
    const ch = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let color = [255, 255, 255, 1];  // the canvas under everything
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const disabled = (el) => el.closest("button:disabled, input:disabled, select:disabled, textarea:disabled, option:disabled, fieldset:disabled");
  const where = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : ""}`;
  const out = [];
  const sample = (el, text, style) => {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return;
    const rect = el.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const bg = background(el);
    const fgRaw = parse(style.color);
    const fg = over([fgRaw[0], fgRaw[1], fgRaw[2], fgRaw[3] * opacity(el)], bg);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    out.push({ text: text.slice(0, 40), where: where(el), ratio: Math.round(ratio(fg, bg) * 100) / 100,
      required: large ? 3 : 4.5, disabled: Boolean(disabled(el)), fg: style.color, bg: `rgb(${bg.slice(0, 3).map(Math.round).join(", ")})` });
  };
  for (const el of document.querySelectorAll("body *")) {
    if (["SCRIPT", "STYLE", "OPTION"].includes(el.tagName)) continue;
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (own) sample(el, own, getComputedStyle(el));
    if (["INPUT", "TEXTAREA"].includes(el.tagName) && !["checkbox", "radio", "hidden"].includes(el.type)) {
      if (el.value) sample(el, el.value, getComputedStyle(el));
      else if (el.placeholder) sample(el, el.placeholder, getComputedStyle(el, "::placeholder"));
    }
    if (el.tagName === "SELECT" && el.selectedOptions.length) sample(el, el.selectedOptions[0].text, getComputedStyle(el));
  }
  return out;
}
