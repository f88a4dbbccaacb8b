// client_id: a random prefix per page load plus a counter (protocol.md, delivery rule 1).

export function clientIdFactory() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  const prefix = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  let counter = 0;
  return () => `c-${prefix}-${++counter}`;
}
