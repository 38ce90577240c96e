// Wendao (问道) website widget: one <script src="https://wendao.example/ui/widget.js"
// data-wendao-share="wds_…" async></script> adds a chat button to a page; the chat runs in a frame
// of the Wendao server (/s/TOKEN), which only the share link's allowed origins may frame. The
// widget uses no inline style or script of the host page's (CSSOM only, so a strict CSP there does
// not break it), posts no message and listens to none.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var token = script.getAttribute('data-wendao-share') || '';
  if (!/^wds_[A-Za-z0-9_-]{20,76}$/.test(token)) return;
  var origin;
  try { origin = new URL(script.src, location.href).origin; } catch (e) { return; }
  var zh = /^zh/i.test(navigator.language || '');
  var label = script.getAttribute('data-wendao-label') || (zh ? '在线咨询' : 'Ask us');

  function place() {
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('data-wendao-widget', 'button');
    Object.assign(button.style, {
      position: 'fixed', right: '20px', bottom: '20px', zIndex: '2147483646', padding: '10px 16px',
      border: '0', borderRadius: '999px', background: '#1f5fd1', color: '#fff', font: '600 15px system-ui, sans-serif',
      boxShadow: '0 6px 20px rgba(0,0,0,.25)', cursor: 'pointer',
    });
    var frame = null;
    button.addEventListener('click', function () {
      if (!frame) {
        frame = document.createElement('iframe');
        frame.src = origin + '/s/' + encodeURIComponent(token);
        frame.title = label;
        frame.setAttribute('data-wendao-widget', 'frame');
        frame.setAttribute('referrerpolicy', 'no-referrer');
        Object.assign(frame.style, {
          position: 'fixed', right: '20px', bottom: '76px', width: 'min(400px, calc(100vw - 40px))',
          height: 'min(600px, calc(100vh - 110px))', border: '1px solid #dde1e6', borderRadius: '12px',
          background: '#fff', boxShadow: '0 12px 40px rgba(0,0,0,.25)', zIndex: '2147483647',
        });
        document.body.appendChild(frame);
      } else {
        frame.hidden = !frame.hidden;
      }
      button.setAttribute('aria-expanded', String(!frame.hidden));
    });
    document.body.appendChild(button);
  }
  if (document.body) place();
  else document.addEventListener('DOMContentLoaded', place);
})();
