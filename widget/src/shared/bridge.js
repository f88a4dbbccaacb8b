// The postMessage protocol between the loader (host page) and the frame (chatkit's origin).
// Every message is {chatkit: BRIDGE_VERSION, type, ...}; both sides also check the sender's
// origin and window before looking at the shape.

export const BRIDGE_VERSION = 1;

/** Messages the frame sends to the loader ('open': a proactive trigger opens the panel). */
export const FROM_FRAME = ['ready', 'open', 'close', 'unread', 'message'];
/** Messages the loader sends to the frame. */
export const TO_FRAME = ['open', 'close', 'reset'];

/** A bridge message of one of `types`, or null. */
export function readBridgeMessage(data, types) {
  if (!data || typeof data !== 'object' || data.chatkit !== BRIDGE_VERSION) return null;
  return typeof data.type === 'string' && types.includes(data.type) ? data : null;
}

export function bridgeMessage(type, fields) {
  return { chatkit: BRIDGE_VERSION, type, ...fields };
}
