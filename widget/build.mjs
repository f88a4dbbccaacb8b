// Builds the widget and the agent console into ../chatkit/static/, where the Python package
// serves them from. The outputs are committed, so installing chatkit needs no Node.
//
//   node build.mjs           build
//   node build.mjs --check   rebuild into a temporary directory; fail if the committed files
//                            differ or a size budget is exceeded
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const committed = join(here, '..', 'chatkit', 'static');
const KB = 1024;

// Gzipped size limits, in bytes. The loader runs on every page of the host site.
const BUDGETS = [
  { name: 'loader', files: ['widget/loader.js'], limit: 3 * KB },
  { name: 'frame app', files: ['widget/app.js', 'widget/app.css'], limit: 35 * KB },
  // The console is for signed-in agents only, loaded once per shift and cached. About 28 KiB
  // before the reports view; uPlot (the reports' charts, docs/architecture.md) adds about
  // 24 KiB and the reports and quality views about 6 KiB. The limit leaves room to grow
  // without letting a heavy framework in unnoticed.
  { name: 'console', files: ['console/console.js', 'console/console.css'], limit: 72 * KB },
];

// Evergreen browsers from about 2021 on.
const TARGET = ['chrome96', 'edge96', 'firefox95', 'safari15.4'];

async function bundle(entry, loader = 'js', define = {}) {
  const result = await esbuild.build({
    entryPoints: [join(src, entry)],
    define,
    bundle: true,
    minify: true,
    format: loader === 'js' ? 'iife' : undefined,
    platform: 'browser',
    target: TARGET,
    legalComments: 'none',
    charset: 'ascii',
    write: false,
    logLevel: 'silent',
  });
  if (result.outputFiles.length !== 1) throw new Error(`${entry}: expected one output`);
  return result.outputFiles[0].text;
}

/** Asset URL with a content hash, so a new release is never served from a stale cache. */
function versioned(path, content) {
  return `${path}?v=${createHash('sha256').update(content).digest('hex').slice(0, 10)}`;
}

/** Fills {{name}} placeholders in an HTML template and drops indentation. */
function page(template, values) {
  const html = readFileSync(join(src, template), 'utf8').replace(/\{\{([\w.]+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`${template}: no value for {{${key}}}`);
    return values[key];
  });
  return `${html.split('\n').map((line) => line.trim()).filter(Boolean).join('\n')}\n`;
}

/** Every output file: path below chatkit/static/ → content. */
async function build() {
  const loaderCss = (await bundle('loader/loader.css', 'css')).trim();
  const loader = await bundle('loader/loader.js', 'js', { __LOADER_CSS__: JSON.stringify(loaderCss) });
  const appJs = await bundle('frame/main.js');
  const appCss = await bundle('frame/app.css', 'css');
  const consoleJs = await bundle('console/main.js');
  const consoleCss = await bundle('console/console.css', 'css');
  // Relative to {mount}/widget/, where the server serves the frame. (The console's pages are
  // jinja2 templates in chatkit/console/templates/; the server versions their assets.)
  return {
    'widget/loader.js': loader,
    'widget/app.js': appJs,
    'widget/app.css': appCss,
    'widget/frame.html': page('frame/frame.html', {
      'app.js': versioned('../static/widget/app.js', appJs),
      'app.css': versioned('../static/widget/app.css', appCss),
    }),
    'console/console.js': consoleJs,
    'console/console.css': consoleCss,
  };
}

function write(dir, files) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

function gz(content) {
  return gzipSync(Buffer.from(content), { level: 9 }).length;
}

/** Prints every file's size; returns the budgets that are exceeded. */
function reportSizes(files) {
  for (const [path, content] of Object.entries(files)) {
    const raw = Buffer.byteLength(content);
    console.log(`  ${path.padEnd(22)} ${String(raw).padStart(7)} B   ${String(gz(content)).padStart(6)} B gzipped`);
  }
  const over = [];
  for (const budget of BUDGETS) {
    const size = budget.files.reduce((sum, path) => sum + gz(files[path]), 0);
    const ok = size <= budget.limit;
    console.log(`  budget ${budget.name}: ${size} / ${budget.limit} B gzipped ${ok ? 'ok' : 'OVER'}`);
    if (!ok) over.push(budget.name);
  }
  return over;
}

/** Files under chatkit/static/{widget,console}/ that the build does not produce. */
function strayFiles(files) {
  const stray = [];
  for (const dir of ['widget', 'console']) {
    const full = join(committed, dir);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full, { recursive: true, withFileTypes: true })) {
      if (!name.isFile()) continue;
      const path = relative(committed, join(name.parentPath ?? name.path, name.name)).split('\\').join('/');
      if (!(path in files)) stray.push(path);
    }
  }
  return stray;
}

async function main() {
  const check = process.argv.includes('--check');
  const files = await build();
  let failed = false;
  if (check) {
    const tmp = mkdtempSync(join(tmpdir(), 'chatkit-widget-'));
    try {
      write(tmp, files);
      for (const path of Object.keys(files)) {
        const built = readFileSync(join(tmp, path));
        const target = join(committed, path);
        if (!existsSync(target)) {
          console.error(`missing: chatkit/static/${path}`);
          failed = true;
        } else if (!built.equals(readFileSync(target))) {
          console.error(`out of date: chatkit/static/${path}`);
          failed = true;
        }
      }
      for (const path of strayFiles(files)) {
        console.error(`not built by build.mjs: chatkit/static/${path}`);
        failed = true;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    if (failed) console.error('The committed widget build is stale: run `cd widget && npm ci && node build.mjs`.');
  } else {
    write(committed, files);
    for (const path of strayFiles(files)) console.warn(`warning: stray file chatkit/static/${path}`);
  }
  console.log(check ? 'Checked chatkit/static/:' : 'Built chatkit/static/:');
  if (reportSizes(files).length) failed = true;
  if (failed) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
