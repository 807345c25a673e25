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
      answered: 'answered', failed: 'failed', refused: 'refused',
      health: 'This server', ready: 'ready', notReady: 'not ready', perDay: 'Questions per day by channel (UTC)',
      questionsUnit: 'questions', noQuestions: 'No questions in this period yet: open the widget on the demo page or connect Telegram, and they will show here.',
      noSources: 'No sources yet: add some with `otvet ingest` or the GraphQL API (uploadSources).',
      search: 'Search sources', name: 'Name', type: 'Type', lang: 'Lang', sections: 'Sections', qa: 'Q&A',
      updated: 'Updated', titleCol: 'Title', scoreHit1: 'hit@1 on the check set', noScore: 'not evaluated',
      sessionEnded: 'Your session has ended: sign in again.', failedLoad: 'Could not load this page: ',
      shown: 'shown', database: 'database',
      sec: 's', min: 'min', ofAudio: 'of audio', audioMinutes: 'Audio', thumbsUp: 'thumbs up', thumbsDown: 'thumbs down', period: 'Period', lastDays: 'Last {n} days', channel: 'Channel', allChannels: 'All channels', questions: 'Questions',
      unknownShort: "I don't know", noneInPeriod: 'None in this period', ratings: 'Ratings', positive: 'positive',
      noRatings: 'No answer rated in this period', answerTime: 'Answer time', median: 'median', answersWord: 'answers',
      noAnswers: 'No answers in this period', cost: 'Estimated cost', tokensWord: 'tokens',
      unpriced: 'some models unpriced', noVersion: 'Add sources to build one', outcomes: 'What became of the questions',
      outAnswered: 'Answered from the knowledge base', outUnknown: "Answered “I don't know”", outFailed: 'Failed',
      outRefused: 'Refused (quota, empty or too long)', byModel: 'Tokens and estimated cost by model',
      noModels: 'No answers in this period.', provider: 'Provider', model: 'Model', promptTokens: 'Prompt tokens',
      completionTokens: 'Completion tokens', estCost: 'Est. cost', noPrice: 'no price',
      pricingHint: 'Models without a price are not in the total: set their prices in [pricing] (see the admin guide).',
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
      importChecks: 'Import CSV, YAML or JSON', exportChecks: 'Export JSON', imported: '{n} checks added.',
      checksFile: 'A file to import is a CSV or TSV table with the columns question, source, answer and language, or a YAML or JSON list with those keys (an exported file too). If any check in it has a problem, none is added.',
      edit: 'Edit', save: 'Save', cancel: 'Cancel', checkSaved: 'Check saved.', importing: 'Importing…',
      removedN: '{n} removed.', runChecks: 'Run against the active version', allPassed: 'Every check passes.',
      rank: 'Expected source ranked', foundInstead: 'Found instead', notFound: 'not found',
      conversations: 'Conversations', personalData: 'Conversations are personal data: read them only to improve the answers.',
      channel: 'Channel', any: 'any', userIdFilter: 'User id in the channel', sinceFilter: 'Since',
      filter: 'Filter', started: 'Started', user: 'User', noConversations: 'No conversations match.',
      more: 'More', open: 'Open', backToList: 'Back to the list', ratedUp: '👍', ratedDown: '👎',
      preview: 'Preview', hidePreview: 'Hide', chunksInVersion: 'How version #{id} cut it into chunks',
      chunkN: 'Chunk {n}', chunkText: 'text', chunkQa: 'question and answer', notInActive: 'The active version (#{id}) does not hold this source yet: retrain on the Versions page to include it.',
      noActive: 'No knowledge version is active yet: retrain on the Versions page.', heldBy: 'Versions holding it: {ids}.',
      noChunks: 'This version holds no chunks of this source.',
      searchConversations: 'Words in a question or answer', ratingFilter: 'Rating', anyRating: 'any rating',
      tryOther: 'Try other or fewer words, another rating, channel or date, or clear the filters.'
    },
    ru: {
      title: 'Otvet: администрирование', signIn: 'Войти', signOut: 'Выйти', username: 'Имя пользователя',
      password: 'Пароль', signingIn: 'Вход…', overview: 'Обзор', sources: 'Источники', language: 'Язык',
      activeVersion: 'Активная версия базы знаний', none: 'пока нет', chunks: 'фрагментов', fromSources: 'источников',
      answered: 'отвечено', failed: 'ошибки', refused: 'отклонено',
      health: 'Этот сервер', ready: 'готов', notReady: 'не готов', perDay: 'Вопросы по дням и каналам (UTC)',
      questionsUnit: 'вопросов', noQuestions: 'За этот период вопросов ещё не было: откройте виджет на демо-странице или подключите Telegram, и они появятся здесь.',
      noSources: 'Источников пока нет: добавьте их командой `otvet ingest`.',
      search: 'Поиск источников', name: 'Имя', type: 'Тип', lang: 'Язык', sections: 'Разделы', qa: 'Вопросы',
      updated: 'Обновлён', titleCol: 'Заголовок', scoreHit1: 'hit@1 на проверочном наборе', noScore: 'не оценена',
      sessionEnded: 'Сеанс закончился: войдите снова.', failedLoad: 'Не удалось загрузить страницу: ',
      shown: 'показано', database: 'база данных',
      sec: 'с', min: 'мин', ofAudio: 'аудио', audioMinutes: 'Аудио', thumbsUp: 'нравится', thumbsDown: 'не нравится', period: 'Период', lastDays: 'Последние {n} дн.', channel: 'Канал', allChannels: 'Все каналы', questions: 'Вопросы',
      unknownShort: '«не знаю»', noneInPeriod: 'За этот период нет', ratings: 'Оценки', positive: 'положительных',
      noRatings: 'За этот период ответы не оценивали', answerTime: 'Время ответа', median: 'медиана', answersWord: 'ответов',
      noAnswers: 'За этот период ответов нет', cost: 'Оценка затрат', tokensWord: 'токенов',
      unpriced: 'не у всех моделей есть цена', noVersion: 'Добавьте источники, чтобы её собрать', outcomes: 'Чем закончились вопросы',
      outAnswered: 'Ответ из базы знаний', outUnknown: 'Ответ «не знаю»', outFailed: 'Ошибка',
      outRefused: 'Отклонён (квота, пустой или слишком длинный)', byModel: 'Токены и затраты по моделям',
      noModels: 'За этот период ответов нет.', provider: 'Провайдер', model: 'Модель', promptTokens: 'Токены запроса',
      completionTokens: 'Токены ответа', estCost: 'Затраты', noPrice: 'нет цены',
      pricingHint: 'Модели без цены не входят в сумму: задайте цены в [pricing] (см. руководство администратора).',
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
      importChecks: 'Импорт CSV, YAML или JSON', exportChecks: 'Экспорт JSON', imported: 'Добавлено проверок: {n}.',
      checksFile: 'Файл для импорта — таблица CSV или TSV со столбцами question, source, answer и language или список YAML или JSON с такими ключами (подойдёт и экспортированный файл). Если хоть в одной проверке есть ошибка, не добавляется ни одна.',
      edit: 'Изменить', save: 'Сохранить', cancel: 'Отмена', checkSaved: 'Проверка сохранена.', importing: 'Импорт…',
      removedN: 'Удалено: {n}.', runChecks: 'Проверить активную версию', allPassed: 'Все проверки пройдены.',
      rank: 'Место ожидаемого источника', foundInstead: 'Найдено вместо него', notFound: 'не найден',
      conversations: 'Разговоры', personalData: 'Разговоры — персональные данные: читайте их только чтобы улучшать ответы.',
      channel: 'Канал', any: 'любой', userIdFilter: 'Id пользователя в канале', sinceFilter: 'С даты',
      filter: 'Показать', started: 'Начат', user: 'Пользователь', noConversations: 'Таких разговоров нет.',
      more: 'Ещё', open: 'Открыть', backToList: 'К списку', ratedUp: '👍', ratedDown: '👎',
      preview: 'Просмотр', hidePreview: 'Скрыть', chunksInVersion: 'Как версия #{id} разбила его на фрагменты',
      chunkN: 'Фрагмент {n}', chunkText: 'текст', chunkQa: 'вопрос и ответ', notInActive: 'Активная версия (#{id}) ещё не содержит этот источник: переобучите на странице «Версии», чтобы включить его.',
      noActive: 'Активной версии базы знаний пока нет: переобучите на странице «Версии».', heldBy: 'Он есть в версиях: {ids}.',
      noChunks: 'В этой версии нет фрагментов этого источника.',
      searchConversations: 'Слова из вопроса или ответа', ratingFilter: 'Оценка', anyRating: 'любая оценка',
      tryOther: 'Попробуйте другие или меньше слов, другую оценку, канал или дату — или сбросьте фильтры.'
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
      // The GraphQL multipart request spec; the preflight header proves this is no cross-site form. A list
      // of files is sent as $files; { name: a file or a list } as the variables it names ({ file: f } as $file).
      body = new FormData();
      var named = Array.isArray(files) ? { files: files } : files;
      var sent = Object.assign({}, variables);
      var slots = []; // [where in the variables, the file]
      Object.keys(named).forEach(function (name) {
        if (Array.isArray(named[name])) {
          sent[name] = named[name].map(function (file, i) { slots.push(['variables.' + name + '.' + i, file]); return null; });
        } else {
          sent[name] = null;
          slots.push(['variables.' + name, named[name]]);
        }
      });
      var map = {};
      slots.forEach(function (slot, i) { map[String(i)] = [slot[0]]; });
      body.append('operations', JSON.stringify({ query: query, variables: sent }));
      body.append('map', JSON.stringify(map));
      slots.forEach(function (slot, i) { body.append(String(i), slot[1], slot[1].name); });
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

  // ``value``: text, or the nodes that make it up.
  function card(label, value, sub) {
    var shown = typeof value === 'string' ? el('div', { class: 'value', text: value }) : el('div', { class: 'value' }, value);
    return el('div', { class: 'card' }, [
      el('div', { class: 'label', text: label }), shown, el('div', { class: 'sub', text: sub || '' })
    ]);
  }

  // Thumbs drawn as SVG (the widget's shapes): machines without an emoji font show emoji as empty boxes.
  var THUMBS = {
    up: ['M7 11v10', 'M7 11l4-8a2.5 2.5 0 0 1 3 2.7L13.5 10H19a2 2 0 0 1 2 2.3l-1.2 7A2 2 0 0 1 17.8 21H4a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1z'],
    down: ['M17 13V3', 'M17 13l-4 8a2.5 2.5 0 0 1-3-2.7l.5-4.3H5a2 2 0 0 1-2-2.3l1.2-7A2 2 0 0 1 6.2 3H20a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1z']
  };

  function thumb(name, label) {
    var icon = svg('svg', { class: 'icon', viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': 2,
      'stroke-linecap': 'round', 'stroke-linejoin': 'round', role: 'img', 'aria-label': label });
    THUMBS[name].forEach(function (d) { icon.appendChild(svg('path', { d: d })); });
    return icon;
  }

  var PERIODS = [7, 14, 30, 90, 365];
  var SERIES = 6;  // colours the charts cycle through (.s0 to .s5 in console.css)
  var overviewChoice = { days: 14, channel: '' };

  function niceCeiling(max) {
    // Whole-number ticks at a "nice" step (1, 2, 5 x 10^k), four of them above zero.
    var raw = Math.max(1, max) / 4, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; })
      .filter(function (s) { return s >= raw && s === Math.round(s); })[0];
    return Math.max(1, step) * 4;
  }

  function shortDay(day) {
    return new Date(day + 'T00:00:00Z').toLocaleDateString(lang, { day: 'numeric', month: 'short', timeZone: 'UTC' });
  }

  // Bars per day, stacked by series ({name, values}); a tooltip per segment and a text alternative.
  function stackedChart(labels, series, unit) {
    var width = 720, height = 270, left = 48, bottom = 30, top = 26;
    var totals = labels.map(function (_, i) { return series.reduce(function (sum, s) { return sum + s.values[i]; }, 0); });
    var ceiling = niceCeiling(Math.max.apply(null, totals.concat([0])));
    var chart = svg('svg', { class: 'chart', viewBox: '0 0 ' + width + ' ' + height, role: 'img',
      'aria-label': unit + ': ' + labels.map(function (label, i) { return label + ' ' + totals[i]; }).join(', ') });
    var plotWidth = width - left - 8, plotHeight = height - top - bottom;
    for (var tick = 0; tick <= 4; tick++) {
      var y = top + plotHeight - plotHeight * tick / 4;
      chart.appendChild(svg('line', { class: 'grid', x1: left, x2: width - 8, y1: y, y2: y }));
      chart.appendChild(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', text: String(ceiling * tick / 4) }));
    }
    chart.appendChild(svg('text', { x: 4, y: 11, class: 'unit', text: unit }));
    var slot = plotWidth / labels.length, every = Math.ceil(labels.length / 10);
    labels.forEach(function (label, i) {
      var x = left + i * slot + slot * 0.15, base = top + plotHeight;
      series.forEach(function (s, k) {
        var value = s.values[i];
        if (!value) return;
        var h = plotHeight * value / ceiling;
        var bar = svg('rect', { class: 'bar s' + (k % SERIES), x: x, y: base - h, width: Math.max(slot * 0.7, 1), height: h });
        bar.appendChild(svg('title', { text: shortDay(label) + ' · ' + s.name + ': ' + value }));
        chart.appendChild(bar);
        base -= h;
      });
      if (i % every === 0) {
        chart.appendChild(svg('text', { x: x + slot * 0.35, y: height - 10, 'text-anchor': 'middle', text: shortDay(label) }));
      }
    });
    chart.appendChild(svg('line', { class: 'axis', x1: left, x2: width - 8, y1: top + plotHeight, y2: top + plotHeight }));
    return chart;
  }

  function legend(items) {
    return el('ul', { class: 'keys' }, items.map(function (item, k) {
      return el('li', {}, [el('span', { class: 'swatch s' + (item.cls === undefined ? k % SERIES : item.cls) }),
        el('span', { text: item.text })]);
    }));
  }

  function percent(part, whole) { return whole ? Math.round(100 * part / whole) + '%' : '–'; }
  function number(n) { return Number(n).toLocaleString(lang); }
  function seconds(ms) { return ms === null ? '–' : (ms / 1000).toLocaleString(lang, { maximumFractionDigits: ms < 10000 ? 1 : 0 }) + ' ' + t('sec'); }
  function minutes(secs) { return (secs / 60).toLocaleString(lang, { maximumFractionDigits: 1 }) + ' ' + t('min'); }
  function dollars(usd) { return '$' + usd.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: usd < 1 ? 4 : 2 }); }

  function renderOverview() {
    var main = frame('overview');
    var heading = el('div', { class: 'toolbar' }, [el('h2', { class: 'grow', text: t('overview') })]);
    main.appendChild(heading);
    var period = el('select', { 'aria-label': t('period') }, PERIODS.map(function (n) {
      var option = el('option', { value: String(n), text: t('lastDays', { n: n }) });
      if (n === overviewChoice.days) option.selected = true;
      return option;
    }));
    var channel = el('select', { 'aria-label': t('channel') }, [el('option', { value: '', text: t('allChannels') })]);
    heading.appendChild(period);
    heading.appendChild(channel);
    var body = el('div', {});
    main.appendChild(body);
    period.addEventListener('change', function () { overviewChoice.days = Number(period.value); load(); });
    channel.addEventListener('change', function () { overviewChoice.channel = channel.value; load(); });

    function load() {
      clear(body);
      body.appendChild(el('p', { class: 'loading', text: '…' }));
      var today = new Date();
      var since = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - overviewChoice.days + 1));
      Promise.all([
        gql('query Overview($since: Date, $channel: String) { activeVersion { id chunkCount sourceCount evaluation { hitAt1 checks } } ' +
          'activity(since: $since, channel: $channel) { channels days { day byChannel { channel questions } } ' +
          'totals { questions answered unknown failed refused thumbsUp thumbsDown promptTokens completionTokens audioSeconds } ' +
          'answerTimes { answers p50Ms p95Ms } models { provider model answers promptTokens completionTokens audioSeconds estimatedCostUsd } ' +
          'estimatedCostUsd costComplete } }',
          { since: since.toISOString().slice(0, 10), channel: overviewChoice.channel || null }),
        fetch('/readyz', { credentials: 'same-origin' }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      ]).then(function (results) {
        clear(body);
        draw(results[0], results[1]);
      }).catch(function (failure) { clear(body); failed(body, failure); });
    }

    function draw(data, ready) {
      var a = data.activity, totals = a.totals, version = data.activeVersion;
      // The channel list comes from the whole period, so keep the chosen one even when it had no questions.
      var known = a.channels.slice();
      if (overviewChoice.channel && known.indexOf(overviewChoice.channel) < 0) known.push(overviewChoice.channel);
      while (channel.options.length > 1) channel.remove(1);
      known.forEach(function (name) {
        var option = el('option', { value: name, text: name });
        if (name === overviewChoice.channel) option.selected = true;
        channel.appendChild(option);
      });
      var q = totals.questions, rated = totals.thumbsUp + totals.thumbsDown;
      var score = version && version.evaluation && version.evaluation.hitAt1 !== null
        ? version.evaluation.hitAt1.toFixed(2) + ' ' + t('scoreHit1') : t('noScore');
      var tokens = totals.promptTokens + totals.completionTokens;
      body.appendChild(el('div', { class: 'cards' }, [
        card(t('questions'), number(q), q ? percent(totals.answered, q) + ' ' + t('answered') + ' · ' +
          percent(totals.unknown, q) + ' ' + t('unknownShort') : t('noneInPeriod')),
        card(t('ratings'), [thumb('up', t('thumbsUp')), document.createTextNode(' ' + number(totals.thumbsUp) + '   '),
          thumb('down', t('thumbsDown')), document.createTextNode(' ' + number(totals.thumbsDown))],
          rated ? percent(totals.thumbsUp, rated) + ' ' + t('positive') : t('noRatings')),
        card(t('answerTime'), seconds(a.answerTimes.p50Ms),
          a.answerTimes.answers ? t('median') + ' · p95 ' + seconds(a.answerTimes.p95Ms) + ' · ' + number(a.answerTimes.answers) + ' ' + t('answersWord') : t('noAnswers')),
        card(t('cost'), dollars(a.estimatedCostUsd), number(tokens) + ' ' + t('tokensWord') +
          (totals.audioSeconds ? ' · ' + minutes(totals.audioSeconds) + ' ' + t('ofAudio') : '') + (a.costComplete ? '' : ' · ' + t('unpriced'))),
        card(t('activeVersion'), version ? '#' + version.id : t('none'),
          version ? version.chunkCount + ' ' + t('chunks') + ' · ' + version.sourceCount + ' ' + t('fromSources') + ' · ' + score : t('noVersion')),
        card(t('health'), ready.ok ? t('ready') : t('notReady'), ready.body && ready.body.checks ? t('database') + ': ' + ready.body.checks.database : '')
      ]));

      var perDay = el('section', { class: 'panel' }, [el('h3', { text: t('perDay') })]);
      if (!q) perDay.appendChild(el('p', { class: 'empty', text: t('noQuestions') }));
      else {
        var names = overviewChoice.channel ? [overviewChoice.channel] : a.channels;
        var series = names.map(function (name) {
          return { name: name, values: a.days.map(function (d) {
            var found = d.byChannel.filter(function (c) { return c.channel === name; })[0];
            return found ? found.questions : 0;
          }) };
        });
        perDay.appendChild(stackedChart(a.days.map(function (d) { return d.day; }), series, t('questionsUnit')));
        perDay.appendChild(legend(series.map(function (s) {
          return { text: s.name + ' · ' + number(s.values.reduce(function (x, y) { return x + y; }, 0)) };
        })));
      }
      body.appendChild(perDay);

      var outcomes = el('section', { class: 'panel' }, [el('h3', { text: t('outcomes') })]);
      if (q) {
        var parts = [['answered', 'outAnswered', 0], ['unknown', 'outUnknown', 2], ['failed', 'outFailed', 3], ['refused', 'outRefused', 4]];
        var share = el('div', { class: 'share', role: 'img', 'aria-label': parts.map(function (p) {
          return t(p[1]) + ' ' + totals[p[0]]; }).join(', ') });
        parts.forEach(function (p) {
          if (totals[p[0]]) share.appendChild(el('span', { class: 'seg s' + p[2], title: t(p[1]) + ': ' + totals[p[0]],
            'data-share': String(Math.max(1, Math.round(1000 * totals[p[0]] / q))) }));
        });
        outcomes.appendChild(share);
        outcomes.appendChild(legend(parts.map(function (p) {
          return { cls: p[2], text: t(p[1]) + ' · ' + number(totals[p[0]]) + ' (' + percent(totals[p[0]], q) + ')' };
        })));
      } else outcomes.appendChild(el('p', { class: 'empty', text: t('noneInPeriod') }));
      body.appendChild(outcomes);

      var models = el('section', { class: 'panel' }, [el('h3', { text: t('byModel') })]);
      if (!a.models.length) models.appendChild(el('p', { class: 'empty', text: t('noModels') }));
      else {
        // The audio column only where something was transcribed (voice questions).
        var audio = a.models.some(function (m) { return m.audioSeconds; });
        var heads = [['provider', ''], ['model', ''], ['answersWord', 'num'], ['promptTokens', 'num'], ['completionTokens', 'num']]
          .concat(audio ? [['audioMinutes', 'num']] : []).concat([['estCost', 'num']]);
        models.appendChild(el('div', { class: 'table-wrap' }, [el('table', {}, [
          el('thead', {}, [el('tr', {}, heads.map(function (h) { return el('th', { class: h[1], text: t(h[0]) }); }))]),
          el('tbody', {}, a.models.map(function (m) {
            return el('tr', {}, [
              el('td', { text: m.provider }), el('td', { text: m.model || '–' }),
              el('td', { class: 'num', text: number(m.answers) }), el('td', { class: 'num', text: number(m.promptTokens) }),
              el('td', { class: 'num', text: number(m.completionTokens) }),
              audio ? el('td', { class: 'num', text: minutes(m.audioSeconds) }) : null,
              el('td', { class: 'num', text: m.estimatedCostUsd === null ? t('noPrice') : dollars(m.estimatedCostUsd) })
            ]);
          }))
        ])]));
        if (!a.costComplete) models.appendChild(el('p', { class: 'legend', text: t('pricingHint') }));
      }
      body.appendChild(models);
      // Widths from data attributes: the page's CSP allows no inline styles, so they are set from script.
      Array.prototype.forEach.call(body.querySelectorAll('.seg'), function (seg) {
        seg.style.flexGrow = seg.getAttribute('data-share');
      });
    }
    load();
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
      gql('{ activeVersion { id } sources { name type title language sections qaPairs updatedAt versions } }').then(function (data) {
        clear(list);
        if (!data.sources.length) { list.appendChild(el('p', { class: 'empty', text: t('noSources') })); return; }
        var search = el('input', { type: 'search', 'aria-label': t('search'), placeholder: t('search') });
        var count = el('span', { class: 'legend' });
        var body = el('tbody', {});
        var report = reporter();
        var columns = [['name', 'name'], ['titleCol', 'title'], ['type', 'type'], ['lang', 'language'],
          ['sections', 'sections', 'num'], ['qa', 'qaPairs', 'num'], ['updated', 'updatedAt'], ['versions', 'versions']];
        var previews = {}; // source name → the row under it showing its chunks, while open
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
              if (c[1] === 'versions') value = value.length ? versionList(value) : null;
              return el('td', { class: c[2] || '', text: value === null ? '–' : String(value) });
            });
            var toggle = el('button', { type: 'button', 'aria-expanded': String(Boolean(previews[s.name])),
              text: previews[s.name] ? t('hidePreview') : t('preview') });
            toggle.addEventListener('click', function () {
              var open = previews[s.name];
              if (open) { open.parentNode.removeChild(open); delete previews[s.name]; }
              else { previews[s.name] = preview(s, columns.length + 1); row.parentNode.insertBefore(previews[s.name], row.nextSibling); }
              toggle.setAttribute('aria-expanded', String(!open));
              toggle.textContent = open ? t('preview') : t('hidePreview');
            });
            cells.push(el('td', { class: 'actions' }, [toggle, confirmButton(t('remove'), t('confirmRemove'), function () {
              report.busy(t('uploading'));
              gql('mutation Remove($names: [String!]!) { removeSources(names: $names) { removed version { id status evaluation { decision } } } }', { names: [s.name] })
                .then(function (result) {
                  var r = result.removeSources;
                  report.ok(t('removed') + ': ' + s.name + (r.version ? ' · ' + outcome({ version: r.version }) : ''));
                  data.sources = data.sources.filter(function (other) { return other.name !== s.name; });
                  delete previews[s.name];
                  fill();
                }).catch(report.fail);
            })]));
            var row = el('tr', {}, cells); // the toggle's handler finds it here
            body.appendChild(row);
            if (previews[s.name]) body.appendChild(previews[s.name]);
          });
          count.textContent = rows.length + ' / ' + data.sources.length + ' ' + t('shown');
        }
        /** The row under a source's that lists its chunks in the active version, a page at a time. */
        function preview(s, width) {
          var box = el('div', { class: 'chunks', 'aria-label': t('preview') + ': ' + s.name, role: 'region' });
          var active = data.activeVersion;
          if (!active || s.versions.indexOf(active.id) < 0) {
            var held = s.versions.length ? ' ' + t('heldBy', { ids: versionList(s.versions) }) : '';
            box.appendChild(el('p', { class: 'empty', text: (active ? t('notInActive', { id: active.id }) : t('noActive')) + held }));
          } else {
            var items = el('div', { class: 'chunk-list' });
            var more = el('button', { type: 'button', text: t('more'), hidden: 'hidden' });
            var after = null;
            var page = function () {
              more.disabled = true;
              gql('query Chunks($name: String!, $version: ID, $after: String) { source(name: $name) { ' +
                'chunks(versionId: $version, first: 20, after: $after) { nodes { position kind title text question } ' +
                'pageInfo { hasNextPage endCursor } } } }', { name: s.name, version: active.id, after: after }).then(function (result) {
                var chunks = result.source ? result.source.chunks : { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
                chunks.nodes.forEach(function (c) { items.appendChild(chunkItem(c)); });
                if (!items.childNodes.length) items.appendChild(el('p', { class: 'empty', text: t('noChunks') }));
                after = chunks.pageInfo.endCursor;
                more.hidden = !chunks.pageInfo.hasNextPage;
                more.disabled = false;
              }).catch(function (failure) { failed(box, failure); });
            };
            more.addEventListener('click', page);
            box.appendChild(el('h4', { text: t('chunksInVersion', { id: active.id }) }));
            box.appendChild(items);
            box.appendChild(more);
            page();
          }
          return el('tr', { class: 'preview' }, [el('td', { colspan: String(width) }, [box])]);
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

  function versionList(ids) { return ids.map(function (id) { return '#' + id; }).join(', '); }

  /** One chunk of a source: where it stands, its section's title, a Q&A chunk's question, its text clipped. */
  function chunkItem(c) {
    var kind = c.kind === 'QA' ? t('chunkQa') : t('chunkText');
    var parts = [el('div', { class: 'meta', text: t('chunkN', { n: c.position + 1 }) + ' · ' + kind + (c.title ? ' · ' + c.title : '') })];
    if (c.question) parts.push(el('p', {}, [el('strong', { text: t('question') + ': ' }), document.createTextNode(c.question)]));
    var text = el('p', { class: 'clip' }, c.question ? [el('strong', { text: t('answer') + ': ' })] : []);
    text.appendChild(document.createTextNode(c.text));
    parts.push(text);
    return el('div', { class: 'chunk' }, parts);
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
    function languageSelect(chosen) {
      return el('select', { 'aria-label': t('lang') }, ['', 'en', 'ru'].map(function (code) {
        var option = el('option', { value: code, text: code || '–' });
        if (code === (chosen || '')) option.selected = true;
        return option;
      }));
    }
    var question = el('input', { type: 'text', 'aria-label': t('question'), placeholder: t('question'), required: 'required' });
    var source = el('input', { type: 'text', 'aria-label': t('expectedSource'), placeholder: t('expectedSource') });
    var answer = el('input', { type: 'text', 'aria-label': t('expectedAnswer'), placeholder: t('expectedAnswer') });
    var language = languageSelect(null);
    var form = el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault();
      add([{ question: question.value.trim(), expectedSource: source.value.trim() || null,
        expectedAnswer: answer.value.trim() || null, language: language.value || null }])
        .then(function () { question.value = source.value = answer.value = ''; question.focus(); })
        .catch(report.fail);
    } }, [question, source, answer, language, el('button', { type: 'submit', class: 'primary', text: t('addCheck') })]);

    // A check file is read by the server, as `otvet checks import` reads it: all its checks are added or none.
    var file = el('input', { type: 'file', accept: '.json,.yaml,.yml,.csv,.tsv', class: 'visually-hidden', id: 'checks-file' });
    file.addEventListener('change', function () {
      var chosen = file.files[0];
      file.value = '';
      if (!chosen) return;
      report.busy(t('importing'));
      gql('mutation Import($file: Upload!) { importChecks(file: $file) { id } }', {}, { file: chosen })
        .then(function (data) { report.ok(t('imported', { n: data.importChecks.length })); load(); })
        .catch(report.fail);
    });
    var importer = el('label', { for: 'checks-file', class: 'button', tabindex: '0', text: t('importChecks') });
    importer.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); file.click(); }
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
    main.appendChild(el('section', { class: 'panel' }, [form, el('div', { class: 'toolbar' }, [importer, file, exporter, runner]),
      el('p', { class: 'legend', text: t('checksFile') })]));
    main.appendChild(report.node);
    main.appendChild(results);
    main.appendChild(list);

    function load() {
      gql('{ checks { ' + CHECK_FIELDS + ' } }').then(function (data) {
        current = data.checks;
        clear(list);
        if (!current.length) { list.appendChild(el('p', { class: 'empty', text: t('noChecks') })); return; }
        list.appendChild(table(['question', 'expectedSource', 'expectedAnswer', 'lang', 'actions'], current.map(checkRow)));
      }).catch(function (failure) { failed(list, failure); });
    }

    /** A check's row; its Edit button turns the cells into fields (Enter saves, Escape cancels). */
    function checkRow(c) {
      var row = el('tr', {});
      var edit = el('button', { type: 'button', text: t('edit') });
      var save = null; // while editing: the Save button
      function show() {
        save = null;
        clear(row);
        [el('td', { text: c.question }), el('td', { text: c.expectedSource || '–' }),
          el('td', { text: c.expectedAnswer || '–' }), el('td', { text: c.language || '–' }),
          el('td', { class: 'actions' }, [edit, confirmButton(t('remove'), t('confirmRemove'), function () {
            gql('mutation R($ids: [ID!]!) { removeChecks(ids: $ids) }', { ids: [c.id] })
              .then(function (result) { report.ok(t('removedN', { n: result.removeChecks })); load(); }).catch(report.fail);
          })])
        ].forEach(function (cell) { row.appendChild(cell); });
      }
      function done() { show(); edit.focus(); }
      edit.addEventListener('click', function () {
        var fields = [
          el('input', { type: 'text', 'aria-label': t('question'), value: c.question }),
          el('input', { type: 'text', 'aria-label': t('expectedSource'), value: c.expectedSource || '' }),
          el('input', { type: 'text', 'aria-label': t('expectedAnswer'), value: c.expectedAnswer || '' }),
          languageSelect(c.language)
        ];
        save = el('button', { type: 'button', class: 'primary', text: t('save'), onclick: commit });
        clear(row);
        fields.forEach(function (field) { row.appendChild(el('td', {}, [field])); });
        row.appendChild(el('td', { class: 'actions' }, [save, el('button', { type: 'button', text: t('cancel'), onclick: done })]));
        fields[0].focus();
        function commit() {
          if (save.disabled) return;
          save.disabled = true;
          var check = { question: fields[0].value.trim(), expectedSource: fields[1].value.trim() || null,
            expectedAnswer: fields[2].value.trim() || null, language: fields[3].value || null };
          gql('mutation U($id: ID!, $check: CheckInput!) { updateCheck(id: $id, check: $check) { ' + CHECK_FIELDS + ' } }',
            { id: c.id, check: check })
            .then(function (data) { Object.assign(c, data.updateCheck); report.ok(t('checkSaved')); done(); })
            .catch(function (failure) { save.disabled = false; report.fail(failure); });
        }
      });
      row.addEventListener('keydown', function (event) {
        if (!save) return;
        if (event.key === 'Escape') { event.preventDefault(); done(); }
        else if (event.key === 'Enter' && event.target.tagName !== 'BUTTON') { event.preventDefault(); save.click(); }
      });
      show();
      return row;
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
    var words = el('input', { type: 'search', name: 'text', 'aria-label': t('searchConversations'), placeholder: t('searchConversations') });
    var rating = el('select', { 'aria-label': t('ratingFilter') }, [['', t('anyRating')], ['1', t('ratedUp')], ['-1', t('ratedDown')]].map(function (o) {
      return el('option', { value: o[0], text: o[1] });
    }));
    var list = el('div', {});
    var detail = el('div', {});
    var after = null;
    var body = el('tbody', {});
    var more = el('button', { type: 'button', text: t('more'), hidden: 'hidden' });
    main.appendChild(el('form', { class: 'inline', onsubmit: function (event) {
      event.preventDefault(); after = null; clear(body); load();
    } }, [words, channel, external, since, rating, el('button', { type: 'submit', text: t('filter') })]));
    main.appendChild(list);
    main.appendChild(detail);
    list.appendChild(table(['started', 'channel', 'user', 'actions'], []));
    list.querySelector('table').replaceChild(body, list.querySelector('tbody'));
    list.appendChild(more);
    more.addEventListener('click', load);

    function load() {
      var filter = { channel: channel.value || null, externalId: external.value.trim() || null,
        since: since.value ? since.value + 'T00:00:00Z' : null, text: words.value.trim() || null,
        rating: rating.value ? Number(rating.value) : null };
      var narrowed = Object.keys(filter).some(function (name) { return filter[name] !== null; });
      gql('query C($filter: ConversationFilter, $after: String) { conversations(filter: $filter, first: 20, after: $after) ' +
        '{ nodes { id startedAt user { channel externalId displayName } } pageInfo { hasNextPage endCursor } } }',
        { filter: filter, after: after }).then(function (data) {
        var page = data.conversations;
        if (!page.nodes.length && !after) {
          body.appendChild(el('tr', {}, [el('td', { colspan: '4', class: 'empty',
            text: t('noConversations') + (narrowed ? ' ' + t('tryOther') : '') })]));
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
