// What one event shows as in the terminal: markers as short labelled lines, Claude's stream-json
// as "who said what" (tool calls on one line each), or, in raw mode, exactly what the run sent.
// Pure: the answer is `{kind, label, text, ansi}`; terminal.mjs puts it in the page as text.

import { clip, fmtCost, fmtDuration, fmtSize, fmtTokens, inputTokens, shortId } from './format.mjs';

const TEXT = 600; // characters of an answer shown on its line; the transcript has the rest
const ONE = 160; // characters of a tool input or result shown on its line

/** The one-line gist of a tool call's input: the command, path or pattern it is about. */
export function gist(input) {
  if (input === null || input === undefined) return '';
  if (typeof input !== 'object') return String(input);
  for (const k of ['command', 'file_path', 'notebook_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt']) {
    if (typeof input[k] === 'string' && input[k]) return input[k];
  }
  if (Array.isArray(input.todos)) return `${input.todos.length} item${input.todos.length === 1 ? '' : 's'}`;
  return JSON.stringify(input);
}

/**
 * Names commands by what they run instead of their 32-character ids. The runner runs `exec`
 * commands one at a time and says `Executing command: <line>` before each, so the line most
 * recently announced names the next `command_finished`; commands this page sent are known by id.
 */
export class CommandNames {
  constructor() {
    this.byId = new Map();
    this.announced = null;
  }

  /** A command as `POST /api/runs/:id/commands` answered it. */
  sent(command) {
    if (!command || !command.id) return;
    const label = describeCommand(command);
    if (label) this.byId.set(command.id, label);
  }

  /** Learn from an event, in sequence order. */
  see(e) {
    if (e.type === 'info' && typeof e.data === 'string' && e.data.startsWith('Executing command: ')) {
      this.announced = e.data.slice('Executing command: '.length);
    } else if (e.type === 'marker' && e.data && typeof e.data === 'object') {
      const d = e.data;
      if (d.event === 'command_finished' && d.id && this.announced && !this.byId.has(d.id)) {
        this.byId.set(d.id, this.announced);
        this.announced = null;
      } else if ((d.event === 'command_refused' && d.command) || (d.event === 'file' && d.path)) {
        if (d.id) this.byId.set(d.id, d.event === 'file' ? `read ${d.path}` : d.command);
      }
    }
    if (this.byId.size > 500) this.byId.delete(this.byId.keys().next().value);
  }

  name(id) {
    return this.byId.get(id) || null;
  }
}

/** A queued command in words: `git status`, `prompt "…"`, `stop`. */
export function describeCommand(c) {
  switch (c && c.kind) {
    case 'exec':
      return c.command || 'command';
    case 'prompt':
      return `prompt "${clip(c.prompt, 60)}"`;
    case 'file':
      return `read ${c.path}`;
    case 'end_session':
      return 'end session';
    default:
      return c && c.kind ? String(c.kind) : null;
  }
}

function usageText(u) {
  if (!u) return '';
  return `${fmtTokens(inputTokens(u))} in · ${fmtTokens(u.output_tokens)} out`;
}

/**
 * A sentence for a marker that says output was left unredacted or dropped (`redaction_skipped`,
 * `truncated`), or null. The run view shows these as notices above the panes: a person must not
 * have to find them among the lines.
 */
export function skipNotice(d) {
  if (!d || typeof d !== 'object') return null;
  switch (d.event) {
    case 'redaction_skipped': {
      const names = Array.isArray(d.names) ? d.names.map(String) : [];
      if (!names.length) return null;
      const min = typeof d.minBytes === 'number' ? d.minBytes : 8;
      const many = names.length > 1;
      return `Not redacted: the secret variable${many ? 's' : ''} ${names.join(', ')} ${many ? 'hold values' : 'holds a value'} shorter than ${min} bytes, too short to redact without eating ordinary words. Their values may appear in this run's output.`;
    }
    case 'truncated':
      return `Output dropped: the runner's spool reached ${fmtSize(d.limitBytes)}; later output lines of this run were not kept.`;
    default:
      return null;
  }
}

