// Bundles src/main.ts (and the CSS it imports) into dist/, with index.html beside it. ./cocoon runs this
// (npm run build) before the gateway starts; the gateway serves dist/ under /miniapp/.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const out = new URL("./dist/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: "src/main.ts" },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2020", "chrome100", "safari15"],
  outdir: "dist",
  logLevel: "warning",
  legalComments: "linked",
  // @ton/core (the anchor check reads a BoC) expects Node's Buffer: the `buffer` package stands in for it.
  inject: ["src/buffer-shim.ts"],
  // The anchor check is imported on demand, so the chat does not load @ton/core until "Verify this answer".
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
for (const file of ["index.html", "icon.svg"]) {
  await copyFile(new URL(`./src/${file}`, import.meta.url), new URL(file, out));
}
