// The templates tool, one lazy chunk: the store, its panel, its layer over the canvas, its chip.
import TemplateChip from '../components/TemplateChip.svelte';
import TemplateLayer from '../components/TemplateLayer.svelte';
import TemplatePanel from '../components/TemplatePanel.svelte';
import type { KeyValueStore } from '../lib/auth';
import type { PlaceClient } from '../lib/client.svelte';
import { exposeDebug } from '../lib/debug';
import { parseTemplateParams } from '../lib/template';
import { TemplateStore } from '../lib/templates.svelte';

export interface TemplatesFeature {
  store: TemplateStore;
  Panel: typeof TemplatePanel;
  Layer: typeof TemplateLayer;
  Chip: typeof TemplateChip;
  /** Add the template a share link carries (`?template=URL&tx=&ty=`), if any. */
  fromLink(search: string): void;
}

export function createTemplates(client: PlaceClient, storage: KeyValueStore | null): TemplatesFeature {
  const store = new TemplateStore(client, storage);
  exposeDebug({
    templates: () =>
      store.items.map((t) => ({
        src: t.spec.src,
        x: t.spec.x,
        y: t.spec.y,
        opacity: t.spec.opacity,
        visible: t.spec.visible,
        status: t.status,
        error: t.error,
        wrong: t.wrong,
        total: t.total,
      })),
  });
  return {
    store,
    Panel: TemplatePanel,
    Layer: TemplateLayer,
    Chip: TemplateChip,
    fromLink(search) {
      const link = parseTemplateParams(search);
      if (!link) return;
      store.add(link.src, link.x, link.y);
      // Kept in this browser from now on: a reload must not move it back to the link's position.
      const url = new URL(location.href);
      for (const name of ['template', 'tx', 'ty']) url.searchParams.delete(name);
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    },
  };
}