/** A marker as one short labelled line. */
export function describeMarker(d, names = null) {
  if (!d || typeof d !== 'object') return { label: 'marker', text: JSON.stringify(d) };
  const join = (...parts) => parts.filter(Boolean).join(' · ');
  switch (d.event) {
    case 'started': {
      const cmd = Array.isArray(d.command) ? d.command.join(' ') : String(d.command ?? '');
      return { label: 'started', text: join(clip(cmd, 300), d.pid && `pid ${d.pid}`, d.cwd && `in ${d.cwd}`) };
    }
    case 'finished': {
      const sig = d.signal ? ` (signal ${d.signal})` : '';
      return { label: 'finished', text: join(`exit ${d.exitCode ?? '?'}${sig}`, typeof d.durationMs === 'number' && `after ${fmtDuration(d.durationMs)}`) };
    }
    case 'stop_requested':
      return { label: 'stop', text: `requested (${d.reason || 'unknown'})` };
    case 'stopped':
      return { label: 'stopped', text: String(d.outcome || '').replace(/_/g, ' ') };
    case 'redaction_skipped': {
      const names = Array.isArray(d.names) ? d.names.join(', ') : '';
      return { label: 'not redacted', text: `${names || '?'}: values shorter than ${d.minBytes ?? 8} bytes` };
    }
    case 'redactions': {
      const parts = Object.entries(d.counts || {}).map(([k, v]) => `${k} ×${v}`);
      return { label: 'redacted', text: parts.join(', ') || 'nothing' };
    }
    case 'command_finished': {
      const name = (names && names.name(d.id)) || 'command';
      const how = d.timedOut ? 'timed out' : `exit ${d.exitCode ?? '?'}`;
      return { label: 'command', text: join(`${name}: ${how}`, typeof d.durationMs === 'number' && fmtDuration(d.durationMs)) };
    }
    case 'command_refused':
      return { label: 'refused', text: `${d.command ?? ''} (not on the runner's allowlist)` };
    case 'turn_started':
      return { label: `turn ${d.turn ?? ''}`.trim(), text: d.prompt ? `"${clip(d.prompt, ONE)}"` : 'started' };
    case 'turn_finished':
      return {
        label: `turn ${d.turn ?? ''}`.trim(),
        text: join(d.outcome || 'finished', fmtDuration(d.durationMs), usageText(d.usage), typeof d.costUsd === 'number' && fmtCost(d.costUsd)),
      };
    case 'session':
      return { label: 'session', text: join(shortId(d.sessionId), d.model) };
    case 'session_ended':
      return { label: 'session', text: `ended (${String(d.reason || '').replace(/_/g, ' ')}) after ${d.turns ?? '?'} turn${d.turns === 1 ? '' : 's'}` };
    case 'files':
      return { label: 'files', text: `${d.count ?? '?'} listed${d.truncated ? ' (truncated)' : ''}` };
    case 'file':
      return { label: 'file', text: `${d.path} read (${fmtSize(d.bytes)}${d.truncated ? ', truncated' : ''})` };
    case 'file_refused':
      return { label: 'file', text: `${d.path} refused: ${d.reason || ''}` };
    case 'checkpoint':
      return { label: 'checkpoint', text: join(d.branch, shortId(d.commit), d.reason) };
    case 'reaped':
      return { label: 'reaped', text: `${d.processes ?? '?'} leftover process${d.processes === 1 ? '' : 'es'}` };
    case 'truncated':
      return { label: 'truncated', text: `spool full at ${fmtSize(d.limitBytes)}: later lines dropped` };
    default: {
      const { event, ...rest } = d;
      return { label: String(event ?? 'marker'), text: Object.keys(rest).length ? JSON.stringify(rest) : '' };
    }
  }
}

/** Parse a stdout line as Claude Code stream-json, or null. */
export function streamJson(text) {
  if (typeof text !== 'string' || text.charCodeAt(0) !== 123 /* { */) return null;
  try {
    const j = JSON.parse(text);
    return j && typeof j === 'object' && typeof j.type === 'string' ? j : null;
  } catch {
    return null;
  }
}

function resultText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c.text === 'string' ? c.text : '')).join('\n');
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/**
 * One stream-json line in words, or null when it is not one Claude Code prints. `tools` maps
 * tool_use ids to tool names (filled here from the calls, read for their results).
 */
