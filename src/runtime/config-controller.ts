// Reads the configuration files, builds snapshots, and (with --watch) rebuilds
// them when the files change. A build that fails is reported and dropped: the
// running snapshot is never replaced by a broken one.
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { stat } from 'node:fs/promises';
import { buildFromResources, type BuildResult } from '../config/pipeline.ts';
import { loadPaths } from '../resources/load.ts';
import type { LoadedResource } from '../resources/types.ts';
import { formatError } from '../resources/errors.ts';
import type { TranslateOptions } from '../translate/index.ts';
import type { ReloadReport } from '../admin/server.ts';
import type { Snapshot } from '../ir/types.ts';
import { reloadWarnings } from './reload-warnings.ts';
import { analyze } from '../analyze/index.ts';
import type { Finding } from '../analyze/finding.ts';
import { settle, SETTLE, type SettleTiming } from './settle.ts';
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';

/** Debounce of a change from the store (a burst of API writes is one build) and of a file event. */
const STORE_DEBOUNCE_MS = 5;
const FILE_DEBOUNCE_MS = 30;

export class ConfigController {
  private paths: string[];
  private options: TranslateOptions;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  settleTiming: SettleTiming = SETTLE;
  private building = false;
  private again = false;
  /** A watched file changed since the last build: settle before reading them (store changes need no settling). */
  private filesChanged = false;
  private extra: (() => LoadedResource[]) | undefined;
  /** After close(), a build still running serves nothing (it would start listeners again after shutdown). */
  private closed = false;
  private onChange: (() => Promise<void>) | undefined;
  last: ReloadReport | undefined;
  /** The last build, served or not (the management API reads status and the file objects from it). */
  lastBuild: BuildResult | undefined;
  /** Resources of the last build that came from the files. */
  fileResources: LoadedResource[] = [];
  /**
   * The files as last read. A change from the store rebuilds with these: the files are
   * read again only when they changed (a watch event, after they settle) or when asked
   * (reloadFiles), never in the middle of an editor's write because the API was used.
   */
  private lastLoad: Awaited<ReturnType<typeof loadPaths>> | undefined;
  private filesStale = true;
  /** Runs after every build, served or rejected. */
  afterBuild: ((r: BuildResult) => void) | undefined;
  /** The snapshot being served, to say what a reload takes away. */
  private serving: Snapshot | undefined;

  /** `extra`: resources from the management API's store, built together with the files. */
  constructor(paths: string[], options: TranslateOptions, extra?: () => LoadedResource[]) {
    this.paths = paths;
    this.options = options;
    this.extra = extra;
  }

  /** `withExtra` false: the files alone (a start whose stored objects are rejected). */
  async build(withExtra = true): Promise<BuildResult> {
    // Files that changed but have not settled yet are read by the build scheduled for them.
    if (!this.lastLoad || (this.filesStale && !this.filesChanged)) {
      // Cleared before the read: an event during it marks the files stale again.
      this.filesStale = false;
      this.lastLoad = await loadPaths(this.paths);
    }
    const loaded = this.lastLoad;
    const extra = (withExtra ? (this.extra?.() ?? []) : []).map((r, i) => ({ ...r, seq: loaded.resources.length + i }));
    this.fileResources = loaded.resources;
    const r = buildFromResources([...loaded.resources, ...extra], this.options, loaded.errors, loaded.files);
    this.lastBuild = r;
    this.afterBuild?.(r);
    return r;
  }

  /** What runs on a change (files under --watch, or the store); set once. */
  setOnChange(onChange: () => Promise<void>): void {
    this.onChange = onChange;
  }

  /**
   * The store changed: rebuild soon (debounced briefly, so that a burst of writes
   * such as `kubectl apply -f DIR` is one build; never two builds at once).
   */
  changed(): void {
    if (this.onChange) this.schedule(STORE_DEBOUNCE_MS);
  }

  /** The next build reads the files again (an explicit reload: the files may have been edited). */
  reloadFiles(): void {
    this.filesStale = true;
  }

