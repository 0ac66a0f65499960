import { readJsonFile, writeFileAtomic } from './atomic-file.js';
import type { PinRecord, PinStore } from './pin-store.js';
import type { RepositoryKey } from './repository-key.js';

/**
 * Pins in one JSON file (`pins.json`), read once and rewritten whole on each change: there are
 * tens of pins, not thousands, and changes come from an admin's click. Changes are applied one at
 * a time, so two concurrent pins never lose one another.
 */
export class FsPinStore implements PinStore {
  private pins: PinRecord[] | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly tmpDir: string,
  ) {}

  async list(): Promise<PinRecord[]> {
    return [...(await this.load())];
  }

  add(record: PinRecord): Promise<void> {
    return this.change(async (pins) => {
      if (!pins.some((p) => p.repository === record.repository && p.reference === record.reference)) pins.push(record);
      return undefined;
    });
  }

  remove(repository: RepositoryKey, reference: string): Promise<boolean> {
    return this.change(async (pins) => {
      const index = pins.findIndex((p) => p.repository === repository && p.reference === reference);
      if (index >= 0) pins.splice(index, 1);
      return index >= 0;
    });
  }

  private async load(): Promise<PinRecord[]> {
    this.pins ??= (await readJsonFile<PinRecord[]>(this.file)) ?? [];
    return this.pins;
  }

  private change<T>(edit: (pins: PinRecord[]) => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => {}).then(async () => {
      const pins = [...(await this.load())];
      const result = await edit(pins);
      await writeFileAtomic(this.file, JSON.stringify(pins), this.tmpDir);
      this.pins = pins;
      return result;
    });
    this.queue = next;
    return next;
  }
}
