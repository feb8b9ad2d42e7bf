/**
 * The cooldown reminder: when the player's cooldown ends, a browser notification (while the page
 * is in the background) and/or a short sound, as they chose. A lazy chunk: loaded only once the
 * player turns one on. The browser's permission is asked only then, never on page load.
 */
import type { PlaceClient } from './client.svelte';

export interface ReminderPrefs {
  notification: boolean;
  sound: boolean;
}

export type Permission = NotificationPermission | 'unsupported';

export function notificationPermission(): Permission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Ask the browser (it shows its prompt once; later it answers from the site's settings). */
export async function askPermission(): Promise<Permission> {
  if (typeof Notification === 'undefined') return 'unsupported';
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

export class Reminder {
  /** How many times each fired (tests, debugging). */
  notified = $state(0);
  chimed = $state(0);
  private audio: AudioContext | null = null;
  private readonly stopEffects: () => void;

  constructor(
    private readonly client: PlaceClient,
    private readonly prefs: () => ReminderPrefs,
  ) {
    // One timer for the end of the running cooldown, set again whenever it changes (placed, hello).
    // A single timer, not a ticking one: background tabs throttle chains of timers, not this.
    this.stopEffects = $effect.root(() => {
      $effect(() => {
        const next = client.nextPlaceAtMs;
        if (!client.user || !next || client.cooldownMs <= 0) return;
        const left = client.cooldownLeft(client.clock.now());
        if (left <= 0) return;
        const timer = setTimeout(() => this.fire(), left + 50);
        return () => clearTimeout(timer);
      });
    });
    if (typeof document !== 'undefined') {
      document.addEventListener('pointerdown', this.unlock, { capture: true });
      document.addEventListener('keydown', this.unlock, { capture: true });
    }
  }

  destroy(): void {
    this.stopEffects();
    document.removeEventListener('pointerdown', this.unlock, { capture: true });
    document.removeEventListener('keydown', this.unlock, { capture: true });
    void this.audio?.close();
  }

  /** Browsers start sound only after a gesture on the page: the first one readies it. */
  readonly unlock = (): void => {
    if (!this.prefs().sound) return;
    this.audio ??= createAudio();
    if (this.audio?.state === 'suspended') void this.audio.resume();
  };

  private fire(): void {
    if (!this.client.user || this.client.cooldownLeft(this.client.clock.now()) > 0) return;
    const prefs = this.prefs();
    if (prefs.notification && notificationPermission() === 'granted' && (document.hidden || !document.hasFocus())) {
      try {
        const n = new Notification('Your next pixel is ready', {
          body: 'our/place: you can place a pixel again.',
          tag: 'place-cooldown',
        });
        n.onclick = () => {
          window.focus();
          n.close();
        };
        this.notified++;
      } catch {
        // some mobile browsers allow notifications only from a service worker
      }
    }
    if (prefs.sound) this.chime();
  }

  /** A short, soft two-note chime (synthesised: no sound file to download). */
  chime(): void {
    this.audio ??= createAudio();
    const ctx = this.audio;
    if (!ctx) return;
    if (ctx.state === 'suspended') void ctx.resume();
    const t = ctx.currentTime + 0.02;
    for (const [k, freq] of [659.25, 987.77].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      const start = t + k * 0.14;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.5);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.55);
    }
    this.chimed++;
  }
}

function createAudio(): AudioContext | null {
  try {
    return new AudioContext();
  } catch {
    return null;
  }
}
