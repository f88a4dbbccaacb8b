// The widget's accent colour, and the colours that read on it and with it (WCAG contrast).

/** '#rrggbb' when `value` is one, else null. */
export const hexColor = (value) => (typeof value === 'string' && /^#[0-9a-f]{6}$/i.test(value) ? value : null);

/** The relative luminance (WCAG) plus 0.05: contrast with white is 1.05 / it, and with the
 * widget's near-black text (#111827) it / 0.0616. */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05;
}

/** The text colour on an accent background: white or near-black, whichever reads better
 * (1.05 / L >= L / 0.0616, that is L² <= 1.05 × 0.0616). */
export const textOn = (accent) => (luminance(accent) ** 2 <= 0.06468 ? '#fff' : '#111827');

/** The accent as text on white, or near-black when the accent is too light to read (< 4.5:1). */
export const inkOf = (accent) => (1.05 / luminance(accent) >= 4.5 ? accent : '#111827');
