// The widget's accent colour, and the colours that read on it and with it (WCAG contrast).

/** '#rrggbb' when `value` is one, else null. */
export const hexColor = (value) => (typeof value === 'string' && /^#[0-9a-f]{6}$/i.test(value) ? value : null);

/** Contrast with white, and with the widget's near-black text (#111827). */
function contrasts(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05;
  return [1.05 / lum, lum / 0.0616];
}

/** The text colour on an accent background: white or near-black, whichever reads better. */
export function textOn(accent) {
  const [white, dark] = contrasts(accent);
  return white >= dark ? '#fff' : '#111827';
}

/** The accent as text on white, or near-black when the accent is too light to read (< 4.5:1). */
export const inkOf = (accent) => (contrasts(accent)[0] >= 4.5 ? accent : '#111827');
