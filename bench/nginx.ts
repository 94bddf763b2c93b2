// nginx as a third reference: proxy_pass to the same upstream with a keep-alive
// upstream pool, access_log off, one worker per gateway worker. Runs from a
// generated config in a temp dir (-p prefix), in the foreground.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Probe } from './config-gen.ts';
import { freePort, waitForHttp200 } from './net.ts';
import { startChild } from './processes.ts';
import { deadReason, type System } from './system.ts';
import { childPids } from './memory.ts';
import { tempDir } from './tempdirs.ts';

function nginxConf(dir: string, port: number, upstreamPort: number, workers: number): string {
  const temp = (name: string): string => `${name} ${join(dir, name.replace(/_path$/, ''))};`;
  return `
daemon off;
master_process on;
worker_processes ${workers};
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${temp('client_body_temp_path')}
  ${temp('proxy_temp_path')}
  ${temp('fastcgi_temp_path')}
  ${temp('uwsgi_temp_path')}
  ${temp('scgi_temp_path')}
  # Client connections stay open as long as the load generator wants (node's default too).
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }
  }
}
`;
}

export async function startNginx(nginxPath: string, upstreamPort: number, workers: number, probe: Probe): Promise<System> {
  const dir = tempDir('nginx');
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, upstreamPort, workers));
  const child = startChild(`nginx (${workers} worker${workers > 1 ? 's' : ''})`, nginxPath, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')]);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp200(baseUrl + probe.path, 15_000, () => deadReason(child));
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    label: 'nginx',
    baseUrl,
    probe,
    child,
    servingPids: () => childPids(child.pid),
    stop: () => child.stop(),
  };
}
