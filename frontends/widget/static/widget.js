/*
 * Otvet chat widget: one <script src=".../widget.js" data-…> tag adds a chat button and panel to any page.
 *
 * Vanilla ES2019, no build step and no dependencies, so any site can embed it as is. The UI lives in a
 * shadow root (host page CSS cannot reach it) styled by <link href="<otvet>/widget.css">, because pages
 * with `style-src 'self'` block inline <style>. Every piece of text is rendered with textContent or
 * createTextNode: answers and sources come from ingested documents and must never become markup. Icons are
 * inline SVG built with createElementNS from the fixed shapes in ICONS (no emoji: machines without an emoji
 * font would show empty boxes).
 * Protocol: docs/widget.md (JSON frames over WS /ws/chat).
 */
(function () {
  'use strict';

  if (window.OtvetWidget) {
    return; // the tag is on the page twice: one widget is enough
  }

  var STRINGS = {
    en: {
      launcher: 'Ask a question',
      title: 'Questions? Ask us',
      close: 'Close',
      reset: 'New conversation',
      language: 'Language',
      log: 'Conversation',
      inputLabel: 'Your question',
      placeholder: 'Type your question…',
      send: 'Send',
      you: 'You:',
      answer: 'Answer:',
      sources: 'Sources',
      helpful: 'Helpful',
      notHelpful: 'Not helpful',
      thanks: 'Thanks for the feedback',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      lost: 'Connection lost. Reload the page to try again.',
      offline: 'Connection lost. Still trying…',
      refused: 'Chat is not available on this page.',
      interrupted: 'The connection was interrupted before the answer finished. Please ask again.',
      empty: 'Ask a question and get an answer with its sources.',
      languages: { en: 'English', ru: 'Русский' },
    },
    ru: {
      launcher: 'Задать вопрос',
      title: 'Есть вопросы? Спросите нас',
      close: 'Закрыть',
      reset: 'Новый разговор',
      language: 'Язык',
      log: 'Разговор',
      inputLabel: 'Ваш вопрос',
      placeholder: 'Напишите вопрос…',
      send: 'Отправить',
      you: 'Вы:',
      answer: 'Ответ:',
      sources: 'Источники',
      helpful: 'Полезно',
      notHelpful: 'Бесполезно',
      thanks: 'Спасибо за отзыв',
      connecting: 'Подключение…',
      reconnecting: 'Переподключение…',
      lost: 'Соединение потеряно. Обновите страницу, чтобы попробовать снова.',
      offline: 'Соединение потеряно. Пробуем снова…',
      refused: 'Чат недоступен на этой странице.',
      interrupted: 'Соединение прервалось до конца ответа. Пожалуйста, спросите ещё раз.',
      empty: 'Задайте вопрос — ответ придёт вместе с источниками.',
      languages: { en: 'English', ru: 'Русский' },
    },
  };
  var BACKOFF_START_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  // Closes after which reconnecting cannot help: a policy violation (1008) or a bad user token (4401).
  var FINAL_CLOSE_CODES = [1008, 4401];
  // 4403: this page's origin is not in the server's OTVET_WIDGET__ALLOWED_ORIGINS. Final too; the site
  // owner is told in the console what to change, the visitor gets a calm line.
  var ORIGIN_REFUSED_CODE = 4403;
  var ORIGINS_SETTING = 'OTVET_WIDGET__ALLOWED_ORIGINS';
  // 4408: no hello in time or idle. Reconnect only when the visitor acts again, so an idle tab stays quiet.
  var IDLE_CLOSE_CODE = 4408;
  var LOST_AFTER_ATTEMPTS = 4;
  // Icons: fixed SVG path data on a 24×24 grid, drawn with the text colour (stroke="currentColor").
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    chat: ['M5 4h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-7l-5 4v-4H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'],
    close: ['M6 6l12 12', 'M18 6L6 18'],
    up: [
      'M7 11v10',
      'M7 11l4-8a2.5 2.5 0 0 1 3 2.7L13.5 10H19a2 2 0 0 1 2 2.3l-1.2 7A2 2 0 0 1 17.8 21H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1z',
    ],
    down: [
      'M17 13V3',
      'M17 13l-4 8a2.5 2.5 0 0 1-3-2.7l.5-4.3H5a2 2 0 0 1-2-2.3l1.2-7A2 2 0 0 1 6.2 3H20a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1z',
    ],
    external: ['M14 4h6v6', 'M20 4l-9 9', 'M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5'],
  };

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var data = (script && script.dataset) || {};
  var base = baseUrl(data.otvetUrl, script && script.src);
  var storageKey = 'otvet-visitor:' + new URL(base).origin;
  var languageKey = 'otvet-language:' + new URL(base).origin;

  var state = {
    language: pickLanguage(),
    languages: Object.keys(STRINGS),
    socket: null,
    ready: false, // welcome received on the current socket
    final: false, // the server refused us for good (1008/4401)
    attempt: 0,
    retryAfterMs: 0,
    reconnectTimer: null,
    pending: null, // a question asked before the socket was ready
    current: null, // {id, bubble, text} of the question being answered
    counter: 0,
    open: false,
  };
  var ui = null;

  function baseUrl(configured, src) {
    var fallback = src ? new URL(src, document.baseURI).origin : window.location.origin;
    var url = configured ? new URL(configured, document.baseURI).href : fallback;
    return url.replace(/\/+$/, '');
  }

  function normalizeLanguage(value) {
    var code = String(value || '').slice(0, 2).toLowerCase();
    return Object.prototype.hasOwnProperty.call(STRINGS, code) ? code : null;
  }

  function pickLanguage() {
    return (
      normalizeLanguage(storageGet(languageKey)) ||
      normalizeLanguage(data.language) ||
      normalizeLanguage(document.documentElement.lang) ||
      normalizeLanguage(navigator.language) ||
      'en'
    );
  }

  // localStorage throws in some privacy modes and sandboxed frames: the widget still works without it.
  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      /* not persisted: the next page load starts a new visitor */
    }
  }

  function t(key) {
    return STRINGS[state.language][key];
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  // A decorative icon from ICONS: hidden from screen readers, whose name comes from the control around it.
  function icon(name, className) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'otvet-icon' + (className ? ' ' + className : ''));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '20');
    svg.setAttribute('height', '20');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }

  function uid(name) {
    return 'otvet-' + name + '-' + Math.random().toString(36).slice(2, 10);
  }

  // ---- building the UI ------------------------------------------------------------------------------

  function build() {
    var host = el('div', 'otvet-host');
    var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
    var link = el('link');
    link.rel = 'stylesheet';
    link.href = base + '/widget.css';
    var container = el('div', 'otvet-root' + (data.position === 'left' ? ' otvet-left' : ''));
    // Hidden until the stylesheet arrives so the page never shows an unstyled button; shown on error too.
    container.hidden = true;
    link.addEventListener('load', function () {
      container.hidden = false;
    });
    link.addEventListener('error', function () {
      container.hidden = false;
    });

    var panelId = uid('panel');
    var titleId = uid('title');
    var inputId = uid('input');
    var languageId = uid('language');

    var launcher = el('button', 'otvet-launcher');
    launcher.type = 'button';
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', panelId);
    var launcherLabel = el('span', 'otvet-launcher-label');
    launcher.append(icon('chat', 'otvet-launcher-icon'), launcherLabel);

    var panel = el('div', 'otvet-panel');
    panel.id = panelId;
    panel.hidden = true;
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-labelledby', titleId);

    var header = el('div', 'otvet-header');
    var title = el('h2', 'otvet-title');
    title.id = titleId;
    var closeButton = el('button', 'otvet-close');
    closeButton.type = 'button';
    closeButton.append(icon('close'));
    var tools = el('div', 'otvet-tools');
    var languageLabel = el('label', 'otvet-language-label');
    languageLabel.htmlFor = languageId;
    var languageSelect = el('select', 'otvet-language');
    languageSelect.id = languageId;
    var resetButton = el('button', 'otvet-reset');
    resetButton.type = 'button';
    tools.append(languageLabel, languageSelect, resetButton);
    header.append(title, closeButton, tools);

    var status = el('div', 'otvet-status');
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');

    var log = el('div', 'otvet-log');
    log.setAttribute('role', 'log');
    log.setAttribute('aria-live', 'polite');
    log.tabIndex = 0; // scrollable region: keyboard users must be able to scroll it
    var empty = el('p', 'otvet-empty');
    log.append(empty);

    var form = el('form', 'otvet-form');
    var inputLabel = el('label', 'otvet-visually-hidden');
    inputLabel.htmlFor = inputId;
    var input = el('textarea', 'otvet-input');
    input.id = inputId;
    input.rows = 2;
    input.maxLength = 2000;
    var send = el('button', 'otvet-send');
    send.type = 'submit';
    form.append(inputLabel, input, send);

    panel.append(header, status, log, form);
    container.append(launcher, panel);
    root.append(link, container);
    document.body.append(host);

    ui = {
      host: host,
      root: root,
      container: container,
      launcher: launcher,
      launcherLabel: launcherLabel,
      panel: panel,
      title: title,
      closeButton: closeButton,
      languageLabel: languageLabel,
      languageSelect: languageSelect,
      resetButton: resetButton,
      status: status,
      log: log,
      empty: empty,
      inputLabel: inputLabel,
      input: input,
      send: send,
    };

    launcher.addEventListener('click', function () {
      if (state.open) {
        close();
      } else {
        open();
      }
    });
    closeButton.addEventListener('click', close);
    container.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && state.open) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      submit();
    });
    languageSelect.addEventListener('change', function () {
      setLanguage(languageSelect.value, true);
    });
    resetButton.addEventListener('click', resetConversation);

    label();
    updateControls();
  }

  // Sets every UI string in the current language (called again after a language switch).
  function label() {
    ui.container.lang = state.language;
    ui.launcherLabel.textContent = t('launcher');
    ui.launcher.setAttribute('aria-label', t('launcher'));
    ui.title.textContent = data.title || t('title');
    ui.closeButton.setAttribute('aria-label', t('close'));
    ui.closeButton.title = t('close');
    ui.languageLabel.textContent = t('language');
    ui.resetButton.textContent = t('reset');
    ui.log.setAttribute('aria-label', t('log'));
    ui.empty.textContent = t('empty');
    ui.inputLabel.textContent = t('inputLabel');
    ui.input.placeholder = t('placeholder');
    ui.send.textContent = t('send');
    while (ui.languageSelect.firstChild) {
      ui.languageSelect.removeChild(ui.languageSelect.firstChild);
    }
    state.languages.forEach(function (code) {
      var option = el('option', null, STRINGS[code].languages[code]);
      option.value = code;
      option.lang = code;
      option.selected = code === state.language;
      ui.languageSelect.append(option);
    });
    Array.prototype.forEach.call(ui.log.querySelectorAll('[data-otvet-label]'), function (node) {
      node.textContent = t(node.getAttribute('data-otvet-label'));
    });
    Array.prototype.forEach.call(ui.log.querySelectorAll('[data-otvet-aria]'), function (node) {
      node.setAttribute('aria-label', t(node.getAttribute('data-otvet-aria')));
      node.title = t(node.getAttribute('data-otvet-aria'));
    });
    if (ui.status.dataset.key) {
      ui.status.textContent = t(ui.status.dataset.key);
    }
  }

  function updateControls() {
    var busy = Boolean(state.current);
    // Disabled while an answer comes; only read-only once the server refused the widget for good, so
    // whatever the visitor typed stays in the field, selectable and copyable.
    ui.input.disabled = busy;
    ui.input.readOnly = state.final;
    ui.send.disabled = busy || state.final;
    ui.resetButton.disabled = busy || state.final;
    ui.panel.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  // A status line: own strings by key (re-labelled on language switch) or the server's localized text.
  function setStatus(key, text) {
    ui.status.dataset.key = key || '';
    ui.status.textContent = key ? t(key) : text || '';
    ui.status.classList.toggle('otvet-status-error', Boolean(key === 'lost' || key === 'offline' || text));
  }

  // ---- opening and closing --------------------------------------------------------------------------

  function open() {
    if (!ui) {
      return;
    }
    state.open = true;
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.container.classList.add('otvet-open');
    ensureConnected();
    scrollToEnd(true);
    ui.input.focus();
  }

  function close() {
    if (!ui) {
      return;
    }
    state.open = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.container.classList.remove('otvet-open');
    ui.launcher.focus();
  }

  // ---- the socket -----------------------------------------------------------------------------------

  function socketUrl() {
    return base.replace(/^http/, 'ws') + '/ws/chat';
  }

  function ensureConnected() {
    if (state.socket || state.final || state.reconnectTimer) {
      return;
    }
    connect();
  }

  function connect() {
    state.reconnectTimer = null;
    state.ready = false;
    if (!state.attempt) {
      setStatus('connecting');
    }
    var socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.addEventListener('open', function () {
      sendFrame({
        type: 'hello',
        language: state.language,
        visitor: storageGet(storageKey),
        user: data.userToken || null,
      });
    });
    socket.addEventListener('message', function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame && typeof frame === 'object') {
        handleFrame(frame);
      }
    });
    socket.addEventListener('close', function (event) {
      if (state.socket !== socket) {
        return;
      }
      state.socket = null;
      state.ready = false;
      interruptCurrent();
      if (event.code === ORIGIN_REFUSED_CODE) {
        refusedOrigin();
      } else if (FINAL_CLOSE_CODES.indexOf(event.code) !== -1) {
        state.final = true;
        state.pending = null;
        setStatus('lost');
        updateControls();
      } else if (event.code === IDLE_CLOSE_CODE && !state.pending) {
        setStatus(null);
      } else {
        scheduleReconnect();
      }
    });
  }

  // The server does not allow this page's origin: retrying cannot help until its owner changes the setting.
  // The question waiting for the welcome is dropped, but its text stays in the field.
  function refusedOrigin() {
    state.final = true;
    state.pending = null;
    setStatus('refused');
    updateControls();
    if (window.console && window.console.error) {
      var origin = window.location.origin;
      window.console.error(
        'Otvet widget: the Otvet server at ' + base + ' refused the chat for this page, because its origin ' +
          origin + ' is not allowed. Add ' + origin + ' to ' + ORIGINS_SETTING + ' in the settings of the ' +
          'Otvet server (see docs/widget.md, "Security").'
      );
    }
  }

  // Exponential backoff with jitter (1 s doubling to 30 s) so a restarted server is not hit by every
  // visitor at the same moment; a server that said when to come back (retry_after) is not asked sooner.
  function scheduleReconnect() {
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * Math.pow(2, state.attempt));
    delay = Math.max(delay / 2 + (Math.random() * delay) / 2, state.retryAfterMs);
    state.retryAfterMs = 0;
    state.attempt += 1;
    // Browsers report a refused handshake (HTTP 403 for a disallowed Origin) as 1006, never 1008, so
    // the widget keeps trying slowly; after a few failures in a row it says the connection is lost.
    setStatus(state.attempt > LOST_AFTER_ATTEMPTS ? 'offline' : 'reconnecting');
    state.reconnectTimer = window.setTimeout(connect, delay);
  }

  function sendFrame(frame) {
    if (!state.socket || state.socket.readyState !== WebSocket.OPEN) {
      return false;
    }
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case 'welcome':
        onWelcome(frame);
        break;
      case 'delta':
        if (state.current && frame.id === state.current.id) {
          appendDelta(state.current, String(frame.text || ''));
        }
        break;
      case 'answer':
        if (state.current && frame.id === state.current.id) {
          finishAnswer(state.current.bubble, frame);
          state.current = null;
          updateControls();
          restoreFocus();
        }
        break;
      case 'error':
        onError(frame);
        break;
      case 'feedback_saved':
        break;
      case 'reset_done':
        clearLog();
        break;
      case 'language_set':
        if (normalizeLanguage(frame.language) && frame.language !== state.language) {
          setLanguage(frame.language, false);
        }
        break;
      default:
        break; // pong and frames from a newer server
    }
  }

  function onWelcome(frame) {
    state.ready = true;
    state.attempt = 0;
    setStatus(null);
    if (typeof frame.visitor === 'string' && frame.visitor) {
      storageSet(storageKey, frame.visitor);
    }
    if (Array.isArray(frame.languages)) {
      var known = frame.languages.filter(normalizeLanguage);
      state.languages = known.length ? known : state.languages;
    }
    if (normalizeLanguage(frame.language)) {
      state.language = normalizeLanguage(frame.language);
    }
    if (frame.limits && frame.limits.max_question_chars > 0) {
      ui.input.maxLength = frame.limits.max_question_chars;
    }
    label();
    renderHistory(Array.isArray(frame.history) ? frame.history : []);
    if (state.pending) {
      var text = state.pending;
      state.pending = null;
      // Sent now: the field held the text until this moment, in case the socket never got this far.
      if (ask(text) && ui.input.value.trim() === text) {
        ui.input.value = '';
      }
    }
    updateControls();
  }

  function onError(frame) {
    var message = String(frame.message || frame.code || '');
    if (state.current && frame.id === state.current.id) {
      var bubble = state.current.bubble;
      bubble.dataset.state = 'error';
      bubble.dataset.code = String(frame.code || '');
      setBubbleText(bubble, message);
      state.current = null;
      updateControls();
      restoreFocus();
      return;
    }
    if (frame.id == null && frame.retry_after > 0) {
      state.retryAfterMs = frame.retry_after * 1000;
    }
    if (frame.code === 'not_found' || frame.id == null) {
      setStatus(null, message);
    }
  }

  // The socket closed mid-answer: the server dropped that turn, so say so and let the visitor ask again.
  function interruptCurrent() {
    if (!state.current) {
      return;
    }
    var bubble = state.current.bubble;
    bubble.dataset.state = 'error';
    setBubbleText(bubble, t('interrupted'));
    state.current = null;
    updateControls();
  }

  // Disabling the textarea while answering drops its focus; give it back unless the visitor moved on.
  function restoreFocus() {
    var active = document.activeElement;
    var inside = ui.root !== ui.host && ui.root.activeElement; // focus on another control of the widget
    if (state.open && (!active || active === document.body || (active === ui.host && !inside))) {
      ui.input.focus();
    }
  }

  // ---- messages -------------------------------------------------------------------------------------

  function clearLog() {
    Array.prototype.slice.call(ui.log.querySelectorAll('.otvet-msg')).forEach(function (node) {
      ui.log.removeChild(node);
    });
    ui.empty.hidden = false;
  }

  function renderHistory(history) {
    clearLog();
    history.forEach(function (item) {
      if (item.role === 'user') {
        addUserBubble(String(item.text || ''));
      } else {
        var bubble = addAssistantBubble();
        finishAnswer(bubble, item);
      }
    });
    scrollToEnd(true);
  }

  function speaker(key) {
    var node = el('span', 'otvet-visually-hidden', t(key));
    node.setAttribute('data-otvet-label', key);
    return node;
  }

  function addUserBubble(text) {
    var bubble = el('div', 'otvet-msg otvet-msg-user');
    bubble.append(speaker('you'), el('div', 'otvet-text', text));
    ui.empty.hidden = true;
    ui.log.append(bubble);
    return bubble;
  }

  function addAssistantBubble() {
    var bubble = el('div', 'otvet-msg otvet-msg-assistant');
    bubble.dataset.state = 'streaming';
    var text = el('div', 'otvet-text');
    bubble.append(speaker('answer'), text);
    ui.empty.hidden = true;
    ui.log.append(bubble);
    return bubble;
  }

  function setBubbleText(bubble, text) {
    var stick = nearEnd();
    bubble.querySelector('.otvet-text').textContent = text;
    scrollToEnd(stick);
  }

  function appendDelta(current, text) {
    var stick = nearEnd();
    current.bubble.querySelector('.otvet-text').append(document.createTextNode(text));
    scrollToEnd(stick);
  }

  function finishAnswer(bubble, answer) {
    var stick = nearEnd();
    bubble.querySelector('.otvet-text').textContent = String(answer.text || '');
    if (answer.message_id != null) {
      bubble.dataset.messageId = String(answer.message_id);
    }
    var sources = Array.isArray(answer.sources) ? answer.sources : [];
    if (sources.length) {
      bubble.append(renderSources(sources));
    }
    if (answer.message_id != null) {
      bubble.append(renderFeedback(answer.message_id, answer.rating));
    }
    bubble.dataset.state = 'done';
    scrollToEnd(stick);
  }

  function safeUrl(value) {
    if (typeof value !== 'string' || !value) {
      return null;
    }
    try {
      var url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function renderSources(sources) {
    var box = el('div', 'otvet-sources');
    var heading = el('p', 'otvet-sources-title', t('sources'));
    heading.setAttribute('data-otvet-label', 'sources');
    var list = el('ul', 'otvet-sources-list');
    sources.forEach(function (source, index) {
      var n = source.n != null ? source.n : index + 1;
      var name = String(source.title || source.name || source.url || '');
      if (source.section) {
        name += ' › ' + source.section;
      }
      var item = el('li', 'otvet-source');
      item.append(el('span', 'otvet-source-n', '[' + n + '] '));
      var href = safeUrl(source.url);
      if (href) {
        var link = el('a', 'otvet-source-link', name);
        link.href = href;
        link.target = '_blank';
        link.rel = 'noopener noreferrer';
        link.append(icon('external', 'otvet-source-icon'));
        item.append(link);
      } else {
        item.append(el('span', 'otvet-source-name', name));
      }
      list.append(item);
    });
    box.append(heading, list);
    return box;
  }

  function renderFeedback(messageId, rating) {
    var box = el('div', 'otvet-feedback');
    var thanks = el('span', 'otvet-thanks');
    thanks.setAttribute('data-otvet-label', 'thanks');
    var buttons = [
      [1, 'up', 'helpful'],
      [-1, 'down', 'notHelpful'],
    ].map(function (spec) {
      var button = el('button', 'otvet-rate');
      button.type = 'button';
      button.dataset.value = String(spec[0]);
      button.append(icon(spec[1]));
      button.setAttribute('data-otvet-aria', spec[2]);
      button.setAttribute('aria-label', t(spec[2]));
      button.title = t(spec[2]);
      button.setAttribute('aria-pressed', rating === spec[0] ? 'true' : 'false');
      button.addEventListener('click', function () {
        if (!sendFrame({ type: 'feedback', message_id: messageId, value: spec[0] })) {
          return;
        }
        button.setAttribute('aria-pressed', 'true');
        choose();
      });
      return button;
    });
    function choose() {
      buttons.forEach(function (button) {
        button.disabled = true;
      });
      thanks.textContent = t('thanks');
    }
    if (rating === 1 || rating === -1) {
      choose();
    }
    box.append(buttons[0], buttons[1], thanks);
    return box;
  }

  // Follow the conversation only while the visitor is at its end: someone reading an earlier answer
  // is not pulled away by new text.
  function nearEnd() {
    var log = ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force) {
      ui.log.scrollTop = ui.log.scrollHeight;
    }
  }

  // ---- actions --------------------------------------------------------------------------------------

  // The field is cleared only once the question is really sent; a question waiting for the socket keeps
  // its text in the field (onWelcome clears it when it goes), so a refused or lost socket loses nothing.
  function submit() {
    var text = ui.input.value;
    if (ask(text) && state.current) {
      ui.input.value = '';
    }
  }

  function ask(text) {
    if (!ui) {
      return false;
    }
    text = String(text || '').trim();
    if (!text || state.current || state.final) {
      return false;
    }
    if (!state.ready) {
      state.pending = text; // sent as soon as the welcome arrives
      ensureConnected();
      return true;
    }
    state.counter += 1;
    var id = 'q' + Date.now().toString(36) + '-' + state.counter;
    addUserBubble(text);
    state.current = { id: id, bubble: addAssistantBubble() };
    updateControls();
    scrollToEnd(true);
    sendFrame({ type: 'question', id: id, text: text, language: state.language });
    return true;
  }

  function setLanguage(code, tellServer) {
    code = normalizeLanguage(code);
    if (!code) {
      return;
    }
    state.language = code;
    if (tellServer) {
      storageSet(languageKey, code);
      sendFrame({ type: 'language', language: code });
    }
    label();
  }

  function resetConversation() {
    if (state.current) {
      return;
    }
    if (!sendFrame({ type: 'reset' })) {
      clearLog();
    }
    ui.input.focus();
  }

  function start() {
    build();
  }

  window.OtvetWidget = Object.freeze({
    open: open,
    close: close,
    ask: function (text) {
      open();
      return ask(text);
    },
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
