// Wendao (问道) web UI. Plain ES2020, no framework, no build step; runs under the server's strict
// Content-Security-Policy (no inline script or style, no eval). Every piece of text that comes from
// the server or a model is put into the page as text nodes (textContent / createTextNode), never as
// HTML. The pure helpers (SSE parser, citation splitting, highlighting) are exported for Node when
// this file is loaded outside a browser.
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // Strings (English / 中文). Every string the UI shows is here; {name} is replaced by a value.
  // ---------------------------------------------------------------------------------------------
  const I18N = {
    en: {
      'app.title': 'Wendao',
      'skip': 'Skip to content',
      'nav.label': 'Main',
      'nav.chat': 'Chat',
      'nav.kbs': 'Knowledge bases',
      'nav.search': 'Search',
      'lang.other': '中文',
      'lang.switch': 'Switch the interface to Chinese',
      'common.cancel': 'Cancel',
      'common.delete': 'Delete',
      'common.refresh': 'Refresh',
      'common.actions': 'Actions',
      'common.breadcrumb': 'Breadcrumb',
      'common.none': '—',
      'confirm.title': 'Please confirm',
      'key.title': 'API key required',
      'key.message': 'This server asks for an API key. It is kept only in this browser tab and is not shown again.',
      'key.refused': 'The server refused this key. Check it and try again.',
      'key.label': 'API key',
      'key.submit': 'Use key',
      'key.forget': 'Forget API key',
      'key.forgotten': 'The API key was forgotten.',
      'auth.required': 'The server needs an API key, and none was given.',
      'error.network': 'Cannot reach the server: {error}',
      'error.http': 'The server answered {status}.',
      'error.retryAfter': '(try again in {s} s)',
      'error.badResponse': 'The server sent a response this page cannot read.',
      'chat.title': 'Ask the knowledge base',
      'chat.kb': 'Knowledge base',
      'chat.model': 'Model',
      'chat.modelPlaceholder': 'provider:model (optional)',
      'chat.modelHint': 'A model as provider:model, e.g. deepseek:deepseek-chat; blank uses the knowledge base\u2019s default',
      'chat.new': 'New conversation',
      'chat.conversation': 'Conversation',
      'chat.question': 'Question',
      'chat.placeholder': 'Ask a question…',
      'chat.enterHint': 'Enter to send · Shift+Enter for a new line',
      'chat.ask': 'Ask',
      'chat.stop': 'Stop',
      'chat.empty': 'Pick a knowledge base and ask a question. Answers cite their sources: click a number to read the passage.',
      'chat.noKbs': 'There is no knowledge base yet. Create one on the Knowledge bases page, then upload documents.',
      'chat.noKbOption': '(no knowledge base)',
      'chat.you': 'You',
      'chat.assistant': 'Wendao',
      'chat.searching': 'Searching the knowledge base…',
      'chat.writing': 'Writing the answer…',
      'chat.notFound': 'Not found in the knowledge base',
      'chat.stopped': 'Stopped before the answer was complete.',
      'chat.interrupted': 'The answer was interrupted: the connection closed before it was complete.',
      'chat.failed': 'The question could not be answered: {error}',
      'chat.pickKb': 'Choose a knowledge base first.',
      'chat.typeQuestion': 'Type a question first.',
      'chat.newStarted': 'New conversation started.',
      'chat.mode.extractive': 'extractive answer (no model)',
      'chat.mode.llm': 'model {model}',
      'chat.coverage': 'coverage {value}',
      'chat.sources': 'Sources',
      'chat.citation': 'Source {n}: {document}',
      'chat.citationNoDoc': 'Source {n}',
      'warn.title': 'Warnings',
      'warn.invalid': 'Citation markers that pointed at no source were removed: {list}',
      'warn.uncited': 'The answer cites no source: check it against the sources before relying on it.',
      'warn.images': 'Remote images removed from the answer: {n}',
      'warn.truncated': 'The best passage was cut to fit the model\u2019s context window.',
      'usage.tokens': 'Tokens: {prompt} prompt + {completion} completion = {total}',
      'usage.cached': '{n} cached',
      'usage.estimated': 'estimated',
      'usage.cost': 'cost {cost} {currency}',
      'usage.seconds': '{s} s',
      'usage.calls': '{n} model calls',
      'source.title': 'Source [{n}]',
      'source.close': 'Close the source panel',
      'source.document': 'Document',
      'source.section': 'Section',
      'source.page': 'Page',
      'source.loading': 'Loading the full passage…',
      'source.unavailable': 'The full passage could not be loaded ({error}); this is the text the answer was given.',
      'source.legend': 'the part the answer cites',
      'kbs.title': 'Knowledge bases',
      'kbs.create': 'New knowledge base',
      'kbs.name': 'Name',
      'kbs.modelOptional': 'Default model (optional)',
      'kbs.createButton': 'Create',
      'kbs.adminNote': 'Creating and deleting knowledge bases needs the admin key.',
      'kbs.nameRequired': 'Give the knowledge base a name.',
      'kbs.needAdmin': 'Refused: this needs the admin key (the server said: {message})',
      'kbs.created': 'Knowledge base “{name}” created.',
      'kbs.deleted': 'Knowledge base “{name}” deleted.',
      'kbs.col.name': 'Name',
      'kbs.col.documents': 'Documents',
      'kbs.col.chunks': 'Chunks',
      'kbs.col.model': 'Model',
      'kbs.col.created': 'Created',
      'kbs.noModel': 'extractive (no model)',
      'kbs.documents': 'Documents',
      'kbs.ask': 'Ask',
      'kbs.delete': 'Delete',
      'kbs.deleteLabel': 'Delete the knowledge base {name}',
      'kbs.confirmDelete': 'Delete the knowledge base “{name}” with its {documents} {documents|document|documents} and {chunks} {chunks|chunk|chunks}? This cannot be undone.',
      'kbs.empty': 'No knowledge base yet. Create one above.',
      'docs.title': 'Documents of {kb}',
      'docs.askThis': 'Ask this knowledge base',
      'docs.drop': 'Drop files here to upload',
      'docs.dropHint': 'Markdown, HTML, PDF, Word, PowerPoint, Excel, CSV, plain text — several at once.',
      'docs.choose': 'Choose files…',
      'docs.col.path': 'Path',
      'docs.col.format': 'Format',
      'docs.col.chunks': 'Chunks',
      'docs.col.size': 'Size',
      'docs.col.ingested': 'Ingested at',
      'docs.reingest': 'Re-ingest',
      'docs.reingestLabel': 'Re-ingest {path}',
      'docs.delete': 'Delete',
      'docs.deleteLabel': 'Delete {path}',
      'docs.confirmDelete': 'Delete the document “{path}” and its {chunks} {chunks|chunk|chunks} from “{kb}”?',
      'docs.deleted': 'Document “{path}” deleted.',
      'docs.reingestStarted': 'Re-ingesting “{path}”.',
      'docs.empty': 'No document yet. Drop files above to add some.',
      'upload.waiting': 'Waiting…',
      'upload.progress': 'Uploading… {p}%',
      'upload.done': 'Uploaded — ingesting (job {id})',
      'upload.failed': 'Upload failed: {error}',
      'upload.split': 'Too large to send together; sending the files one by one.',
      'upload.ingested': 'Ingested: {outcome}, {chunks} {chunks|chunk|chunks}',
      'upload.rejected': 'Not ingested: {reason}',
      'upload.remove': 'Dismiss',
      'job.title': 'Ingest job {id}',
      'job.state.queued': 'Queued',
      'job.state.running': 'Running',
      'job.state.succeeded': 'Succeeded',
      'job.state.partial': 'Partly failed',
      'job.state.failed': 'Failed',
      'job.state.cancelled': 'Cancelled',
      'job.progress': '{done} of {total} {total|file|files} · {chunks} {chunks|chunk|chunks}',
      'job.col.file': 'File',
      'job.col.outcome': 'Result',
      'job.col.chunks': 'Chunks',
      'job.col.reason': 'Reason',
      'job.outcome.added': 'Added',
      'job.outcome.updated': 'Updated',
      'job.outcome.unchanged': 'Unchanged',
      'job.outcome.failed': 'Failed',
      'job.outcome.pruned': 'Removed',
      'job.lost': 'Lost track of the job: {error}',
      'job.dismiss': 'Dismiss',
      'job.finished': 'Ingest job {id}: {state} — {done} of {total} files.',
      'search.title': 'Search · hit test',
      'search.intro': 'See which passages retrieval finds for a query and how they score: answers are built from these passages.',
      'search.query': 'Query',
      'search.placeholder': 'Type a query…',
      'search.topk': 'Top-k',
      'search.button': 'Search',
      'search.searching': 'Searching…',
      'search.count': '{n} results for “{query}”',
      'search.none': 'No passage matches “{query}”.',
      'search.score': 'score {score}',
      'search.page': 'page {page}',
      'search.chunk': 'chunk {id}',
      'search.typeQuery': 'Type a query first.',
    },
    zh: {
      'app.title': '问道',
      'skip': '跳到正文',
      'nav.label': '主导航',
      'nav.chat': '问答',
      'nav.kbs': '知识库',
      'nav.search': '检索测试',
      'lang.other': 'English',
      'lang.switch': '将界面切换为英文',
      'common.cancel': '取消',
      'common.delete': '删除',
      'common.refresh': '刷新',
      'common.actions': '操作',
      'common.breadcrumb': '位置',
      'common.none': '—',
      'confirm.title': '请确认',
      'key.title': '需要 API 密钥',
      'key.message': '此服务器需要 API 密钥。密钥只保存在当前浏览器标签页中，输入后不会再显示。',
      'key.refused': '服务器拒绝了该密钥，请检查后重试。',
      'key.label': 'API 密钥',
      'key.submit': '使用密钥',
      'key.forget': '清除 API 密钥',
      'key.forgotten': '已清除 API 密钥。',
      'auth.required': '服务器需要 API 密钥，但未提供。',
      'error.network': '无法连接服务器：{error}',
      'error.http': '服务器返回 {status}。',
      'error.retryAfter': '（请 {s} 秒后重试）',
      'error.badResponse': '服务器的响应无法解析。',
      'chat.title': '向知识库提问',
      'chat.kb': '知识库',
      'chat.model': '模型',
      'chat.modelPlaceholder': 'provider:model（可选）',
      'chat.modelHint': '模型写作 provider:model，例如 deepseek:deepseek-chat；留空则使用知识库的默认模型',
      'chat.new': '新对话',
      'chat.conversation': '对话',
      'chat.question': '问题',
      'chat.placeholder': '输入问题……',
      'chat.enterHint': 'Enter 发送 · Shift+Enter 换行',
      'chat.ask': '提问',
      'chat.stop': '停止',
      'chat.empty': '选择知识库后提问。回答会标注出处：点击编号即可查看原文段落。',
      'chat.noKbs': '还没有知识库。请先在“知识库”页面创建，再上传文档。',
      'chat.noKbOption': '（没有知识库）',
      'chat.you': '你',
      'chat.assistant': '问道',
      'chat.searching': '正在检索知识库……',
      'chat.writing': '正在生成回答……',
      'chat.notFound': '知识库中没有找到答案',
      'chat.stopped': '已停止，回答不完整。',
      'chat.interrupted': '回答中断：连接在回答完成前关闭。',
      'chat.failed': '无法回答这个问题：{error}',
      'chat.pickKb': '请先选择知识库。',
      'chat.typeQuestion': '请先输入问题。',
      'chat.newStarted': '已开始新对话。',
      'chat.mode.extractive': '抽取式回答（未使用模型）',
      'chat.mode.llm': '模型 {model}',
      'chat.coverage': '覆盖度 {value}',
      'chat.sources': '来源',
      'chat.citation': '来源 {n}：{document}',
      'chat.citationNoDoc': '来源 {n}',
      'warn.title': '提示',
      'warn.invalid': '已删除指向不存在来源的引用标记：{list}',
      'warn.uncited': '该回答没有引用任何来源：使用前请对照来源核实。',
      'warn.images': '已从回答中移除远程图片：{n} 张',
      'warn.truncated': '最相关的段落因模型上下文长度限制被截断。',
      'usage.tokens': 'Token：提示 {prompt} + 生成 {completion} = {total}',
      'usage.cached': '缓存 {n}',
      'usage.estimated': '估算值',
      'usage.cost': '费用 {cost} {currency}',
      'usage.seconds': '{s} 秒',
      'usage.calls': '模型调用 {n} 次',
      'source.title': '来源 [{n}]',
      'source.close': '关闭来源面板',
      'source.document': '文档',
      'source.section': '章节',
      'source.page': '页码',
      'source.loading': '正在加载完整段落……',
      'source.unavailable': '无法加载完整段落（{error}）；以下是提供给回答的文本。',
      'source.legend': '回答引用的部分',
      'kbs.title': '知识库',
      'kbs.create': '新建知识库',
      'kbs.name': '名称',
      'kbs.modelOptional': '默认模型（可选）',
      'kbs.createButton': '创建',
      'kbs.adminNote': '创建和删除知识库需要管理员密钥。',
      'kbs.nameRequired': '请填写知识库名称。',
      'kbs.needAdmin': '被拒绝：此操作需要管理员密钥（服务器返回：{message}）',
      'kbs.created': '已创建知识库“{name}”。',
      'kbs.deleted': '已删除知识库“{name}”。',
      'kbs.col.name': '名称',
      'kbs.col.documents': '文档数',
      'kbs.col.chunks': '分块数',
      'kbs.col.model': '模型',
      'kbs.col.created': '创建时间',
      'kbs.noModel': '抽取式（无模型）',
      'kbs.documents': '文档',
      'kbs.ask': '提问',
      'kbs.delete': '删除',
      'kbs.deleteLabel': '删除知识库 {name}',
      'kbs.confirmDelete': '删除知识库“{name}”及其 {documents} 个文档、{chunks} 个分块？此操作无法撤销。',
      'kbs.empty': '还没有知识库，请在上方创建。',
      'docs.title': '{kb} 的文档',
      'docs.askThis': '向这个知识库提问',
      'docs.drop': '将文件拖放到这里上传',
      'docs.dropHint': '支持 Markdown、HTML、PDF、Word、PowerPoint、Excel、CSV、纯文本，可一次上传多个。',
      'docs.choose': '选择文件……',
      'docs.col.path': '路径',
      'docs.col.format': '格式',
      'docs.col.chunks': '分块数',
      'docs.col.size': '大小',
      'docs.col.ingested': '导入时间',
      'docs.reingest': '重新导入',
      'docs.reingestLabel': '重新导入 {path}',
      'docs.delete': '删除',
      'docs.deleteLabel': '删除 {path}',
      'docs.confirmDelete': '从“{kb}”中删除文档“{path}”及其 {chunks} 个分块？',
      'docs.deleted': '已删除文档“{path}”。',
      'docs.reingestStarted': '正在重新导入“{path}”。',
      'docs.empty': '还没有文档。将文件拖放到上方即可添加。',
      'upload.waiting': '等待中……',
      'upload.progress': '上传中…… {p}%',
      'upload.done': '已上传，正在导入（任务 {id}）',
      'upload.failed': '上传失败：{error}',
      'upload.split': '文件合计过大，改为逐个上传。',
      'upload.ingested': '导入完成：{outcome}，{chunks} 个分块',
      'upload.rejected': '未导入：{reason}',
      'upload.remove': '关闭',
      'job.title': '导入任务 {id}',
      'job.state.queued': '排队中',
      'job.state.running': '进行中',
      'job.state.succeeded': '成功',
      'job.state.partial': '部分失败',
      'job.state.failed': '失败',
      'job.state.cancelled': '已取消',
      'job.progress': '{done}/{total} 个文件 · {chunks} 个分块',
      'job.col.file': '文件',
      'job.col.outcome': '结果',
      'job.col.chunks': '分块数',
      'job.col.reason': '原因',
      'job.outcome.added': '新增',
      'job.outcome.updated': '已更新',
      'job.outcome.unchanged': '未变化',
      'job.outcome.failed': '失败',
      'job.outcome.pruned': '已移除',
      'job.lost': '无法获取任务状态：{error}',
      'job.dismiss': '关闭',
      'job.finished': '导入任务 {id}：{state}（{done}/{total} 个文件）。',
      'search.title': '检索测试',
      'search.intro': '查看检索为某个查询找到哪些段落、得分多少——回答就是基于这些段落生成的。',
      'search.query': '查询',
      'search.placeholder': '输入查询……',
      'search.topk': '返回条数',
      'search.button': '检索',
      'search.searching': '检索中……',
      'search.count': '“{query}”共 {n} 条结果',
      'search.none': '没有与“{query}”匹配的段落。',
      'search.score': '得分 {score}',
      'search.page': '第 {page} 页',
      'search.chunk': '分块 {id}',
      'search.typeQuery': '请先输入查询。',
    },
  };

  const LANGS = ['en', 'zh'];
  let lang = 'en';

  /** The string `key` in the current language, with `{name}` placeholders filled in. */
  function t(key, params) {
    let s = (I18N[lang] && I18N[lang][key]);
    if (s === undefined) s = I18N.en[key];
    if (s === undefined) return key;
    if (params) {
      // `{n|one|other}` picks a word by the count in `n` (English plurals); `{n}` is the value.
      s = s.replace(/\{(\w+)\|([^|{}]*)\|([^|{}]*)\}/g, (m, name, one, other) =>
        (params[name] === undefined || params[name] === null ? m : (String(params[name]).replace(/[,\s]/g, '') === '1' ? one : other)));
      s = s.replace(/\{(\w+)\}/g, (m, name) => (params[name] === undefined || params[name] === null ? m : String(params[name])));
    }
    return s;
  }

  // ---------------------------------------------------------------------------------------------
  // Server-Sent Events parser: fed decoded text in arbitrary pieces, returns complete events.
  // Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at the end of one piece
  // and an LF at the start of the next are one line end); `data` lines accumulate; a blank line
  // dispatches; lines starting with ':' are comments; one space after the colon is dropped.
  // ---------------------------------------------------------------------------------------------
  class SSEParser {
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

  // ---------------------------------------------------------------------------------------------
  // Answers and citations: pure text helpers.
  // ---------------------------------------------------------------------------------------------

  // A citation marker `[n]` (1–3 digits). `[1](url)` is a markdown link, not a citation.
  const MARKER_RE = /\[(\d{1,3})\](?!\()/g;
  const MARKER_RUN_RE = /(?:\[\d{1,3}\](?!\())+/g;

  /** Splits an answer into text and citation-marker pieces: {type: 'text'|'cite', value, n}. */
  function splitAnswer(text) {
    const parts = [];
    let last = 0;
    MARKER_RE.lastIndex = 0;
    let m;
    while ((m = MARKER_RE.exec(text)) !== null) {
      if (m.index > last) parts.push({ type: 'text', value: text.slice(last, m.index) });
      parts.push({ type: 'cite', value: m[0], n: Number(m[1]) });
      last = m.index + m[0].length;
    }
    if (last < text.length) parts.push({ type: 'text', value: text.slice(last) });
    return parts;
  }

  /** Removes citation markers (for the history sent back with follow-up questions). */
  function stripMarkers(text) {
    return text.replace(MARKER_RE, '').replace(/[ \t]+\n/g, '\n').trim();
  }

  const LEADING_JUNK = /^[\s，。、；：,.;:!?！？)）\]】"'”’」』·-]+/u;

  /**
   * The pieces of `answer` that cite source `n`: for each marker run containing [n], the text
   * between the previous marker run and this one (a run right after another reuses its text).
   */
  function citedClaims(answer, n) {
    const claims = [];
    let last = 0;
    let previous = '';
    MARKER_RUN_RE.lastIndex = 0;
    let m;
    while ((m = MARKER_RUN_RE.exec(answer)) !== null) {
      let segment = answer.slice(last, m.index).replace(LEADING_JUNK, '').trim();
      if (!segment) segment = previous;
      previous = segment;
      last = m.index + m[0].length;
      const numbers = (m[0].match(/\d+/g) || []).map(Number);
      if (segment && numbers.includes(n) && !claims.includes(segment)) claims.push(segment);
    }
    return claims;
  }

  const CLOSERS = '"\'”’」』）)]】';

  /** Sentence spans [start, end) of `text` (Chinese and Western sentence ends, line breaks), trimmed. */
  function sentenceSpans(text) {
    const spans = [];
    const n = text.length;
    const push = (s, e) => {
      while (s < e && /\s/.test(text[s])) s++;
      while (e > s && /\s/.test(text[e - 1])) e--;
      if (e > s) spans.push([s, e]);
    };
    let start = 0;
    for (let i = 0; i < n; i++) {
      const c = text[i];
      let end = -1;
      if ('。！？；!?;\n'.includes(c)) end = i + 1;
      else if (c === '.' && (i + 1 === n || /\s/.test(text[i + 1]))) end = i + 1;
      if (end < 0) continue;
      while (end < n && ('。！？；!?'.includes(text[end]) || CLOSERS.includes(text[end]))) end++;
      push(start, end);
      start = end;
      i = end - 1;
    }
    if (start < n) push(start, n);
    return spans;
  }

  /** Terms for fuzzy matching: Latin words and numbers, and character pairs of Chinese runs. */
  function matchTerms(text) {
    const terms = new Set();
    const runs = text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
    for (const run of runs) {
      if (/\p{Script=Han}/u.test(run)) {
        const chars = Array.from(run);
        if (chars.length === 1) terms.add(chars[0]);
        for (let i = 0; i + 1 < chars.length; i++) terms.add(chars[i] + chars[i + 1]);
      } else if (run.length >= 2 || /\d/.test(run)) {
        terms.add(run);
      }
    }
    return terms;
  }

  /** Merges overlapping or touching ranges. */
  function mergeRanges(ranges) {
    const sorted = ranges.filter((r) => r[1] > r[0]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const out = [];
    for (const r of sorted) {
      const top = out[out.length - 1];
      if (top && r[0] <= top[1]) top[1] = Math.max(top[1], r[1]);
      else out.push([r[0], r[1]]);
    }
    return out;
  }

  /**
   * Ranges of `chunkText` to highlight for the claims that cite it: a claim found verbatim (the
   * extractive answerer quotes whole sentences), else its last sentence verbatim, else the chunk's
   * sentences that share most of their terms with the claim (a model paraphrases). When nothing
   * matches, `fallback` (the citation's own text) is located in the chunk.
   */
  function findHighlights(chunkText, claims, fallback) {
    const ranges = [];
    const spans = sentenceSpans(chunkText);
    const spanTerms = spans.map(([s, e]) => matchTerms(chunkText.slice(s, e)));
    const exact = (s) => {
      const needle = s.trim();
      if (Array.from(needle).length < 4) return null;
      const i = chunkText.indexOf(needle);
      return i >= 0 ? [i, i + needle.length] : null;
    };
    const fuzzy = (s) => {
      const terms = matchTerms(s);
      if (terms.size === 0) return [];
      const scored = spans.map((span, i) => {
        let shared = 0;
        for (const term of spanTerms[i]) if (terms.has(term)) shared++;
        const denominator = Math.min(spanTerms[i].size, terms.size) || 1;
        return { span, shared, score: shared / denominator };
      });
      const good = scored.filter((x) => x.shared >= 2 && x.score >= 0.5).map((x) => x.span);
      if (good.length) return good;
      const best = scored.reduce((a, b) => (b.score > a.score ? b : a), { score: 0, shared: 0, span: null });
      return best.span && best.shared >= 2 && best.score >= 0.34 ? [best.span] : [];
    };
    for (const claim of claims) {
      const whole = exact(claim);
      if (whole) { ranges.push(whole); continue; }
      const claimSpans = sentenceSpans(claim);
      const lastSentence = claimSpans.length ? claim.slice(claimSpans[claimSpans.length - 1][0], claimSpans[claimSpans.length - 1][1]) : claim;
      const lastExact = exact(lastSentence);
      if (lastExact) { ranges.push(lastExact); continue; }
      let found = fuzzy(lastSentence);
      if (!found.length && lastSentence !== claim) found = fuzzy(claim);
      ranges.push(...found);
    }
    if (!ranges.length && fallback) {
      const f = fallback.trim();
      const i = f ? chunkText.indexOf(f) : -1;
      if (i >= 0) ranges.push([i, i + f.length]);
    }
    return mergeRanges(ranges);
  }

  /** Ranges of `text` where terms of `query` occur (search result highlighting). */
  function queryTermRanges(text, query) {
    const lower = text.toLowerCase();
    if (lower.length !== text.length) return [];
    const needles = new Set();
    const runs = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
    for (const run of runs) {
      if (/\p{Script=Han}/u.test(run)) {
        const chars = Array.from(run);
        if (chars.length === 1) needles.add(chars[0]);
        for (let i = 0; i + 1 < chars.length; i++) needles.add(chars[i] + chars[i + 1]);
      } else if (run.length >= 2 || /\d/.test(run)) {
        needles.add(run);
      }
    }
    const ranges = [];
    for (const needle of needles) {
      let i = lower.indexOf(needle);
      let guard = 0;
      while (i >= 0 && guard++ < 1000) {
        ranges.push([i, i + needle.length]);
        i = lower.indexOf(needle, i + needle.length);
      }
    }
    return mergeRanges(ranges);
  }

  // ---------------------------------------------------------------------------------------------
  // Exports for Node (tests of the pure helpers); the rest needs a browser.
  // ---------------------------------------------------------------------------------------------
  if (typeof module === 'object' && module && module.exports) {
    module.exports = {
      I18N, SSEParser, splitAnswer, stripMarkers, citedClaims, sentenceSpans, findHighlights, mergeRanges,
      matchTerms, queryTermRanges,
    };
  }
  if (typeof document === 'undefined' || typeof window === 'undefined') return;

  // ---------------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);

  /** Creates an element. Props: class, text, dataset, on<event>, other attributes; children are
   *  nodes or strings (strings become text nodes). Never sets innerHTML or style. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = String(v);
        else if (k === 'dataset') Object.assign(node.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else if (k === 'style' || k === 'innerHTML') throw new Error('not allowed: ' + k);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Text nodes and <mark> elements for `text` with `ranges` highlighted. */
  function highlighted(text, ranges, markClass) {
    const nodes = [];
    let pos = 0;
    for (const [s, e] of ranges) {
      if (s > pos) nodes.push(document.createTextNode(text.slice(pos, s)));
      nodes.push(el('mark', { class: markClass || null }, text.slice(s, e)));
      pos = e;
    }
    if (pos < text.length) nodes.push(document.createTextNode(text.slice(pos)));
    return nodes;
  }

  const storage = {
    get(area, key) { try { return window[area].getItem(key); } catch (e) { return null; } },
    set(area, key, value) { try { window[area].setItem(key, value); } catch (e) { /* private mode */ } },
    remove(area, key) { try { window[area].removeItem(key); } catch (e) { /* ignore */ } },
  };
  const LS_LANG = 'wendao.lang';
  const LS_KB = 'wendao.kb';
  const LS_MODEL = 'wendao.model';
  const SS_KEY = 'wendao.apiKey';

  function locale() { return lang === 'zh' ? 'zh-CN' : 'en'; }

  function fmtNumber(n) {
    if (typeof n !== 'number' || !isFinite(n)) return n === undefined || n === null ? t('common.none') : String(n);
    return n.toLocaleString(locale());
  }

  function fmtBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return t('common.none');
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let u = 0;
    let v = n;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    const digits = u === 0 ? 0 : v < 10 ? 1 : 0;
    return v.toLocaleString(locale(), { maximumFractionDigits: digits }) + ' ' + units[u];
  }

  /** A timestamp (ISO 8601 string, or seconds / milliseconds since 1970) in the UI's locale. */
  function fmtDate(v) {
    if (v === undefined || v === null || v === '') return t('common.none');
    let d;
    if (typeof v === 'number') d = new Date(v > 1e12 ? v : v * 1000);
    else d = new Date(String(v));
    if (isNaN(d.getTime())) return String(v);
    try {
      return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    } catch (e) {
      return d.toLocaleString();
    }
  }

  let toastTimer = 0;
  function toast(message) {
    const box = $('toast');
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; box.textContent = ''; }, 4000);
  }

  function showError(box, message) {
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  const enc = encodeURIComponent;

  // ---------------------------------------------------------------------------------------------
  // API access: bearer key from sessionStorage, 401 → key dialog → retry, errors as ApiError.
  // ---------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  function getKey() { return storage.get('sessionStorage', SS_KEY) || ''; }
  function setKey(key) {
    if (key) storage.set('sessionStorage', SS_KEY, key);
    else storage.remove('sessionStorage', SS_KEY);
    $('key-forget').hidden = !key;
  }

  /** The error of a failed response, from `{"error": {"code", "message"}}` when the body has one. */
  function errorFromBody(status, bodyText, retryAfterHeader) {
    let code = 'http_' + status;
    let message = '';
    try {
      const body = JSON.parse(bodyText);
      if (body && body.error) {
        if (typeof body.error.code === 'string') code = body.error.code;
        if (typeof body.error.message === 'string') message = body.error.message;
      }
    } catch (e) { /* not JSON */ }
    if (!message) message = t('error.http', { status });
    const retry = retryAfterHeader && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader.trim()) : null;
    if (retry !== null && (status === 429 || status === 503)) message += ' ' + t('error.retryAfter', { s: retry });
    return new ApiError(status, code, message, retry);
  }

  async function errorFromResponse(res) {
    let text = '';
    try { text = await res.text(); } catch (e) { /* ignore */ }
    return errorFromBody(res.status, text, res.headers.get('Retry-After'));
  }

  // Key dialog: one at a time; concurrent 401s wait for the same answer.
  let keyRequest = null;
  function askForKey(refused) {
    if (keyRequest) return keyRequest.promise;
    const dialog = $('key-dialog');
    const request = {};
    request.promise = new Promise((resolve, reject) => { request.resolve = resolve; request.reject = reject; });
    keyRequest = request;
    $('key-error').hidden = !refused;
    $('key-input').value = '';
    if (!dialog.open) {
      if (typeof dialog.showModal === 'function') dialog.showModal();
      else dialog.setAttribute('open', '');
    }
    $('key-input').focus();
    return request.promise;
  }

  function finishKeyRequest(key) {
    const request = keyRequest;
    keyRequest = null;
    const dialog = $('key-dialog');
    $('key-input').value = '';
    if (dialog.open) {
      if (typeof dialog.close === 'function') dialog.close();
      else dialog.removeAttribute('open');
    }
    if (!request) return;
    if (key) { setKey(key); request.resolve(); }
    else request.reject(new ApiError(401, 'unauthenticated', t('auth.required')));
  }

  function setupKeyDialog() {
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) { $('key-input').focus(); return; }
      finishKeyRequest(key);
    });
    $('key-cancel').addEventListener('click', () => finishKeyRequest(null));
    $('key-dialog').addEventListener('cancel', (e) => { e.preventDefault(); finishKeyRequest(null); });
    $('key-forget').addEventListener('click', () => { setKey(''); toast(t('key.forgotten')); });
    $('key-forget').hidden = !getKey();
  }

  /** fetch with the key; on 401 asks for a key and retries; non-2xx becomes an ApiError. */
  async function apiFetch(path, options) {
    const opts = options || {};
    for (;;) {
      const headers = new Headers(opts.headers || {});
      let body = opts.body;
      if (opts.json !== undefined) {
        headers.set('Content-Type', 'application/json');
        body = JSON.stringify(opts.json);
      }
      if (!headers.has('Accept')) headers.set('Accept', 'application/json');
      const key = getKey();
      if (key) headers.set('Authorization', 'Bearer ' + key);
      let res;
      try {
        res = await fetch(path, {
          method: opts.method || 'GET', headers, body, signal: opts.signal,
          credentials: 'same-origin', cache: 'no-store', redirect: 'error',
        });
      } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        throw new ApiError(0, 'network', t('error.network', { error: (e && e.message) || String(e) }));
      }
      if (res.status === 401) {
        if (key) setKey('');
        await askForKey(Boolean(key)); // rejects when the person cancels
        continue;
      }
      if (!res.ok) throw await errorFromResponse(res);
      return res;
    }
  }

  async function apiJSON(path, options) {
    const res = await apiFetch(path, options);
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { throw new ApiError(res.status, 'bad_response', t('error.badResponse')); }
  }

  /** Multipart upload with XMLHttpRequest (for upload progress); 401 → key dialog → retry. */
  function xhrUpload(path, formData, onProgress) {
    const attempt = () => new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path);
      xhr.setRequestHeader('Accept', 'application/json');
      const key = getKey();
      if (key) xhr.setRequestHeader('Authorization', 'Bearer ' + key);
      xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
      xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText, key,
        retryAfter: xhr.getResponseHeader('Retry-After') }));
      xhr.addEventListener('error', () => reject(new ApiError(0, 'network', t('error.network', { error: 'XMLHttpRequest' }))));
      xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'aborted')));
      xhr.send(formData);
    });
    return (async () => {
      for (;;) {
        const r = await attempt();
        if (r.status === 401) {
          if (r.key) setKey('');
          await askForKey(Boolean(r.key));
          continue;
        }
        if (r.status < 200 || r.status >= 300) throw errorFromBody(r.status, r.text, r.retryAfter);
        try { return JSON.parse(r.text); } catch (e) { throw new ApiError(r.status, 'bad_response', t('error.badResponse')); }
      }
    })();
  }

  function kbPath(kb) { return '/api/v1/kbs/' + enc(kb); }

  // ---------------------------------------------------------------------------------------------
  // Confirmation dialog (a <dialog>, so browser tests need no native-dialog handler)
  // ---------------------------------------------------------------------------------------------
  let confirmResolve = null;
  function confirmAction(message, okLabel) {
    const dialog = $('confirm-dialog');
    if (confirmResolve) confirmResolve(false);
    $('confirm-message').textContent = message;
    $('confirm-ok').textContent = okLabel || t('common.delete');
    return new Promise((resolve) => {
      confirmResolve = resolve;
      if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
      $('confirm-cancel').focus();
    });
  }
  function finishConfirm(value) {
    const dialog = $('confirm-dialog');
    if (dialog.open) { if (typeof dialog.close === 'function') dialog.close(); else dialog.removeAttribute('open'); }
    const resolve = confirmResolve;
    confirmResolve = null;
    if (resolve) resolve(value);
  }
  function setupConfirmDialog() {
    $('confirm-form').addEventListener('submit', (e) => { e.preventDefault(); finishConfirm(true); });
    $('confirm-cancel').addEventListener('click', () => finishConfirm(false));
    $('confirm-dialog').addEventListener('cancel', (e) => { e.preventDefault(); finishConfirm(false); });
  }

  // ---------------------------------------------------------------------------------------------
  // Knowledge-base list shared by the chat and search selects
  // ---------------------------------------------------------------------------------------------
  const state = {
    kbs: null, // [KB] once loaded
    kbsError: '',
    kb: storage.get('localStorage', LS_KB) || '',
    view: '',
    docsKb: '',
    docs: null,
    searchResult: null,
  };

  async function loadKbs() {
    try {
      const body = await apiJSON('/api/v1/kbs');
      state.kbs = Array.isArray(body && body.knowledge_bases) ? body.knowledge_bases : [];
      state.kbsError = '';
    } catch (e) {
      state.kbsError = e.message;
      if (!state.kbs) state.kbs = [];
    }
    if (state.kbs.length && !state.kbs.some((k) => k.name === state.kb)) selectKb(state.kbs[0].name, true);
    if (!state.kbs.length) selectKb('', true);
    renderKbSelects();
    renderKbTable();
    renderChatNotice();
  }

  function renderKbSelects() {
    for (const id of ['kb-select', 'search-kb']) {
      const select = $(id);
      select.replaceChildren();
      if (!state.kbs || !state.kbs.length) {
        select.append(el('option', { value: '' }, t('chat.noKbOption')));
        select.disabled = true;
        continue;
      }
      select.disabled = false;
      for (const kb of state.kbs) select.append(el('option', { value: kb.name }, kb.name));
      select.value = state.kb;
    }
  }

  function selectKb(name, quiet) {
    if (name === state.kb) return;
    state.kb = name;
    if (name) storage.set('localStorage', LS_KB, name);
    for (const id of ['kb-select', 'search-kb']) if ($(id).value !== name) $(id).value = name;
    if (chat.turns.length && chat.kb && chat.kb !== name) {
      newConversation();
      if (!quiet) toast(t('chat.newStarted'));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Chat
  // ---------------------------------------------------------------------------------------------
  const chat = {
    kb: '',
    turns: [], // {question, kb, text, citations: Map, sources: Map, found, ...}
    controller: null,
    busy: false,
  };
  const panel = { turn: null, n: 0, badge: null, token: 0 };
  const chunkCache = new Map();

  function renderChatNotice() {
    const notice = $('chat-notice');
    if (state.kbsError) {
      notice.textContent = state.kbsError;
      notice.className = 'error-box';
    } else if (state.kbs && !state.kbs.length) {
      notice.textContent = t('chat.noKbs');
      notice.className = 'hint';
    } else {
      notice.textContent = t('chat.empty');
      notice.className = 'hint';
    }
    notice.hidden = chat.turns.length > 0 && !state.kbsError;
  }

  function newConversation() {
    if (chat.controller) chat.controller.abort();
    chat.turns = [];
    chat.kb = '';
    $('conversation').replaceChildren();
    closeSourcePanel(false);
    renderChatNotice();
  }

  function setBusy(busy) {
    chat.busy = busy;
    $('ask').disabled = busy;
    $('stop').hidden = !busy;
  }

  function historyFor() {
    const history = [];
    for (const turn of chat.turns) {
      if (turn.state !== 'done') continue;
      const answer = stripMarkers(turn.text || '');
      if (!answer) continue;
      history.push({ role: 'user', content: turn.question }, { role: 'assistant', content: answer });
    }
    return history.slice(-20);
  }

  async function ask() {
    const question = $('question').value.trim();
    const kb = state.kb;
    $('ask-error').textContent = '';
    if (chat.busy) return;
    if (!kb) { $('ask-error').textContent = t('chat.pickKb'); return; }
    if (!question) { $('ask-error').textContent = t('chat.typeQuestion'); $('question').focus(); return; }
    if (chat.kb && chat.kb !== kb) newConversation();
    chat.kb = kb;
    const model = $('model-input').value.trim();
    const history = historyFor();
    const turn = {
      question, kb, text: '', citations: new Map(), sources: new Map(), found: null, invalid: [],
      uncited: false, removedImages: 0, truncated: false, warnings: [], usage: null, mode: '', model: '',
      coverage: null, state: 'waiting', error: '', gotToken: false, els: null, renderPending: false,
    };
    createTurnElements(turn);
    chat.turns.push(turn);
    renderChatNotice();
    $('question').value = '';
    renderTurn(turn);
    scrollToBottom(true);

    const controller = new AbortController();
    chat.controller = controller;
    setBusy(true);
    const body = { question, stream: true };
    if (history.length) body.history = history;
    if (model) body.model = model;
    try {
      const res = await apiFetch(kbPath(kb) + '/ask', {
        method: 'POST', json: body, signal: controller.signal, headers: { Accept: 'text/event-stream' },
      });
      const type = (res.headers.get('Content-Type') || '').toLowerCase();
      if (type.includes('application/json')) {
        applyAnswer(turn, await res.json());
        turn.state = 'done';
      } else {
        await readEventStream(res, (ev) => handleAskEvent(turn, ev));
        if (turn.state === 'waiting' || turn.state === 'streaming') turn.state = 'interrupted';
      }
    } catch (e) {
      if (e && e.name === 'AbortError') turn.state = 'stopped';
      else { turn.state = 'error'; turn.error = (e && e.message) || String(e); }
    } finally {
      if (chat.controller === controller) chat.controller = null;
      setBusy(false);
      renderTurn(turn);
      scrollToBottom(false);
    }
  }

  /** Reads an SSE response body, calling `onEvent` for each event (UTF-8 split across reads is fine). */
  async function readEventStream(res, onEvent) {
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

  function parseData(ev) {
    try { return JSON.parse(ev.data); } catch (e) { return null; }
  }

  function citationMap(list) {
    const map = new Map();
    if (Array.isArray(list)) for (const c of list) if (c && typeof c.n === 'number') map.set(c.n, c);
    return map;
  }

  /** Handles one `ask` stream event; returns false to stop reading. */
  function handleAskEvent(turn, ev) {
    const data = parseData(ev);
    switch (ev.event) {
      case 'sources':
        if (data) turn.sources = citationMap(data.sources);
        turn.state = 'streaming';
        break;
      case 'token':
        if (data && typeof data.text === 'string') {
          turn.text += data.text;
          turn.gotToken = true;
        }
        turn.state = 'streaming';
        break;
      case 'citations':
        if (data) {
          turn.citations = citationMap(data.citations);
          if (Array.isArray(data.invalid_citations)) turn.invalid = data.invalid_citations;
          if (typeof data.found === 'boolean') turn.found = data.found;
        }
        break;
      case 'usage':
        if (data) turn.usage = data;
        break;
      case 'done':
        if (data) applyAnswer(turn, data);
        turn.state = 'done';
        break;
      case 'error': {
        const err = data && data.error;
        turn.state = 'error';
        turn.error = (err && err.message) || t('error.badResponse');
        scheduleRender(turn);
        return false;
      }
      default:
        return true;
    }
    scheduleRender(turn);
    return true;
  }

  /** Takes the full Answer JSON (the `done` event, or a non-streamed answer). */
  function applyAnswer(turn, a) {
    if (!a || typeof a !== 'object') return;
    if (typeof a.answer === 'string') turn.text = a.answer;
    if (Array.isArray(a.citations)) turn.citations = citationMap(a.citations);
    if (Array.isArray(a.sources)) turn.sources = citationMap(a.sources);
    if (typeof a.found === 'boolean') turn.found = a.found;
    if (Array.isArray(a.invalid_citations)) turn.invalid = a.invalid_citations;
    turn.uncited = a.uncited === true;
    turn.removedImages = typeof a.removed_images === 'number' ? a.removed_images : 0;
    turn.truncated = a.truncated_context === true;
    turn.warnings = Array.isArray(a.warnings) ? a.warnings.filter((w) => typeof w === 'string') : [];
    if (a.usage && typeof a.usage === 'object') turn.usage = a.usage;
    turn.mode = typeof a.mode === 'string' ? a.mode : turn.mode;
    turn.model = typeof a.model === 'string' ? a.model : turn.model;
    turn.coverage = typeof a.coverage === 'number' ? a.coverage : turn.coverage;
  }

  function createTurnElements(turn) {
    const previous = $('answer');
    if (previous) { previous.removeAttribute('id'); previous.removeAttribute('data-testid'); }
    const els = {};
    els.meta = el('span', { class: 'msg-meta' });
    els.chip = el('p', { class: 'notfound-chip', hidden: true });
    els.body = el('div', {
      id: 'answer', 'data-testid': 'answer', class: 'answer-body', 'aria-live': 'polite', 'aria-busy': 'true',
    });
    els.status = el('p', { class: 'msg-status' });
    els.warnings = el('ul', { class: 'warnings', hidden: true });
    els.sources = el('div', { class: 'sources-list', hidden: true });
    els.usage = el('p', { class: 'usage', hidden: true });
    els.assistantLabel = el('span', { class: 'msg-label' });
    els.userLabel = el('span', { class: 'msg-label' });
    els.assistant = el('article', { class: 'msg assistant' },
      el('header', { class: 'msg-head' }, els.assistantLabel, els.meta),
      els.chip, els.body, els.status, els.warnings, els.sources, els.usage);
    els.user = el('div', { class: 'msg user' }, els.userLabel, el('p', { class: 'msg-text' }, turn.question));
    els.root = el('div', { class: 'turn' }, els.user, els.assistant);
    turn.els = els;
    $('conversation').append(els.root);
  }

  function scheduleRender(turn) {
    if (turn.renderPending) return;
    turn.renderPending = true;
    const run = () => { turn.renderPending = false; const near = nearBottom(); renderTurn(turn); if (near) scrollToBottom(false); };
    if (typeof requestAnimationFrame === 'function' && document.visibilityState !== 'hidden') requestAnimationFrame(run);
    else setTimeout(run, 50);
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  }
  function scrollToBottom(force) {
    if (force || nearBottom()) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function lookupCitation(turn, n) {
    return turn.citations.get(n) || turn.sources.get(n) || null;
  }

  function sourceLabel(c) {
    if (!c) return '';
    return c.section ? c.document + ' › ' + c.section : c.document || '';
  }

  /** Known server warnings that the UI shows in its own words from the structured fields. */
  const STRUCTURED_WARNINGS = [/^the answer cites no source/i, /^removed citation markers/i, /^removed \d+ remote image/i,
    /^the best passage was cut/i];

  function renderTurn(turn) {
    const els = turn.els;
    if (!els) return;
    els.userLabel.textContent = t('chat.you');
    els.assistantLabel.textContent = t('chat.assistant');
    const streaming = turn.state === 'waiting' || turn.state === 'streaming';
    els.assistant.dataset.state = turn.state;
    els.body.setAttribute('aria-busy', streaming ? 'true' : 'false');

    // Meta: mode / model / coverage.
    const meta = [];
    if (turn.mode === 'extractive') meta.push(t('chat.mode.extractive'));
    else if (turn.model) meta.push(t('chat.mode.llm', { model: turn.model }));
    if (typeof turn.coverage === 'number' && turn.state === 'done') meta.push(t('chat.coverage', { value: turn.coverage.toFixed(2) }));
    els.meta.textContent = meta.join(' · ');

    // Not found.
    const notFound = turn.found === false;
    els.assistant.classList.toggle('not-found', notFound);
    // The chip stands in for the answer only while the server's own not-found text has not arrived.
    els.chip.hidden = !notFound || Boolean(turn.text && turn.text.trim());
    els.chip.textContent = t('chat.notFound');

    // Answer text with citation badges.
    const nodes = [];
    for (const part of splitAnswer(turn.text)) {
      if (part.type === 'text') { nodes.push(document.createTextNode(part.value)); continue; }
      const c = lookupCitation(turn, part.n);
      if (!c) { nodes.push(document.createTextNode(part.value)); continue; }
      const label = c.document ? t('chat.citation', { n: part.n, document: sourceLabel(c) }) : t('chat.citationNoDoc', { n: part.n });
      const badge = el('button', {
        type: 'button', class: 'citation', 'data-testid': 'citation', 'aria-label': label, title: label,
        'aria-controls': 'source-panel', dataset: { n: String(part.n) },
      }, String(part.n));
      badge.addEventListener('click', () => openSourcePanel(turn, part.n, badge));
      if (panel.turn === turn && panel.n === part.n && !$('source-panel').hidden) {
        badge.classList.add('active');
        panel.badge = badge;
      }
      nodes.push(badge);
    }
    els.body.replaceChildren(...nodes);

    // Status line.
    let status = '';
    let statusClass = 'msg-status';
    if (turn.state === 'waiting') { status = t('chat.searching'); statusClass += ' working'; }
    else if (turn.state === 'streaming' && !turn.gotToken) { status = t('chat.writing'); statusClass += ' working'; }
    else if (turn.state === 'stopped') status = t('chat.stopped');
    else if (turn.state === 'interrupted') { status = t('chat.interrupted'); statusClass += ' error-text'; }
    else if (turn.state === 'error') { status = t('chat.failed', { error: turn.error }); statusClass += ' error-text'; }
    els.status.className = statusClass;
    els.status.textContent = status;
    els.status.hidden = !status;
    els.status.setAttribute('role', turn.state === 'error' || turn.state === 'interrupted' ? 'alert' : 'status');

    // Warnings: the structured ones in the UI's language, then the server's other warnings.
    const warnings = [];
    if (turn.invalid && turn.invalid.length) warnings.push(t('warn.invalid', { list: turn.invalid.map((n) => '[' + n + ']').join(', ') }));
    if (turn.uncited) warnings.push(t('warn.uncited'));
    if (turn.removedImages > 0) warnings.push(t('warn.images', { n: turn.removedImages }));
    if (turn.truncated) warnings.push(t('warn.truncated'));
    for (const w of turn.warnings) if (!STRUCTURED_WARNINGS.some((re) => re.test(w))) warnings.push(w);
    els.warnings.replaceChildren(...warnings.map((w) => el('li', null, w)));
    els.warnings.hidden = warnings.length === 0;
    els.warnings.setAttribute('aria-label', t('warn.title'));

    // Cited sources, listed under the answer.
    const cited = Array.from(turn.citations.values()).sort((a, b) => a.n - b.n);
    els.sources.replaceChildren();
    if (cited.length && !streaming) {
      els.sources.append(el('span', { class: 'sources-title' }, t('chat.sources')));
      for (const c of cited) {
        const ref = el('button', { type: 'button', class: 'source-ref', 'aria-controls': 'source-panel' },
          el('span', { class: 'source-ref-n' }, String(c.n)),
          el('span', { class: 'source-ref-label' }, sourceLabel(c) + (c.page !== null && c.page !== undefined ? ' · ' + t('search.page', { page: c.page }) : '')));
        ref.addEventListener('click', () => openSourcePanel(turn, c.n, ref));
        els.sources.append(ref);
      }
    }
    els.sources.hidden = els.sources.childNodes.length === 0;

    // Usage line.
    const usageText = usageLine(turn.usage);
    els.usage.textContent = usageText;
    els.usage.hidden = !usageText;
  }

  function usageLine(u) {
    if (!u || typeof u !== 'object') return '';
    const parts = [];
    const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
    const prompt = num(u.prompt_tokens);
    const completion = num(u.completion_tokens);
    if (prompt === null && completion === null) return '';
    const total = num(u.total_tokens) !== null ? u.total_tokens : (prompt || 0) + (completion || 0);
    parts.push(t('usage.tokens', { prompt: fmtNumber(prompt || 0), completion: fmtNumber(completion || 0), total: fmtNumber(total) }));
    if (num(u.cached_prompt_tokens)) parts.push(t('usage.cached', { n: fmtNumber(u.cached_prompt_tokens) }));
    if (u.estimated === true) parts.push(t('usage.estimated'));
    if (num(u.calls) !== null && u.calls > 1) parts.push(t('usage.calls', { n: u.calls }));
    if (num(u.cost) !== null) parts.push(t('usage.cost', { cost: u.cost, currency: typeof u.currency === 'string' ? u.currency : '' }).trim());
    if (num(u.seconds) !== null) parts.push(t('usage.seconds', { s: u.seconds.toFixed(1) }));
    if (typeof u.model === 'string' && u.model) parts.push(u.model);
    return parts.join(' · ');
  }

  // ----- Source panel -----

  function openSourcePanel(turn, n, badge) {
    const c = lookupCitation(turn, n);
    if (!c) return;
    const token = ++panel.token;
    if (panel.badge) panel.badge.classList.remove('active');
    panel.turn = turn;
    panel.n = n;
    panel.badge = badge;
    if (badge) badge.classList.add('active');
    const sp = $('source-panel');
    sp.hidden = false;
    $('chat-layout').classList.add('with-panel');
    $('source-title').textContent = t('source.title', { n });
    fillSourceMeta(c);
    const claims = citedClaims(turn.text, n);
    // Show what we have at once; replace with the full chunk when it arrives.
    renderSourceText(c.text || '', claims, c.text || '');
    $('source-status').textContent = t('source.loading');
    $('source-title').focus();
    const cacheKey = turn.kb + '\u0000' + c.chunk_id;
    const load = chunkCache.has(cacheKey)
      ? Promise.resolve(chunkCache.get(cacheKey))
      : apiJSON(kbPath(turn.kb) + '/chunks/' + enc(String(c.chunk_id))).then((chunk) => { chunkCache.set(cacheKey, chunk); return chunk; });
    load.then((chunk) => {
      if (token !== panel.token) return;
      if (!chunk || typeof chunk.text !== 'string') throw new ApiError(0, 'bad_response', t('error.badResponse'));
      fillSourceMeta({
        document: chunk.document || c.document, section: chunk.section !== undefined ? chunk.section : c.section,
        page: chunk.page !== undefined ? chunk.page : c.page, chunk_id: chunk.chunk_id !== undefined ? chunk.chunk_id : c.chunk_id,
      });
      renderSourceText(chunk.text, claims, c.text || '');
      $('source-status').textContent = '';
    }).catch((e) => {
      if (token !== panel.token) return;
      $('source-status').textContent = t('source.unavailable', { error: (e && e.message) || String(e) });
    });
  }

  function fillSourceMeta(c) {
    $('source-document').textContent = c.document || t('common.none');
    $('source-section').textContent = c.section || '';
    $('source-section-row').hidden = !c.section;
    const hasPage = c.page !== null && c.page !== undefined && c.page !== '';
    $('source-page').textContent = hasPage ? String(c.page) : '';
    $('source-page-row').hidden = !hasPage;
    $('source-text').dataset.chunkId = c.chunk_id !== undefined && c.chunk_id !== null ? String(c.chunk_id) : '';
  }

  function renderSourceText(text, claims, fallback) {
    const ranges = findHighlights(text, claims, fallback === text ? '' : fallback);
    const box = $('source-text');
    box.replaceChildren(...highlighted(text, ranges, 'cited'));
    $('source-legend').hidden = ranges.length === 0;
    const first = box.querySelector('mark');
    if (first && typeof first.scrollIntoView === 'function') first.scrollIntoView({ block: 'nearest' });
  }

  function closeSourcePanel(restoreFocus) {
    const sp = $('source-panel');
    if (sp.hidden) return;
    sp.hidden = true;
    $('chat-layout').classList.remove('with-panel');
    panel.token++;
    const badge = panel.badge;
    if (badge) badge.classList.remove('active');
    panel.turn = null;
    panel.n = 0;
    panel.badge = null;
    if (restoreFocus && badge && badge.isConnected) badge.focus();
  }

  function setupChat() {
    $('ask-form').addEventListener('submit', (e) => { e.preventDefault(); ask(); });
    $('question').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        ask();
      }
    });
    $('stop').addEventListener('click', () => { if (chat.controller) chat.controller.abort(); });
    $('new-chat').addEventListener('click', () => { newConversation(); $('question').focus(); toast(t('chat.newStarted')); });
    $('kb-select').addEventListener('change', (e) => selectKb(e.target.value));
    $('model-input').value = storage.get('localStorage', LS_MODEL) || '';
    $('model-input').addEventListener('change', (e) => storage.set('localStorage', LS_MODEL, e.target.value.trim()));
    $('source-close').addEventListener('click', () => closeSourcePanel(true));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !$('source-panel').hidden && !$('key-dialog').open && !$('confirm-dialog').open) {
        closeSourcePanel(true);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Knowledge bases view
  // ---------------------------------------------------------------------------------------------
  function renderKbTable() {
    const tbody = $('kbs-table').tBodies[0];
    tbody.replaceChildren();
    showError($('kbs-error'), state.kbsError);
    const kbs = state.kbs || [];
    $('kbs-empty').hidden = kbs.length > 0 || !!state.kbsError || state.kbs === null;
    for (const kb of kbs) {
      const docsLink = el('a', { href: '#/docs/' + enc(kb.name), class: 'kb-name' }, kb.name);
      const askButton = el('button', { type: 'button', class: 'ghost small' }, t('kbs.ask'));
      askButton.addEventListener('click', () => { selectKb(kb.name); location.hash = '#/chat'; });
      const del = el('button', { type: 'button', class: 'danger-ghost small', 'aria-label': t('kbs.deleteLabel', { name: kb.name }) }, t('kbs.delete'));
      del.addEventListener('click', () => deleteKb(kb));
      tbody.append(el('tr', { dataset: { kb: kb.name } },
        el('th', { scope: 'row' }, docsLink),
        el('td', { class: 'num' }, fmtNumber(kb.documents)),
        el('td', { class: 'num' }, fmtNumber(kb.chunks)),
        el('td', { class: kb.model ? 'mono' : 'muted' }, kb.model || t('kbs.noModel')),
        el('td', null, fmtDate(kb.created_at)),
        el('td', { class: 'actions' },
          el('a', { href: '#/docs/' + enc(kb.name), class: 'button ghost small' }, t('kbs.documents')), askButton, del)));
    }
  }

  async function deleteKb(kb) {
    const ok = await confirmAction(t('kbs.confirmDelete', { name: kb.name, documents: fmtNumber(kb.documents), chunks: fmtNumber(kb.chunks) }));
    if (!ok) return;
    try {
      await apiJSON(kbPath(kb.name), { method: 'DELETE' });
      toast(t('kbs.deleted', { name: kb.name }));
      if (state.kb === kb.name) { state.kb = ''; storage.remove('localStorage', LS_KB); }
      await loadKbs();
    } catch (e) {
      showError($('kbs-error'), adminError(e));
    }
  }

  /** Admin-only routes answer 404 to other keys: say what that means. */
  function adminError(e) {
    return e && e.status === 404 && e.code === 'not_found' && /route/i.test(e.message)
      ? t('kbs.needAdmin', { message: e.message }) : (e && e.message) || String(e);
  }

  function setupKbs() {
    $('kb-create-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = $('kb-name').value.trim();
      const model = $('kb-model').value.trim();
      showError($('kb-create-error'), '');
      if (!name) { showError($('kb-create-error'), t('kbs.nameRequired')); $('kb-name').focus(); return; }
      const body = { name };
      if (model) body.model = model;
      $('kb-create').disabled = true;
      try {
        const kb = await apiJSON('/api/v1/kbs', { method: 'POST', json: body });
        $('kb-name').value = '';
        $('kb-model').value = '';
        toast(t('kbs.created', { name: (kb && kb.name) || name }));
        await loadKbs();
      } catch (err) {
        showError($('kb-create-error'), adminError(err));
      } finally {
        $('kb-create').disabled = false;
      }
    });
    $('kbs-refresh').addEventListener('click', () => loadKbs());
  }

  // ---------------------------------------------------------------------------------------------
  // Documents view: table, uploads with progress, job polling
  // ---------------------------------------------------------------------------------------------
  const TERMINAL = new Set(['succeeded', 'partial', 'failed', 'cancelled']);
  const jobsByKb = new Map(); // kb → Map(jobId → {job, el, error, timer})
  const uploadsByKb = new Map(); // kb → [{name, size, progress, state, error, jobId, el}]

  async function loadDocs(kb) {
    showError($('docs-error'), '');
    try {
      const body = await apiJSON(kbPath(kb) + '/documents');
      if (state.docsKb !== kb) return;
      state.docs = Array.isArray(body && body.documents) ? body.documents : [];
    } catch (e) {
      if (state.docsKb !== kb) return;
      state.docs = [];
      showError($('docs-error'), e.message);
    }
    renderDocsTable();
  }

  function renderDocsTable() {
    const tbody = $('docs-table').tBodies[0];
    tbody.replaceChildren();
    const docs = state.docs || [];
    $('docs-empty').hidden = docs.length > 0 || state.docs === null;
    for (const doc of docs) {
      const path = String(doc.path || doc.title || doc.id);
      const reingest = el('button', { type: 'button', class: 'ghost small', 'aria-label': t('docs.reingestLabel', { path }) }, t('docs.reingest'));
      reingest.addEventListener('click', () => reingestDoc(state.docsKb, doc, reingest));
      const del = el('button', { type: 'button', class: 'danger-ghost small', 'aria-label': t('docs.deleteLabel', { path }) }, t('docs.delete'));
      del.addEventListener('click', () => deleteDoc(state.docsKb, doc));
      const title = doc.title && doc.title !== path ? el('span', { class: 'doc-title' }, doc.title) : null;
      tbody.append(el('tr', { dataset: { docId: String(doc.id) } },
        el('th', { scope: 'row', class: 'path-cell' }, el('span', { class: 'mono' }, path), title),
        el('td', null, doc.format || t('common.none')),
        el('td', { class: 'num' }, fmtNumber(doc.chunks)),
        el('td', { class: 'num' }, fmtBytes(doc.bytes)),
        el('td', null, fmtDate(doc.ingested_at)),
        el('td', { class: 'actions' }, reingest, del)));
    }
  }

  async function deleteDoc(kb, doc) {
    const path = String(doc.path || doc.id);
    const ok = await confirmAction(t('docs.confirmDelete', { path, chunks: fmtNumber(doc.chunks), kb }));
    if (!ok) return;
    try {
      await apiJSON(kbPath(kb) + '/documents/' + enc(String(doc.id)), { method: 'DELETE' });
      toast(t('docs.deleted', { path }));
      chunkCache.clear();
    } catch (e) {
      showError($('docs-error'), e.message);
    }
    if (state.docsKb === kb) loadDocs(kb);
  }

  async function reingestDoc(kb, doc, button) {
    button.disabled = true;
    try {
      const job = await apiJSON(kbPath(kb) + '/documents/' + enc(String(doc.id)) + '/reingest', { method: 'POST' });
      toast(t('docs.reingestStarted', { path: String(doc.path || doc.id) }));
      chunkCache.clear();
      trackJob(kb, job);
    } catch (e) {
      showError($('docs-error'), e.message);
    } finally {
      button.disabled = false;
    }
  }

  // ----- uploads -----

  function uploadsFor(kb) {
    if (!uploadsByKb.has(kb)) uploadsByKb.set(kb, []);
    return uploadsByKb.get(kb);
  }

  function startUpload(kb, fileList) {
    const files = Array.from(fileList || []).filter((f) => f && typeof f.name === 'string');
    if (!kb || !files.length) return;
    const items = files.map((file) => ({ file, name: file.name, size: file.size, progress: 0, state: 'waiting', error: '', jobId: null, el: null }));
    uploadsFor(kb).push(...items);
    for (const item of items) renderUpload(kb, item);
    uploadBatch(kb, items);
  }

  async function uploadBatch(kb, items) {
    const form = new FormData();
    for (const item of items) form.append('file', item.file, item.name);
    for (const item of items) { item.state = 'uploading'; item.progress = 0; renderUpload(kb, item); }
    // Files are sent in order, so the bytes sent so far tell how far each file is.
    const sizes = items.map((i) => i.size);
    const sum = sizes.reduce((a, b) => a + b, 0);
    const onProgress = (loaded, total) => {
      const overhead = Math.max(0, total - sum) / items.length;
      let offset = 0;
      for (let i = 0; i < items.length; i++) {
        const span = sizes[i] + overhead;
        const done = Math.min(Math.max(loaded - offset, 0), span);
        items[i].progress = span > 0 ? Math.floor((done / span) * 100) : 100;
        offset += span;
        renderUpload(kb, items[i]);
      }
    };
    try {
      const job = await xhrUpload(kbPath(kb) + '/documents', form, onProgress);
      for (const item of items) {
        item.state = 'done';
        item.progress = 100;
        item.jobId = job && job.id !== undefined ? job.id : null;
        renderUpload(kb, item);
      }
      if (job && job.id !== undefined) trackJob(kb, job);
    } catch (e) {
      if (e.status === 413 && items.length > 1) {
        toast(t('upload.split'));
        for (const item of items) await uploadBatch(kb, [item]);
        return;
      }
      for (const item of items) {
        item.state = 'failed';
        item.error = e.message;
        renderUpload(kb, item);
      }
      toast(t('upload.failed', { error: e.message }));
    }
  }

  function renderUpload(kb, item) {
    if (!item.el) {
      item.el = el('li', { class: 'upload' });
      item.el.dataset.name = item.name;
    }
    let status;
    if (item.state === 'waiting') status = t('upload.waiting');
    else if (item.state === 'uploading') status = t('upload.progress', { p: item.progress });
    else if (item.state === 'done') status = t('upload.done', { id: item.jobId === null ? '?' : item.jobId });
    else if (item.state === 'ingested') {
      const outcome = item.result && typeof item.result.outcome === 'string' ? item.result.outcome : '';
      status = t('upload.ingested', {
        outcome: I18N.en['job.outcome.' + outcome] ? t('job.outcome.' + outcome) : outcome,
        chunks: fmtNumber(item.result && typeof item.result.chunks === 'number' ? item.result.chunks : 0),
      });
    } else if (item.state === 'rejected') status = t('upload.rejected', { reason: (item.result && item.result.reason) || t('job.outcome.failed') });
    else status = t('upload.failed', { error: item.error });
    const progress = el('progress', { max: '100', value: String(item.progress), 'aria-label': item.name });
    const children = [
      el('span', { class: 'upload-name mono' }, item.name),
      el('span', { class: 'upload-size muted' }, fmtBytes(item.size)),
      progress,
      el('span', { class: 'upload-status' + (item.state === 'failed' ? ' error-text' : '') }, status),
    ];
    if (item.state !== 'waiting' && item.state !== 'uploading') {
      const dismiss = el('button', { type: 'button', class: 'icon-button', 'aria-label': t('upload.remove'), title: t('upload.remove') }, '×');
      dismiss.addEventListener('click', () => {
        const list = uploadsFor(kb);
        const i = list.indexOf(item);
        if (i >= 0) list.splice(i, 1);
        item.el.remove();
      });
      children.push(dismiss);
    }
    const failed = item.state === 'failed' || item.state === 'rejected';
    if (failed) children[3].classList.add('error-text');
    item.el.className = 'upload state-' + item.state + (failed ? ' state-failed' : '');
    item.el.replaceChildren(...children);
    if (state.docsKb === kb && item.el.parentNode !== $('uploads')) $('uploads').append(item.el);
  }

  // ----- jobs -----

  function jobsFor(kb) {
    if (!jobsByKb.has(kb)) jobsByKb.set(kb, new Map());
    return jobsByKb.get(kb);
  }

  function trackJob(kb, job) {
    if (!job || job.id === undefined || job.id === null) return;
    const jobs = jobsFor(kb);
    let entry = jobs.get(String(job.id));
    if (!entry) {
      entry = { job, el: el('div', { class: 'job card' }), error: '', timer: 0, failures: 0 };
      entry.el.dataset.jobId = String(job.id);
      jobs.set(String(job.id), entry);
    } else {
      entry.job = job;
    }
    renderJob(kb, entry);
    if (!TERMINAL.has(job.state)) scheduleJobPoll(kb, entry);
    else {
      settleUploads(kb, job);
      if (state.docsKb === kb && state.view === 'docs') loadDocs(kb);
    }
  }

  function scheduleJobPoll(kb, entry) {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => pollJob(kb, entry), 500);
  }

  async function pollJob(kb, entry) {
    try {
      const job = await apiJSON('/api/v1/jobs/' + enc(String(entry.job.id)));
      entry.failures = 0;
      entry.error = '';
      if (job) entry.job = job;
    } catch (e) {
      entry.failures++;
      entry.error = t('job.lost', { error: e.message });
      if (e.status === 404 || entry.failures >= 5) { renderJob(kb, entry); return; }
    }
    renderJob(kb, entry);
    if (TERMINAL.has(entry.job.state)) {
      const j = entry.job;
      settleUploads(kb, j);
      toast(t('job.finished', { id: j.id, state: t('job.state.' + j.state), done: fmtNumber(j.files_done || 0), total: fmtNumber(j.files_total || 0) }));
      chunkCache.clear();
      if (state.docsKb === kb && state.view === 'docs') loadDocs(kb);
      loadKbs();
    } else {
      scheduleJobPoll(kb, entry);
    }
  }

  function renderJob(kb, entry) {
    const job = entry.job;
    const jobState = typeof job.state === 'string' ? job.state : 'queued';
    const total = typeof job.files_total === 'number' ? job.files_total : 0;
    const done = typeof job.files_done === 'number' ? job.files_done : 0;
    const progress = el('progress', { 'aria-label': t('job.title', { id: job.id }) });
    if (total > 0) { progress.max = total; progress.value = Math.min(done, total); }
    else if (TERMINAL.has(jobState)) { progress.max = 1; progress.value = 1; }
    if (jobState === 'failed' || jobState === 'partial' || jobState === 'cancelled') progress.classList.add('bar-' + jobState);
    const head = el('div', { class: 'job-head' },
      el('strong', null, t('job.title', { id: job.id })),
      el('span', { class: 'badge state-' + jobState }, t('job.state.' + jobState)));
    if (TERMINAL.has(jobState) || entry.error) {
      const dismiss = el('button', { type: 'button', class: 'ghost small' }, t('job.dismiss'));
      dismiss.addEventListener('click', () => { clearTimeout(entry.timer); jobsFor(kb).delete(String(job.id)); entry.el.remove(); });
      head.append(dismiss);
    }
    const children = [head, progress,
      el('p', { class: 'job-progress muted' }, t('job.progress', { done: fmtNumber(done), total: fmtNumber(total), chunks: fmtNumber(job.chunks || 0) }))];
    if (job.error) children.push(el('p', { class: 'error-text' }, typeof job.error === 'string' ? job.error : (job.error.message || JSON.stringify(job.error))));
    if (entry.error) children.push(el('p', { class: 'error-text' }, entry.error));
    const results = Array.isArray(job.results) ? job.results : [];
    if (results.length) {
      const tbody = el('tbody');
      for (const r of results) {
        const outcome = typeof r.outcome === 'string' ? r.outcome : '';
        const known = ['added', 'updated', 'unchanged', 'failed', 'pruned'].includes(outcome);
        tbody.append(el('tr', { class: 'outcome-' + (known ? outcome : 'other') },
          el('td', { class: 'mono' }, r.path || ''),
          el('td', null, el('span', { class: 'badge outcome-' + (known ? outcome : 'other') }, known ? t('job.outcome.' + outcome) : outcome)),
          el('td', { class: 'num' }, r.chunks === null || r.chunks === undefined ? t('common.none') : fmtNumber(r.chunks)),
          el('td', { class: r.reason ? 'reason' : 'muted' }, r.reason || '')));
      }
      children.push(el('div', { class: 'table-wrap' }, el('table', { class: 'data-table compact job-results' },
        el('thead', null, el('tr', null,
          el('th', { scope: 'col' }, t('job.col.file')), el('th', { scope: 'col' }, t('job.col.outcome')),
          el('th', { scope: 'col', class: 'num' }, t('job.col.chunks')), el('th', { scope: 'col' }, t('job.col.reason')))),
        tbody)));
    }
    entry.el.className = 'job card state-' + jobState;
    entry.el.replaceChildren(...children);
    if (state.docsKb === kb && state.view === 'docs' && entry.el.parentNode !== $('jobs')) $('jobs').prepend(entry.el);
  }

  /** When a job is finished, each uploaded file it carried shows its own outcome. */
  function settleUploads(kb, job) {
    const results = Array.isArray(job.results) ? job.results : [];
    for (const item of uploadsFor(kb)) {
      if (item.state !== 'done' || item.jobId === null || String(item.jobId) !== String(job.id)) continue;
      const r = results.find((x) => x && typeof x.path === 'string' && (x.path === item.name || x.path.endsWith('/' + item.name)));
      if (!r) continue;
      item.result = r;
      item.state = r.outcome === 'failed' ? 'rejected' : 'ingested';
      renderUpload(kb, item);
    }
  }

  async function loadActiveJobs(kb) {
    try {
      const body = await apiJSON(kbPath(kb) + '/jobs');
      if (state.docsKb !== kb) return;
      const list = Array.isArray(body && body.jobs) ? body.jobs : [];
      for (const job of list.slice(0, 20).reverse()) {
        if (!TERMINAL.has(job.state) && !jobsFor(kb).has(String(job.id))) trackJob(kb, job);
      }
    } catch (e) { /* the jobs list is a convenience */ }
  }

  function showDocs(kb) {
    const changed = state.docsKb !== kb;
    state.docsKb = kb;
    $('docs-kb-name').textContent = kb;
    $('docs-title').textContent = t('docs.title', { kb });
    if (changed) {
      state.docs = null;
      renderDocsTable();
      $('uploads').replaceChildren(...uploadsFor(kb).map((u) => u.el).filter(Boolean));
      $('jobs').replaceChildren(...Array.from(jobsFor(kb).values()).reverse().map((j) => j.el));
    }
    loadDocs(kb);
    loadActiveJobs(kb);
  }

  function setupDocs() {
    const drop = $('upload-drop');
    let depth = 0;
    drop.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; drop.classList.add('dragover'); });
    drop.addEventListener('dragover', (e) => { e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; });
    drop.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) drop.classList.remove('dragover'); });
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      drop.classList.remove('dragover');
      if (e.dataTransfer && e.dataTransfer.files) startUpload(state.docsKb, e.dataTransfer.files);
    });
    // A file dropped next to the zone must not make the browser open it in place of the app.
    window.addEventListener('dragover', (e) => { if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault(); });
    window.addEventListener('drop', (e) => { if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault(); });
    $('choose-files').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (e) => {
      startUpload(state.docsKb, e.target.files);
      e.target.value = '';
    });
    $('docs-refresh').addEventListener('click', () => { if (state.docsKb) { loadDocs(state.docsKb); loadActiveJobs(state.docsKb); } });
    $('docs-ask').addEventListener('click', () => { if (state.docsKb) selectKb(state.docsKb); });
  }

  // ---------------------------------------------------------------------------------------------
  // Search / hit test
  // ---------------------------------------------------------------------------------------------
  let searchToken = 0;
  async function runSearch() {
    const query = $('search-query').value.trim();
    const kb = state.kb;
    const status = $('search-status');
    status.className = 'hint';
    if (!kb) { status.textContent = t('chat.pickKb'); return; }
    if (!query) { status.textContent = t('search.typeQuery'); $('search-query').focus(); return; }
    let topK = parseInt($('search-topk').value, 10);
    if (!isFinite(topK) || topK < 1) topK = 10;
    topK = Math.min(topK, 100);
    const token = ++searchToken;
    status.textContent = t('search.searching');
    $('search-submit').disabled = true;
    try {
      const body = await apiJSON(kbPath(kb) + '/search', { method: 'POST', json: { query, top_k: topK } });
      if (token !== searchToken) return;
      state.searchResult = { query: (body && body.query) || query, results: Array.isArray(body && body.results) ? body.results : [], kb };
      renderSearch();
    } catch (e) {
      if (token !== searchToken) return;
      state.searchResult = null;
      $('search-results').replaceChildren();
      status.className = 'error-box';
      status.textContent = e.message;
    } finally {
      if (token === searchToken) $('search-submit').disabled = false;
    }
  }

  function renderSearch() {
    const r = state.searchResult;
    const list = $('search-results');
    const status = $('search-status');
    if (!r) return;
    status.className = 'hint';
    status.textContent = r.results.length ? t('search.count', { n: r.results.length, query: r.query }) : t('search.none', { query: r.query });
    list.replaceChildren();
    for (const hit of r.results) {
      const score = typeof hit.score === 'number' ? hit.score.toFixed(3) : String(hit.score);
      const where = [el('span', { class: 'hit-doc' }, hit.document || '')];
      if (hit.section) where.push(el('span', { class: 'sep', 'aria-hidden': 'true' }, ' › '), el('span', { class: 'hit-section' }, hit.section));
      const meta = [el('span', { class: 'hit-score' }, t('search.score', { score }))];
      if (hit.page !== null && hit.page !== undefined) meta.push(el('span', { class: 'hit-page' }, t('search.page', { page: hit.page })));
      if (hit.chunk_id !== null && hit.chunk_id !== undefined) meta.push(el('span', { class: 'hit-chunk muted' }, t('search.chunk', { id: hit.chunk_id })));
      const text = typeof hit.text === 'string' ? hit.text : '';
      list.append(el('li', { class: 'result card', dataset: { rank: String(hit.rank), chunkId: String(hit.chunk_id) } },
        el('div', { class: 'result-head' },
          el('span', { class: 'rank', 'aria-label': '#' + hit.rank }, '#' + hit.rank),
          el('span', { class: 'hit-where' }, where),
          el('span', { class: 'hit-meta' }, meta)),
        el('p', { class: 'hit-text' }, highlighted(text, queryTermRanges(text, r.query), 'term'))));
    }
  }

  function setupSearch() {
    $('search-form').addEventListener('submit', (e) => { e.preventDefault(); runSearch(); });
    $('search-kb').addEventListener('change', (e) => selectKb(e.target.value));
  }

  // ---------------------------------------------------------------------------------------------
  // Language
  // ---------------------------------------------------------------------------------------------
  function initialLang() {
    const saved = storage.get('localStorage', LS_LANG);
    if (LANGS.includes(saved)) return saved;
    const prefs = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']);
    for (const p of prefs) {
      const l = String(p).toLowerCase();
      if (l.startsWith('zh')) return 'zh';
      if (l.startsWith('en')) return 'en';
    }
    return 'en';
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.setAttribute('placeholder', t(node.dataset.i18nPlaceholder));
    for (const node of document.querySelectorAll('[data-i18n-aria-label]')) node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
    for (const node of document.querySelectorAll('[data-i18n-title]')) node.setAttribute('title', t(node.dataset.i18nTitle));
    const toggle = $('lang-toggle');
    toggle.textContent = t('lang.other');
    toggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh');
    toggle.setAttribute('aria-label', t('lang.switch'));
    toggle.title = t('lang.switch');
    // Dynamic content.
    renderKbSelects();
    renderKbTable();
    renderChatNotice();
    for (const turn of chat.turns) renderTurn(turn);
    if (panel.turn) $('source-title').textContent = t('source.title', { n: panel.n });
    if (state.docsKb) { $('docs-title').textContent = t('docs.title', { kb: state.docsKb }); renderDocsTable(); }
    for (const [kb, list] of uploadsByKb) for (const item of list) renderUpload(kb, item);
    for (const [kb, jobs] of jobsByKb) for (const entry of jobs.values()) renderJob(kb, entry);
    renderSearch();
    updateTitle();
  }

  function setupLang() {
    lang = initialLang();
    $('lang-toggle').addEventListener('click', () => {
      lang = lang === 'zh' ? 'en' : 'zh';
      storage.set('localStorage', LS_LANG, lang);
      applyLang();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Routing: #/chat, #/kbs, #/docs/NAME, #/search
  // ---------------------------------------------------------------------------------------------
  function updateTitle() {
    const names = { chat: 'nav.chat', kbs: 'nav.kbs', docs: 'nav.kbs', search: 'nav.search' };
    const page = state.view === 'docs' && state.docsKb ? state.docsKb : t(names[state.view] || 'nav.chat');
    document.title = page + ' · ' + t('app.title');
  }

  function route(initial) {
    let hash = location.hash || '#/chat';
    if (!hash.startsWith('#/')) {
      if (state.view) return; // an in-page anchor such as the skip link: stay on the page shown
      hash = '#/chat';
    }
    const parts = hash.slice(2).split('/');
    let view = parts[0];
    let docsKb = '';
    if (view === 'docs') {
      try { docsKb = decodeURIComponent(parts.slice(1).join('/')); } catch (e) { docsKb = ''; }
      if (!docsKb) { location.replace('#/kbs'); return; }
    }
    if (!['chat', 'kbs', 'docs', 'search'].includes(view)) { location.replace('#/chat'); return; }
    const previous = state.view;
    state.view = view;
    for (const section of document.querySelectorAll('.view')) section.hidden = section.dataset.view !== view;
    for (const link of document.querySelectorAll('.mainnav a')) {
      const current = link.dataset.route === view || (view === 'docs' && link.dataset.route === 'kbs');
      if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
    }
    if (view === 'docs') showDocs(docsKb);
    if (view === 'kbs' && !initial) loadKbs();
    updateTitle();
    if (!initial && previous !== view) {
      const heading = document.querySelector('[data-view="' + view + '"] h1');
      if (heading) heading.focus({ preventScroll: false });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------------
  function init() {
    setupLang();
    setupKeyDialog();
    setupConfirmDialog();
    setupChat();
    setupKbs();
    setupDocs();
    setupSearch();
    applyLang();
    window.addEventListener('hashchange', () => route(false));
    route(true);
    loadKbs();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
