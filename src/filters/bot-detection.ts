// Bot detection (Kong's bot-detection plugin, a SecurityPolicy extension:
// spec.portcullis.botDetection). The User-Agent is searched with RE2 patterns
// compiled once per snapshot: `allow` wins, then `deny`, then the built-in list
// of crawlers and scripted clients; a bot gets 403. No User-Agent: not a bot
// (as Kong). Verdicts are cached per User-Agent string, bounded, because a
// client population sends few distinct ones.
import type { CompiledFilter, FilterModuleFor } from './types.ts';
import { gatewayReply } from '../core/replies.ts';
import { compileRegex, type LinearRegex } from '../match/regex.ts';

export type { BotDetectionConfig } from '../ir/security-policy.ts';

/**
 * Crawlers, SEO and AI scrapers, and HTTP libraries that announce themselves.
 * curl is left out on purpose: it is how people test a gateway by hand.
 */
export const BUILT_IN_BOTS: readonly string[] = [
  '(?i)(googlebot|bingbot|slurp|duckduckbot|baiduspider|yandex(bot|images)|sogou|exabot|seznambot|applebot|petalbot|bytespider)',
  '(?i)(ahrefsbot|semrushbot|mj12bot|dotbot|rogerbot|blexbot|dataforseobot|serpstatbot|megaindex|screaming frog)',
  '(?i)(gptbot|chatgpt-user|oai-searchbot|ccbot|claudebot|anthropic-ai|perplexitybot|amazonbot|meta-externalagent|google-extended|diffbot|omgili)',
  '(?i)(facebookexternalhit|twitterbot|linkedinbot|slackbot|discordbot|telegrambot|whatsapp|embedly|pinterestbot)',
  '(?i)(python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|okhttp|libwww-perl|lwp-trivial|wget|scrapy|nutch|heritrix|phantomjs|headlesschrome|nikto|sqlmap|masscan|zgrab)',
  '(?i)(crawler|spider|scraper)',
];

/** Distinct User-Agents whose verdict is remembered (a Map in insertion order: the oldest goes first). */
const CACHE_ENTRIES = 4096;
/** Longer User-Agents are searched every time, not cached (a client cannot fill memory with them). */
const CACHE_MAX_LENGTH = 512;

export const botDetection: FilterModuleFor<'botDetection'> = {
  type: 'botDetection',
  compile(config, cc): CompiledFilter {
    const allow = config.allow.map((p) => compileRegex(p));
    const deny = [...config.deny, ...(config.builtInRules ? BUILT_IN_BOTS : [])].map((p) => compileRegex(p));
    const reply = gatewayReply('botDetected');
    const cache = new Map<string, LinearRegex | null>();
    const verdict = (ua: string): LinearRegex | null => {
      for (const re of allow) if (re.test(ua)) return null;
      for (const re of deny) if (re.test(ua)) return re;
      return null;
    };
    return {
      type: 'botDetection',
      close: () => cache.clear(),
      onRequest(ctx) {
        const h = ctx.headers['user-agent'];
        if (typeof h !== 'string' || h === '') return undefined;
        let hit = cache.get(h);
        if (hit === undefined) {
          hit = verdict(h);
          if (h.length <= CACHE_MAX_LENGTH) {
            if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
            cache.set(h, hit);
          }
        }
        if (hit === null) {
          if (ctx.trace) ctx.record({ filter: 'botDetection', origin: cc.origin, decision: 'continue', reason: 'User-Agent is not a bot' });
          return undefined;
        }
        ctx.record({ filter: 'botDetection', origin: cc.origin, decision: 'deny', reason: `User-Agent matches bot pattern ${hit.source.slice(0, 120)}` });
        return reply;
      },
    };
  },
};
