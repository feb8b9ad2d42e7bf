/** Short messages to the player: errors stay until read (or 8 s), the rest fade after a few seconds. */

export type ToastKind = 'error' | 'info' | 'success';

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  detail: string;
}

export class Toasts {
  items = $state<Toast[]>([]);
  private nextId = 1;
  private timers = new Map<number, ReturnType<typeof setTimeout>>();

  show(kind: ToastKind, title: string, detail = '', ttlMs = kind === 'error' ? 8000 : 3500): number {
    // The same message twice in a row is one toast, refreshed.
    const same = this.items.find((t) => t.kind === kind && t.title === title && t.detail === detail);
    if (same) this.dismiss(same.id);
    const id = this.nextId++;
    this.items = [...this.items.slice(-3), { id, kind, title, detail }];
    this.timers.set(
      id,
      setTimeout(() => this.dismiss(id), ttlMs),
    );
    return id;
  }

  dismiss(id: number): void {
    const t = this.timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(id);
    this.items = this.items.filter((x) => x.id !== id);
  }
}
