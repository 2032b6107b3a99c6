#!/usr/bin/env node
// A tiny static server for the Plateau page: serves dist/web/ on localhost (a secure context, so
// WebGPU is allowed). Extra folders can be mounted under a URL prefix (tests mount the fixtures).
//
//   node scripts/serve.mjs [--port 8080] [--root dist/web] [--mount /fixtures=../shared/fixtures]
//
// Programmatic use: `const server = await serve({ port: 0, mounts: { '/fixtures': dir } }); server.url`.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.css': 'text/css',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
};

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Resolves `urlPath` inside `root`, or null if it escapes it. */
function inside(root, urlPath) {
  const file = path.resolve(root, '.' + path.posix.normalize('/' + urlPath));
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

/**
 * Starts the server on 127.0.0.1. `root` (default dist/web) is served at `/`; each entry of
 * `mounts` maps a URL prefix like '/fixtures' to a folder. Resolves once listening.
 */
export async function serve({ port = 8080, root = path.join(repoRoot, 'dist/web'), mounts = {}, host = '127.0.0.1', quiet = true } = {}) {
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => ['/' + prefix.replace(/^\/+|\/+$/g, ''), path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const rootDir = path.resolve(root);
  const server = createServer(async (req, res) => {
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const mount = table.find(([prefix]) => urlPath === prefix || urlPath.startsWith(prefix + '/'));
    const [base, rest] = mount ? [mount[1], urlPath.slice(mount[0].length)] : [rootDir, urlPath];
    let file = inside(base, rest);
    try {
      if (!file) throw new Error('outside');
      let info = await stat(file);
      if (info.isDirectory()) {
        file = path.join(file, 'index.html');
        info = await stat(file);
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
      if (!quiet) console.log(`200 ${urlPath}`);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${urlPath}`);
      if (!quiet) console.log(`404 ${urlPath}`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    server,
    port: address.port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opts = { port: 8080, mounts: {}, quiet: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Error(`${a}: missing value`);
      return args[++i];
    };
    if (a === '--port') opts.port = Number(value());
    else if (a === '--root') opts.root = value();
    else if (a === '--host') opts.host = value();
    else if (a === '--mount') {
      const [prefix, dir] = value().split('=');
      if (!prefix || !dir) throw new Error('--mount: expected /prefix=folder');
      opts.mounts[prefix] = dir;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/serve.mjs [--port 8080] [--root dist/web] [--host 127.0.0.1] [--mount /prefix=folder]...');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  const s = await serve(opts);
  console.log(`Plateau page: ${s.url} (serving ${opts.root ?? 'dist/web'}; Ctrl-C to stop)`);
}
