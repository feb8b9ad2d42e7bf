/**
 * The page's optional tools: templates, the history viewer and the cooldown reminder. Only this
 * small switchboard is in the page's first download; each tool is a lazy chunk (`features/*.ts`)
 * loaded when the player first uses it, or at start when this browser kept one (templates saved,
 * a reminder turned on) or the link carries one (`?template=`).
 */
import type { KeyValueStore } from './auth';
import type { PlaceClient } from './client.svelte';
import type { HistoryFeature } from '../features/history';
import type { ReminderFeature } from '../features/reminder';
import type { TemplatesFeature } from '../features/templates';
import type { Toasts } from './toasts.svelte';

export const REMINDER_KEY = 'place.reminder';
const TEMPLATES_KEY = 'place.templates';

export interface Prefs {
  notification: boolean;
  sound: boolean;
}

export function readPrefs(storage: KeyValueStore | null): Prefs {
  try {
    const raw = JSON.parse(storage?.getItem(REMINDER_KEY) ?? '{}') as Partial<Prefs> | null;
    return { notification: raw?.notification === true, sound: raw?.sound === true };
  } catch {
    return { notification: false, sound: false };
  }
}

export type Panel = 'templates' | 'reminder' | null;

export class Extras {
  panel = $state<Panel>(null);
  historyOpen = $state(false);
  prefs = $state<Prefs>({ notification: false, sound: false });
  templates = $state.raw<TemplatesFeature | null>(null);
  history = $state.raw<HistoryFeature | null>(null);
  reminder = $state.raw<ReminderFeature | null>(null);

  constructor(
    readonly client: PlaceClient,
    readonly storage: KeyValueStore | null,
    readonly toasts: Toasts,
  ) {
    this.prefs = readPrefs(storage);
  }

  /** At start: load what this browser or the link asks for. */
  start(search: string): void {
    let saved = false;
    try {
      saved = !!this.storage?.getItem(TEMPLATES_KEY)?.includes('"src"');
    } catch {
      // storage blocked
    }
    if (saved || new URLSearchParams(search).has('template')) {
      void this.loadTemplates().then((t) => t?.fromLink(search));
    }
    if (this.prefs.notification || this.prefs.sound) void this.loadReminder();
  }

  async loadTemplates(): Promise<TemplatesFeature | null> {
    if (this.templates) return this.templates;
    try {
      const { createTemplates } = await import('../features/templates');
      this.templates ??= createTemplates(this.client, this.storage);
    } catch {
      this.toasts.show('error', 'Templates could not be loaded.', 'Check your connection and try again.');
    }
    return this.templates;
  }

  async loadReminder(): Promise<ReminderFeature | null> {
    if (this.reminder) return this.reminder;
    try {
      const { createReminder } = await import('../features/reminder');
      this.reminder ??= createReminder(this.client, () => this.prefs);
    } catch {
      this.toasts.show('error', 'The reminder could not be loaded.', 'Check your connection and try again.');
    }
    return this.reminder;
  }

  async toggle(panel: Exclude<Panel, null>): Promise<void> {
    if (this.panel === panel) {
      this.panel = null;
      return;
    }
    this.closeHistory();
    const loaded = panel === 'templates' ? await this.loadTemplates() : await this.loadReminder();
    if (loaded) this.panel = panel;
  }

  async openHistory(): Promise<void> {
    this.panel = null;
    if (!this.history) {
      try {
        const { createHistory } = await import('../features/history');
        this.history ??= createHistory();
      } catch {
        this.toasts.show('error', 'The history could not be loaded.', 'Check your connection and try again.');
        return;
      }
    }
    this.historyOpen = true;
    void this.history.view.open();
  }

  /** Back to the live canvas. */
  closeHistory(): void {
    if (!this.historyOpen) return;
    this.historyOpen = false;
    this.history?.view.close();
  }

  setPrefs(prefs: Prefs): void {
    this.prefs = prefs;
    try {
      this.storage?.setItem(REMINDER_KEY, JSON.stringify(prefs));
    } catch {
      // storage blocked: the choice lasts as long as the page
    }
  }
}
