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
      shown: 'shown', database: 'database', perDayLegend: 'questions a day, by UTC date'
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
      shown: 'показано', database: 'база данных', perDayLegend: 'вопросов в день, по дате UTC'
    }
  };
  var LANG_KEY = 'otvet-console-language';
  var lang = localStorage.getItem(LANG_KEY) || ((navigator.language || 'en').toLowerCase().indexOf('ru') === 0 ? 'ru' : 'en');
  var session = null; // {username, csrf}
  var app = document.getElementById('app');

  function t(key) { return (TEXT[lang] || TEXT.en)[key] || TEXT.en[key] || key; }

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

  function gql(query, variables) {
    return fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session ? session.csrf : '' },
      body: JSON.stringify({ query: query, variables: variables || {} })
    }).then(function (response) { return response.json(); }).then(function (body) {
      var errors = body.errors || [];
      if (errors.some(function (e) { return (e.extensions || {}).code === 'UNAUTHENTICATED'; })) {
        session = null;
        renderSignIn(t('sessionEnded'));
        throw new Error(t('sessionEnded'));
      }
      if (errors.length) throw new Error(errors[0].message);
      return body.data;
    });
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

  var PAGES = { overview: renderOverview, sources: renderSources };

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

  function renderSources() {
    var main = frame('sources');
    main.appendChild(el('h2', { text: t('sources') }));
    gql('{ sources { name type title language sections qaPairs updatedAt } }').then(function (data) {
      if (!data.sources.length) { main.appendChild(el('p', { class: 'empty', text: t('noSources') })); return; }
      var search = el('input', { type: 'search', 'aria-label': t('search'), placeholder: t('search') });
      var count = el('span', { class: 'legend' });
      var body = el('tbody', {});
      var columns = [['name', 'name'], ['titleCol', 'title'], ['type', 'type'], ['lang', 'language'],
        ['sections', 'sections', 'num'], ['qa', 'qaPairs', 'num'], ['updated', 'updatedAt']];
      function fill() {
        var wanted = search.value.trim().toLowerCase();
        clear(body);
        var rows = data.sources.filter(function (s) {
          return !wanted || s.name.toLowerCase().indexOf(wanted) >= 0 || s.title.toLowerCase().indexOf(wanted) >= 0;
        });
        rows.forEach(function (s) {
          body.appendChild(el('tr', {}, columns.map(function (c) {
            var value = s[c[1]];
            if (c[1] === 'updatedAt') value = String(value).slice(0, 16).replace('T', ' ');
            return el('td', { class: c[2] || '', text: value === null ? '–' : String(value) });
          })));
        });
        count.textContent = rows.length + ' / ' + data.sources.length + ' ' + t('shown');
      }
      search.addEventListener('input', fill);
      main.appendChild(el('div', { class: 'toolbar' }, [search, count]));
      main.appendChild(el('div', { class: 'panel table-wrap' }, [el('table', {}, [
        el('thead', {}, [el('tr', {}, columns.map(function (c) { return el('th', { class: c[2] || '', text: t(c[0]) }); }))]),
        body
      ])]));
      fill();
    }).catch(function (failure) { failed(main, failure); });
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
