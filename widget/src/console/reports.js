// The console's reports view (supervisors and admins): metric cards, the volume over time
// (a uPlot chart), a breakdown by team, agent or channel, each report's CSV, and the export of
// conversations with transcripts with a progress bar. Over GET {mount}/api/reports/...
// (docs/protocol.md, "Reports, QA and Prometheus"). Names come from people: everything is
// set as text (h() never parses HTML; uPlot draws on a canvas).
import uPlot from 'uplot';
import { byId, h } from '../shared/dom.js';

const DAY_MS = 24 * 3600 * 1000;
const BUCKET_MS = { hour: 3600 * 1000, day: DAY_MS, week: 7 * DAY_MS };

/** "2026-11-29": a date input's value for an instant, in UTC (reports count UTC days). */
export function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function nextDay(day) {
  return utcDay(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
}

export function formatCount(n) {
  return n == null ? '–' : n.toLocaleString();
}

export function formatRate(rate) {
  return rate == null ? '–' : `${(rate * 100).toFixed(1)}%`;
}

/** 42s, 3m 05s, 2h 07m. */
export function formatDuration(ms) {
  if (ms == null) return '–';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** The message of an API error answer ({"error": {"message"}}), or the status. */
export async function problemOf(response) {
  const data = await response.json().catch(() => null);
  return (data && data.error && data.error.message) || `error ${response.status}`;
}

/** Counts CSV records (not lines: a transcript is one quoted field with newlines in it).
 * '"' and '\n' are ASCII, so they can be found in the UTF-8 bytes without decoding; an
 * escaped quote ("") toggles twice and changes nothing. Feed it chunks as they arrive. */
export function csvRecordCounter() {
  let quoted = false;
  let records = 0;
  return {
    feed(bytes) {
      for (let i = 0; i < bytes.length; i += 1) {
        const byte = bytes[i];
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) records += 1;
      }
      return records;
    },
    get records() {
      return records;
    },
  };
}

export function createReports({ mount, directory, onClose }) {
  const ui = {
    view: byId('reports-view'),
    form: byId('reports-form'),
    from: byId('reports-from'),
    to: byId('reports-to'),
    team: byId('reports-team'),
    agent: byId('reports-agent'),
    channel: byId('reports-channel'),
    granularity: byId('reports-granularity'),
    group: byId('reports-group'),
    openHours: byId('reports-open-hours'),
    status: byId('reports-status'),
    cards: byId('reports-cards'),
    chart: byId('reports-chart'),
    breakdown: byId('reports-breakdown'),
    breakdownTitle: byId('reports-breakdown-title'),
    csvMetrics: byId('reports-csv-metrics'),
    csvVolume: byId('reports-csv-volume'),
    csvBreakdown: byId('reports-csv-breakdown'),
    exportButton: byId('reports-export'),
    exportCancel: byId('reports-export-cancel'),
    exportProgress: byId('reports-export-progress'),
    exportStatus: byId('reports-export-status'),
  };
  let plot = null;
  let names = { teams: new Map(), agents: new Map() }; // id -> name, from the directory
  let last = null; // {summary, volume, breakdown, group}: what is on screen
  let exporting = null; // the AbortController of the export under way
  let loads = 0; // requests made: only the newest one's answer is shown

  const api = (path, params) => {
    const url = new URL(`api/reports/${path}`, `${mount.href}/`);
    for (const [key, value] of Object.entries(params)) if (value) url.searchParams.set(key, value);
    return url;
  };

  /** The query the filters say: `to` is the day after the last day shown (exclusive). */
  function params() {
    return {
      from: ui.from.value,
      to: ui.to.value ? nextDay(ui.to.value) : '',
      team: ui.team.value,
      agent: ui.agent.value,
      channel: ui.channel.value,
    };
  }

  function preset(days) {
    const today = utcDay(Date.now());
    ui.to.value = today;
    ui.from.value = utcDay(Date.parse(`${today}T00:00:00Z`) - (days - 1) * DAY_MS);
  }

  async function getJson(url, signal) {
    const response = await fetch(url, { cache: 'no-store', signal });
    if (!response.ok) throw new Error(await problemOf(response));
    return response.json();
  }

  async function loadNames() {
    try {
      const data = await directory();
      names = {
        teams: new Map(data.teams.map((team) => [team.id, team.name || team.id])),
        agents: new Map(data.agents.map((agent) => [agent.id, agent.name])),
      };
    } catch {
      return; // ids stand in for names
    }
    const fill = (select, entries) => {
      const chosen = select.value;
      select.replaceChildren(select.options[0], ...[...entries].map(([id, name]) => h('option', { value: id, text: name })));
      select.value = chosen;
    };
    fill(ui.team, names.teams);
    fill(ui.agent, names.agents);
  }

  function label(group, key) {
    if (key == null) return group === 'team' ? '(no team)' : group === 'agent' ? '(no agent)' : '(none)';
    if (group === 'team') return names.teams.get(key) || key;
    if (group === 'agent') return names.agents.get(key) || key;
    return key;
  }

  // What the business-hours toggle switches: wait and first response counted in open hours.
  const wait = (row) => (ui.openHours.checked ? row.wait_open_ms : row.wait_ms);
  const firstResponse = (row) => (ui.openHours.checked ? row.first_response_open_ms : row.first_response_ms);

  function card(metric, title, value, shown, detail) {
    return h('div', { class: 'report-card', 'data-metric': metric, 'data-value': value == null ? '' : String(value) },
      h('span', { class: 'report-card-title', text: title }),
      h('b', { class: 'report-card-value', text: shown }),
      h('small', { text: detail }));
  }

  function durationCard(metric, title, stats) {
    return card(metric, title, stats.p50, formatDuration(stats.p50),
      `p90 ${formatDuration(stats.p90)} · mean ${formatDuration(stats.mean)}`);
  }

  function renderCards(row) {
    if (!row) {
      ui.cards.replaceChildren(h('p', { class: 'empty', text: 'No conversations in this range.' }));
      return;
    }
    const { csat } = row;
    ui.cards.replaceChildren(
      card('conversations', 'Conversations', row.conversations, formatCount(row.conversations), `${formatCount(row.inbound)} begun by visitors`),
      card('containment', 'Bot containment', row.containment_rate, formatRate(row.containment_rate), `${formatCount(row.bot_resolved)} resolved by the bot`),
      card('handoff', 'Handoff rate', row.handoff_rate, formatRate(row.handoff_rate), `${formatCount(row.handed_off)} handed off`),
      card('wait_p50', 'Queue wait p50', wait(row).p50, formatDuration(wait(row).p50), `mean ${formatDuration(wait(row).mean)}`),
      card('wait_p90', 'Queue wait p90', wait(row).p90, formatDuration(wait(row).p90), ui.openHours.checked ? 'in business hours' : 'around the clock'),
      durationCard('first_response', 'First response p50', firstResponse(row)),
      durationCard('handle', 'Handle time p50', row.handle_ms),
      durationCard('resolution', 'Resolution time p50', row.resolution_ms),
      card('fcr', 'First-contact resolution', row.fcr_rate, formatRate(row.fcr_rate), `${formatCount(row.fcr_resolved)} of ${formatCount(row.fcr_eligible)}`),
      card('abandonment', 'Abandonment', row.abandonment_rate, formatRate(row.abandonment_rate), `${formatCount(row.abandoned)} left the queue`),
      card('csat', 'CSAT (4 or 5 stars)', csat.score, formatRate(csat.score),
        csat.ratings ? `average ${csat.average.toFixed(2)} of 5 · ${formatCount(csat.ratings)} ratings` : 'no ratings'),
    );
  }

  /** Buckets with no conversation are absent from the answer: the chart shows them as 0. */
  function series(rows, granularity) {
    const step = BUCKET_MS[granularity];
    const xs = [];
    const columns = [[], [], [], []];
    const byStart = new Map(rows.map((row) => [row.start, row]));
    if (rows.length) {
      for (let at = rows[0].start; at <= rows[rows.length - 1].start; at += step) {
        const row = byStart.get(at);
        xs.push(at / 1000);
        columns[0].push(row ? row.conversations : 0);
        columns[1].push(row ? row.handed_off : 0);
        columns[2].push(row ? row.bot_resolved : 0);
        columns[3].push(row ? row.abandoned : 0);
      }
    }
    return [xs, ...columns];
  }

  /** Ticks on whole buckets, labelled in UTC: "Sep 21" (and "14:00" per hour). */
  function xAxis(granularity) {
    const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
    const hour = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
    const step = BUCKET_MS[granularity] / 1000;
    return {
      incrs: [1, 2, 3, 6, 12, 24, 48, 168, 336, 720].map((n) => n * 3600).filter((n) => n >= step),
      values: (u, splits) => splits.map((at) => {
        const date = new Date(at * 1000);
        if (granularity !== 'hour' || date.getUTCHours() === 0) return day.format(date);
        return hour.format(date);
      }),
    };
  }

  function renderChart(rows, granularity) {
    const data = series(rows, granularity);
    const width = Math.max(320, ui.chart.clientWidth || ui.view.clientWidth - 40);
    if (plot) plot.destroy();
    ui.chart.replaceChildren();
    if (!rows.length) {
      plot = null;
      ui.chart.append(h('p', { class: 'empty', text: 'No conversations in this range.' }));
      return;
    }
    const line = (label, stroke, fill) => ({ label, stroke, fill, width: 2, points: { show: data[0].length < 60 } });
    plot = new uPlot({
      width,
      height: 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'), // the buckets are UTC
      scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      series: [
        { label: granularity === 'hour' ? 'Hour (UTC)' : granularity === 'week' ? 'Week of (UTC)' : 'Date (UTC)',
          value: (u, at) => (at == null ? '–' : new Date(at * 1000).toISOString().slice(0, granularity === 'hour' ? 16 : 10).replace('T', ' ')) },
        line('Conversations', '#2563eb', 'rgba(37,99,235,.08)'),
        line('Handed off', '#d97706'),
        line('Resolved by the bot', '#059669'),
        line('Abandoned', '#dc2626'),
      ],
      axes: [xAxis(granularity), { label: 'Conversations', size: 50 }],
    }, data, ui.chart);
  }

  /** Set through the CSSOM, which a CSP without 'unsafe-inline' styles still allows. */
  function bar(share) {
    const el = h('span', { class: 'bar' });
    el.style.width = `${share * 100}%`;
    return el;
  }

  function renderBreakdown(rows, group) {
    const most = Math.max(1, ...rows.map((row) => row.conversations));
    const head = ['Conversations', 'Handoff', 'Containment', 'Queue wait p50', 'First response p50', 'Handle p50', 'FCR', 'Abandonment', 'CSAT'];
    const groupName = { team: 'Team', agent: 'Agent', channel: 'Channel' }[group];
    ui.breakdownTitle.textContent = `By ${groupName.toLowerCase()}`;
    const body = rows.map((row) => h('tr', { 'data-key': row.key == null ? '' : row.key },
      h('th', { scope: 'row', text: label(group, row.key) }),
      // The bar is the chart: its length is the share of the busiest group.
      h('td', { class: 'bar-cell' },
        bar(row.conversations / most),
        h('span', { class: 'bar-value', text: formatCount(row.conversations) })),
      h('td', { text: formatRate(row.handoff_rate) }),
      h('td', { text: formatRate(row.containment_rate) }),
      h('td', { text: formatDuration(wait(row).p50) }),
      h('td', { text: formatDuration(firstResponse(row).p50) }),
      h('td', { text: formatDuration(row.handle_ms.p50) }),
      h('td', { text: formatRate(row.fcr_rate) }),
      h('td', { text: formatRate(row.abandonment_rate) }),
      h('td', { text: formatRate(row.csat.score) })));
    ui.breakdown.replaceChildren(
      h('thead', null, h('tr', null, h('th', { scope: 'col', text: groupName }), ...head.map((text) => h('th', { scope: 'col', text })))),
      h('tbody', null, ...(body.length ? body : [h('tr', null, h('td', { colspan: head.length + 1, class: 'empty', text: 'No conversations in this range.' }))])));
  }

  function render() {
    if (!last) return;
    renderCards(last.summary[0]);
    renderChart(last.volume, last.granularity);
    renderBreakdown(last.breakdown, last.group);
  }

  async function load() {
    const query = params();
    const granularity = ui.granularity.value;
    const group = ui.group.value;
    const mine = ++loads;
    ui.status.textContent = 'Loading…';
    ui.view.setAttribute('aria-busy', 'true');
    try {
      const [summary, volume, breakdown] = await Promise.all([
        getJson(api('metrics', query)),
        getJson(api('volume', { ...query, granularity })),
        getJson(api('metrics', { ...query, group })),
      ]);
      if (mine !== loads) return; // a newer request is under way: its answer is what to show
      last = { summary: summary.rows, volume: volume.rows, breakdown: breakdown.rows, granularity, group };
      render();
      // The CSV of what is on screen.
      ui.csvMetrics.href = api('metrics', { ...query, format: 'csv' });
      ui.csvVolume.href = api('volume', { ...query, granularity, format: 'csv' });
      ui.csvBreakdown.href = api('metrics', { ...query, group, format: 'csv' });
      ui.status.textContent = `${new Date(summary.from).toISOString().slice(0, 16).replace('T', ' ')} to `
        + `${new Date(summary.to).toISOString().slice(0, 16).replace('T', ' ')} UTC · first-contact window ${summary.fcr_days} days`;
    } catch (error) {
      if (mine !== loads) return;
      ui.status.textContent = `Could not load the reports: ${error.message}`;
      ui.status.classList.add('error');
      return;
    } finally {
      ui.view.removeAttribute('aria-busy');
    }
    ui.status.classList.remove('error');
  }

  /** Streams the conversations' CSV, counting its records against X-Total-Count as they
   * arrive, then hands the file to the browser as a download. */
  async function exportConversations() {
    const controller = new AbortController();
    exporting = controller;
    ui.exportButton.disabled = true;
    ui.exportCancel.hidden = false;
    ui.exportProgress.hidden = false;
    ui.exportProgress.removeAttribute('value');
    ui.exportStatus.classList.remove('error');
    ui.exportStatus.textContent = 'Starting the export…';
    const query = params();
    try {
      const response = await fetch(api('conversations.csv', query), { cache: 'no-store', signal: controller.signal });
      if (!response.ok) throw new Error(await problemOf(response));
      const total = Number(response.headers.get('x-total-count'));
      const known = Number.isInteger(total) && total >= 0;
      if (known) ui.exportProgress.max = Math.max(1, total);
      const counter = csvRecordCounter();
      const chunks = [];
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        const rows = Math.max(0, counter.feed(value) - 1); // the first record is the header
        if (known) ui.exportProgress.value = Math.min(rows, total);
        ui.exportStatus.textContent = `Exporting… ${formatCount(rows)}${known ? ` of ${formatCount(total)}` : ''} conversations`;
      }
      const rows = Math.max(0, counter.records - 1);
      // Full when every counted row came (an empty export too); else where it stopped.
      if (known) ui.exportProgress.value = rows >= total ? ui.exportProgress.max : rows;
      const file = new Blob(chunks, { type: 'text/csv' });
      const link = h('a', { href: URL.createObjectURL(file), download: `conversations-${query.from || 'last-7-days'}-to-${ui.to.value || 'now'}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      ui.exportStatus.textContent = `Exported ${formatCount(rows)} conversations (${(file.size / 1024).toFixed(0)} KiB).`;
    } catch (error) {
      ui.exportProgress.hidden = true;
      ui.exportStatus.textContent = controller.signal.aborted ? 'Export cancelled.' : `Could not export: ${error.message}`;
      if (!controller.signal.aborted) ui.exportStatus.classList.add('error');
    } finally {
      exporting = null;
      ui.exportButton.disabled = false;
      ui.exportCancel.hidden = true;
    }
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  for (const button of ui.view.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => {
      preset(Number(button.dataset.preset));
      load();
    });
  }
  // Switching what is shown needs no new request.
  ui.openHours.addEventListener('change', render);
  ui.exportButton.addEventListener('click', exportConversations);
  ui.exportCancel.addEventListener('click', () => exporting && exporting.abort());
  byId('reports-close').addEventListener('click', onClose);
  window.addEventListener('resize', () => {
    if (plot && !ui.view.hidden) plot.setSize({ width: Math.max(320, ui.chart.clientWidth), height: 240 });
  });

  let opened = false;
  return {
    open() {
      ui.view.hidden = false;
      if (opened) {
        // Names could not be had before the socket was up: try again.
        if (!names.agents.size) loadNames().then(render);
        return;
      }
      opened = true;
      preset(7);
      loadNames().finally(load);
    },
    close() {
      ui.view.hidden = true;
    },
  };
}
