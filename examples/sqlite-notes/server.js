// SQLite Notes: a tiny HTTP server for Home Assistant's ingress. Options come from /data/options.json
// (written by the Supervisor from the add-on's options); notes live in /data/notes.db.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const Database = require('better-sqlite3');

const DATA = process.env.NOTES_DATA_DIR || '/data';
const PORT = Number(process.env.NOTES_PORT || 8099);

function readOptions() {
  try {
    return JSON.parse(fs.readFileSync(path.join(DATA, 'options.json'), 'utf8'));
  } catch {
    return {};
  }
}

const options = { title: 'Notes', max_notes: 1000, ...readOptions() };
fs.mkdirSync(DATA, { recursive: true });
const db = new Database(path.join(DATA, 'notes.db'));
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL)');
const list = db.prepare('SELECT id, text, created FROM notes ORDER BY id DESC');
const add = db.prepare("INSERT INTO notes (text, created) VALUES (?, datetime('now'))");
const count = db.prepare('SELECT count(*) AS n FROM notes');
const remove = db.prepare('DELETE FROM notes WHERE id = ?');

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page() {
  const items = list.all().map((note) => `<li>${escape(note.text)} <small>${note.created}</small>
    <form method="post" action="delete/${note.id}"><button>remove</button></form></li>`);
  return `<!doctype html><meta charset="utf-8"><title>${escape(options.title)}</title>
<h1>${escape(options.title)}</h1>
<form method="post" action="notes"><input name="text" required maxlength="500" autofocus><button>add</button></form>
<ul>${items.join('\n')}</ul>
<p><small>SQLite ${db.prepare('SELECT sqlite_version() AS v').get().v}</small></p>`;
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10_000) request.destroy(new Error('body too large'));
    });
    request.on('end', () => resolve(new URLSearchParams(body)));
    request.on('error', reject);
  });
}

const server = http.createServer(async (request, response) => {
  // Ingress serves the add-on under a path prefix: links in the page are relative.
  const url = new URL(request.url, 'http://localhost');
  try {
    if (request.method === 'GET' && url.pathname === '/health') {
      response.end('ok\n');
    } else if (request.method === 'GET' && url.pathname === '/api/notes') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(list.all()));
    } else if (request.method === 'POST' && url.pathname === '/notes') {
      const text = (await readBody(request)).get('text') ?? '';
      if (text.trim() && count.get().n < options.max_notes) add.run(text.trim());
      response.writeHead(303, { location: './' }).end();
    } else if (request.method === 'POST' && url.pathname.startsWith('/delete/')) {
      remove.run(Number(url.pathname.slice('/delete/'.length)));
      response.writeHead(303, { location: '../' }).end();
    } else if (request.method === 'GET' && url.pathname === '/') {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      response.end(page());
    } else {
      response.writeHead(404).end('not found\n');
    }
  } catch (error) {
    response.writeHead(500).end(`error: ${error.message}\n`);
  }
});

server.listen(PORT, () => console.log(`${options.title}: listening on ${PORT}, data in ${DATA}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
