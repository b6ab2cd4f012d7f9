// A run's live stream (`GET /api/runs/:id/stream`, server-sent events) read with fetch instead of
// EventSource. EventSource dispatches every message of a network chunk in one task: a flood of
// 100,000 lines arrived as tasks of half a second and more. Here the page parses the stream
// itself and yields to the browser after a few milliseconds of work, so no task runs long.

const SLICE_MS = 6; // work between yields

const yieldTask = () =>
  globalThis.scheduler && typeof globalThis.scheduler.yield === 'function'
    ? globalThis.scheduler.yield()
    : new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Parse server-sent events from `url` until the stream ends. `onOpen()` when connected,
 * `onEvent(data)` for each `message` (data parsed as JSON), `onEnd()` for `event: end`.
 * Resolves with `{ended}` (true after `end`), or throws (with `.status` for an HTTP error).
 */
export async function readStream(url, { signal, onOpen, onEvent, onEnd }) {
  const r = await fetch(url, { signal, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/event-stream' } });
  if (!r.ok) {
    const e = new Error(`HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  onOpen();
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  let type = 'message';
  let data = [];
  let started = performance.now();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { ended: false };
    const text = rest + value;
    let at = 0;
    for (;;) {
      const nl = text.indexOf('\n', at);
      if (nl < 0) break;
      let line = text.slice(at, nl);
      at = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) {
          if (type === 'end') {
            onEnd();
            reader.cancel().catch(() => {});
            return { ended: true };
          }
          if (type === 'message') onEvent(JSON.parse(data.join('\n')));
        } else if (type === 'end') {
          onEnd();
          reader.cancel().catch(() => {});
          return { ended: true };
        }
        type = 'message';
        data = [];
        if (performance.now() - started > SLICE_MS) {
          await yieldTask();
          started = performance.now();
        }
      } else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
      else if (line.startsWith('event:')) type = line.slice(line[6] === ' ' ? 7 : 6);
      // `id:`, `retry:` and `: comments` need nothing: the page resumes from its own last sequence.
    }
    rest = text.slice(at);
  }
}
