// The knowledge-base choice of a fresh browser (Sources/WendaoServer/UI/kbs.js). Run with
// `node --test Tests/ui/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKb } from '../../Sources/WendaoServer/UI/kbs.js';

test('a fresh browser starts with the knowledge base that has the most documents', () => {
  const kbs = [
    { name: 'a-empty', documents: 0 },
    { name: '客服知识库', documents: 12 },
    { name: 'manuals', documents: 3 },
  ];
  assert.equal(defaultKb(kbs), '客服知识库');
});

test('ties go to the first name; nothing to choose gives an empty name', () => {
  assert.equal(defaultKb([{ name: 'b', documents: 2 }, { name: 'a', documents: 2 }]), 'a');
  assert.equal(defaultKb([{ name: 'only' }]), 'only');
  assert.equal(defaultKb([]), '');
  assert.equal(defaultKb(null), '');
});

test('the administrator page: a role line per account and the body of a new account', async () => {
  const { rolesLine, userBody } = await import('../../Sources/WendaoServer/UI/admin.js');
  const { setLang } = await import('../../Sources/WendaoServer/UI/i18n.js');
  setLang('zh');
  assert.equal(rolesLine({ administrator: true, roles: [] }), '服务器管理员');
  assert.equal(rolesLine({ administrator: false, roles: [{ kb: '客服知识库', role: 'agent' }, { kb: 'ops', role: 'editor' }] }),
    '客服知识库: 客服, ops: 编辑');
  setLang('en');
  assert.deepEqual(userBody('ana', 'long password', ['客服知识库', 'ops'], 'agent'),
    { name: 'ana', password: 'long password', roles: { '客服知识库': 'agent', ops: 'agent' } });
  assert.deepEqual(userBody('lead', 'long password', ['ops'], 'server-admin'),
    { name: 'lead', password: 'long password', administrator: true });
});

test('share links: origins from the form, the widget snippet, the token of a share page, a source line', async () => {
  const { originList, widgetSnippet } = await import('../../Sources/WendaoServer/UI/admin.js');
  const { shareToken, sourceLine } = await import('../../Sources/WendaoServer/UI/share.js');
  assert.deepEqual(originList(' https://a.example\n\nhttps://b.example:8443, http://c.example '),
    ['https://a.example', 'https://b.example:8443', 'http://c.example']);
  assert.equal(widgetSnippet('https://kb.example', { widget_path: '/ui/widget.js', token: 'wds_abc' }),
    '<script src="https://kb.example/ui/widget.js" data-wendao-share="wds_abc" async></script>');
  const token = 'wds_' + 'A'.repeat(43);
  assert.equal(shareToken('/s/' + token), token);
  assert.equal(shareToken('/s/' + token + '/x'), '');
  assert.equal(shareToken('/s/wdk_' + 'A'.repeat(43)), '');
  assert.equal(shareToken('/s/wds_<script>'), '');
  assert.equal(sourceLine({ document: '价格.md', section: '二、运费', page: null }), '价格.md › 二、运费');
});

test('knowledge-base settings: the PATCH holds only what changed, and says what a change needs', async () => {
  const { settingsPatch, changeNeeds } = await import('../../Sources/WendaoServer/UI/kbsettings.js');
  const { parseRoute, settingsRoute } = await import('../../Sources/WendaoServer/UI/routes.js');
  const before = { model: null, retrieval: 'bm25', fusion: 'weighted', embedder: null, k1: 1.2, b: 0.75,
    chunk_size: 200, chunk_overlap: 40, ocr_languages: ['chi_sim', 'eng'], ocr_engine: 'auto' };
  const same = { ...before, model: '', embedder: '' };
  assert.deepEqual(settingsPatch(before, same), {});
  assert.deepEqual(settingsPatch(before, { ...same, retrieval: 'hybrid', embedder: 'e5-small' }),
    { retrieval: 'hybrid', embedder: 'e5-small' });
  assert.deepEqual(settingsPatch({ ...before, model: 'deepseek:deepseek-chat' }, same), { model: null });
  assert.deepEqual([...changeNeeds(before, { ...before, embedder: 'e5-small' })], ['reindex']);
  assert.deepEqual([...changeNeeds(before, { ...before, chunk_size: 300 })], ['reimport']);
  // The OCR engine applies to files imported afterwards, like the languages.
  assert.deepEqual(settingsPatch(before, { ...same, ocr_engine: 'ppocr' }), { ocr_engine: 'ppocr' });
  assert.deepEqual([...changeNeeds(before, { ...before, ocr_engine: 'tesseract' })], ['reimport']);
  assert.deepEqual([...changeNeeds(before, { ...before, retrieval: 'hybrid' })], []);
  assert.equal(settingsRoute('客服知识库'), '#/settings/%E5%AE%A2%E6%9C%8D%E7%9F%A5%E8%AF%86%E5%BA%93');
  assert.deepEqual(parseRoute(settingsRoute('客服知识库')), { view: 'settings', kb: '客服知识库' });
});

test('model providers: key status in words (never a key) and the model picker from providers with a key', async () => {
  const { keyStatus, modelChoices } = await import('../../Sources/WendaoServer/UI/admin.js');
  const { setLang } = await import('../../Sources/WendaoServer/UI/i18n.js');
  setLang('zh');
  const ps = [
    { name: 'deepseek', key_status: 'stored', requires_key: true, example_models: ['deepseek-chat'] },
    { name: 'dashscope', key_status: 'environment', key_variable: 'DASHSCOPE_API_KEY', requires_key: true, example_models: ['qwen-plus'] },
    { name: 'zhipu', key_status: 'missing', requires_key: true, example_models: ['glm-4-flash'] },
    { name: 'ollama', key_status: 'missing', requires_key: false, example_models: ['qwen2.5:7b'] },
  ];
  assert.deepEqual(ps.map(keyStatus), ['在此输入（已加密）', '来自环境变量（DASHSCOPE_API_KEY）', '未配置', '无需密钥']);
  assert.deepEqual(modelChoices(ps), ['deepseek:deepseek-chat', 'dashscope:qwen-plus', 'ollama:qwen2.5:7b']);
  setLang('en');
});

test('the settings page is offered to key holders, server administrators and the knowledge base\'s administrators only', async () => {
  const { mayConfigure } = await import('../../Sources/WendaoServer/UI/kbs.js');
  assert.equal(mayConfigure(null, 'kb'), true);
  assert.equal(mayConfigure({ user: { administrator: true, roles: [] } }, 'kb'), true);
  const ana = { user: { administrator: false, roles: [{ kb: '客服知识库', role: 'agent' }, { kb: 'ops', role: 'administrator' }] } };
  assert.equal(mayConfigure(ana, '客服知识库'), false);
  assert.equal(mayConfigure(ana, 'ops'), true);
});
