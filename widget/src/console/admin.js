// The console's admin side: the routing configuration (teams, their business hours, and
// agents) as forms, over GET/PUT {mount}/api/routing (docs/protocol.md, "Routing
// administration"). The server validates everything; this view only shapes what the admin
// typed into the document and shows the server's problems next to the rows they are about.
// Everything is rendered as text (h() never parses HTML): team names and emails come from
// people.
import { byId, h } from '../shared/dom.js';

const STRATEGIES = [
  ['round_robin', 'Round robin'],
  ['least_busy', 'Least busy'],
  ['manual', 'Manual pick from the queue'],
];

const DAYS = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'],
  ['sat', 'Sat'], ['sun', 'Sun']];
const HOURS_MODES = [
  ['', 'Always open (no schedule)'],
  ['weekly', 'Weekly schedule'],
  ['always', 'Open 24/7, closed on holidays'],
];
const INTERVAL = /^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** [["09:00", "14:00"], ...] -> "09:00-14:00, ..." */
function intervalsText(intervals) {
  return (intervals || []).map(([start, end]) => `${start}-${end}`).join(', ');
}

/** "09:00-14:00, 15:00-18:00" -> [["09:00", "14:00"], ...]; null when a part is not one. */
function parseIntervals(text) {
  const parts = text.split(',').map((part) => part.trim()).filter(Boolean);
  const found = parts.map((part) => INTERVAL.exec(part));
  return found.every(Boolean) ? found.map((m) => [m[1], m[2]]) : null;
}

/** A holiday as the document has it -> "2026-12-24 09:00-13:00 Christmas Eve". */
function holidayText(holiday) {
  if (typeof holiday === 'string') return holiday;
  return [holiday.date, intervalsText(holiday.hours).replaceAll(', ', ','), holiday.name]
    .filter(Boolean).join(' ');
}

/** "DATE [HH:MM-HH:MM,...] [name]" -> a holiday; null when the line is not one. */
function parseHoliday(line) {
  const [date, ...rest] = line.trim().split(/\s+/);
  if (!DATE.test(date)) return null;
  let hours = [];
  if (rest.length && /^\d{1,2}:\d{2}-/.test(rest[0])) {
    hours = parseIntervals(rest.shift());
    if (!hours) return null;
  }
  const name = rest.join(' ');
  return hours.length || name ? { date, hours, ...(name ? { name } : {}) } : date;
}

/** "a, b ,c" -> ["a", "b", "c"] (empty parts dropped). */
function words(text) {
  return text.split(',').map((word) => word.trim()).filter(Boolean);
}

function input(props) {
  return h('input', { type: 'text', ...props });
}

function labelled(text, control, extra = null) {
  return h('label', { class: extra }, h('span', { text }), control);
}

