// The printed summary: one table of verdicts, then the runs behind each figure.
import { RATIO_NOTE, cpuRatio, type BenchResults, type ScenarioResult, type ThroughputScenario } from './results.ts';
import type { ContenderResult } from './scenarios/throughput.ts';

function rps(n: number | null | undefined): string {
  return n == null ? 'n/a' : `${Math.round(n).toLocaleString('en-US')} req/s`;
}

function ms(us: number | null | undefined): string {
  return us == null ? 'n/a' : `${(us / 1000).toFixed(2)} ms`;
}

function mib(kib: number | undefined): string {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`;
}

function perWorker(kib: Record<string, number>): string {
  const values = Object.values(kib);
  if (values.length === 0) return 'n/a';
  return values.map(mib).join(' / ');
}

function nginxOf(contenders: { name: string }[]): { name: string } | undefined {
  return contenders.find((c) => c.name.startsWith('nginx'));
}

function us(n: number | null | undefined): string {
  return n == null ? 'n/a' : `${n.toFixed(1)} µs`;
}

type Row = [scenario: string, result: string, comparedWith: string, ratio: string, cpu: string, target: string, nginx: string, verdict: string];

/** "43.9 / 39.8 µs = 1.10×": the subject's CPU per request, the reference's, their ratio. */
function cpuCell(s: ThroughputScenario, subject: ContenderResult | undefined, ref: ContenderResult | undefined): string {
  const r = cpuRatio(s);
  if (r === null) return 'n/a';
  return `${subject!.medianCpuUsPerRequest!.toFixed(1)} / ${us(ref!.medianCpuUsPerRequest)} = ${r.toFixed(2)}×`;
}

function rows(s: ScenarioResult): Row[] {
  switch (s.kind) {
    case 'throughput': {
      const subject = s.contenders.find((c) => c.name === s.subject);
      const ref = s.contenders.find((c) => c.name === s.reference);
      const nginx = nginxOf(s.contenders) as ContenderResult | undefined;
      return [[
        s.title,
        `${s.subject}: ${rps(subject?.medianRps)}`,
        `${s.reference}: ${rps(ref?.medianRps)}`,
        s.ratio === null ? 'n/a' : `${s.ratio.toFixed(2)}×`,
        cpuCell(s, subject, ref),
        s.target,
        nginx ? rps(nginx.medianRps) : '—',
        s.verdict,
      ]];
    }
    case 'latency': {
      const subject = s.contenders.find((c) => c.name === s.subject);
      const ref = s.contenders.find((c) => c.name === s.reference);
      const nginx = s.contenders.find((c) => c.name.startsWith('nginx'));
      return [[
        `${s.title} (${s.rate.toLocaleString('en-US')} req/s)`,
        `${s.subject}: p50 ${ms(subject?.p50Us)}, p99 ${ms(subject?.p99Us)}`,
        `${s.reference}: p50 ${ms(ref?.p50Us)}, p99 ${ms(ref?.p99Us)}`,
        s.addedP99Ms === null ? 'n/a' : `p99 ${s.addedP99Ms >= 0 ? '+' : ''}${s.addedP99Ms.toFixed(2)} ms`,
        '—',
        s.target,
        nginx ? `p50 ${ms(nginx.p50Us)}, p99 ${ms(nginx.p99Us)}` : '—',
        s.verdict,
      ]];
    }
    case 'reload':
      return [[
        `${s.title} (${s.workers} workers)`,
        s.maxMs === null ? 'not observed' : `max ${Math.round(s.maxMs)} ms, median ${Math.round(s.medianMs!)} ms; ${s.failedRequests} failed of ${s.requests.toLocaleString('en-US')}`,
        '—', '—', '—', s.target, '—', s.verdict,
      ]];
    case 'memory':
      return s.rows.map((r, i): Row => [
        i === 0 ? 'resident memory per worker (VmRSS)' : '',
        `${r.routes} routes: idle ${perWorker(r.idleKiB)}, loaded ${perWorker(r.loadedPeakKiB)}`,
        '—', '—', '—', i === 0 ? s.target : '', '—', i === 0 ? s.verdict : '',
      ]);
    case 'management': {
      const fmt = (xs: (number | null)[]) => xs.map((x) => (x === null ? 'not seen' : String(Math.round(x)))).join('/');
      return [[
        s.title,
        `paged list ${Math.round(s.listMs)} ms (${s.pages} pages of ${s.pageSize}, first ${Math.round(s.firstPageMs)} ms), unpaged ${Math.round(s.fullListMs ?? NaN)} ms; change enforced ${fmt(s.applyMs)} ms, lifted ${fmt(s.liftMs)} ms`,
        '—', '—', '—', s.target, '—', s.verdict,
      ]];
    }
    case 'error':
      return [[s.title, `ERROR: ${s.notes[0] ?? s.error}`, '—', '—', '—', s.target, '—', s.verdict]];
  }
}

function table(header: Row, body: Row[]): string {
  const width = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: Row): string => r.map((cell, i) => cell.padEnd(width[i])).join(' │ ').trimEnd();
  const rule = width.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(header), rule, ...body.map(line)].join('\n');
}

function details(s: ScenarioResult): string[] {
  const out: string[] = [];
  if (s.kind === 'throughput') {
    out.push(`${s.title}:`);
    for (const c of (s as ThroughputScenario).contenders) {
      if (!c.check.ok) {
        out.push(`  ${c.name}: not timed, wrong answer — ${c.check.detail}`);
        continue;
      }
      const runs = c.runs.map((r) => (r.failure ? 'FAILED' : r.errorCount ? `${Math.round(r.rps!)}(${r.errorCount} errors)` : String(Math.round(r.rps!))));
      const cpu = c.runs.map((r) => (r.cpuUsPerRequest === undefined ? '—' : r.cpuUsPerRequest.toFixed(1)));
      out.push(`  ${c.name}: median ${rps(c.medianRps)} of ${c.cleanRuns} clean runs [${runs.join(', ')}]; CPU/request median ${us(c.medianCpuUsPerRequest)} [${cpu.join(', ')}]`);
    }
  } else if (s.kind === 'latency') {
    out.push(`${s.title}, ${s.rate} req/s offered:`);
    for (const c of s.contenders) {
      const runs = c.runs.map((r) => (r.result ? `p50 ${ms(r.result.latencyUs.p50)} p99 ${ms(r.result.latencyUs.p99)} @ ${Math.round(r.result.achievedRate)}/s${r.clean ? '' : ' (not clean)'}` : 'FAILED'));
      out.push(`  ${c.name}: [${runs.join('; ')}]`);
    }
  } else if (s.kind === 'reload') {
    out.push(`${s.title}: file replaced by ${s.write}`);
    for (const r of s.reloads) {
      out.push(`  generation ${r.generation}: /config ${r.configMs === null ? 'not seen' : `${Math.round(r.configMs)} ms`}, data plane ${r.dataPlaneMs === null ? 'not seen' : `${Math.round(r.dataPlaneMs)} ms`}${r.error ? ` — ${r.error}` : ''}`);
    }
  } else if (s.kind === 'memory') {
    out.push(`${s.title}:`);
    for (const r of s.rows) out.push(`  ${r.name}: workers idle ${perWorker(r.idleKiB)}, loaded peak ${perWorker(r.loadedPeakKiB)}${r.primaryIdleKiB !== undefined ? `; primary idle ${mib(r.primaryIdleKiB)}` : ''}`);
  }
  for (const n of s.notes) out.push(`  note: ${n}`);
  return out;
}

export function render(results: BenchResults): string {
  const m = results.meta;
  const header: Row = ['scenario', 'result', 'compared with', 'ratio / added', 'CPU/request (vs reference)', 'target', 'nginx', 'verdict'];
  const lines = [
    '',
    `Portcullis benchmark — ${m.date}${m.quick ? ' — QUICK MODE (smoke check, not figures)' : ''}`,
    `gateway: ${m.gateway === 'stand-in' ? 'STAND-IN (bench/stand-in/gateway.ts), NOT portcullis' : 'portcullis (bin/portcullis.js)'}${m.gitCommit ? ` @ ${m.gitCommit.slice(0, 12)}` : ''}; node ${m.node}; ${m.cpus} CPU × ${m.cpuModel}`,
    `throughput: ${m.loadgen.tool} ${m.loadgen.version}, ${m.loadgen.connections} connections, ${m.loadgen.tool === 'wrk' ? `${m.loadgen.threads} thread(s), ` : ''}${m.loadgen.warmupSec} s warm-up, ${m.loadgen.durationSec} s × ${m.loadgen.reps} runs per system (median of clean runs), systems interleaved`,
    `latency: ${m.latencyLoadgen}`,
    `nginx: ${m.nginx ?? 'not found, column left out'}`,
    `NOTE: ${m.sharedCoresNote}`,
    ...(m.busyBeforeStart !== null && m.busyBeforeStart > 0.15 ? [`WARNING: the machine was ${Math.round(m.busyBeforeStart * 100)}% busy with other work before the bench started: figures are noisy.`] : []),
    '',
    table(header, results.scenarios.flatMap(rows)),
    '',
    RATIO_NOTE,
    '',
    ...results.scenarios.flatMap(details),
    '',
  ];
  return lines.join('\n');
}
