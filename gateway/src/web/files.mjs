// The Files pane: the run's working tree (files.json) as a collapsible tree, a file opened by the
// `file` command and shown highlighted, and latest.diff as a diff with its list of files.

import { runPath, sendCommand } from './api.mjs';
import { button, el } from './dom.mjs';
import { fmtSize } from './format.mjs';
import { highlightInto } from './highlight.mjs';
import { buildTree, fileArtifactName, languageOf } from './tree.mjs';
import { parseUnifiedDiff } from './diff.mjs';
import { VIEW_LIMIT, readCapped } from './viewer.mjs';
import { stripAnsi } from './ansi.mjs';

const WAIT_MS = 30000; // how long an opened file may take to arrive

export class FilesView {
  /** `run()` gives the run summary; `artifacts()` the artifacts listed; `sent(command)` learns
   *  a command this pane queued (so the terminal names it). */
  constructor(runId, { run, artifacts, sent }) {
    this.id = runId;
    this.run = run;
    this.artifacts = artifacts;
    this.sent = sent;
    this.waiting = new Map(); // command id → {resolve, reject}
    this.filesKey = null; // size of the files.json drawn, to skip redrawing the same one
    this.diffKey = null;
    this.root = el('div', 'files-pane');
    const bar = el('div', 'files-bar');
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'Show');
    this.treeButton = button('ghost small toggle', 'Files', () => this.showSection('tree'));
    this.diffButton = button('ghost small toggle', 'Changes', () => this.showSection('diff'));
    this.summary = el('span', 'muted files-summary');
    bar.append(this.treeButton, this.diffButton, this.summary);
    this.treeSection = el('div', 'files-split');
    this.tree = el('nav', 'file-tree');
    this.tree.setAttribute('aria-label', 'Files');
    this.open = el('section', 'file-open');
    this.open.append(el('p', 'empty', 'Choose a file to read it.'));
    this.treeSection.append(this.tree, this.open);
    this.diffSection = el('div', 'files-split diff-split');
    this.diffList = el('nav', 'diff-files');
    this.diffList.setAttribute('aria-label', 'Changed files');
    this.diffBody = el('section', 'diff-body');
    this.diffSection.append(this.diffList, this.diffBody);
    this.root.append(bar, this.treeSection, this.diffSection);
    this.showSection('tree');
  }

  showSection(which) {
    this.section = which;
    this.treeSection.hidden = which !== 'tree';
    this.diffSection.hidden = which !== 'diff';
    this.treeButton.setAttribute('aria-pressed', String(which === 'tree'));
    this.diffButton.setAttribute('aria-pressed', String(which === 'diff'));
  }

  /** Draw (again) from the artifacts list: `[{name, size}]`. */
  async refresh(list) {
    const files = list.find((a) => a.name === 'files.json');
    const diff = list.find((a) => a.name === 'latest.diff');
    this.diffButton.hidden = !diff;
    if (!diff && this.section === 'diff') this.showSection('tree');
    const fkey = files ? `${files.size}:${files.created_at || ''}` : null;
    if (files && fkey !== this.filesKey) {
      this.filesKey = fkey;
      try {
        this.drawTree(JSON.parse((await this.fetchText('files.json')).text));
      } catch (e) {
        this.tree.replaceChildren(el('p', 'form-error', `Could not read files.json: ${e.message}`));
      }
    }
    const dkey = diff ? `${diff.size}:${diff.created_at || ''}` : null;
    if (diff && dkey !== this.diffKey) {
      this.diffKey = dkey;
      try {
        const { text, truncated } = await this.fetchText('latest.diff');
        this.drawDiff(text, truncated);
      } catch (e) {
        this.diffBody.replaceChildren(el('p', 'form-error', `Could not read latest.diff: ${e.message}`));
      }
    }
  }

  async fetchText(name) {
    const r = await fetch(runPath(this.id, `/artifacts/${encodeURIComponent(name)}`), { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return readCapped(r, VIEW_LIMIT);
  }

  // ---- the tree ----

  drawTree(doc) {
    const tree = buildTree(doc && doc.files);
    this.summary.textContent = `${tree.count} file${tree.count === 1 ? '' : 's'}${doc && doc.truncated ? ' (list truncated)' : ''}${doc && doc.root ? ` in ${doc.root}` : ''}`;
    const ul = el('ul', 'tree');
    ul.setAttribute('role', 'tree');
    ul.setAttribute('aria-label', 'Files');
    this.fillDir(ul, tree, 0);
    this.tree.replaceChildren(ul);
  }

  fillDir(ul, dir, depth) {
    for (const sub of dir.dirs) {
      const li = el('li', 'tree-dir');
      li.setAttribute('role', 'treeitem');
      const d = el('details');
      d.open = depth === 0 && dir.dirs.length + dir.files.length < 40;
      const s = el('summary', '', sub.name);
      s.append(el('span', 'muted', ` ${sub.count}`));
      const inner = el('ul');
      inner.setAttribute('role', 'group');
      d.append(s, inner);
      // Drawn when first opened: a big tree costs nothing until it is read.
      let filled = false;
      const fill = () => {
        if (filled || !d.open) return;
        filled = true;
        this.fillDir(inner, sub, depth + 1);
      };
      d.addEventListener('toggle', fill);
      fill();
      li.append(d);
      ul.append(li);
    }
    for (const f of dir.files) {
      const li = el('li', 'tree-file');
      li.setAttribute('role', 'treeitem');
      const b = button('file-link', f.name, () => this.openFile(f.path, b));
      b.dataset.path = f.path;
      b.title = f.symlink ? `${f.path} (symbolic link)` : f.path;
      li.append(b, el('span', 'muted size', f.symlink ? 'link' : fmtSize(f.size)));
      ul.append(li);
    }
  }

  // ---- one file ----

  /** Show `path`: its artifact if it was read before, else read it with a `file` command. */
  async openFile(path, from) {
    for (const b of this.tree.querySelectorAll('.file-link.current')) b.classList.remove('current');
    if (from) from.classList.add('current');
    const head = el('div', 'file-head');
    const title = el('h3', 'mono', path);
    title.tabIndex = -1;
    const status = el('span', 'muted', 'Reading…');
    head.append(title, status);
    const pre = el('pre', 'file-body');
    this.open.replaceChildren(head, pre);
    const token = (this.opening = {});
    const name = await fileArtifactName(path);
    const running = this.run() && !['finished', 'failed', 'stopped', 'incomplete'].includes(this.run().status);
    try {
      if (running) {
        const command = await sendCommand(this.id, { kind: 'file', path });
        this.sent(command);
        const marker = await this.waitFor(command.id);
        if (marker.event === 'file_refused') throw new Error(marker.reason || 'refused');
        if (marker.artifact) status.dataset.artifact = marker.artifact;
      } else if (!this.artifacts().some((a) => a.name === name)) {
        throw new Error('the run has ended: files can be read only while it runs');
      }
      const artifact = status.dataset.artifact || name;
      const { text, truncated } = await this.fetchText(artifact);
      if (this.opening !== token) return;
      const shown = stripAnsi(text);
      pre.textContent = shown;
      status.textContent = `${fmtSize(new TextEncoder().encode(text).length)}${truncated ? ', the first MiB' : ''}`;
      const dl = el('a', 'button ghost small', 'Download');
      dl.href = runPath(this.id, `/artifacts/${encodeURIComponent(artifact)}`);
      dl.download = path.split('/').pop();
      head.append(dl);
      highlightInto(pre, shown, languageOf(path));
      title.focus();
    } catch (e) {
      if (this.opening !== token) return;
      status.textContent = '';
      pre.replaceWith(el('p', 'form-error', `Could not read ${path}: ${e.message}`));
    }
  }

  /** Resolves with the `file` or `file_refused` marker of command `id`. */
  waitFor(id) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('no answer from the runner yet'));
      }, WAIT_MS);
      this.waiting.set(id, { resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  /** Every event of the run passes here (from the live stream). */
  see(e) {
    if (e.type !== 'marker' || !e.data || !this.waiting.has(e.data.id)) return;
    if (e.data.event !== 'file' && e.data.event !== 'file_refused') return;
    const w = this.waiting.get(e.data.id);
    this.waiting.delete(e.data.id);
    w.resolve(e.data);
  }

  // ---- latest.diff ----

  drawDiff(text, truncated) {
    const files = parseUnifiedDiff(text);
    const list = el('ul', 'diff-file-list');
    const frag = document.createDocumentFragment();
    files.forEach((f, i) => {
      const id = `diff-${this.id}-${i}`;
      const li = el('li');
      const b = button('file-link', f.path || '(preamble)', () => {
        const target = document.getElementById(id);
        target.scrollIntoView({ block: 'start' });
        target.querySelector('h3').focus();
      });
      li.append(b, el('span', 'd-stat', ''));
      li.lastChild.append(el('span', 'd-plus', `+${f.added}`), ' ', el('span', 'd-minus', `−${f.removed}`));
      if (f.status !== 'modified') li.append(el('span', 'muted', ` ${f.status}`));
      list.append(li);
      const sec = el('section', 'diff-file');
      sec.id = id;
      const h = el('h3', 'mono', f.path || '(preamble)');
      h.tabIndex = -1;
      const pre = el('pre', 'diff-lines');
      const lang = languageOf(f.path || '');
      for (const l of f.lines) {
        const row = el('span', `dl ${l.cls}`);
        const inHunk = l.old !== null || l.new !== null;
        const code = el('span', 'dc', inHunk ? l.text.slice(1) : l.text);
        row.append(el('span', 'dn', l.old ?? ''), el('span', 'dn', l.new ?? ''), el('span', 'dop', inHunk ? l.text.slice(0, 1) : ''), code, '\n');
        if (lang && inHunk && l.text.length > 1) highlightInto(code, l.text.slice(1), lang);
        pre.append(row);
      }
      sec.append(h, pre);
      frag.append(sec);
    });
    this.diffList.replaceChildren(el('h3', '', `${files.length} file${files.length === 1 ? '' : 's'} changed`), list);
    if (truncated) frag.append(el('p', 'viewer-note', 'Showing the first MiB of latest.diff: download it for the rest.'));
    this.diffBody.replaceChildren(frag);
  }
}
