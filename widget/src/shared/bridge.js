// The postMessage protocol between the loader (host page) and the frame (chatkit's origin).
// Every message is {chatkit: BRIDGE_VERSION, type, ...}; both sides also check the sender's
// origin and window before looking at the shape.

export const BRIDGE_VERSION = 1;

/** Messages the frame sends to the loader ('open': a proactive trigger opens the panel). */
export const FROM_FRAME = ['ready', 'open', 'close', 'unread', 'message'];
/** Messages the loader sends to the frame ('identify': {identity, attributes}, each null
 * or as cleanIdentity/cleanAttributes return them; 'page': {page}, the host page's new URL
 * after a single-page app's navigation). */
export const TO_FRAME = ['open', 'close', 'reset', 'identify', 'page'];

/** A bridge message of one of `types`, or null. */
export function readBridgeMessage(data, types) {
  if (!data || typeof data !== 'object' || data.chatkit !== BRIDGE_VERSION) return null;
  return typeof data.type === 'string' && types.includes(data.type) ? data : null;
}

export function bridgeMessage(type, fields) {
  return { chatkit: BRIDGE_VERSION, type, ...fields };
}

const isText = (value) => typeof value === 'string';

/** ChatKit('identify')'s {id, name?, email?, hash?}: strings (hash: the host server's hex
 * HMAC-SHA256 of id), or null. The server checks lengths and the signature. */
export function cleanIdentity(user) {
  if (!user || !isText(user.id)) return null;
  const identity = { id: user.id };
  for (const key of ['name', 'email', 'hash']) {
    if (user[key] != null) {
      if (!isText(user[key])) return null;
      identity[key] = user[key];
    }
  }
  return identity;
}

/** ChatKit('setAttributes')'s flat object of strings, numbers, booleans and nulls (a null
 * removes one), copied; or null. */
export function cleanAttributes(attributes) {
  if (!attributes || typeof attributes !== 'object' || Array.isArray(attributes)) return null;
  const entries = Object.entries(attributes);
  return entries.every(([, value]) => value === null || ['string', 'number', 'boolean'].includes(typeof value))
    ? Object.fromEntries(entries)
    : null;
}
