// The history viewer, one lazy chunk: its state, the bar that replaces the place bar, its layer.
import HistoryBar from '../components/HistoryBar.svelte';
import HistoryLayer from '../components/HistoryLayer.svelte';
import { exposeDebug } from '../lib/debug';
import { HistoryView } from '../lib/historyView.svelte';

export interface HistoryFeature {
  view: HistoryView;
  Bar: typeof HistoryBar;
  Layer: typeof HistoryLayer;
}

export function createHistory(): HistoryFeature {
  const view = new HistoryView();
  exposeDebug({
    history: () => ({
      status: view.status,
      frames: view.frames.length,
      index: view.index,
      shown: view.shown?.at ?? null,
      playing: view.playing,
      fps: view.fps,
    }),
  });
  return { view, Bar: HistoryBar, Layer: HistoryLayer };
}
