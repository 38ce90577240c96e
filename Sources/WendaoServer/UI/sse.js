// Wendao (问道) web UI: Server-Sent Events (the streamed answers of `POST …/ask`). No DOM access:
// tested under `node --test`.
//
// Server-Sent Events parser: fed decoded text in arbitrary pieces, returns complete events.
// Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at the end of one piece
// and an LF at the start of the next are one line end); `data` lines accumulate; a blank line
// dispatches; lines starting with ':' are comments; one space after the colon is dropped.
export class SSEParser {
  constructor() {
    this.buffer = '';
    this.eventType = '';
    this.data = [];
    this.lastEventId = '';
    this.pendingCR = false;
    this.started = false;
  }

  /** Feeds a piece of text; returns the events it completed, as {event, data, id}. */
  feed(text) {
    const events = [];
    if (!text) return events;
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCR) {
      this.pendingCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    const buf = this.buffer + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this._line(buf.slice(start, i), events);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    return events;
  }

  /** The stream ended: returns a last event left without its blank line (leniently), if any. */
  end() {
    const events = [];
    if (this.buffer) {
      this._line(this.buffer, events);
      this.buffer = '';
    }
    this._line('', events);
    return events;
  }

  _line(line, events) {
    if (line === '') {
      if (this.data.length > 0) {
        events.push({ event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId });
      }
      this.data = [];
      this.eventType = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return; // comment / keep-alive
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case 'event': this.eventType = value; break;
      case 'data': this.data.push(value); break;
      case 'id': if (value.indexOf('\0') < 0) this.lastEventId = value; break;
      default: break; // 'retry' and unknown fields are ignored
    }
  }
}

/** Reads an SSE response body, calling `onEvent` for each event (UTF-8 split across reads is fine). */
export async function readEventStream(res, onEvent) {
  const parser = new SSEParser();
  const decoder = new TextDecoder('utf-8');
  if (!res.body || typeof res.body.getReader !== 'function') {
    for (const ev of parser.feed(await res.text())) onEvent(ev);
    for (const ev of parser.end()) onEvent(ev);
    return;
  }
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const ev of parser.feed(decoder.decode(value, { stream: true }))) {
        if (onEvent(ev) === false) {
          try { await reader.cancel(); } catch (e) { /* already closed */ }
          return;
        }
      }
    }
    for (const ev of parser.feed(decoder.decode())) onEvent(ev);
    for (const ev of parser.end()) onEvent(ev);
  } finally {
    try { reader.releaseLock(); } catch (e) { /* still reading after an abort */ }
  }
}

/** The JSON `data` of an event, or null when it is not JSON. */
export function parseData(ev) {
  try { return JSON.parse(ev.data); } catch (e) { return null; }
}
