// @ton/core uses Node's Buffer as a global; esbuild injects this module wherever the bundle names it.
export { Buffer } from "buffer";
