// Vite build of the Admin UI; `npm run build -- --outDir DIR` writes the files the platform serves.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

export default defineConfig({
  plugins: [preact()],
  build: { sourcemap: false, chunkSizeWarningLimit: 1000 },
  // `npm run dev` talks to a platform on 9000 (one origin for the session cookie, as on port 3000).
  server: { proxy: { "/api": "http://localhost:9000", "/v1": "http://localhost:9000", "/health": "http://localhost:9000" } },
});
