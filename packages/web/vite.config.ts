// Builds the console into dist/, which the control plane serves at / (`gpuaas up`). No inline
// scripts or styles end up in index.html, so the page runs under a CSP without 'unsafe-inline'.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    host: "127.0.0.1",
    // `npm run dev -w @gpuaas/web` proxies the API to a local `gpuaas up` on GPUAAS_API.
    proxy: { "/api": process.env.GPUAAS_API ?? "http://127.0.0.1:8080" },
  },
});