export function describeClaude(j, tools = new Map()) {
  switch (j.type) {
    case 'system':
      if (j.subtype === 'init') {
        const n = Array.isArray(j.tools) ? j.tools.length : 0;
        return { kind: 'system', label: 'session', text: [shortId(j.session_id), j.model, j.cwd && `in ${j.cwd}`, `${n} tools`].filter(Boolean).join(' · ') };
      }
      if (j.subtype === 'api_retry') return { kind: 'system', label: 'retry', text: clip(j.message || j.error || 'API retry', ONE) };
      if (j.subtype === 'permission_denied') return { kind: 'bad', label: 'denied', text: `${j.tool_name || j.tool || 'tool'}: ${clip(j.message || '', ONE)}` };
      return { kind: 'system', label: String(j.subtype || 'system'), text: '' };
    case 'assistant': {
      const blocks = (j.message && Array.isArray(j.message.content) && j.message.content) || [];
      const parts = [];
      for (const b of blocks) {
        if (!b || typeof b !== 'object') continue;
        if (b.type === 'text') parts.push({ kind: 'answer', label: 'Claude', text: clip(b.text, TEXT) });
        else if (b.type === 'thinking') parts.push({ kind: 'thinking', label: 'thinking', text: clip(b.thinking, ONE) });
        else if (b.type === 'tool_use') {
          if (b.id) tools.set(b.id, b.name);
          if (tools.size > 1000) tools.delete(tools.keys().next().value);
          parts.push({ kind: 'tool', label: `→ ${b.name || 'tool'}`, text: clip(gist(b.input), ONE) });
        }
      }
      return merge(parts);
    }
    case 'user': {
      const blocks = (j.message && Array.isArray(j.message.content) && j.message.content) || [];
      const parts = [];
      for (const b of blocks) {
        if (!b || typeof b !== 'object') continue;
        if (b.type === 'tool_result') {
          const text = resultText(b.content);
          const lines = text ? text.split('\n').length : 0;
          const name = tools.get(b.tool_use_id) || 'tool';
          parts.push({
            kind: b.is_error ? 'bad' : 'result',
            label: `← ${name}`,
            text: `${b.is_error ? 'error: ' : ''}${clip(text, ONE) || '(empty)'}${lines > 1 ? `  (${lines} lines)` : ''}`,
          });
        } else if (b.type === 'text') parts.push({ kind: 'system', label: 'note', text: clip(b.text, ONE) });
      }
      return merge(parts);
    }
    case 'result': {
      const ok = !j.is_error && (j.subtype === 'success' || !j.subtype) && (!j.terminal_reason || j.terminal_reason === 'completed');
      const how = ok ? 'done' : String(j.terminal_reason || j.subtype || 'failed').replace(/_/g, ' ');
      const rt = typeof j.num_turns === 'number' ? `${j.num_turns} round trip${j.num_turns === 1 ? '' : 's'}` : '';
      return {
        kind: ok ? 'done' : 'bad',
        label: 'result',
        text: [how, rt, fmtDuration(j.duration_ms), usageText(j.usage), typeof j.total_cost_usd === 'number' && `${fmtCost(j.total_cost_usd)} session total`].filter(Boolean).join(' · '),
      };
    }
    default:
      return null;
  }
}

/** Several blocks of one message on one line (rare: the CLI prints one block per line). */
function merge(parts) {
  if (!parts.length) return null;
  if (parts.length === 1) return parts[0];
  return { ...parts[0], text: parts.map((p, i) => (i ? `${p.label} ${p.text}` : p.text)).join('  ') };
}

/**
 * What the terminal shows for event `e`: `{kind, label, text, ansi}`. `kind` picks the line's
 * class; `ansi` says the text still holds terminal escapes to colour. In raw mode every stdout
 * line is shown as sent, and markers as their JSON.
 */
export function describeEvent(e, ctx = {}, raw = false) {
  const data = e.data;
  switch (e.type) {
    case 'stdout':
    case 'stderr': {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      if (!raw && e.type === 'stdout') {
        const j = streamJson(text);
        const d = j && describeClaude(j, ctx.tools);
        if (d) return { ...d, kind: `c-${d.kind}`, ansi: false };
      }
      return { kind: e.type, label: '', text, ansi: true };
    }
    case 'info':
      return { kind: 'info', label: 'info', text: String(data) };
    case 'error':
      return { kind: 'error', label: 'error', text: String(data) };
    case 'marker': {
      if (raw) return { kind: 'marker', label: 'marker', text: JSON.stringify(data) };
      const m = describeMarker(data, ctx.names);
      return { kind: 'marker', label: m.label, text: m.text };
    }
    case 'assist': {
      const a = data || {};
      return { kind: 'assist', label: 'assist', text: a.closed ? `session closed (${a.reason || 'ended'})` : `${a.url || ''} ${a.web || ''}`.trim() };
    }
    default:
      return { kind: 'other', label: String(e.type), text: JSON.stringify(data) };
  }
}

/**
 * A line continuing a fragment: the runner sends a line a progress bar is still drawing over as
 * fragments ending in `\r`, then the rest up to the newline. `before` is the text drawn so far
 * (ending in `\r`), `text` what follows; the answer keeps only what is still on screen: from
 * the carriage return before the last piece (ansi.mjs starts a line over at each `\r`).
 */
export function joinFragment(before, text) {
  const all = before + text;
  const cut = all.lastIndexOf('\r', all.length - 2);
  return cut > 0 ? all.slice(cut) : all;
}

/** Whether an event is a fragment of a line still being drawn (see `joinFragment`). */
export function isFragment(e) {
  return (e.type === 'stdout' || e.type === 'stderr') && typeof e.data === 'string' && e.data.endsWith('\r');
}
