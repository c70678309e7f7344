// The Liminal console: plain browser JavaScript over the console's JSON API
// (/api/...), which returns the same objects as `liminal ... --json`.
const view = document.getElementById('view');
const live = document.getElementById('live');
let onChannels = () => {};

const h = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
};

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body;
}

function duration(ms) {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  let rest = Math.floor(ms / 1000);
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (rest >= size || (parts.length > 0 && parts.length < 2)) { parts.push(`${Math.floor(rest / size)}${unit}`); rest %= size; }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
const time = (ms) => (ms === undefined ? '—' : new Date(ms).toISOString());
const phaseOf = (row) => `${row.phase}${row.inFlight ? ', in flight' : ''}${row.phaseSource === 'derived' ? ' (derived)' : ''}`;
const value = (v) => (v === undefined ? '(none)' : v.kind === 'json' ? JSON.stringify(v.value) : `0x${v.hex}`);

function table(testid, head, rows) {
  return h('table', { 'data-testid': testid },
    h('thead', {}, h('tr', {}, head.map((title) => h('th', {}, title)))),
    h('tbody', {}, rows));
}

async function conversations(params) {
  const form = h('form', { class: 'filters', 'data-testid': 'filters' },
    h('label', {}, 'phase ', h('select', { name: 'phase', 'data-testid': 'filter-phase' },
      ['', 'created', 'active', 'completing', 'closed', 'failed'].map((p) => { const o = h('option', { value: p }, p || 'any'); if (p === (params.get('phase') ?? '')) o.selected = true; return o; }))),
    h('label', {}, 'stuck for more than ', h('input', { name: 'stuck', size: 6, placeholder: '5m', value: params.get('stuck') ?? '', 'data-testid': 'filter-stuck' })),
    h('label', {}, 'id prefix ', h('input', { name: 'prefix', size: 24, value: params.get('prefix') ?? '', 'data-testid': 'filter-prefix' })),
    h('button', { type: 'submit', 'data-testid': 'filter-apply' }, 'Apply'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, val] of new FormData(form)) if (val) next.set(key, String(val));
    location.hash = `#/conversations?${next}`;
  });
  form.querySelector('select').addEventListener('change', () => form.requestSubmit());
  view.replaceChildren(h('h1', {}, 'Conversations'), form, h('p', {}, 'loading…'));
  const page = await api(`/api/conversations?${params}`);
  const rows = page.rows.map((row) => h('tr', { 'data-testid': 'conversation-row', 'data-phase': row.phase },
    h('td', {}, h('a', { href: `#/conversation/${encodeURIComponent(row.id)}` }, row.id)),
    h('td', { class: `phase-${row.phase}` }, phaseOf(row)),
    h('td', {}, row.version ?? '—'),
    h('td', {}, duration(row.ageMs)),
    h('td', {}, row.idleMs === undefined ? '—' : `${duration(row.idleMs)} ago`),
    h('td', { class: 'num' }, row.steps),
    h('td', {}, row.failure ?? '—')));
  const more = page.next === undefined ? [] : [h('p', { class: 'more' }, h('a', { 'data-testid': 'more', href: `#/conversations?${withParam(params, 'after', page.next)}` }, 'next page →'))];
  view.replaceChildren(h('h1', {}, 'Conversations'), form,
    rows.length === 0 ? h('p', { 'data-testid': 'empty' }, 'no conversations match') : table('conversations', ['id', 'phase', 'version', 'age', 'last activity', 'steps', 'failure'], rows),
    ...more);
}

function withParam(params, key, val) {
  const next = new URLSearchParams(params);
  next.set(key, val);
  return next;
}

