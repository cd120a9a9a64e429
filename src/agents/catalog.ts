/**
 * The provider's catalog (docs/api.md §12): the request types it serves with their parameters (from each
 * dataset's `describe`, which reads the validators' own rules) and the SigMF recordings it can read. The
 * provider announces it at start and again whenever a rescan of the recordings folder changes it.
 */
import { scanRecordings } from '../datasets/sigmf.js';
import type { DatasetRegistry } from '../datasets/types.js';
import { CATALOG_LIMITS, type Catalog, type CatalogRecording } from '../wire/index.js';

/** The catalog, and what did not fit in it (recordings unreadable or over the limit) for the log. */
export interface BuiltCatalog {
  catalog: Catalog;
  notes: string[];
}

/** Builds the catalog of `registry` and the recordings in `recordingsDir` (none when it is undefined). */
export async function buildCatalog(
  registry: DatasetRegistry,
  recordingsDir: string | undefined,
): Promise<BuiltCatalog> {
  const notes: string[] = [];
  const types = registry
    .types()
    .slice(0, CATALOG_LIMITS.types)
    .map((type) => {
      const d = registry.get(type)?.describe?.();
      return {
        type,
        description: (d?.description ?? registry.get(type)?.description ?? '').slice(
          0,
          CATALOG_LIMITS.textLength,
        ),
        parameters: (d?.parameters ?? []).slice(0, CATALOG_LIMITS.parameters),
      };
    });
  const recordings: CatalogRecording[] = [];
  if (recordingsDir !== undefined) {
    try {
      const scan = await scanRecordings(recordingsDir);
      for (const bad of scan.invalid) notes.push(`recording ${bad.name} left out: ${bad.reason}`);
      for (const r of scan.recordings) {
        if (r.name.length > CATALOG_LIMITS.nameLength) continue;
        recordings.push({
          name: r.name,
          sample_rate: r.sampleRate,
          center_frequency: r.centerFrequency,
          span: r.format.complex ? r.sampleRate : r.sampleRate / 2,
          duration: r.duration,
          datatype: r.datatype.slice(0, 32),
        });
      }
    } catch (err) {
      notes.push(`recordings folder not read: ${(err as Error).message}`);
    }
  }
  if (recordings.length > CATALOG_LIMITS.recordings) {
    notes.push(
      `${recordings.length - CATALOG_LIMITS.recordings} recordings left out of the catalog (at most ${CATALOG_LIMITS.recordings})`,
    );
    recordings.length = CATALOG_LIMITS.recordings;
  }
  return { catalog: { types, recordings }, notes };
}
