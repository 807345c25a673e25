/* Otvet's admin console: a plain script on the public GraphQL API (no build step, nothing from a CDN).
 *
 * Signing in sets an HttpOnly session cookie; the CSRF token that comes back is kept in memory only and sent
 * with every request as X-CSRF-Token. Everything the page shows is set with textContent: names, titles and
 * answers come from users and files, and must never become markup.
 */
(function () {
  'use strict';

  var TEXT = {
    en: {
      title: 'Otvet admin', signIn: 'Sign in', signOut: 'Sign out', username: 'Username', password: 'Password',
      signingIn: 'Signing in…', overview: 'Overview', sources: 'Sources', language: 'Language',
      activeVersion: 'Active knowledge version', none: 'none yet', chunks: 'chunks', fromSources: 'sources',
      questions14: 'Questions, last 14 days', answered: 'answered', failed: 'failed', refused: 'refused',
      health: 'This server', ready: 'ready', notReady: 'not ready', perDay: 'Questions per day (UTC)',
      questionsUnit: 'questions', tokens: 'Tokens, last 14 days', noQuestions: 'No questions in the last 14 days yet: open the widget on the demo page or connect Telegram, and they will show here.',
      noSources: 'No sources yet: add some with `otvet ingest` or the GraphQL API (uploadSources).',
      search: 'Search sources', name: 'Name', type: 'Type', lang: 'Lang', sections: 'Sections', qa: 'Q&A',
      updated: 'Updated', titleCol: 'Title', scoreHit1: 'hit@1 on the check set', noScore: 'not evaluated',
      sessionEnded: 'Your session has ended: sign in again.', failedLoad: 'Could not load this page: ',
      shown: 'shown', database: 'database', perDayLegend: 'questions a day, by UTC date',
      versions: 'Versions', addSources: 'Add sources', dropHere: 'Drop files here (Markdown, text, HTML, PDF, Word, Q&A CSV/JSON/YAML) or',
      chooseFiles: 'choose files', uploading: 'Uploading and training…', webPage: 'A web page', addUrl: 'Add the page',
      pasteText: 'Text', sourceName: 'Name', sourceTitle: 'Title (optional)', textBody: 'Text (Markdown)', addText: 'Add the text',
      qaPairs: 'Questions and answers', qaHint: 'A question on one line, its answer on the next; a blank line between pairs.',
      addPairs: 'Add the pairs', remove: 'Remove', confirmRemove: 'Remove for good?', removed: 'Removed',
      added: 'added', updatedWord: 'updated', unchanged: 'unchanged', versionActive: 'Version {id} is active.',
      versionNotPromoted: 'Version {id} was built but not promoted: {why}', nothingChanged: 'Nothing changed.',
      badPairs: 'Write each pair as a question line and an answer line, pairs separated by a blank line.',
      retrain: 'Retrain now', retraining: 'Retraining: {pct}%', id: 'ID', status: 'Status', scores: 'Scores', created: 'Created',
      note: 'Note', promote: 'Promote', rollback: 'Roll back to it', confirm: 'Confirm', done: 'Done.',
      noVersions: 'No knowledge version yet: add sources above, or with `otvet ingest`.', actions: 'Actions',
      jobFailed: 'The retrain failed: {why}', chunksCol: 'Chunks',
      feedback: 'Feedback', access: 'Keys and admins', pending: 'Proposed training data, awaiting review',
      noPending: 'Nothing awaits review: answers users rate 👍 and your corrections appear here.',
      question: 'Question', answer: 'Answer', origin: 'From', approve: 'Approve', reject: 'Reject',
      disliked: 'Answers users rated 👎', noDisliked: 'No answer has been rated 👎.', correct: 'Save a better answer',
      betterAnswer: 'A better answer', corrected: 'Saved as a correction awaiting review.',
      apiKeys: 'API keys', noKeys: 'No API keys yet: create one for each application that calls Otvet.',
      keyName: 'Key name', scope: 'Scope', create: 'Create', prefix: 'Prefix', lastUsed: 'Last used', revoked: 'Revoked',
      revoke: 'Revoke', keyOnce: 'The new key, shown this once: copy it now. Only its hash is stored.',
      admins: 'Admins', disable: 'Disable', enable: 'Enable', disabled: 'disabled', enabled: 'enabled',
      newAdmin: 'New admin', createdAdmin: 'Admin {name} created.', never: 'never',
      checks: 'Checks', checksIntro: 'Questions every new knowledge version must answer no worse than the active one: from the expected source (by name or title) and/or with the expected answer\'s words.',
      noChecks: 'The check set is empty: add the questions your users ask most, so no retrain can make them worse.',
      expectedSource: 'Expected source', expectedAnswer: 'Expected answer', addCheck: 'Add the check',
      importChecks: 'Import JSON', exportChecks: 'Export JSON', imported: '{n} checks added.',
      badChecksFile: 'The file must be a JSON list of checks: [{"question": …, "expectedSource": …, "expectedAnswer": …, "language": …}]',
      removedN: '{n} removed.', runChecks: 'Run against the active version', allPassed: 'Every check passes.',
      rank: 'Expected source ranked', foundInstead: 'Found instead', notFound: 'not found',
      conversations: 'Conversations', personalData: 'Conversations are personal data: read them only to improve the answers.',
      channel: 'Channel', any: 'any', userIdFilter: 'User id in the channel', sinceFilter: 'Since',
      filter: 'Filter', started: 'Started', user: 'User', noConversations: 'No conversations match.',
      more: 'More', open: 'Open', backToList: 'Back to the list', ratedUp: '👍', ratedDown: '👎'
    },
    ru: {
      title: 'Otvet: администрирование', signIn: 'Войти', signOut: 'Выйти', username: 'Имя пользователя',
      password: 'Пароль', signingIn: 'Вход…', overview: 'Обзор', sources: 'Источники', language: 'Язык',
      activeVersion: 'Активная версия базы знаний', none: 'пока нет', chunks: 'фрагментов', fromSources: 'источников',
      questions14: 'Вопросы за 14 дней', answered: 'отвечено', failed: 'ошибки', refused: 'отклонено',
      health: 'Этот сервер', ready: 'готов', notReady: 'не готов', perDay: 'Вопросы по дням (UTC)',
      questionsUnit: 'вопросов', tokens: 'Токены за 14 дней', noQuestions: 'За 14 дней вопросов ещё не было: откройте виджет на демо-странице или подключите Telegram, и они появятся здесь.',
      noSources: 'Источников пока нет: добавьте их командой `otvet ingest`.',
      search: 'Поиск источников', name: 'Имя', type: 'Тип', lang: 'Язык', sections: 'Разделы', qa: 'Вопросы',
      updated: 'Обновлён', titleCol: 'Заголовок', scoreHit1: 'hit@1 на проверочном наборе', noScore: 'не оценена',
      sessionEnded: 'Сеанс закончился: войдите снова.', failedLoad: 'Не удалось загрузить страницу: ',
      shown: 'показано', database: 'база данных', perDayLegend: 'вопросов в день, по дате UTC',
      versions: 'Версии', addSources: 'Добавить источники', dropHere: 'Перетащите файлы сюда (Markdown, текст, HTML, PDF, Word, вопросы и ответы CSV/JSON/YAML) или',
      chooseFiles: 'выберите файлы', uploading: 'Загрузка и обучение…', webPage: 'Веб-страница', addUrl: 'Добавить страницу',
      pasteText: 'Текст', sourceName: 'Имя', sourceTitle: 'Заголовок (необязательно)', textBody: 'Текст (Markdown)', addText: 'Добавить текст',
      qaPairs: 'Вопросы и ответы', qaHint: 'Вопрос на одной строке, ответ на следующей; между парами пустая строка.',
      addPairs: 'Добавить пары', remove: 'Удалить', confirmRemove: 'Удалить насовсем?', removed: 'Удалено',
      added: 'добавлено', updatedWord: 'обновлено', unchanged: 'без изменений', versionActive: 'Версия {id} активна.',
      versionNotPromoted: 'Версия {id} собрана, но не включена: {why}', nothingChanged: 'Ничего не изменилось.',
      badPairs: 'Запишите каждую пару строкой вопроса и строкой ответа, пары разделите пустой строкой.',
      retrain: 'Переобучить', retraining: 'Переобучение: {pct}%', id: 'ID', status: 'Статус', scores: 'Оценки', created: 'Создана',
      note: 'Заметка', promote: 'Включить', rollback: 'Откатиться на неё', confirm: 'Подтвердить', done: 'Готово.',
      noVersions: 'Версий базы знаний пока нет: добавьте источники выше или командой `otvet ingest`.', actions: 'Действия',
      jobFailed: 'Переобучение не удалось: {why}', chunksCol: 'Фрагменты',
      feedback: 'Отзывы', access: 'Ключи и администраторы', pending: 'Предложенные обучающие данные, ждут проверки',
      noPending: 'Проверять нечего: здесь появятся ответы, отмеченные 👍, и ваши исправления.',
      question: 'Вопрос', answer: 'Ответ', origin: 'Откуда', approve: 'Принять', reject: 'Отклонить',
      disliked: 'Ответы с оценкой 👎', noDisliked: 'Ни один ответ не получил 👎.', correct: 'Сохранить лучший ответ',
      betterAnswer: 'Лучший ответ', corrected: 'Сохранено как исправление, ждёт проверки.',
      apiKeys: 'API-ключи', noKeys: 'API-ключей пока нет: создайте по ключу для каждого приложения, которое обращается к Otvet.',
      keyName: 'Имя ключа', scope: 'Права', create: 'Создать', prefix: 'Префикс', lastUsed: 'Использован', revoked: 'Отозван',
      revoke: 'Отозвать', keyOnce: 'Новый ключ показан один раз: скопируйте его сейчас. Хранится только его хеш.',
      admins: 'Администраторы', disable: 'Отключить', enable: 'Включить', disabled: 'отключён', enabled: 'активен',
      newAdmin: 'Новый администратор', createdAdmin: 'Администратор {name} создан.', never: 'никогда',
      checks: 'Проверки', checksIntro: 'Вопросы, на которые каждая новая версия базы знаний должна отвечать не хуже активной: из ожидаемого источника (по имени или заголовку) и/или словами ожидаемого ответа.',
      noChecks: 'Проверочный набор пуст: добавьте вопросы, которые пользователи задают чаще всего, чтобы переобучение не сделало ответы на них хуже.',
      expectedSource: 'Ожидаемый источник', expectedAnswer: 'Ожидаемый ответ', addCheck: 'Добавить проверку',
      importChecks: 'Импорт JSON', exportChecks: 'Экспорт JSON', imported: 'Добавлено проверок: {n}.',
      badChecksFile: 'Файл должен быть JSON-списком проверок: [{"question": …, "expectedSource": …, "expectedAnswer": …, "language": …}]',
      removedN: 'Удалено: {n}.', runChecks: 'Проверить активную версию', allPassed: 'Все проверки пройдены.',
      rank: 'Место ожидаемого источника', foundInstead: 'Найдено вместо него', notFound: 'не найден',
      conversations: 'Разговоры', personalData: 'Разговоры — персональные данные: читайте их только чтобы улучшать ответы.',
      channel: 'Канал', any: 'любой', userIdFilter: 'Id пользователя в канале', sinceFilter: 'С даты',
      filter: 'Показать', started: 'Начат', user: 'Пользователь', noConversations: 'Таких разговоров нет.',
      more: 'Ещё', open: 'Открыть', backToList: 'К списку', ratedUp: '👍', ratedDown: '👎'
    }
  };
  var LANG_KEY = 'otvet-console-language';
  var lang = localStorage.getItem(LANG_KEY) || ((navigator.language || 'en').toLowerCase().indexOf('ru') === 0 ? 'ru' : 'en');
  var session = null; // {username, csrf}
  var app = document.getElementById('app');

  function t(key, values) {
    var text = (TEXT[lang] || TEXT.en)[key] || TEXT.en[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split('{' + name + '}').join(String(values[name])); });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') node.textContent = attrs[name];
      else if (name.indexOf('on') === 0) node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') node.textContent = attrs[name]; else node.setAttribute(name, attrs[name]);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function gql(query, variables, files) {
    var headers = { 'x-csrf-token': session ? session.csrf : '' };
    var body;
    if (files) {
      // The GraphQL multipart request spec; the preflight header proves this is no cross-site form.
      body = new FormData();
      var map = {};
      files.forEach(function (file, i) { map[String(i)] = ['variables.files.' + i]; });
      body.append('operations', JSON.stringify({ query: query, variables: Object.assign({}, variables, { files: files.map(function () { return null; }) }) }));
      body.append('map', JSON.stringify(map));
      files.forEach(function (file, i) { body.append(String(i), file, file.name); });
      headers['apollo-require-preflight'] = 'true';
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ query: query, variables: variables || {} });
    }
    return fetch('/graphql', { method: 'POST', credentials: 'same-origin', headers: headers, body: body })
      .then(function (response) { return response.json(); }).then(function (body) {
      var errors = body.errors || [];
      if (errors.some(function (e) { return (e.extensions || {}).code === 'UNAUTHENTICATED'; })) {
        session = null;
        renderSignIn(t('sessionEnded'));
        throw new Error(t('sessionEnded'));
      }
      if (errors.length) {
        var failure = new Error(errors[0].message);
        failure.problems = (errors[0].extensions || {}).problems || [];
        throw failure;
      }
      return body.data;
    });
  }

  /** One subscription over graphql-transport-ws, signed in by the session cookie and its CSRF token. */
  function subscribe(query, variables, handlers) {
    var done = false;
    var socket;
    function end(kind, value) { if (!done) { done = true; handlers[kind](value); } try { socket.close(); } catch (e) { /* closed */ } }
    try {
      socket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    } catch (failure) { handlers.error(failure); return; }
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { csrf: session ? session.csrf : '' } }));
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: query, variables: variables } }));
      } else if (message.type === 'next') {
        if (message.payload.errors) end('error', new Error(message.payload.errors[0].message));
        else handlers.next(message.payload.data);
      } else if (message.type === 'error') {
        end('error', new Error((message.payload[0] || {}).message || 'subscription refused'));
      } else if (message.type === 'complete') {
        end('complete');
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      }
    };
    socket.onerror = function () { end('error', new Error('the live connection failed')); };
    socket.onclose = function () { end('error', new Error('the live connection closed')); };
  }

  // --- signing in and out ----------------------------------------------------------------------------------

  function renderSignIn(message) {
    document.title = t('title');
    clear(app);
    var error = el('p', { class: 'error', role: 'alert', text: message || '' });
    var user = el('input', { type: 'text', name: 'username', autocomplete: 'username', required: 'required' });
    var pass = el('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: 'required' });
    var submit = el('button', { type: 'submit', class: 'primary', text: t('signIn') });
    var form = el('form', {
      onsubmit: function (event) {
        event.preventDefault();
        submit.disabled = true;
        submit.textContent = t('signingIn');
        fetch('/admin/session', {
          method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: user.value, password: pass.value })
        }).then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        }).then(function (result) {
          if (!result.ok) throw new Error(result.body.error || 'sign-in failed');
          session = result.body;
          pass.value = '';
          route();
        }).catch(function (failure) {
          error.textContent = failure.message;
          submit.disabled = false;
          submit.textContent = t('signIn');
          pass.focus();
        });
      }
    }, [
      el('label', {}, [document.createTextNode(t('username')), user]),
      el('label', {}, [document.createTextNode(t('password')), pass]),
      submit, error
    ]);
    app.appendChild(el('main', { class: 'signin' }, [
      el('div', { class: 'panel' }, [el('h2', { text: t('title') }), form])
    ]));
    user.focus();
  }

  function signOut() {
    fetch('/admin/session', {
      method: 'DELETE', credentials: 'same-origin', headers: { 'x-csrf-token': session ? session.csrf : '' }
    }).finally(function () { session = null; renderSignIn(''); });
  }

  // --- the frame: tabs, who is signed in, language ---------------------------------------------------------

  var PAGES = {
    overview: renderOverview, sources: renderSources, versions: renderVersions, checks: renderChecks,
    feedback: renderFeedback, conversations: renderConversations, access: renderAccess
  };

  function frame(current) {
    document.title = t(current) + ' · ' + t('title');
    clear(app);
    var tabs = el('nav', { class: 'tabs', 'aria-label': t('title') }, Object.keys(PAGES).map(function (name) {
      var link = el('a', { href: '#' + name, text: t(name) });
      if (name === current) link.setAttribute('aria-current', 'page');
      return link;
    }));
    var chooser = el('select', {
      'aria-label': t('language'),
      onchange: function () { lang = chooser.value; localStorage.setItem(LANG_KEY, lang); route(); }
    }, ['en', 'ru'].map(function (code) {
      var option = el('option', { value: code, text: code === 'en' ? 'English' : 'Русский' });
      if (code === lang) option.selected = true;
      return option;
    }));
    app.appendChild(el('header', { class: 'top' }, [
      el('h1', { text: 'Otvet' }), tabs,
      el('div', { class: 'who' }, [
        el('span', { class: 'hide-narrow', text: session.username }), chooser,
        el('button', { type: 'button', onclick: signOut, text: t('signOut') })
      ])
    ]));
    var main = el('main', {});
    app.appendChild(main);
    return main;
  }

  function failed(main, failure) {
    main.appendChild(el('p', { class: 'error', role: 'alert', text: t('failedLoad') + failure.message }));
  }

  // --- overview --------------------------------------------------------------------------------------------

  function card(label, value, sub) {
    return el('div', { class: 'card' }, [
      el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }),
      el('div', { class: 'sub', text: sub || '' })
    ]);
  }

  function days(count) {
    var out = [];
    var today = new Date();
    for (var i = count - 1; i >= 0; i--) {
      var day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
      out.push(day.toISOString().slice(0, 10));
    }
    return out;
  }

  function barChart(values, labels, unit) {
    var width = 720, height = 240, left = 44, bottom = 28, top = 12;
    // Whole-number ticks at a "nice" step (1, 2, 5 x 10^k), four of them above zero.
    var max = Math.max.apply(null, values.concat([1]));
    var raw = max / 4, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = Math.max(1, [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return s >= raw; })[0]);
    var ceiling = step * 4;
    var chart = svg('svg', { class: 'chart', viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': unit + ': ' + values.join(', ') });
    var plotWidth = width - left - 8, plotHeight = height - top - bottom;
    for (var tick = 0; tick <= 4; tick++) {
      var value = ceiling * tick / 4, y = top + plotHeight - plotHeight * tick / 4;
      chart.appendChild(svg('line', { class: 'grid', x1: left, x2: width - 8, y1: y, y2: y }));
      chart.appendChild(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', text: String(Math.round(value)) }));
    }
    var slot = plotWidth / values.length;
    values.forEach(function (value, i) {
      var h = plotHeight * value / ceiling, x = left + i * slot + slot * 0.15;
      var bar = svg('rect', { class: 'bar', x: x, y: top + plotHeight - h, width: slot * 0.7, height: h, rx: 2 });
      bar.appendChild(svg('title', { text: labels[i] + ': ' + value + ' ' + unit }));
      chart.appendChild(bar);
      if (i % 2 === 0 || values.length <= 8) {
        chart.appendChild(svg('text', { x: x + slot * 0.35, y: height - 8, 'text-anchor': 'middle', text: labels[i].slice(5) }));
      }
    });
    chart.appendChild(svg('line', { class: 'axis', x1: left, x2: width - 8, y1: top + plotHeight, y2: top + plotHeight }));
    return chart;
  }

  function renderOverview() {
    var main = frame('overview');
    main.appendChild(el('h2', { text: t('overview') }));
    var span = days(14);
    var since = span[0] + 'T00:00:00Z';
    Promise.all([
      gql('query Overview($since: DateTime) { activeVersion { id chunkCount sourceCount evaluation { hitAt1 checks } } ' +
        'usage(since: $since, by: DAY) { key questions answers failed rejected totalTokens } }', { since: since }),
      fetch('/readyz', { credentials: 'same-origin' }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
    ]).then(function (results) {
      var data = results[0], ready = results[1];
      var version = data.activeVersion;
      var byDay = {};
      var totals = { questions: 0, answers: 0, failed: 0, rejected: 0, tokens: 0 };
      data.usage.forEach(function (row) {
        byDay[row.key] = row.questions;
        totals.questions += row.questions; totals.answers += row.answers; totals.failed += row.failed;
        totals.rejected += row.rejected; totals.tokens += row.totalTokens;
      });
      var share = totals.questions ? Math.round(100 * totals.answers / totals.questions) + '% ' + t('answered') : '';
      var score = version && version.evaluation && version.evaluation.hitAt1 !== null
        ? version.evaluation.hitAt1.toFixed(2) + ' ' + t('scoreHit1') : t('noScore');
      main.appendChild(el('div', { class: 'cards' }, [
        card(t('activeVersion'), version ? '#' + version.id : t('none'),
          version ? version.chunkCount + ' ' + t('chunks') + ' · ' + version.sourceCount + ' ' + t('fromSources') + ' · ' + score : ''),
        card(t('questions14'), String(totals.questions),
          share + (totals.questions ? ' · ' + totals.failed + ' ' + t('failed') + ' · ' + totals.rejected + ' ' + t('refused') : '')),
        card(t('tokens'), String(totals.tokens), ''),
        card(t('health'), ready.ok ? t('ready') : t('notReady'), ready.body && ready.body.checks ? t('database') + ': ' + ready.body.checks.database : '')
      ]));
      var panel = el('section', { class: 'panel' }, [el('h3', { text: t('perDay') })]);
      if (!totals.questions) panel.appendChild(el('p', { class: 'empty', text: t('noQuestions') }));
      else {
        panel.appendChild(barChart(span.map(function (day) { return byDay[day] || 0; }), span, t('questionsUnit')));
        panel.appendChild(el('p', { class: 'legend', text: t('perDayLegend') }));
      }
      main.appendChild(panel);
    }).catch(function (failure) { failed(main, failure); });
  }

  // --- sources ---------------------------------------------------------------------------------------------

  var INGEST_FIELDS = '{ added updated unchanged removed version { id status evaluation { decision } } }';

  /** A button that asks again before acting: a second click within five seconds confirms. */
  function confirmButton(label, confirmLabel, action) {
    var armed = null;
    var button = el('button', { type: 'button', text: label });
    button.addEventListener('click', function () {
      if (!armed) {
        button.textContent = confirmLabel;
        button.classList.add('danger');
        armed = setTimeout(function () { armed = null; button.textContent = label; button.classList.remove('danger'); }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      button.disabled = true;
      action(button);
    });
    return button;
  }

  function outcome(result) {
    var parts = [];
    [['added', 'added'], ['updated', 'updatedWord'], ['unchanged', 'unchanged']].forEach(function (pair) {
      if (result[pair[0]] && result[pair[0]].length) parts.push(t(pair[1]) + ': ' + result[pair[0]].join(', '));
    });
    var v = result.version;
    if (v) {
      parts.push(v.status === 'ACTIVE' ? t('versionActive', { id: v.id })
        : t('versionNotPromoted', { id: v.id, why: (v.evaluation && v.evaluation.decision) || v.status.toLowerCase() }));
    } else if (!parts.length) parts.push(t('nothingChanged'));
    return parts.join(' · ');
  }

  function reporter() {
    var box = el('div', { class: 'report', role: 'status' });
    return {
      node: box,
      busy: function (text) { clear(box); box.className = 'report'; box.textContent = text; },
      ok: function (text) { clear(box); box.className = 'report ok'; box.textContent = text; },
      fail: function (failure) {
        clear(box);
        box.className = 'report error';
        box.appendChild(el('p', { text: failure.message }));
        if (failure.problems && failure.problems.length) {
          box.appendChild(el('ul', {}, failure.problems.map(function (p) { return el('li', { text: p }); })));
        }
      }
    };
  }

  function addPanel(onChange) {
    var report = reporter();
    function run(promise) {
      report.busy(t('uploading'));
      return promise.then(function (data) {
        var result = data[Object.keys(data)[0]];
        report.ok(outcome(result));
        onChange();
      }).catch(report.fail);
    }
    // Files: drag and drop, or the file chooser.
    var input = el('input', { type: 'file', multiple: 'multiple', class: 'visually-hidden', id: 'files',
      accept: '.md,.markdown,.txt,.text,.html,.htm,.pdf,.docx,.csv,.json,.yaml,.yml' });
    function upload(list) {
      var files = Array.prototype.slice.call(list);
      if (!files.length) return;
      run(gql('mutation Upload($files: [Upload!]!) { uploadSources(files: $files) ' + INGEST_FIELDS + ' }', {}, files));
    }
    input.addEventListener('change', function () { upload(input.files); input.value = ''; });
    var drop = el('div', { class: 'drop', tabindex: '-1' }, [
      el('span', { text: t('dropHere') + ' ' }),
      el('label', { for: 'files', class: 'button', tabindex: '0', text: t('chooseFiles') }), input
    ]);
    drop.addEventListener('dragover', function (event) { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
    drop.addEventListener('drop', function (event) {
      event.preventDefault(); drop.classList.remove('over'); upload(event.dataTransfer.files);
    });
    drop.querySelector('label').addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); input.click(); }
    });
    // A web page.
    var url = el('input', { type: 'url', name: 'url', placeholder: 'https://example.com/faq', 'aria-label': t('webPage') });
    var urlForm = el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      run(gql('mutation Url($url: String!) { addUrlSource(url: $url) ' + INGEST_FIELDS + ' }', { url: url.value.trim() }));
    } }, [url, el('button', { type: 'submit', text: t('addUrl') })]);
    // Text, or Q&A pairs.
    var name = el('input', { type: 'text', name: 'source-name', 'aria-label': t('sourceName'), placeholder: t('sourceName'), required: 'required' });
    var title = el('input', { type: 'text', name: 'source-title', 'aria-label': t('sourceTitle'), placeholder: t('sourceTitle') });
    var text = el('textarea', { name: 'source-text', rows: '6', 'aria-label': t('textBody'), placeholder: t('textBody') });
    var asPairs = el('input', { type: 'checkbox', name: 'as-pairs', id: 'as-pairs' });
    var textForm = el('form', { class: 'stack', onsubmit: function (event) {
      event.preventDefault();
      var variables = { name: name.value.trim(), title: title.value.trim() || null };
      if (asPairs.checked) {
        var pairs = text.value.split(/\n\s*\n/).map(function (block) { return block.trim().split('\n'); })
          .filter(function (lines) { return lines[0]; });
        if (pairs.some(function (lines) { return lines.length < 2; })) { report.fail(new Error(t('badPairs'))); return; }
        variables.pairs = pairs.map(function (lines) { return { question: lines[0].trim(), answer: lines.slice(1).join('\n').trim() }; });
        run(gql('mutation Pairs($name: String!, $title: String, $pairs: [QaPairInput!]!) { addQaPairs(name: $name, title: $title, pairs: $pairs) ' + INGEST_FIELDS + ' }', variables));
      } else {
        variables.text = text.value;
        run(gql('mutation Text($name: String!, $title: String, $text: String!) { addTextSource(name: $name, title: $title, text: $text) ' + INGEST_FIELDS + ' }', variables));
      }
    } }, [
      el('div', { class: 'inline' }, [name, title]), text,
      el('label', { class: 'check', for: 'as-pairs' }, [asPairs, document.createTextNode(' ' + t('qaPairs') + ' — ' + t('qaHint'))]),
      el('div', {}, [el('button', { type: 'submit', text: t('addText') })])
    ]);
    return el('section', { class: 'panel' }, [
      el('h3', { text: t('addSources') }), drop,
      el('h4', { text: t('webPage') }), urlForm,
      el('h4', { text: t('pasteText') }), textForm, report.node
    ]);
  }

  function renderSources() {
    var main = frame('sources');
    main.appendChild(el('h2', { text: t('sources') }));
    var list = el('div', {});
    main.appendChild(addPanel(load));
    main.appendChild(list);
    function load() {
      gql('{ sources { name type title language sections qaPairs updatedAt } }').then(function (data) {
        clear(list);
        if (!data.sources.length) { list.appendChild(el('p', { class: 'empty', text: t('noSources') })); return; }
        var search = el('input', { type: 'search', 'aria-label': t('search'), placeholder: t('search') });
        var count = el('span', { class: 'legend' });
        var body = el('tbody', {});
        var report = reporter();
        var columns = [['name', 'name'], ['titleCol', 'title'], ['type', 'type'], ['lang', 'language'],
          ['sections', 'sections', 'num'], ['qa', 'qaPairs', 'num'], ['updated', 'updatedAt']];
        function fill() {
          var wanted = search.value.trim().toLowerCase();
          clear(body);
          var rows = data.sources.filter(function (s) {
            return !wanted || s.name.toLowerCase().indexOf(wanted) >= 0 || s.title.toLowerCase().indexOf(wanted) >= 0;
          });
          rows.forEach(function (s) {
            var cells = columns.map(function (c) {
              var value = s[c[1]];
              if (c[1] === 'updatedAt') value = String(value).slice(0, 16).replace('T', ' ');
              return el('td', { class: c[2] || '', text: value === null ? '–' : String(value) });
            });
            cells.push(el('td', {}, [confirmButton(t('remove'), t('confirmRemove'), function () {
              report.busy(t('uploading'));
              gql('mutation Remove($names: [String!]!) { removeSources(names: $names) { removed version { id status evaluation { decision } } } }', { names: [s.name] })
                .then(function (result) {
                  var r = result.removeSources;
                  report.ok(t('removed') + ': ' + s.name + (r.version ? ' · ' + outcome({ version: r.version }) : ''));
                  data.sources = data.sources.filter(function (other) { return other.name !== s.name; });
                  fill();
                }).catch(report.fail);
            })]));
            body.appendChild(el('tr', {}, cells));
          });
          count.textContent = rows.length + ' / ' + data.sources.length + ' ' + t('shown');
        }
        search.addEventListener('input', fill);
        list.appendChild(el('div', { class: 'toolbar' }, [search, count]));
        list.appendChild(report.node);
        list.appendChild(el('div', { class: 'panel table-wrap' }, [el('table', {}, [
          el('thead', {}, [el('tr', {}, columns.map(function (c) { return el('th', { class: c[2] || '', text: t(c[0]) }); })
            .concat([el('th', { text: t('actions') })]))]),
          body
        ])]));
        fill();
      }).catch(function (failure) { failed(list, failure); });
    }
    load();
  }

  // --- versions --------------------------------------------------------------------------------------------

  function scores(evaluation) {
    if (!evaluation || evaluation.hitAt1 === null) return '–';
    var parts = ['hit@1 ' + evaluation.hitAt1.toFixed(2)];
    if (evaluation.hitAtK !== null) parts.push('hit@' + evaluation.k + ' ' + evaluation.hitAtK.toFixed(2));
    if (evaluation.answers !== null) parts.push('ans ' + evaluation.answers.toFixed(2));
    return parts.join(' · ');
  }

  function renderVersions() {
    var main = frame('versions');
    main.appendChild(el('h2', { text: t('versions') }));
    var report = reporter();
    var bar = el('progress', { max: '1', value: '0', hidden: 'hidden' });
    var retrain = el('button', { type: 'button', class: 'primary', text: t('retrain') });
    var list = el('div', {});
    main.appendChild(el('div', { class: 'toolbar' }, [retrain, bar]));
    main.appendChild(report.node);
    main.appendChild(list);

    function finish(j) {
      bar.hidden = true;
      retrain.disabled = false;
      if (j.status === 'succeeded') report.ok((j.result && j.result.message) || t('done'));
      else report.fail(new Error(t('jobFailed', { why: j.error || j.status })));
      load();
    }

    function show(j) {
      bar.value = j.progress;
      report.busy(t('retraining', { pct: Math.round(100 * j.progress) }) + (j.message ? ' · ' + j.message : ''));
    }

    function follow(job) {
      bar.hidden = false;
      retrain.disabled = true;
      // Live over the jobProgress subscription; if the socket cannot be used, ask the job's state instead.
      var last = null;
      subscribe('subscription P($id: ID!) { jobProgress(id: $id) { status progress error result message } }', { id: job.id }, {
        next: function (data) { last = data.jobProgress; show(last); },
        complete: function () { if (last && ['succeeded', 'failed', 'cancelled'].indexOf(last.status) >= 0) finish(last); else poll(); },
        error: function () { poll(); }
      });
      function poll() {
        gql('query Job($id: ID!) { job(id: $id) { status progress error result message } }', { id: job.id }).then(function (data) {
          var j = data.job;
          if (['succeeded', 'failed', 'cancelled'].indexOf(j.status) < 0) {
            show(j);
            setTimeout(poll, 700);
            return;
          }
          finish(j);
        }).catch(function (failure) { retrain.disabled = false; report.fail(failure); });
      }
    }
    retrain.addEventListener('click', function () {
      gql('mutation { retrain { id status } }').then(function (data) { follow(data.retrain); }).catch(report.fail);
    });

    function act(mutation, id) {
      report.busy(t('uploading'));
      gql(mutation, { id: id }).then(function (data) {
        var v = data[Object.keys(data)[0]];
        report.ok(outcome({ version: v }));
        load();
      }).catch(report.fail);
    }

    function load() {
      gql('{ knowledgeVersions { id status chunkCount sourceCount createdAt note evaluation { hitAt1 hitAtK k answers decision } } }').then(function (data) {
        clear(list);
        if (!data.knowledgeVersions.length) { list.appendChild(el('p', { class: 'empty', text: t('noVersions') })); return; }
        var rows = data.knowledgeVersions.map(function (v) {
          var actions = [];
          if (v.status === 'READY' || v.status === 'REJECTED') {
            actions.push(confirmButton(t('promote'), t('confirm'), function () {
              act('mutation Promote($id: ID!) { promoteVersion(id: $id) { id status evaluation { decision } } }', v.id);
            }));
          }
          if (v.status === 'RETIRED') {
            actions.push(confirmButton(t('rollback'), t('confirm'), function () {
              act('mutation Back($id: ID!) { rollbackVersion(id: $id) { id status evaluation { decision } } }', v.id);
            }));
          }
          return el('tr', { 'data-status': v.status.toLowerCase() }, [
            el('td', { class: 'num', text: v.id }), el('td', { text: v.status.toLowerCase() }),
            el('td', { class: 'num', text: String(v.chunkCount) }), el('td', { class: 'num', text: String(v.sourceCount) }),
            el('td', { text: scores(v.evaluation), title: (v.evaluation && v.evaluation.decision) || '' }),
            el('td', { text: String(v.createdAt).slice(0, 16).replace('T', ' ') }), el('td', { text: v.note }),
            el('td', {}, actions)
          ]);
        });
        var heads = ['id', 'status', 'chunksCol', 'sources', 'scores', 'created', 'note', 'actions'];
        list.appendChild(el('div', { class: 'panel table-wrap' }, [el('table', {}, [
          el('thead', {}, [el('tr', {}, heads.map(function (h) { return el('th', { text: t(h) }); }))]),
          el('tbody', {}, rows)
        ])]));
      }).catch(function (failure) { failed(list, failure); });
    }
    load();
  }

  // --- the check set -----------------------------------------------------------------------------------------

  var CHECK_FIELDS = 'id question expectedSource expectedAnswer language';

  function renderChecks() {
    var main = frame('checks');
    main.appendChild(el('h2', { text: t('checks') }));
    main.appendChild(el('p', { class: 'legend', text: t('checksIntro') }));
    var report = reporter();
    var list = el('div', { class: 'check-list' });
    var current = [];

    function add(checks) {
      return gql('mutation Add($checks: [CheckInput!]!) { addChecks(checks: $checks) { id } }', { checks: checks })
        .then(function (data) { report.ok(t('imported', { n: data.addChecks.length })); load(); });
    }
    var question = el('input', { type: 'text', 'aria-label': t('question'), placeholder: t('question'), required: 'required' });
    var source = el('input', { type: 'text', 'aria-label': t('expectedSource'), placeholder: t('expectedSource') });
    var answer = el('input', { type: 'text', 'aria-label': t('expectedAnswer'), placeholder: t('expectedAnswer') });
    var language = el('select', { 'aria-label': t('lang') }, ['', 'en', 'ru'].map(function (code) {
      return el('option', { value: code, text: code || '–' });
    }));
    var form = el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      add([{ question: question.value.trim(), expectedSource: source.value.trim() || null,
        expectedAnswer: answer.value.trim() || null, language: language.value || null }])
        .then(function () { question.value = source.value = answer.value = ''; question.focus(); })
        .catch(report.fail);
    } }, [question, source, answer, language, el('button', { type: 'submit', class: 'primary', text: t('addCheck') })]);

    var file = el('input', { type: 'file', accept: '.json,application/json', class: 'visually-hidden', id: 'checks-file' });
    file.addEventListener('change', function () {
      var chosen = file.files[0];
      file.value = '';
      if (!chosen) return;
      chosen.text().then(function (text) {
        var parsed = JSON.parse(text);
        if (!Array.isArray(parsed)) throw new Error(t('badChecksFile'));
        return add(parsed.map(function (c) {
          if (!c || typeof c.question !== 'string') throw new Error(t('badChecksFile'));
          return { question: c.question, expectedSource: c.expectedSource || c.source || null,
            expectedAnswer: c.expectedAnswer || c.answer || null, language: c.language || null };
        }));
      }).catch(function (failure) { report.fail(failure instanceof SyntaxError ? new Error(t('badChecksFile')) : failure); });
    });
    var exporter = el('button', { type: 'button', text: t('exportChecks') });
    exporter.addEventListener('click', function () {
      var rows = current.map(function (c) {
        return { question: c.question, expectedSource: c.expectedSource, expectedAnswer: c.expectedAnswer, language: c.language };
      });
      var link = el('a', { download: 'otvet-checks.json',
        href: URL.createObjectURL(new Blob([JSON.stringify(rows, null, 2)], { type: 'application/json' })) });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
    var runner = el('button', { type: 'button', text: t('runChecks') });
    var results = el('div', {});
    runner.addEventListener('click', function () {
      runner.disabled = true;
      clear(results);
      gql('{ checkRun { versionId summary failures { question rank found } } }').then(function (data) {
        var run = data.checkRun;
        report.ok('#' + run.versionId + ': ' + run.summary + (run.failures.length ? '' : ' · ' + t('allPassed')));
        if (run.failures.length) {
          results.appendChild(table(['question', 'rank', 'foundInstead'], run.failures.map(function (f) {
            return el('tr', { class: 'failed' }, [
              el('td', { text: f.question }), el('td', { class: 'num', text: f.rank === null ? t('notFound') : String(f.rank) }),
              el('td', { text: f.found.slice(0, 3).join(', ') || '–' })
            ]);
          })));
        }
      }).catch(report.fail).finally(function () { runner.disabled = false; });
    });
    main.appendChild(el('section', { class: 'panel' }, [form, el('div', { class: 'toolbar' }, [
      el('label', { for: 'checks-file', class: 'button', tabindex: '0', text: t('importChecks') }), file, exporter, runner
    ])]));
    main.appendChild(report.node);
    main.appendChild(results);
    main.appendChild(list);

    function load() {
      gql('{ checks { ' + CHECK_FIELDS + ' } }').then(function (data) {
        current = data.checks;
        clear(list);
        if (!current.length) { list.appendChild(el('p', { class: 'empty', text: t('noChecks') })); return; }
        list.appendChild(table(['question', 'expectedSource', 'expectedAnswer', 'lang', 'actions'], current.map(function (c) {
          return el('tr', {}, [
            el('td', { text: c.question }), el('td', { text: c.expectedSource || '–' }),
            el('td', { text: c.expectedAnswer || '–' }), el('td', { text: c.language || '–' }),
            el('td', {}, [confirmButton(t('remove'), t('confirmRemove'), function () {
              gql('mutation R($ids: [ID!]!) { removeChecks(ids: $ids) }', { ids: [c.id] })
                .then(function (result) { report.ok(t('removedN', { n: result.removeChecks })); load(); }).catch(report.fail);
            })])
          ]);
        })));
      }).catch(function (failure) { failed(list, failure); });
    }
    load();
  }

  // --- feedback: candidates to review, answers rated down -------------------------------------------------

  function table(heads, rows) {
    return el('div', { class: 'panel table-wrap' }, [el('table', {}, [
      el('thead', {}, [el('tr', {}, heads.map(function (h) { return el('th', { text: t(h) }); }))]),
      el('tbody', {}, rows)
    ])]);
  }

  function when(value) { return value ? String(value).slice(0, 16).replace('T', ' ') : t('never'); }

  function renderFeedback() {
    var main = frame('feedback');
    main.appendChild(el('h2', { text: t('feedback') }));
    var report = reporter();
    var pending = el('section', {}, [el('h3', { text: t('pending') })]);
    var disliked = el('section', {}, [el('h3', { text: t('disliked') })]);
    main.appendChild(report.node);
    main.appendChild(pending);
    main.appendChild(disliked);

    function loadPending() {
      while (pending.childNodes.length > 1) pending.removeChild(pending.lastChild);
      gql('{ candidates(status: PENDING, first: 50) { nodes { id question answer origin createdAt } } }').then(function (data) {
        var nodes = data.candidates.nodes;
        if (!nodes.length) { pending.appendChild(el('p', { class: 'empty', text: t('noPending') })); return; }
        pending.appendChild(table(['question', 'answer', 'origin', 'actions'], nodes.map(function (c) {
          function review(mutation) {
            report.busy(t('uploading'));
            gql('mutation Review($ids: [ID!]!) { ' + mutation + '(ids: $ids) { ingest ' + INGEST_FIELDS + ' } }', { ids: [c.id] })
              .then(function (result) { report.ok(outcome(result[mutation].ingest)); loadPending(); }).catch(report.fail);
          }
          return el('tr', {}, [
            el('td', { text: c.question }), el('td', { text: c.answer }), el('td', { text: c.origin.toLowerCase() }),
            el('td', {}, [
              el('button', { type: 'button', class: 'primary', text: t('approve'), onclick: function () { review('approveCandidates'); } }),
              document.createTextNode(' '),
              el('button', { type: 'button', text: t('reject'), onclick: function () { review('rejectCandidates'); } })
            ])
          ]);
        })));
      }).catch(function (failure) { failed(pending, failure); });
    }

    function loadDisliked() {
      gql('{ feedback(filter: {value: -1}, first: 20) { nodes { id messageId conversationId comment createdAt } } }').then(function (data) {
        var nodes = data.feedback.nodes;
        if (!nodes.length) { disliked.appendChild(el('p', { class: 'empty', text: t('noDisliked') })); return; }
        nodes.forEach(function (f) {
          var item = el('div', { class: 'panel' });
          disliked.appendChild(item);
          gql('query C($id: ID!) { conversation(id: $id) { messages(first: 100) { nodes { id role text } } } }', { id: f.conversationId })
            .then(function (c) {
              var messages = (c.conversation && c.conversation.messages.nodes) || [];
              var index = messages.findIndex(function (m) { return m.id === f.messageId; });
              var question = index > 0 ? messages[index - 1].text : '';
              var better = el('textarea', { rows: '3', 'aria-label': t('betterAnswer'), placeholder: t('betterAnswer') });
              item.appendChild(el('p', {}, [el('strong', { text: t('question') + ': ' }), document.createTextNode(question)]));
              item.appendChild(el('p', {}, [el('strong', { text: t('answer') + ': ' }), document.createTextNode(index >= 0 ? messages[index].text : '')]));
              if (f.comment) item.appendChild(el('p', { class: 'legend', text: f.comment }));
              item.appendChild(el('form', { class: 'stack', onsubmit: function (event) {
                event.preventDefault();
                gql('mutation Fix($id: ID!, $answer: String!) { correctAnswer(messageId: $id, answer: $answer) { id } }', { id: f.messageId, answer: better.value })
                  .then(function () { report.ok(t('corrected')); better.value = ''; loadPending(); }).catch(report.fail);
              } }, [better, el('div', {}, [el('button', { type: 'submit', text: t('correct') })])]));
            }).catch(function (failure) { failed(item, failure); });
        });
      }).catch(function (failure) { failed(disliked, failure); });
    }
    loadPending();
    loadDisliked();
  }

  // --- conversations ---------------------------------------------------------------------------------------

  function renderConversations() {
    var main = frame('conversations');
    main.appendChild(el('h2', { text: t('conversations') }));
    main.appendChild(el('p', { class: 'legend', text: t('personalData') }));
    var channel = el('select', { 'aria-label': t('channel') }, [['', t('any')], ['telegram', 'Telegram'],
      ['widget', 'widget'], ['graphql', 'GraphQL'], ['openai', 'OpenAI API'], ['cli', 'CLI']].map(function (o) {
      return el('option', { value: o[0], text: o[1] });
    }));
    var external = el('input', { type: 'text', 'aria-label': t('userIdFilter'), placeholder: t('userIdFilter') });
    var since = el('input', { type: 'date', 'aria-label': t('sinceFilter') });
    var list = el('div', {});
    var detail = el('div', {});
    var after = null;
    var body = el('tbody', {});
    var more = el('button', { type: 'button', text: t('more'), hidden: 'hidden' });
    main.appendChild(el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault(); after = null; clear(body); load();
    } }, [channel, external, since, el('button', { type: 'submit', text: t('filter') })]));
    main.appendChild(list);
    main.appendChild(detail);
    list.appendChild(table(['started', 'channel', 'user', 'actions'], []));
    list.querySelector('table').replaceChild(body, list.querySelector('tbody'));
    list.appendChild(more);
    more.addEventListener('click', load);

    function load() {
      var filter = { channel: channel.value || null, externalId: external.value.trim() || null,
        since: since.value ? since.value + 'T00:00:00Z' : null };
      gql('query C($filter: ConversationFilter, $after: String) { conversations(filter: $filter, first: 20, after: $after) ' +
        '{ nodes { id startedAt user { channel externalId displayName } } pageInfo { hasNextPage endCursor } } }',
        { filter: filter, after: after }).then(function (data) {
        var page = data.conversations;
        if (!page.nodes.length && !after) {
          body.appendChild(el('tr', {}, [el('td', { colspan: '4', class: 'empty', text: t('noConversations') })]));
        }
        page.nodes.forEach(function (c) {
          var who = c.user.externalId + (c.user.displayName ? ' (' + c.user.displayName + ')' : '');
          body.appendChild(el('tr', {}, [
            el('td', { text: when(c.startedAt) }), el('td', { text: c.user.channel }), el('td', { text: who }),
            el('td', {}, [el('button', { type: 'button', text: t('open'), onclick: function () { show(c, who); } })])
          ]));
        });
        after = page.pageInfo.endCursor;
        more.hidden = !page.pageInfo.hasNextPage;
      }).catch(function (failure) { failed(list, failure); });
    }

    function show(conversation, who) {
      clear(detail);
      Promise.all([
        gql('query M($id: ID!) { conversation(id: $id) { messages(first: 100) { nodes { id role text status createdAt } } } }', { id: conversation.id }),
        gql('query F($id: ID!) { feedback(filter: {conversationId: $id}, first: 100) { nodes { messageId value } } }', { id: conversation.id })
      ]).then(function (results) {
        var ratings = {};
        results[1].feedback.nodes.forEach(function (f) { ratings[f.messageId] = f.value; });
        var messages = results[0].conversation ? results[0].conversation.messages.nodes : [];
        var panel = el('section', { class: 'panel transcript', 'aria-label': t('conversations') }, [
          el('h3', { text: conversation.user.channel + ' · ' + who + ' · ' + when(conversation.startedAt) })
        ]);
        messages.forEach(function (m) {
          var rating = ratings[m.id] === 1 ? ' ' + t('ratedUp') : ratings[m.id] === -1 ? ' ' + t('ratedDown') : '';
          panel.appendChild(el('div', { class: 'msg ' + m.role.toLowerCase() }, [
            el('div', { class: 'meta', text: m.role.toLowerCase() + ' · ' + when(m.createdAt) + (m.status !== 'ok' ? ' · ' + m.status : '') + rating }),
            el('div', { class: 'text', text: m.text })
          ]));
        });
        panel.appendChild(el('button', { type: 'button', text: t('backToList'), onclick: function () { clear(detail); list.scrollIntoView(); } }));
        detail.appendChild(panel);
        panel.scrollIntoView();
      }).catch(function (failure) { failed(detail, failure); });
    }
    load();
  }

  // --- keys and admins -------------------------------------------------------------------------------------

  function renderAccess() {
    var main = frame('access');
    main.appendChild(el('h2', { text: t('access') }));
    var report = reporter();
    var keys = el('section', {}, [el('h3', { text: t('apiKeys') })]);
    var admins = el('section', {}, [el('h3', { text: t('admins') })]);
    main.appendChild(report.node);
    main.appendChild(keys);
    main.appendChild(admins);

    var keyName = el('input', { type: 'text', 'aria-label': t('keyName'), placeholder: t('keyName'), required: 'required' });
    var scope = el('select', { 'aria-label': t('scope') }, ['ASK', 'READ', 'ADMIN'].map(function (v) {
      return el('option', { value: v, text: v.toLowerCase() });
    }));
    var shown = el('div', {});
    keys.appendChild(el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      gql('mutation K($name: String!, $scopes: [Scope!]!) { createApiKey(name: $name, scopes: $scopes) { key } }', { name: keyName.value.trim(), scopes: [scope.value] })
        .then(function (data) {
          clear(shown);
          var value = el('input', { type: 'text', readonly: 'readonly', value: data.createApiKey.key, 'aria-label': t('keyOnce'), class: 'key' });
          shown.appendChild(el('div', { class: 'panel once', role: 'status' }, [el('p', { text: t('keyOnce') }), value]));
          value.select();
          keyName.value = '';
          loadKeys();
        }).catch(report.fail);
    } }, [keyName, scope, el('button', { type: 'submit', class: 'primary', text: t('create') })]));
    keys.appendChild(shown);
    var keyList = el('div', {});
    keys.appendChild(keyList);

    function loadKeys() {
      gql('{ apiKeys { id name prefix scopes createdAt lastUsedAt revokedAt } }').then(function (data) {
        clear(keyList);
        if (!data.apiKeys.length) { keyList.appendChild(el('p', { class: 'empty', text: t('noKeys') })); return; }
        keyList.appendChild(table(['keyName', 'prefix', 'scope', 'created', 'lastUsed', 'revoked', 'actions'], data.apiKeys.map(function (k) {
          return el('tr', {}, [
            el('td', { text: k.name }), el('td', { text: k.prefix }), el('td', { text: k.scopes.join(', ').toLowerCase() }),
            el('td', { text: when(k.createdAt) }), el('td', { text: when(k.lastUsedAt) }), el('td', { text: k.revokedAt ? when(k.revokedAt) : '–' }),
            el('td', {}, k.revokedAt ? [] : [confirmButton(t('revoke'), t('confirm'), function () {
              gql('mutation R($id: ID!) { revokeApiKey(id: $id) { id } }', { id: k.id }).then(loadKeys).catch(report.fail);
            })])
          ]);
        })));
      }).catch(function (failure) { failed(keyList, failure); });
    }

    var username = el('input', { type: 'text', autocomplete: 'off', 'aria-label': t('username'), placeholder: t('username'), required: 'required' });
    var password = el('input', { type: 'password', autocomplete: 'new-password', 'aria-label': t('password'), placeholder: t('password'), required: 'required' });
    admins.appendChild(el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      gql('mutation A($u: String!, $p: String!) { createAdmin(username: $u, password: $p) { username } }', { u: username.value.trim(), p: password.value })
        .then(function (data) { report.ok(t('createdAdmin', { name: data.createAdmin.username })); username.value = ''; password.value = ''; loadAdmins(); })
        .catch(report.fail);
    } }, [username, password, el('button', { type: 'submit', text: t('create') })]));
    var adminList = el('div', {});
    admins.appendChild(adminList);

    function loadAdmins() {
      gql('{ admins { username createdAt disabled } }').then(function (data) {
        clear(adminList);
        adminList.appendChild(table(['username', 'created', 'status', 'actions'], data.admins.map(function (a) {
          var action = a.disabled ? t('enable') : t('disable');
          return el('tr', {}, [
            el('td', { text: a.username }), el('td', { text: when(a.createdAt) }), el('td', { text: a.disabled ? t('disabled') : t('enabled') }),
            el('td', {}, a.username === session.username ? [] : [confirmButton(action, t('confirm'), function () {
              gql('mutation D($u: String!, $d: Boolean!) { setAdminDisabled(username: $u, disabled: $d) { username } }', { u: a.username, d: !a.disabled })
                .then(loadAdmins).catch(report.fail);
            })])
          ]);
        })));
      }).catch(function (failure) { failed(adminList, failure); });
    }
    loadKeys();
    loadAdmins();
  }

  // --- routing ---------------------------------------------------------------------------------------------

  function route() {
    if (!session) { renderSignIn(''); return; }
    var name = location.hash.replace('#', '') || 'overview';
    (PAGES[name] || renderOverview)();
  }

  window.addEventListener('hashchange', route);
  fetch('/admin/session', { credentials: 'same-origin' }).then(function (response) {
    return response.json();
  }).then(function (body) { session = body.signed_in ? body : null; route(); }).catch(function () { renderSignIn(''); });
})();
