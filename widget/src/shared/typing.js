// Typing indicators, both directions (docs/protocol.md, `typing`).

const REFRESH_MS = 3000; // while typing, say so again at most this often
const IDLE_MS = 4000; // no keystroke for this long: stopped typing
export const STALE_MS = 6000; // a "typing" heard of no more for this long has stopped

/**
 * Turns keystrokes into few `typing` signals: true on the first keystroke (and again every
 * few seconds while it goes on), false after a pause or when the message is sent.
 */
export function typingSignal(send) {
  let active = false;
  let lastSent = 0;
  let idle = null;
  const stop = () => {
    clearTimeout(idle);
    if (active) {
      active = false;
      send(false);
    }
  };
  return {
    input() {
      const now = Date.now();
      if (!active || now - lastSent > REFRESH_MS) {
        active = true;
        lastSent = now;
        send(true);
      }
      clearTimeout(idle);
      idle = setTimeout(stop, IDLE_MS);
    },
    stop,
  };
}

/** Shows `show(name)` while someone types, `show(null)` when they stop or go quiet. */
export function typingDisplay(show) {
  let stale = null;
  return (typing, name) => {
    clearTimeout(stale);
    show(typing ? name : null);
    if (typing) stale = setTimeout(() => show(null), STALE_MS);
  };
}
