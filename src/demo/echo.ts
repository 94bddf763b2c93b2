// The demo backend of the quickstart: answers every request with what it saw,
// as JSON, and says which instance it is (so traffic splits can be watched).
import http from 'node:http';

export interface EchoServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startEcho(name: string, host = '127.0.0.1', port = 0): Promise<EchoServer> {
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, bodyBytes: size }, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
