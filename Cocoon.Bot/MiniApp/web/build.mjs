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
});
for (const file of ["index.html", "icon.svg"]) {
  await copyFile(new URL(`./src/${file}`, import.meta.url), new URL(file, out));
}
