import { io } from 'socket.io-client';

/**
 * The mount URL of chatkit (e.g. "https://support.example.com/chat") from the URL of one of
 * its scripts, given the script's path below the mount.
 */
export function mountFromScript(script, pathBelowMount) {
  const src = new URL(script.src, location.href);
  src.search = '';
  src.hash = '';
  const href = src.href;
  if (!href.endsWith(pathBelowMount)) throw new Error(`chatkit: unexpected script URL ${href}`);
  return new URL(href.slice(0, -pathBelowMount.length));
}

/**
 * A Socket.IO client for one namespace of the chatkit mounted at `mount`. `auth` is called
 * on every (re)connect, so a token stored after the first connect is sent on the next.
 */
export function connectNamespace(mount, namespace, auth) {
  const path = `${mount.pathname.replace(/\/$/, '')}/socket.io/`;
  return io(`${mount.origin}${namespace}`, {
    path,
    autoConnect: false,
    auth: (cb) => cb(auth()),
    reconnectionDelay: 1000,
    reconnectionDelayMax: 10000,
    randomizationFactor: 0.5,
  });
}