async function conversation(id) {
  view.replaceChildren(h('h1', {}, id), h('p', {}, 'loading…'));
  const c = await api(`/api/conversations/${encodeURIComponent(id)}`);
  const describe = (e) => {
    switch (e.kind) {
      case 'received': return ['received', ''];
      case 'started': return ['started', ''];
      case 'step': return [`step ${e.name ?? `#${e.stepIndex}`}`, value(e.output) + (e.compensation ? ` (undo: ${e.compensation})` : '')];
      case 'timer': return [`sleep ${e.name}`, `until ${time(e.wakeAt)}`];
      case 'reply': return ['reply', value(e.reply)];
      case 'finished': return ['finished', ''];
      case 'error': return ['error', e.error];
      case 'compensationPlan': return ['compensation plan', `${e.compensations.join(' → ') || '(nothing to undo)'}${e.cause ? `, after ${e.cause}` : ''}`];
      case 'compensationStarted': return [`compensation ${e.compensation}`, 'started'];
      case 'compensationOutcome': return [`compensation ${e.compensation}`, value(e.outcome)];
      case 'created': return ['created', `version ${e.version}${e.deadline ? `, deadline ${time(e.deadline)}` : ''}`];
      case 'phase': return [`phase ${e.phase}`, [e.failure, e.cause].filter(Boolean).join(': ')];
      case 'participantExited': return ['participant exited', e.participant];
      case 'logged': return ['log', e.entry.kind === 'json' ? [e.entry.value?.kind, e.entry.value?.envelope?.id, e.entry.value?.participant, e.entry.value?.compensation].filter((x) => typeof x === 'string').join(' ') : value(e.entry)];
      default: return [e.kind, ''];
    }
  };
  const rows = c.timeline.map((e) => {
    const [record, detail] = describe(e);
    return h('tr', { 'data-testid': 'timeline-row', 'data-kind': e.kind },
      h('td', { class: 'num' }, e.seq), h('td', {}, time(e.receivedAt ?? e.at ?? e.createdAt ?? e.exitedAt) === '—' ? '' : time(e.receivedAt ?? e.at ?? e.createdAt ?? e.exitedAt)),
      h('td', { class: 'mono' }, e.messageId ?? (e.kind.startsWith('compensation') ? 'compensation run' : 'conversation')), h('td', {}, record),
      h('td', { class: 'num', 'data-testid': 'step-took' }, e.kind === 'step' && e.durationMs !== undefined ? duration(e.durationMs) : ''), h('td', {}, h('code', {}, detail)));
  });
  view.replaceChildren(
    h('h1', { 'data-testid': 'conversation-id' }, c.id),
    h('p', { class: 'summary', 'data-testid': 'conversation-summary' },
      h('span', { class: `phase-${c.phase}`, 'data-testid': 'conversation-phase', 'data-phase': c.phase }, phaseOf(c)), c.failure ? ` (${c.failure})` : '', `, version ${c.version ?? '—'}`, h('br'),
      `created ${time(c.createdAt)} (age ${duration(c.ageMs)}), last activity ${time(c.lastActivityAt)}`, h('br'),
      `${c.messages} messages, ${c.steps} steps, ${c.compensations} compensations, ${c.journalLength} journal records`,
      ...c.pendingTimers.map((t) => [h('br'), `timer pending: ${t.name} (message ${t.messageId}) wakes at ${time(t.wakeAt)}`])),
    table('timeline', ['seq', 'time', 'message', 'record', 'took', 'detail'], rows));
}

function channelsTable(rows) {
  return table('channels', ['channel', 'partitions', 'published', 'consumers', 'max lag'], rows.map((row) =>
    h('tr', { 'data-testid': 'channel-row' },
      h('td', {}, h('a', { href: `#/channel/${encodeURIComponent(row.name)}` }, row.name)),
      h('td', { class: 'num' }, row.partitions), h('td', { class: 'num', 'data-testid': 'channel-published' }, row.published),
      h('td', {}, row.consumers.join(', ') || '—'), h('td', { class: 'num', 'data-testid': 'channel-max-lag' }, row.maxLag))));
}

async function channels() {
  const render = (rows) => view.replaceChildren(h('h1', {}, 'Channels'), rows.length === 0 ? h('p', {}, 'no channels in this store') : channelsTable(rows));
  render(await api('/api/channels'));
  onChannels = render;
}

async function channel(name) {
  const render = async () => {
    const [lag, groups] = await Promise.all([api(`/api/channels/${encodeURIComponent(name)}/lag`), api(`/api/channels/${encodeURIComponent(name)}/groups`)]);
    const heads = new Map(lag.partitions.map((p) => [p.partition, p.head]));
    const consumers = [...new Set(lag.positions.map((p) => p.consumerId))];
    const groupSections = groups.groups.map((g) => h('section', { 'data-testid': 'group' },
      h('h2', {}, `Group ${g.group}`),
      g.members.length === 0 ? h('p', {}, 'no live member') : table('members', ['incarnation', 'member', 'heartbeats', 'assigned'], g.members.map((m) =>
        h('tr', {}, h('td', { class: 'num' }, m.incarnation), h('td', {}, m.memberId), h('td', { class: 'num' }, m.heartbeats), h('td', {}, m.assigned.join(', ') || '—')))),
      table('leases', ['partition', 'lease holder', 'epoch', 'cursor', 'lag'], g.partitions.map((p) =>
        h('tr', {}, h('td', { class: 'num' }, p.partition), h('td', {}, p.holder === undefined ? '(free)' : `${p.holderId ?? '?'} (#${p.holder})`),
          h('td', { class: 'num' }, p.epoch), h('td', { class: 'num' }, p.offset), h('td', { class: 'num' }, p.lag))))));
    view.replaceChildren(
      h('h1', {}, `Channel ${name}`),
      h('p', { class: 'summary' }, `${lag.partitions.length} partitions, total lag `, h('strong', { 'data-testid': 'total-lag' }, lag.totalLag)),
      h('section', {}, h('h2', {}, 'Partitions'), table('partitions', ['partition', 'head'], lag.partitions.map((p) =>
        h('tr', {}, h('td', { class: 'num' }, p.partition), h('td', { class: 'num', 'data-testid': `head-${p.partition}` }, p.head))))),
      h('section', {}, h('h2', {}, 'Consumers and groups'), consumers.length === 0 ? h('p', {}, 'no consumer has committed a cursor on this channel') :
        table('lag', ['consumer / group', 'partition', 'head', 'cursor', 'lag'], lag.positions.map((p) =>
          h('tr', { 'data-testid': 'lag-row' }, h('td', {}, p.consumerId), h('td', { class: 'num' }, p.partition),
            h('td', { class: 'num' }, heads.get(p.partition) ?? 0), h('td', { class: 'num' }, p.offset), h('td', { class: 'num' }, p.lag))))),
      ...groupSections);
  };
  await render();
  onChannels = () => void render().catch(showError);
}

function showError(error) {
  view.append(h('p', { class: 'error', 'data-testid': 'error' }, String(error.message ?? error)));
}

async function route() {
  onChannels = () => {};
  const [path, query = ''] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query);
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('active', path.startsWith(link.getAttribute('href').slice(1).replace(/s$/, '')));
  try {
    if (path.startsWith('/conversation/')) await conversation(decodeURIComponent(path.slice('/conversation/'.length)));
    else if (path.startsWith('/channel/')) await channel(decodeURIComponent(path.slice('/channel/'.length)));
    else if (path === '/channels') await channels();
    else await conversations(params);
  } catch (error) {
    showError(error);
  }
}

const events = new EventSource('/api/events');
events.addEventListener('open', () => (live.textContent = 'live'));
events.addEventListener('error', () => (live.textContent = 'reconnecting…'));
events.addEventListener('channels', (event) => {
  live.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
  onChannels(JSON.parse(event.data));
});
window.addEventListener('hashchange', route);
route();
