// Proactive triggers (chatkit/triggers.py, served in the widget config): the frame decides
// when one fires, from the host page's URL (which the loader gives it), the time on the page
// and the visits counted in this browser, so they cost the server nothing.

function target(page, on) {
  try {
    const url = new URL(page);
    return on === 'path' ? url.pathname : url.href;
  } catch {
    return null;
  }
}

/** Whether the trigger's page and visit conditions hold for `page` (a URL) and `visits`. */
export function matches(trigger, { page, visits }) {
  if (!trigger || typeof trigger.id !== 'string' || typeof trigger.message !== 'string') return false;
  if (Number.isInteger(trigger.min_visits) && visits < trigger.min_visits) return false;
  if (Number.isInteger(trigger.max_visits) && visits > trigger.max_visits) return false;
  const url = trigger.url;
  if (!url) return true;
  const text = target(page, url.on);
  if (text === null || typeof url.regex !== 'string') return false;
  try {
    return new RegExp(url.regex).test(text);
  } catch {
    return false; // the server checks patterns; one this browser cannot compile never fires
  }
}

/**
 * Arms the triggers that match: each fires once its seconds on the page have passed (counted
 * from `loadedAt`), unless blocked() says not now (then it does not fire on this page view);
 * the first to fire disarms the others. Returns a function that disarms them all.
 */
export function armTriggers(triggers, { page, visits, loadedAt }, { blocked, fire }) {
  const timers = [];
  const disarm = () => timers.forEach(clearTimeout);
  for (const trigger of Array.isArray(triggers) ? triggers : []) {
    if (!matches(trigger, { page, visits })) continue;
    const seconds = Number.isFinite(trigger.seconds_on_page) ? trigger.seconds_on_page : 0;
    const wait = Math.max(0, seconds * 1000 - (Date.now() - loadedAt));
    timers.push(setTimeout(() => {
      if (blocked()) return;
      disarm();
      fire(trigger);
    }, wait));
  }
  return disarm;
}
