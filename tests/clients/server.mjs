// Starts the real `sangam serve --demo` on a free port with an in-memory database, and hands
// out its demo clients' tokens. SANGAM_BIN names the binary (default: the workspace's debug
// build).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(here, '..', '..', 'target');
const bin = process.env.SANGAM_BIN ?? path.join(targetDir, 'debug', 'sangam');

export async function startSangam() {
  const child = spawn(bin, ['serve', '--demo', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, DATABASE_URL: 'sqlite::memory:', NO_COLOR: '1', RUST_LOG: 'warn,api=info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const secrets = new Map();
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sangam did not start within 60 s:\n${log}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`sangam exited (${code}):\n${log}`)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      for (const m of chunk.matchAll(/-u (demo-[a-z-]+):(\S+)/g)) secrets.set(m[1], m[2]);
      const listening = /listening on (http:\/\/[^/\s]+)\/graphql/.exec(log);
      if (listening) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
  });
  async function token(clientId) {
    const secret = secrets.get(clientId);
    if (!secret) throw new Error(`the demo printed no secret for ${clientId}:\n${log}`);
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`no token for ${clientId}: ${JSON.stringify(body)}`);
    return body.access_token;
  }
  return {
    base,
    url: `${base}/graphql`,
    token,
    stop: () => child.kill('SIGTERM'),
  };
}
