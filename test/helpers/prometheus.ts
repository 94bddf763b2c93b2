// A strict reader of the Prometheus text exposition format (what promtool
// check metrics refuses, refused here): one HELP and one TYPE per family,
// before its samples, every sample in a declared family, no sample twice.

export interface Exposition {
  types: Map<string, string>;
  /** "name{labels}" → value */
  samples: Map<string, number>;
}

const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'], counter: [''], gauge: [''], untyped: [''] };

export function parseExposition(text: string): Exposition {
  const help = new Set<string>();
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  const closed = new Set<string>();
  let currentFamily: string | undefined;
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (closed.has(name)) throw new Error(`line ${i + 1}: family ${name} appears again after other families`);
      if (currentFamily && currentFamily !== name) closed.add(currentFamily);
      currentFamily = name;
      if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`line ${i + 1}: second HELP for ${name}`);
        help.add(name);
      } else {
        if (types.has(name)) throw new Error(`line ${i + 1}: second TYPE for ${name}`);
        types.set(name, rest ?? '');
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const [, name, labels = '', value] = m;
    const family = currentFamily;
    const type = family ? types.get(family) : undefined;
    if (!family || !type || !SUFFIXES[type]?.some((s) => family + s === name)) throw new Error(`line ${i + 1}: sample ${name} outside its family (current: ${family})`);
    const key = name + labels;
    if (samples.has(key)) throw new Error(`line ${i + 1}: sample ${key} twice`);
    samples.set(key, Number(value));
  }
  return { types, samples };
}
