import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

// Three pages from one build: the players' page (/), the read-only embed (/embed) and the
// event's live stats (/stats).
// Assets go to /assets/... (base "/"), which is where the api pod serves them.
// `npm run dev` proxies the API and websocket to a local `place api` / `place dev`
// (PLACE_DEV_SERVER, default http://127.0.0.1:8000).
const backend = process.env.PLACE_DEV_SERVER ?? 'http://127.0.0.1:8000';

export default defineConfig({
  base: '/',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'index.html'),
        embed: resolve(import.meta.dirname, 'embed.html'),
        stats: resolve(import.meta.dirname, 'stats.html'),
      },
    },
  },
  server: {
    proxy: {
      '/api': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
