// The cooldown reminder, one lazy chunk: the watcher (notification, sound) and its menu.
import ReminderMenu from '../components/ReminderMenu.svelte';
import type { PlaceClient } from '../lib/client.svelte';
import { exposeDebug } from '../lib/debug';
import { Reminder, type ReminderPrefs } from '../lib/reminder.svelte';

export interface ReminderFeature {
  reminder: Reminder;
  Menu: typeof ReminderMenu;
}

export function createReminder(client: PlaceClient, prefs: () => ReminderPrefs): ReminderFeature {
  const reminder = new Reminder(client, prefs);
  exposeDebug({ reminder: () => ({ notified: reminder.notified, chimed: reminder.chimed }) });
  return { reminder, Menu: ReminderMenu };
}
