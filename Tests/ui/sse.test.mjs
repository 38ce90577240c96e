// Server-Sent Events parsing (Sources/WendaoServer/UI/sse.js): run with `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser, readEventStream, parseData } from '../../Sources/WendaoServer/UI/sse.js';

/** Feeds `pieces` one by one, then ends the stream; all the events. */
function parse(pieces, end = true) {
  const p = new SSEParser();
  const events = [];
  for (const piece of pieces) events.push(...p.feed(piece));
  if (end) events.push(...p.end());
  return events;
}

const STREAM = 'event: sources\ndata: {"sources":[]}\n\nevent: token\ndata: {"text":"包裹"}\n\n'
  + ': keep-alive\n\nevent: done\ndata: {"answer":"包裹丢失按保价金额赔偿[1]。"}\n\n';

test('events, their types and data', () => {
  const events = parse([STREAM]);
  assert.deepEqual(events.map((e) => e.event), ['sources', 'token', 'done']);
  assert.deepEqual(parseData(events[1]), { text: '包裹' });
  assert.equal(parseData(events[2]).answer, '包裹丢失按保价金额赔偿[1]。');
});

test('the same events whatever the pieces the stream arrives in', () => {
  const whole = parse([STREAM]);
  for (let size = 1; size <= 7; size++) {
    const pieces = [];
    for (let i = 0; i < STREAM.length; i += size) pieces.push(STREAM.slice(i, i + size));
    assert.deepEqual(parse(pieces), whole, `pieces of ${size}`);
  }
});

test('CRLF, CR and LF line ends, a CRLF split between two pieces is one line end', () => {
  const crlf = parse(['event: token\r', '\ndata: a\r', '\n\r', '\n']);
  assert.deepEqual(crlf, [{ event: 'token', data: 'a', id: '' }]);
  assert.deepEqual(parse(['data: x\r\rdata: y\n\n']), [{ event: 'message', data: 'x', id: '' }, { event: 'message', data: 'y', id: '' }]);
});

test('data lines join with newlines; one space after the colon is dropped; comments, retry and unknown fields ignored', () => {
  const events = parse([':comment\nretry: 10\nfoo: bar\ndata:one\ndata:  two\ndata\n\n']);
  assert.deepEqual(events, [{ event: 'message', data: 'one\n two\n', id: '' }]);
});

test('a blank line without data dispatches nothing and resets the event type', () => {
  assert.deepEqual(parse(['event: token\n\ndata: x\n\n']), [{ event: 'message', data: 'x', id: '' }]);
});

test('the last event id is kept; an id with NUL is ignored', () => {
  const events = parse(['id: 7\ndata: a\n\nid: 8\0\ndata: b\n\n']);
  assert.deepEqual(events.map((e) => e.id), ['7', '7']);
});

test('a byte-order mark at the start is skipped', () => {
  assert.deepEqual(parse(['\uFEFFdata: x\n\n']), [{ event: 'message', data: 'x', id: '' }]);
});

test('nothing is dispatched before its blank line; end() gives the last event leniently', () => {
  const p = new SSEParser();
  assert.deepEqual(p.feed('event: done\ndata: {"a":1}'), []);
  assert.deepEqual(p.feed('\n'), []);
  assert.deepEqual(p.end(), [{ event: 'done', data: '{"a":1}', id: '' }]);
  assert.deepEqual(parse(['data: x'], false), []);
});

test('parseData: JSON or null', () => {
  assert.deepEqual(parseData({ data: '{"n":1}' }), { n: 1 });
  assert.equal(parseData({ data: 'not json' }), null);
});

/** A Response-like object whose body delivers `chunks` (Uint8Arrays) one read at a time. */
function streamed(chunks) {
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
  return { body };
}

test('readEventStream: UTF-8 characters split across reads are decoded whole', async () => {
  const bytes = new TextEncoder().encode('event: token\ndata: {"text":"客服知识库"}\n\nevent: done\ndata: {}');
  // Reads of 1 to 5 bytes cut every Chinese character (3 bytes) in the middle somewhere.
  for (let size = 1; size <= 5; size++) {
    const chunks = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
    const events = [];
    await readEventStream(streamed(chunks), (ev) => { events.push(ev); });
    assert.deepEqual(events.map((e) => e.event), ['token', 'done'], `reads of ${size}`);
    assert.equal(parseData(events[0]).text, '客服知识库');
  }
});

test('readEventStream: returning false stops reading', async () => {
  const bytes = new TextEncoder().encode('event: error\ndata: {}\n\nevent: token\ndata: {}\n\n');
  const events = [];
  await readEventStream(streamed([bytes.slice(0, 20), bytes.slice(20)]), (ev) => { events.push(ev.event); return false; });
  assert.deepEqual(events, ['error']);
});

test('readEventStream: a body without a reader is read as text', async () => {
  const events = [];
  await readEventStream({ body: null, text: async () => 'data: a\n\ndata: b' }, (ev) => { events.push(ev.data); });
  assert.deepEqual(events, ['a', 'b']);
});
