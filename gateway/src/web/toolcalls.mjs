// A Claude tool call, understood: Edit/MultiEdit/Write as diffs, Bash as a command with its
// directory, TodoWrite as a checklist, anything else as its JSON input. Pure: transcript.mjs
// draws the answer.

import { lineDiff } from './diff.mjs';

/**
 * `{shape, ...}` for a tool call entry (`{tool, input}`):
 * * `edit`: `{path, edits: [{lines, replaceAll}]}` (Edit has one edit, MultiEdit several)
 * * `write`: `{path, lines}` (every line added)
 * * `bash`: `{command, description, cwd, background}`
 * * `todo`: `{items: [{text, status}]}`
 * * `json`: `{input}`
 */
export function understand(entry, cwd = null) {
  const tool = entry && entry.tool;
  const input = entry && entry.input && typeof entry.input === 'object' ? entry.input : null;
  if (!input) return { shape: 'json', input: entry ? entry.input : undefined };
  const str = (v) => (typeof v === 'string' ? v : null);
  switch (tool) {
    case 'Edit':
      if (str(input.file_path) !== null && str(input.old_string) !== null && str(input.new_string) !== null) {
        return { shape: 'edit', path: input.file_path, edits: [{ lines: lineDiff(input.old_string, input.new_string), replaceAll: Boolean(input.replace_all) }] };
      }
      break;
    case 'MultiEdit':
      if (str(input.file_path) !== null && Array.isArray(input.edits)) {
        const edits = input.edits
          .filter((e) => e && str(e.old_string) !== null && str(e.new_string) !== null)
          .map((e) => ({ lines: lineDiff(e.old_string, e.new_string), replaceAll: Boolean(e.replace_all) }));
        return { shape: 'edit', path: input.file_path, edits };
      }
      break;
    case 'Write':
      if (str(input.file_path) !== null && str(input.content) !== null) {
        const text = input.content.endsWith('\n') ? input.content.slice(0, -1) : input.content;
        return { shape: 'write', path: input.file_path, lines: text.split('\n').map((t, i) => ({ op: '+', text: t, old: null, new: i + 1 })) };
      }
      break;
    case 'Bash':
      if (str(input.command) !== null) {
        return { shape: 'bash', command: input.command, description: str(input.description), cwd, background: Boolean(input.run_in_background) };
      }
      break;
    case 'TodoWrite':
      if (Array.isArray(input.todos)) {
        const items = input.todos
          .filter((t) => t && typeof t === 'object')
          .map((t) => ({ text: String(t.status === 'in_progress' && t.activeForm ? t.activeForm : (t.content ?? '')), status: ['pending', 'in_progress', 'completed'].includes(t.status) ? t.status : 'pending' }));
        return { shape: 'todo', items };
      }
      break;
    default:
  }
  return { shape: 'json', input };
}
