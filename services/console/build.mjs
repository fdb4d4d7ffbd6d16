// Builds the console into one directory of static files that nginx serves at /:
//   node build.mjs <outdir>
// index.html (never cached: it names the current assets) and assets/<name>-<hash>.{js,css}
// (content-hashed, so nginx may cache them forever). Everything is bundled from node_modules:
// nothing is fetched from a CDN at run time, and no inline script or style is emitted, so the
// front door's Content-Security-Policy can forbid both.
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, "..", "..", "build", "console"));
const tmp = `${out}.tmp-${process.pid}`;

rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, "assets"), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { main: "src/main.tsx" },
  bundle: true,
  splitting: true,          // ECharts (the dashboard) is a chunk of its own, loaded on demand
  format: "esm",
  target: ["es2020", "chrome100", "safari15", "firefox100"],
  outdir: join(tmp, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

let js = "", css = "";
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint === "src/main.tsx" && file.endsWith(".js")) js = basename(file);
  if (file.endsWith(".css") && basename(file).startsWith("main-")) css = basename(file);
}
if (!js || !css) throw new Error(`build: entry outputs missing (js=${js}, css=${css})`);

const html = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("@MAIN_JS@", `/assets/${js}`)
  .replace("@MAIN_CSS@", `/assets/${css}`);
writeFileSync(join(tmp, "index.html"), html);
writeFileSync(join(tmp, "assets", "icon.svg"), readFileSync(join(here, "src", "icon.svg")));

// Swap in the new tree in one rename so a running nginx never serves half a build.
rmSync(out, { recursive: true, force: true });
mkdirSync(dirname(out), { recursive: true });
const { renameSync } = await import("node:fs");
renameSync(tmp, out);
console.log(`console: built ${out} (${js}, ${css})`);