export function createAdmin({ mount, csrf, onClose }) {
  const ui = {
    view: byId('admin-view'),
    form: byId('admin-form'),
    version: byId('admin-version'),
    defaultTeam: byId('admin-default-team'),
    defaultCapacity: byId('admin-default-capacity'),
    teams: byId('admin-teams'),
    agents: byId('admin-agents'),
    addTeam: byId('admin-add-team'),
    addAgent: byId('admin-add-agent'),
    problems: byId('admin-problems'),
    saved: byId('admin-saved'),
  };
  // The version the form was loaded from: saving sends it, so that an admin cannot
  // overwrite a change they have not seen (the server answers 409).
  let version = null;
  let teamRows = [];
  let agentRows = [];

  const url = () => new URL('api/routing', `${mount.href}/`);

  async function call(method, body) {
    const response = await fetch(url(), {
      method,
      // The session cookie goes along (same origin); a change needs the CSRF token too.
      headers: { 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data };
  }

  /** A team's business hours as a form: a mode, a time zone, each day's intervals and the
   * holidays, one per line. */
  function hoursEditor(hours) {
    const mode = !hours ? '' : hours.always ? 'always' : 'weekly';
    const editor = {
      mode: h('select', { 'data-field': 'hours-mode' },
        ...HOURS_MODES.map(([value, text]) => h('option', { value, text, selected: value === mode }))),
      timeZone: input({ value: hours ? hours.time_zone || '' : '', list: 'admin-time-zones', maxlength: 100,
        'data-field': 'time-zone', placeholder: 'Europe/Madrid' }),
      days: DAYS.map(([day]) => input({ value: intervalsText(hours && hours.weekly ? hours.weekly[day] : null),
        'data-field': `hours-${day}`, placeholder: 'closed' })),
      holidays: h('textarea', { rows: 2, 'data-field': 'holidays', spellcheck: 'false',
        placeholder: '2026-12-25\n2026-12-24 09:00-13:00 Christmas Eve' }),
    };
    editor.holidays.value = (hours && hours.holidays ? hours.holidays : []).map(holidayText).join('\n');
    const week = h('div', { class: 'admin-week' },
      ...DAYS.map(([, label], index) => labelled(label, editor.days[index])));
    const details = h('div', { class: 'admin-hours-details' },
      labelled('Time zone', editor.timeZone), week,
      labelled('Holidays (one per line: date, optional hours, optional name)', editor.holidays, 'wide'));
    const show = () => {
      details.hidden = !editor.mode.value;
      week.hidden = editor.mode.value !== 'weekly';
    };
    editor.mode.addEventListener('change', show);
    show();
    editor.el = h('div', { class: 'admin-hours' }, labelled('Business hours', editor.mode), details);
    return editor;
  }

  /** The hours document the editor describes (null: always open); problems go in `local`. */
  function collectHours(editor, where, local) {
    if (!editor.mode.value) return null;
    const hours = { time_zone: editor.timeZone.value.trim() };
    if (editor.mode.value === 'always') {
      hours.always = true;
    } else {
      hours.weekly = {};
      DAYS.forEach(([day], index) => {
        const text = editor.days[index].value.trim();
        if (!text) return;
        const intervals = parseIntervals(text);
        if (intervals) hours.weekly[day] = intervals;
        else local.push({ field: `${where}.weekly.${day}`, message: 'write times as 09:00-18:00, comma-separated' });
      });
    }
    const lines = editor.holidays.value.split('\n').filter((line) => line.trim());
    hours.holidays = lines.map((line) => {
      const holiday = parseHoliday(line);
      if (!holiday) local.push({ field: `${where}.holidays`, message: `"${line.trim()}": write a date as 2026-12-25, then optional hours (09:00-13:00) and a name` });
      return holiday;
    });
    return hours;
  }

  function teamRow(team) {
    const row = {
      team,
      id: input({ value: team.id, required: true, maxlength: 100, 'data-field': 'id', readonly: team.id ? true : null }),
      name: input({ value: team.name || '', maxlength: 200, 'data-field': 'name' }),
      strategy: h('select', { 'data-field': 'strategy' },
        ...STRATEGIES.map(([value, text]) => h('option', { value, text, selected: value === team.strategy }))),
      skills: input({ value: (team.skills || []).join(', '), 'data-field': 'skills', placeholder: 'none' }),
      overflow: input({ value: team.overflow || '', maxlength: 100, 'data-field': 'overflow', placeholder: 'none' }),
      hours: hoursEditor(team.hours),
      error: h('ul', { class: 'row-problems', role: 'alert' }),
    };
    const remove = h('button', { type: 'button', class: 'remove', text: 'Remove team' });
    row.el = h('fieldset', { class: 'admin-team', 'data-team': team.id || '' },
      h('legend', { text: team.id ? `Team ${team.id}` : 'New team' }),
      h('div', { class: 'admin-grid' },
        labelled('Id', row.id), labelled('Name', row.name), labelled('Strategy', row.strategy),
        labelled('Skills (comma-separated)', row.skills), labelled('Overflow team', row.overflow)),
      row.hours.el,
      row.error, remove);
    remove.addEventListener('click', () => {
      teamRows = teamRows.filter((other) => other !== row);
      row.el.remove();
    });
    return row;
  }

  function agentRow(email, routing, known) {
    const row = {
      email: input({ value: email, required: true, maxlength: 320, 'data-field': 'email', readonly: email ? true : null }),
      teams: input({ value: routing && routing.teams ? routing.teams.join(', ') : '', 'data-field': 'teams', placeholder: 'the default team' }),
      skills: input({ value: routing ? (routing.skills || []).join(', ') : '', 'data-field': 'skills', placeholder: 'none' }),
      capacity: h('input', { type: 'number', min: 1, max: 10000, value: routing && routing.capacity != null ? routing.capacity : '',
        'data-field': 'capacity', placeholder: 'default' }),
      error: h('ul', { class: 'row-problems', role: 'alert' }),
    };
    const who = known ? `${known.name} (${known.role})` : email ? 'no account yet' : '';
    row.el = h('tr', { 'data-agent': email || '' },
      h('td', null, row.email, h('div', { class: 'who', text: who })),
      h('td', null, row.teams), h('td', null, row.skills), h('td', null, row.capacity),
      h('td', null, row.error));
    return row;
  }

  function render(current) {
    version = current.version;
    const { config } = current;
    const by = current.changed_by ? ` by ${current.changed_by.name}` : ` (${current.source})`;
    ui.version.textContent = `Version ${current.version}, saved ${new Date(current.changed_at).toLocaleString()}${by}`;
    ui.defaultTeam.value = config.default_team || '';
    ui.defaultCapacity.value = config.default_capacity != null ? config.default_capacity : '';
    teamRows = config.teams.map(teamRow);
    ui.teams.replaceChildren(...teamRows.map((row) => row.el));
    // Every agent with an account, and any the configuration names before they have one.
    const known = new Map(current.agents.map((agent) => [agent.email.toLowerCase(), agent]));
    const emails = [...new Set([...current.agents.map((a) => a.email), ...Object.keys(config.agents)])];
    agentRows = emails.map((email) => agentRow(email, config.agents[email], known.get(email.toLowerCase())));
    ui.agents.replaceChildren(...agentRows.map((row) => row.el));
    clearProblems();
  }

  function clearProblems() {
    ui.problems.replaceChildren();
    for (const row of [...teamRows, ...agentRows]) row.error.replaceChildren();
  }

  /** The document to send, or null (with the problems shown) when a field cannot be read. */
  function collect() {
    const local = [];
    const teams = teamRows.map((row, index) => {
      return { id: row.id.value.trim(), name: row.name.value.trim(), strategy: row.strategy.value,
        skills: words(row.skills.value), overflow: row.overflow.value.trim() || null,
        hours: collectHours(row.hours, `teams[${index}].hours`, local) };
    });
    const agents = {};
    for (const row of agentRows) {
      const email = row.email.value.trim();
      const capacity = row.capacity.value.trim();
      const entry = {};
      if (row.teams.value.trim()) entry.teams = words(row.teams.value);
      if (row.skills.value.trim()) entry.skills = words(row.skills.value);
      // Sent as typed (a number when it is one): the server says what is wrong with it.
      if (capacity) entry.capacity = Number.isFinite(Number(capacity)) ? Number(capacity) : capacity;
      if (email && Object.keys(entry).length) agents[email] = entry;
    }
    const capacity = ui.defaultCapacity.value.trim();
    const config = {
      default_team: ui.defaultTeam.value.trim() || null,
      default_capacity: capacity ? Number(capacity) : null,
      teams,
      agents,
    };
    if (local.length) {
      showProblems(local);
      return null;
    }
    return config;
  }

  /** Each problem next to its row (by the field's path), the rest above the Save button. */
  function showProblems(problems) {
    clearProblems();
    for (const problem of problems) {
      const field = problem.field || '';
      const text = field ? `${field}: ${problem.message}` : problem.message;
      const byIndex = /^teams\[(\d+)\]/.exec(field);
      let row = byIndex ? teamRows[Number(byIndex[1])] : null;
      if (!row && field.startsWith('teams.')) row = teamRows.find((r) => field.startsWith(`teams.${r.id.value.trim()}.`));
      if (!row && field.startsWith('agents.')) {
        row = agentRows.find((r) => field === `agents.${r.email.value.trim()}` || field.startsWith(`agents.${r.email.value.trim()}.`));
      }
      (row ? row.error : ui.problems).append(h('li', { text }));
    }
  }

  async function load() {
    ui.saved.textContent = 'Loading…';
    const { status, data } = await call('GET');
    if (status !== 200) {
      ui.saved.textContent = `Could not load the routing: ${(data.error && data.error.message) || status}`;
      return;
    }
    render(data);
    ui.saved.textContent = '';
  }

  async function save() {
    ui.saved.textContent = '';
    const config = collect();
    if (!config) return;
    ui.saved.textContent = 'Saving…';
    const { status, data } = await call('PUT', { version, config });
    const error = data.error || {};
    if (status === 200) {
      render(data);
      ui.saved.textContent = `Saved: version ${data.version}, in use within a second on every server.`;
    } else if (status === 422) {
      ui.saved.textContent = 'Not saved: fix the problems shown.';
      showProblems(error.problems || []);
    } else if (status === 409) {
      ui.saved.textContent = '';
      clearProblems();
      const reload = h('button', { type: 'button', text: 'Load the newest version (your changes are dropped)' });
      reload.addEventListener('click', load);
      ui.problems.append(h('li', { text: `Not saved: ${error.message || 'someone saved a newer version'}. ` }, reload));
    } else {
      ui.saved.textContent = `Not saved: ${error.message || `error ${status}`}`;
    }
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    save().catch((error) => { ui.saved.textContent = `Not saved: ${error.message}`; });
  });
  ui.addTeam.addEventListener('click', () => {
    const row = teamRow({ id: '', name: '', strategy: 'round_robin', skills: [], overflow: null, hours: null });
    teamRows.push(row);
    ui.teams.append(row.el);
    row.id.focus();
  });
  ui.addAgent.addEventListener('click', () => {
    const row = agentRow('', null, null);
    agentRows.push(row);
    ui.agents.append(row.el);
    row.email.focus();
  });
  byId('admin-close').addEventListener('click', onClose);

  // Time zone names to pick from (the server checks the name against its own database).
  if (typeof Intl.supportedValuesOf === 'function' && !document.getElementById('admin-time-zones')) {
    ui.form.append(h('datalist', { id: 'admin-time-zones' },
      ...Intl.supportedValuesOf('timeZone').map((zone) => h('option', { value: zone }))));
  }

  return {
    open() {
      ui.view.hidden = false;
      load().catch((error) => { ui.saved.textContent = `Could not load the routing: ${error.message}`; });
    },
    close() {
      ui.view.hidden = true;
    },
  };
}