  /** A watched file changed: rebuild once the files have settled. */
  private trigger = (): void => {
    this.filesChanged = true;
    this.filesStale = true;
    this.schedule(FILE_DEBOUNCE_MS);
  };

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.filesChanged ? FILE_DEBOUNCE_MS : ms);
  }

  private run = async (): Promise<void> => {
    if (this.closed) return;
    if (this.building) {
      this.again = true;
      return;
    }
    this.building = true;
    try {
      // Not between two steps of an editor's save: wait until the files stop changing.
      if (this.filesChanged) {
        this.filesChanged = false;
        await settle(this.paths, this.settleTiming);
      }
      await this.onChange?.();
    } finally {
      this.building = false;
      if (this.again) {
        this.again = false;
        this.schedule(STORE_DEBOUNCE_MS);
      }
    }
  };

  /** Record a build that is now served: report, count, and say which policies were rejected. */
  served(r: BuildResult, reloads: Counter<'result'>, log: Logger): void {
    const rep = this.report(r);
    this.serving = r.snapshot;
    reloads.labels('success').inc();
    if (rep.policyErrors.length > 0) log.error({ errors: rep.policyErrors }, 'policies rejected; their hops fail closed');
  }

  /**
   * Rebuild and serve the result through `apply` (which throws when it cannot
   * serve it). Whatever fails is reported and counted, and the running snapshot
   * (`currentVersion`) keeps serving. Returns whether the files are now served.
   */
  async reload(currentVersion: string | undefined, apply: (snapshot: Snapshot) => Promise<void>, reloads: Counter<'result'>, log: Logger): Promise<boolean> {
    const r = await this.build();
    if (this.closed) return false;
    let failure: Error | undefined;
    if (r.snapshot && r.snapshot.version === currentVersion) {
      // Nothing to serve anew, but what the translator says may have changed (a policy
      // that became Invalid without changing the IR): /config shows the latest status.
      if (this.serving) this.serving.status = r.snapshot.status;
      this.report(r);
      return true;
    }
    if (r.snapshot) {
      const warnings = reloadWarnings(this.serving, r.snapshot);
      try {
        await apply(r.snapshot);
        for (const w of warnings) log.warn(w);
        this.served(r, reloads, log);
        log.info({ version: r.snapshot.version }, 'configuration reloaded');
        return true;
      } catch (err) {
        failure = err as Error;
      }
    }
    const rep = this.report(r, failure);
    reloads.labels('failure').inc();
    log.error({ errors: rep.errors }, 'configuration rejected; the previous one keeps serving');
    return false;
  }

  report(r: BuildResult, applyError?: Error): ReloadReport {
    const errors = r.errors.map(formatError);
    if (applyError) errors.push(`cannot serve the new configuration: ${applyError.message}`);
    // The analysis (tens of ms with 10,000 stored policies) runs when /config is read, not on every build.
    let findings: Finding[] | undefined;
    const snapshot = r.snapshot;
    this.last = {
      ok: errors.length === 0, at: new Date().toISOString(), version: snapshot?.version, errors, policyErrors: r.policyErrors.map(formatError),
      get findings() {
        return (findings ??= snapshot ? analyze({ snapshot, resources: r.resources }) : []);
      },
    };
    return this.last;
  }

  /**
   * Watch the paths (directories recursively). `onChange` runs after edits settle,
   * never twice at once; edits during a build schedule one more build.
   */
  async watch(onChange: () => Promise<void>): Promise<void> {
    this.onChange = onChange;
    const trigger = this.trigger;
    for (const p of this.paths) {
      const isDir = (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
      // Watch a file's directory: editors replace files (rename), which drops a watch on the file itself.
      const target = isDir ? p : dirname(p);
      try {
        const w = watch(target, { recursive: isDir, persistent: false }, () => trigger());
        w.on('error', () => {});
        this.watchers.push(w);
      } catch {
        // A path that cannot be watched still serves; the next build reports it if it is gone.
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
