/*
 * console.js - the idnode console (docs/console.md): log in with
 * POST /identity/token (the token kept in sessionStorage, sent as Bearer),
 * then the pages overview, industries, enterprises, identifiers and health,
 * drawn from GET /api/stats, GET /api/search and GET /api/console/health.
 * Charts are SVG drawn here (no library); text in English and Chinese
 * (navigator.language chooses, the switch overrides); numbers through
 * Intl.NumberFormat. Every value from the node goes into the page as text.
 */
'use strict';
(function () {
  const DAYS = 30;
  const TEXT = {
    en: {
      title: 'idnode console', login: 'Log in', logout: 'Log out', username: 'User name',
      password: 'Password', overview: 'Overview', industries: 'Industries',
      enterprises: 'Enterprises', identifiers: 'Identifiers', health: 'Health',
      held: 'Identifiers held', registered: 'Registrations', resolutions: 'Resolutions',
      regPerDay: 'Registrations per day', resPerDay: 'Resolutions per day',
      nEnterprises: 'Enterprises', nIndustries: 'Industries', last: 'last %d days',
      total: 'total', industry: 'Industry', enterprise: 'Enterprise', trend: 'Trend',
      top: 'Top enterprises by resolutions', topInd: 'Industries by resolutions',
      search: 'Search', query: 'Query (TYPE=VALUE, * at the end: any)', record: 'record page',
      none: 'Nothing found.', more: 'More', uptime: 'Uptime', threads: 'Threads',
      cache: 'Resolver cache (entries / hits / misses)', lag: 'Replication lag (seconds / transactions; 0 when not a mirror)',
      store: 'Store size', storeIds: 'Identifiers stored', conns: 'Open connections',
      quota: 'Quota refusals', requests: 'Requests answered',
      badLogin: 'Login failed: ', loading: 'Loading…', operatorOnly: 'Operators only.',
      choose: 'Choose', role_1: 'operator', role_2: 'enterprise', demo: 'demo data',
      modified: 'Modified', deleted: 'Deleted', failedAuth: 'Failed logins',
      source: 'Figures', src_own: 'this node\'s own', src_reported: 'reported by child nodes'
    },
    zh: {
      title: 'idnode 控制台', login: '登录', logout: '退出', username: '用户名',
      password: '密码', overview: '总览', industries: '行业', enterprises: '企业',
      identifiers: '标识', health: '运行状态', held: '标识总量', registered: '注册量',
      resolutions: '解析量', regPerDay: '每日注册量', resPerDay: '每日解析量',
      nEnterprises: '企业数', nIndustries: '行业数', last: '最近 %d 天', total: '合计',
      industry: '行业', enterprise: '企业', trend: '趋势', top: '企业解析量排行',
      topInd: '行业解析量排行', search: '搜索', query: '查询（类型=值，末尾 * 表示任意）',
      record: '记录页', none: '没有找到。', more: '更多', uptime: '运行时间', threads: '线程数',
      cache: '解析缓存（条目 / 命中 / 未命中）', lag: '复制延迟（秒 / 事务数；非镜像为 0）', store: '存储大小',
      storeIds: '已存储标识', conns: '当前连接', quota: '配额拒绝次数', requests: '已应答请求',
      badLogin: '登录失败：', loading: '加载中…',
      operatorOnly: '仅限运营者。', choose: '选择', role_1: '运营者', role_2: '企业',
      demo: '演示数据', modified: '修改量', deleted: '删除量', failedAuth: '认证失败',
      source: '数据来源', src_own: '本节点', src_reported: '下级节点上报'
    }
  };
  const store = window.sessionStorage;
  let lang = store.getItem('idn.lang') ||
      ((navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en');
  const t = (k, n) => (TEXT[lang][k] || k).replace('%d', n);
  const fmt = (n) => new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US').format(n);
  const $ = (id) => document.getElementById(id);

  /* An element: h('td', {class: 'num'}, 'text', child...). Text is text, never HTML. */
  function h(tag, attrs, ...kids) {
    const svg = ['svg', 'rect', 'text', 'line', 'polyline', 'circle', 'g', 'title'].includes(tag);
    const e = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag)
                  : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {}))
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const k of kids.flat())
      if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  /* ---- the API ---- */

  /* GET path with the token (anonymous: without, as /api/search takes no bearer token). */
  async function api(path, anonymous) {
    const headers = anonymous ? {} : {Authorization: 'Bearer ' + store.getItem('idn.token')};
    const r = await fetch(path, {headers});
    if (r.status === 401) { logout(); throw new Error('401'); }
    const ct = r.headers.get('content-type') || '';
    const body = ct.startsWith('application/json') ? await r.json() : await r.text();
    if (!r.ok) throw new Error((body && body.message) || r.status);
    return body;
  }

  const day = (d) => d.toISOString().slice(0, 10);
  function period() {
    const to = new Date();
    const from = new Date(to.getTime() - (DAYS - 1) * 86400000);
    const days = [];
    for (let i = 0; i < DAYS; i++) days.push(day(new Date(from.getTime() + i * 86400000)));
    return {from: day(from), to: day(to), days};
  }
  const resolved = (r) => Object.keys(r).filter((k) => k.startsWith('resolved_'))
                                        .reduce((s, k) => s + r[k], 0);

  /*
   * An enterprise is a prefix of three segments or more (88.100.1) not under 0
   * (0.NA holds the prefix records); its industry is its parent (88.100). A
   * top-level prefix (88), an industry's own (88.100), 0.NA and 'other' count
   * in the totals but are neither (docs/console.md).
   */
  const isEnterprise = (r) => /^[^.]+\.[^.]+\./.test(r.prefix) && !r.prefix.startsWith('0.');

  /* Which figures an operator sees: the node's own, or its children's reports. */
  const source = () => (store.getItem('idn.source') === 'reported' ? 'reported' : 'own');

  /* The prefix rows of the last DAYS days this account may see. */
  async function rows() {
    const p = period();
    const q = `from=${p.from}&to=${p.to}&granularity=day`;
    const me = JSON.parse(store.getItem('idn.me'));
    if (me.role === 1)
      return {p, rows: (await api(`/api/stats?${q}&source=${source()}`)).rows};
    const all = [];
    for (const pre of me.prefixes)
      all.push(...(await api(`/api/stats?${q}&prefix=${encodeURIComponent(pre)}`)).rows);
    return {p, rows: all};
  }

  /* Sums rows per key(row): {key: {heldNow, registered, resolutions, ..., regDay, resDay}} */
  function group(rs, key) {
    const g = {};
    for (const r of rs) {
      const k = key(r);
      const e = g[k] || (g[k] = {registered: 0, resolutions: 0, modified: 0, deleted: 0,
                                 auth_failed: 0, held: {}, regDay: {}, resDay: {}});
      e.registered += r.registered; e.modified += r.modified; e.deleted += r.deleted;
      e.auth_failed += r.auth_failed;
      const n = resolved(r);
      e.resolutions += n;
      e.regDay[r.period] = (e.regDay[r.period] || 0) + r.registered;
      e.resDay[r.period] = (e.resDay[r.period] || 0) + n;
      const l = e.held[r.prefix];
      if (!l || l[0] <= r.period) e.held[r.prefix] = [r.period, r.held];
    }
    /* Identifiers held now: each prefix's of its latest day, summed. */
    for (const e of Object.values(g))
      e.heldNow = Object.values(e.held).reduce((a, [, n]) => a + n, 0);
    return g;
  }

  /* ---- charts ---- */

  /* A bar chart of values per day, with its total; data-* say what it shows. */
  function bars(title, days, perDay, kind) {
    const W = 600, H = 220, B = 24, T = 26;
    const vals = days.map((d) => perDay[d] || 0);
    const max = Math.max(1, ...vals), sum = vals.reduce((a, b) => a + b, 0);
    /* Room for the axis label at a phone's text size (18 units, ~11 a digit). */
    const L = Math.max(44, 10 + 11 * fmt(max).length);
    const bw = (W - L - 8) / vals.length;
    const svg = h('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title,
                          'data-kind': kind, 'data-points': vals.length, 'data-total': sum});
    svg.append(h('text', {x: W - 8, y: 16, 'text-anchor': 'end', class: 'sum'},
                 `${t('total')} ${fmt(sum)}`));
    svg.append(h('line', {x1: L, y1: H - B, x2: W - 8, y2: H - B, class: 'axis'}));
    svg.append(h('text', {x: L - 4, y: T + 4, 'text-anchor': 'end'}, fmt(max)));
    svg.append(h('text', {x: L - 4, y: H - B, 'text-anchor': 'end'}, '0'));
    vals.forEach((v, i) => {
      const bh = (H - B - T) * v / max;
      svg.append(h('rect', {class: 'bar', x: (L + i * bw + 1).toFixed(1),
                            y: (H - B - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1),
                            height: bh.toFixed(1), 'data-day': days[i], 'data-value': v},
                   h('title', {}, `${days[i]}: ${fmt(v)}`)));
    });
    /* First, middle and last day, kept inside the chart at any text size. */
    [[0, 'start', L], [Math.floor(vals.length / 2), 'middle'], [vals.length - 1, 'end', W - 8]]
      .forEach(([i, anchor, x]) => svg.append(h('text', {
        x: x === undefined ? L + i * bw + bw / 2 : x, y: H - 4, 'text-anchor': anchor},
        days[i].slice(5))));
    return h('div', {class: 'card chart'}, h('h2', {}, title), svg);
  }

  /* A small trend line (no axes) of values per day. */
  function spark(days, perDay) {
    const W = 120, H = 28;
    const vals = days.map((d) => perDay[d] || 0), max = Math.max(1, ...vals);
    const pts = vals.map((v, i) => `${(i * W / (vals.length - 1)).toFixed(1)},` +
                                   `${(H - 2 - (H - 4) * v / max).toFixed(1)}`).join(' ');
    return h('svg', {viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'spark',
                     'data-points': vals.length}, h('polyline', {class: 'line', points: pts}));
  }

  const card = (n, label, kind) =>
    h('div', {class: 'card total', 'data-total': kind}, h('div', {class: 'n'}, fmt(n)),
      h('div', {class: 'l'}, label));

  /* A table: head [[text, numeric?]...], body rows of cells (text or nodes). */
  function table(head, body, cls) {
    /* In a box that scrolls sideways when the table is wider than the screen. */
    return h('div', {class: 'scroll'}, h('table', {class: cls || ''},
             h('thead', {}, h('tr', {}, head.map(([s, num]) => h('th', {class: num ? 'num' : ''}, s)))),
             h('tbody', {}, body.map((cells) => h('tr', {}, cells.map((c, i) =>
               h('td', {class: head[i][1] ? 'num' : ''}, typeof c === 'number' ? fmt(c) : c)))))));
  }

  /* ---- pages ---- */

  /* The operator's choice of figures (a select; the page is drawn again). */
  function sourceSwitch() {
    const me = JSON.parse(store.getItem('idn.me'));
    if (me.role !== 1) return null;
    const sel = h('select', {id: 'source', 'aria-label': t('source')},
                  ['own', 'reported'].map((s) => h('option', {value: s}, t('src_' + s))));
    sel.value = source();
    sel.onchange = () => { store.setItem('idn.source', sel.value); show(); };
    return h('label', {class: 'source'}, `${t('source')}: `, sel);
  }

  async function overview(view) {
    const {p, rows: rs} = await rows();
    const all = group(rs, () => 'all').all ||
                {heldNow: 0, registered: 0, resolutions: 0, regDay: {}, resDay: {}};
    const er = rs.filter(isEnterprise);
    const ents = group(er, (r) => r.prefix), inds = group(er, (r) => r.industry);
    view.append(h('div', {class: 'row-form'}, sourceSwitch(),
                  h('span', {class: 'muted'}, t('last', DAYS), ` (${p.from} – ${p.to})`)),
      h('div', {class: 'totals'},
        card(all.heldNow || 0, t('held'), 'held'),
        card(all.registered || 0, t('registered'), 'registered'),
        card(all.resolutions || 0, t('resolutions'), 'resolutions'),
        card(Object.keys(ents).length, t('nEnterprises'), 'enterprises'),
        card(Object.keys(inds).length, t('nIndustries'), 'industries')),
      h('div', {class: 'charts'},
        bars(t('regPerDay'), p.days, all.regDay || {}, 'registered'),
        bars(t('resPerDay'), p.days, all.resDay || {}, 'resolutions')));
  }

  /* Industries (by = 'industry') or enterprises (by = 'prefix'): a table, or one of them. */
  async function breakdown(view, by, one) {
    const {p, rows: all} = await rows();
    const rs = all.filter(isEnterprise), g = group(rs, (r) => r[by]);
    const route = by === 'industry' ? 'industries' : 'enterprises';
    if (one && g[one]) {
      const e = g[one];
      view.append(h('h1', {}, `${t(by === 'industry' ? 'industry' : 'enterprise')} ${one}`),
        h('div', {class: 'totals'}, card(e.heldNow, t('held'), 'held'),
          card(e.registered, t('registered'), 'registered'),
          card(e.resolutions, t('resolutions'), 'resolutions'),
          card(e.modified, t('modified'), 'modified')),
        h('div', {class: 'charts'}, bars(t('regPerDay'), p.days, e.regDay, 'registered'),
          bars(t('resPerDay'), p.days, e.resDay, 'resolutions')));
      if (by === 'industry') {
        const sub = group(rs.filter((r) => r.industry === one), (r) => r.prefix);
        view.append(topList(sub, t('top'), 'enterprises'));
      } else {
        view.append(h('p', {}, h('a', {href: `#identifiers/${encodeURIComponent(one)}`},
                                 `${t('identifiers')} →`)));
      }
      return;
    }
    view.append(h('div', {class: 'row-form'}, sourceSwitch()),
                topList(g, by === 'industry' ? t('topInd') : t('top'), route, p.days));
  }

  function topList(g, title, route, days) {
    const names = Object.keys(g).sort((a, b) => g[b].resolutions - g[a].resolutions);
    const head = [[t(route === 'industries' ? 'industry' : 'enterprise')], [t('held'), 1],
                  [t('registered'), 1], [t('resolutions'), 1]];
    if (days) head.push([t('trend')]);
    const body = names.map((n) => {
      const c = [h('a', {href: `#${route}/${encodeURIComponent(n)}`}, n), g[n].heldNow,
                 g[n].registered, g[n].resolutions];
      if (days) c.push(spark(days, g[n].resDay));
      return c;
    });
    return h('div', {class: 'card'}, h('h2', {}, title), table(head, body, 'top ' + route));
  }

  async function identifiers(view, prefix) {
    const me = JSON.parse(store.getItem('idn.me'));
    const pre = prefix || (me.prefixes && me.prefixes[0]) || '';
    const inPrefix = h('input', {id: 'search-prefix', value: pre, placeholder: '88.100.1', size: 12});
    const inQ = h('input', {id: 'search-q', value: 'URL=*', size: 28, 'aria-label': t('query')});
    const out = h('div', {id: 'search-out'});
    const form = h('form', {class: 'row-form'}, inPrefix, inQ,
                   h('button', {type: 'submit'}, t('search')));
    async function run(cursor) {
      let url = `/api/search?limit=50&q=${encodeURIComponent(inQ.value)}`;
      if (inPrefix.value) url += `&prefix=${encodeURIComponent(inPrefix.value)}`;
      if (cursor) url += `&cursor=${encodeURIComponent(cursor)}`;
      if (!cursor) out.textContent = t('loading');
      const res = await api(url, true);
      if (!cursor) out.textContent = '';
      if (!res.handles.length && !cursor) out.append(h('p', {}, t('none')));
      out.append(h('ul', {class: 'handles'}, res.handles.map((hd) =>
        h('li', {}, h('code', {}, hd), ' ',
          h('a', {href: '/' + hd.split('/').map(encodeURIComponent).join('/') + '?noredirect',
                  target: '_blank', rel: 'noopener'}, t('record'))))));
      if (res.next) {
        const more = h('button', {type: 'button'}, t('more'));
        more.onclick = () => { more.remove(); run(res.next).catch(fail); };
        out.append(more);
      }
    }
    form.onsubmit = (ev) => { ev.preventDefault(); run().catch(fail); };
    view.append(h('div', {class: 'card'}, h('h2', {}, t('identifiers')), form, out));
    if (pre) await run();
  }

  /* Prometheus text: {name: [[labels, value]...]} */
  function metrics(text) {
    const m = {};
    for (const line of text.split('\n')) {
      const x = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (x) (m[x[1]] = m[x[1]] || []).push([x[2] || '', Number(x[3])]);
    }
    return m;
  }

  async function health(view) {
    const me = JSON.parse(store.getItem('idn.me'));
    if (me.role !== 1) { view.append(h('p', {}, t('operatorOnly'))); return; }
    const m = metrics(await api('/api/console/health'));
    const one = (k) => (m[k] || []).reduce((s, [, v]) => s + v, 0);
    const up = Math.max(0, Date.now() / 1000 - one('idnode_start_time_seconds'));
    const d = Math.floor(up / 86400), hh = Math.floor(up % 86400 / 3600),
          mm = Math.floor(up % 3600 / 60);
    const lag = `${fmt(one('idnode_mirror_lag_seconds'))} s / ${fmt(one('idnode_mirror_lag_transactions'))}`;
    const rowsH = [
      [t('uptime'), `${d}d ${hh}h ${mm}m`, 'uptime'],
      [t('threads'), fmt(one('idnode_process_threads')), 'threads'],
      [t('requests'), fmt(one('idnode_requests_total')), 'requests'],
      [t('conns'), fmt(one('idnode_open_connections')), 'connections'],
      [t('cache'), [one('idnode_resolver_cache_entries'), one('idnode_resolver_cache_hits_total'),
                    one('idnode_resolver_cache_misses_total')].map(fmt).join(' / '), 'cache'],
      [t('lag'), lag, 'lag'],
      [t('store'), `${fmt(Math.round(one('idnode_store_bytes') / 1024))} KiB`, 'store'],
      [t('storeIds'), fmt(one('idnode_store_identifiers')), 'identifiers'],
      [t('quota'), fmt(one('idnode_quota_refusals_total')), 'quota'],
    ];
    view.append(h('div', {class: 'card'}, h('h2', {}, t('health')),
      h('table', {class: 'health'}, h('tbody', {}, rowsH.map(([k, v, id]) =>
        h('tr', {'data-metric': id}, h('th', {}, k), h('td', {class: 'num'}, v)))))));
  }

  /* ---- frame: login, navigation, language ---- */

  const PAGES = [['overview', overview, 0], ['industries', (v, a) => breakdown(v, 'industry', a), 1],
                 ['enterprises', (v, a) => breakdown(v, 'prefix', a), 0],
                 ['identifiers', identifiers, 0], ['health', health, 1]];

  function fail(e) {
    if (e.message === '401') return;
    $('view').append(h('p', {class: 'error', role: 'alert'}, String(e.message || e)));
  }

  function applyText() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
  }

  let showGen = 0;

  /* Draws the page of location.hash; a later call (a click meanwhile) wins. */
  async function show() {
    const gen = ++showGen;
    applyText();
    const token = store.getItem('idn.token');
    $('login').hidden = !!token;
    $('logout').hidden = !token;
    const view = $('view');
    view.setAttribute('aria-busy', 'true');
    view.textContent = '';
    $('nav').textContent = '';
    $('who').textContent = '';
    if (!token) { view.removeAttribute('data-page'); return; }
    const me = JSON.parse(store.getItem('idn.me'));
    $('who').textContent = `${me.name} (${t('role_' + me.role)})`;
    const [page, arg] = (location.hash.slice(1) || 'overview').split('/');
    const pages = PAGES.filter(([, , op]) => !op || me.role === 1);
    const cur = pages.find(([n]) => n === page) || pages[0];
    for (const [n] of pages)
      $('nav').append(h('a', {href: '#' + n, class: n === cur[0] ? 'on' : '', 'data-page': n}, t(n)));
    const body = h('div', {});
    try {
      await cur[1](body, arg ? decodeURIComponent(arg) : undefined);
    } catch (e) {
      if (e.message === '401') return;
      body.append(h('p', {class: 'error', role: 'alert'}, String(e.message || e)));
    }
    if (gen !== showGen) return;
    view.textContent = '';
    view.append(body);
    view.setAttribute('data-page', cur[0]);
    view.setAttribute('aria-busy', 'false');
  }

  function logout() {
    store.removeItem('idn.token');
    store.removeItem('idn.me');
    show();
  }

  $('login').onsubmit = async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      const r = await fetch('/identity/token', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({username: $('user').value, password: $('pass').value})});
      const b = await r.json();
      if (b.status !== 1) throw new Error(b.message || r.status);
      store.setItem('idn.token', b.data.token);
      const me = await api('/api/console/me');
      store.setItem('idn.me', JSON.stringify(me));
      $('pass').value = '';
      show();
    } catch (e) {
      $('login-error').textContent = t('badLogin') + (e.message || e);
    }
  };
  $('logout').onclick = logout;
  $('lang').onclick = () => { lang = lang === 'zh' ? 'en' : 'zh'; store.setItem('idn.lang', lang); show(); };
  window.addEventListener('hashchange', show);
  show();
})();
