// Gateway API RequestHeaderModifier / ResponseHeaderModifier.
import type { IncomingHttpHeaders } from 'node:http';
import type { IRHeaderModifier } from '../ir/types.ts';
import type { CompiledFilter, FilterModuleFor } from './types.ts';

type HeaderBag = IncomingHttpHeaders | Record<string, string | string[] | number | undefined>;

/** Apply set/add/remove to a header object (names are lowercase). */
export function applyHeaderModifier(m: IRHeaderModifier, headers: HeaderBag): void {
  for (let i = 0; i < m.set.length; i++) headers[m.set[i].name] = m.set[i].value;
  for (let i = 0; i < m.add.length; i++) {
    const { name, value } = m.add[i];
    const prev = headers[name];
    // Gateway API "add" appends to an existing value (comma-joined as the header's list).
    if (prev === undefined) headers[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[name] = name === 'set-cookie' ? [String(prev), value] : `${prev},${value}`;
  }
  for (let i = 0; i < m.remove.length; i++) delete headers[m.remove[i]];
}

export const requestHeaderModifier: FilterModuleFor<'requestHeaderModifier'> = {
  type: 'requestHeaderModifier',
  compile(config): CompiledFilter {
    return {
      type: 'requestHeaderModifier',
      onRequest(ctx) {
        applyHeaderModifier(config, ctx.headers);
        return undefined;
      },
    };
  },
};

export const responseHeaderModifier: FilterModuleFor<'responseHeaderModifier'> = {
  type: 'responseHeaderModifier',
  compile(config): CompiledFilter {
    return {
      type: 'responseHeaderModifier',
      onResponse(_ctx, _status, headers) {
        applyHeaderModifier(config, headers);
      },
    };
  },
};
