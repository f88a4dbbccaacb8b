// Every client-to-server event of the protocol is acknowledged with
// {ok: true, data} or {ok: false, error: {code, message}} (docs/protocol.md).

export class ProtocolError extends Error {
  constructor(code, message, conversationId) {
    super(message || code);
    this.name = 'ProtocolError';
    this.code = code;
    /** The conversation an error is about, when the server names it (a conflict). */
    this.conversationId = typeof conversationId === 'string' ? conversationId : null;
  }
}

/** Codes after which sending the same payload again cannot succeed. */
const PERMANENT = new Set(['invalid_payload', 'invalid_choice', 'not_found', 'conflict', 'forbidden', 'unknown_event']);

/** True when retrying the request later (same client_id) may succeed. */
export function isRetryable(error) {
  return !(error instanceof ProtocolError && PERMANENT.has(error.code));
}

/**
 * Emits `event` and resolves with the ack's data, or rejects with a ProtocolError
 * (code `offline` or `timeout` when no ack came; `offline` too when there is no socket, as
 * after the console signed out). Never queues: socket.io-client would
 * buffer emits while disconnected, and our outboxes already resend what was not acked.
 */
export function request(socket, event, payload = {}, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    if (!socket || !socket.connected) { // null: signed out, or never connected
      reject(new ProtocolError('offline', 'not connected'));
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (err, reply) => {
      if (err) reject(new ProtocolError('timeout', `no answer to ${event}`));
      else if (reply && reply.ok === true) resolve(reply.data);
      else {
        const error = (reply && reply.error) || {};
        const failure = new ProtocolError(error.code || 'bad_reply', error.message, error.conversation_id);
        // invalid_payload names each field at fault: {email: '...'} (a form shows it there).
        failure.fields = error.fields && typeof error.fields === 'object' ? error.fields : null;
        reject(failure);
      }
    });
  });
}
