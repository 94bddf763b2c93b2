// ClientTrafficPolicy http2 on an HTTPS listener: the SETTINGS a new session
// announces (maxConcurrentStreams, initialStreamWindowSize) and the connection
// window it opens (initialConnectionWindowSize). Sessions already open keep
// theirs, as in Envoy, where a listener change drains them.
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { IRHttp2 } from '../ir/types.ts';

/** Node's own defaults, restored when a policy goes away. */
const NODE_MAX_STREAMS = 0xffffffff;
const NODE_STREAM_WINDOW = 65_535;

export function applyHttp2Settings(server: Http2SecureServer, h2: IRHttp2 | undefined): void {
  server.updateSettings({
    maxConcurrentStreams: h2?.maxConcurrentStreams ?? NODE_MAX_STREAMS,
    initialWindowSize: h2?.initialStreamWindowSize ?? NODE_STREAM_WINDOW,
  });
}

/** On a new session: widen its connection window (Node's and HTTP/2's default is 65,535 bytes). */
export function openConnectionWindow(session: ServerHttp2Session, h2: IRHttp2 | undefined): void {
  const size = h2?.initialConnectionWindowSize;
  if (size !== undefined && size > 65_535) session.setLocalWindowSize(size);
}
