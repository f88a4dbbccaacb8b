// The console's quality view. Supervisors and admins review the day's sample of resolved
// chats (or any by id): the transcript beside the scorecard, a score per criterion, the
// weighted total as they score, comments, saved with PUT {mount}/api/qa/reviews/{id}; and
// they list every review. Agents list their own reviews, read-only (the server gives them
// nothing else). docs/protocol.md, "Reports, QA and Prometheus". Transcripts, names and
// comments come from people: all set as text.
import { byId, h, timeElement } from '../shared/dom.js';
import { problemOf, utcDay } from './reports.js';

/** The weighted mean of score / points, as a percentage (what the server stores). */
export function weightedTotal(criteria, scores) {
  let weighted = 0;
  let weights = 0;
  for (const criterion of criteria) {
    weights += criterion.weight;
    const given = scores[criterion.id];
    if (given != null) weighted += (criterion.weight * given) / criterion.points;
  }
  return weights ? (weighted / weights) * 100 : 0;
}

function when(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function createQa({ mount, csrf, me, directory, onClose }) {
  const manager = me.role === 'supervisor' || me.role === 'admin';
  const ui = {
    view: byId('qa-view'),
    title: byId('qa-title'),
    sampleSection: byId('qa-sample-section'),
    sampleForm: byId('qa-sample-form'),
    sampleDate: byId('qa-sample-date'),
    sample: byId('qa-sample'),
    openForm: byId('qa-open-form'),
    openId: byId('qa-open-id'),
    review: byId('qa-review'),
    reviewTitle: byId('qa-review-title'),
    transcript: byId('qa-transcript'),
    scoreForm: byId('qa-score-form'),
    criteria: byId('qa-criteria'),
    comment: byId('qa-comment'),
    total: byId('qa-total'),
    saved: byId('qa-saved'),
    filters: byId('qa-filters'),
    agent: byId('qa-filter-agent'),
    from: byId('qa-filter-from'),
    to: byId('qa-filter-to'),
    list: byId('qa-reviews'),
    listStatus: byId('qa-reviews-status'),
    detail: byId('qa-detail'),
  };
  let scorecard = null;
  let agents = new Map(); // id -> name
  let reviewing = null; // the conversation id being scored
  let inputs = new Map(); // criterion id -> {score, comment}

  const url = (path, params = {}) => {
    const target = new URL(`api/qa/${path}`, `${mount.href}/`);
    for (const [key, value] of Object.entries(params)) if (value) target.searchParams.set(key, value);
    return target;
  };
  async function call(target, options = {}) {
    const response = await fetch(target, { cache: 'no-store', ...options,
      headers: { 'x-csrf-token': csrf, ...(options.body ? { 'content-type': 'application/json' } : {}) } });
    if (!response.ok) throw new Error(await problemOf(response));
    return response.json();
  }
  const agentName = (id) => (id ? agents.get(id) || id : '–');
  const criterionOf = (id) => scorecard && scorecard.criteria.find((c) => c.id === id);

  // ---- the sample and the review form (supervisors, admins) ----

  async function loadSample() {
    ui.sample.replaceChildren(h('li', { class: 'empty', text: 'Loading…' }));
    try {
      const data = await call(url('sample', { date: ui.sampleDate.value }));
      // Sampled chats were resolved the day before: any review of one was written since.
      const since = utcDay(Date.parse(`${data.date}T00:00:00Z`) - 24 * 3600 * 1000);
      const reviewed = new Set((await call(url('reviews', { from: since, limit: 1000 }))).reviews
        .filter((review) => data.conversations.includes(review.conversation_id))
        .map((review) => review.conversation_id));
      ui.sample.replaceChildren(...(data.conversations.length ? data.conversations.map((id) => h('li', { 'data-id': id },
        h('code', { text: id }),
        reviewed.has(id) ? h('span', { class: 'qa-done', text: 'reviewed' }) : null,
        h('button', { type: 'button', text: reviewed.has(id) ? 'Review again' : 'Review', onclick: () => openReview(id) })))
        : [h('li', { class: 'empty', text: `No chats resolved by agents on the day before ${data.date}.` })]));
    } catch (error) {
      ui.sample.replaceChildren(h('li', { class: 'error', role: 'alert', text: `Could not load the sample: ${error.message}` }));
    }
  }

  function messageItem(message) {
    const who = message.sender === 'visitor' ? message.author_name || 'Visitor'
      : message.author_name || { agent: 'Agent', bot: 'Bot', system: 'System' }[message.sender] || message.sender;
    return h('li', { class: `qa-message from-${message.sender}${message.internal ? ' internal' : ''}` },
      h('div', { class: 'meta' }, h('b', { text: who }), message.internal ? h('span', { class: 'qa-note', text: 'internal note' }) : null,
        timeElement(message.created_at)),
      h('div', { class: 'body', text: message.body || (message.attachments && message.attachments.length ? '(files)' : '') }));
  }

  function renderScoreForm(previous) {
    inputs = new Map();
    const given = new Map((previous ? previous.scores : []).map((s) => [s.criterion, s]));
    ui.criteria.replaceChildren(...scorecard.criteria.map((criterion) => {
      const before = given.get(criterion.id);
      const score = h('select', { 'data-criterion': criterion.id, required: true, 'aria-label': `Score for ${criterion.label}` },
        h('option', { value: '', text: '–' }),
        ...Array.from({ length: criterion.points + 1 }, (_, n) => h('option', { value: n, text: `${n} / ${criterion.points}` })));
      if (before) score.value = String(before.score);
      const comment = h('input', { type: 'text', maxlength: 2000, placeholder: 'Comment (optional)', 'data-comment': criterion.id,
        'aria-label': `Comment on ${criterion.label}` });
      comment.value = (before && before.comment) || '';
      score.addEventListener('change', showTotal);
      inputs.set(criterion.id, { score, comment });
      return h('li', { class: 'qa-criterion' },
        h('div', null, h('b', { text: criterion.label }), h('small', { text: ` weight ${criterion.weight}` }),
          criterion.description ? h('p', { text: criterion.description }) : null),
        score, comment);
    }));
    ui.comment.value = (previous && previous.comment) || '';
    showTotal();
  }

  function chosenScores() {
    const scores = {};
    for (const [id, { score }] of inputs) if (score.value !== '') scores[id] = Number(score.value);
    return scores;
  }

  function showTotal() {
    const scores = chosenScores();
    const missing = scorecard.criteria.length - Object.keys(scores).length;
    const total = weightedTotal(scorecard.criteria, scores);
    ui.total.dataset.value = missing ? '' : total.toFixed(2);
    ui.total.textContent = `Weighted total: ${total.toFixed(1)}%${missing ? ` (${missing} not scored yet)` : ''}`;
  }

  async function openReview(id) {
    reviewing = id;
    ui.review.hidden = false;
    ui.saved.textContent = '';
    ui.saved.classList.remove('error');
    ui.reviewTitle.textContent = `Conversation ${id}`;
    ui.transcript.replaceChildren(h('li', { class: 'empty', text: 'Loading…' }));
    ui.criteria.replaceChildren();
    try {
      const [data, mine] = await Promise.all([
        call(url(`conversations/${encodeURIComponent(id)}/transcript`)),
        call(url('reviews', { conversation: id })),
      ]);
      if (reviewing !== id) return;
      const { conversation } = data;
      ui.reviewTitle.textContent = `Conversation ${id} · ${conversation.status} · agent ${agentName(conversation.agent_id)}`
        + `${conversation.queue_team ? ` · team ${conversation.queue_team}` : ''}`;
      ui.transcript.replaceChildren(...data.messages.map(messageItem),
        ...(data.truncated ? [h('li', { class: 'empty', text: 'Only the first 1000 messages are shown.' })] : []));
      renderScoreForm(mine.reviews.find((review) => review.reviewer_id === me.id));
      ui.review.scrollIntoView({ block: 'start' });
    } catch (error) {
      ui.transcript.replaceChildren(h('li', { class: 'error', role: 'alert', text: `Could not open the conversation: ${error.message}` }));
    }
  }

  async function saveReview() {
    const scores = {};
    for (const [id, { score, comment }] of inputs) {
      if (score.value === '') {
        ui.saved.textContent = `Not saved: give a score for “${criterionOf(id).label}”.`;
        ui.saved.classList.add('error');
        score.focus();
        return;
      }
      scores[id] = { score: Number(score.value), ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) };
    }
    ui.saved.classList.remove('error');
    ui.saved.textContent = 'Saving…';
    try {
      const review = await call(url(`reviews/${encodeURIComponent(reviewing)}`), { method: 'PUT',
        body: JSON.stringify({ scores, ...(ui.comment.value.trim() ? { comment: ui.comment.value.trim() } : {}) }) });
      ui.saved.textContent = `Saved: ${review.total.toFixed(1)}% for ${agentName(review.agent_id)}.`;
      await loadReviews();
      if (!ui.sampleSection.hidden) loadSample();
    } catch (error) {
      ui.saved.textContent = `Not saved: ${error.message}`;
      ui.saved.classList.add('error');
    }
  }

  // ---- the list of reviews (everyone; an agent's own only) ----

  function renderDetail(review) {
    ui.detail.hidden = false;
    ui.detail.replaceChildren(
      h('h3', { text: `Review of ${review.conversation_id}` }),
      h('p', { class: 'qa-detail-total', text: `${review.total.toFixed(1)}% · agent ${agentName(review.agent_id)} · reviewed by ${agentName(review.reviewer_id)} · ${when(review.updated_at)}` }),
      h('table', { class: 'report-table qa-table' },
        h('thead', null, h('tr', null, ...['Criterion', 'Score', 'Weight', 'Comment'].map((text) => h('th', { scope: 'col', text })))),
        h('tbody', null, ...review.scores.map((s) => h('tr', { 'data-criterion': s.criterion },
          h('th', { scope: 'row', text: (criterionOf(s.criterion) || { label: s.criterion }).label }),
          h('td', { text: `${s.score} / ${s.points}` }), h('td', { text: String(s.weight) }), h('td', { text: s.comment || '' }))))),
      review.comment ? h('blockquote', { class: 'qa-detail-comment', text: review.comment }) : null);
  }

  async function loadReviews() {
    ui.listStatus.textContent = 'Loading…';
    ui.listStatus.classList.remove('error');
    try {
      const { reviews } = await call(url('reviews', {
        agent: manager ? ui.agent.value : '', from: ui.from.value, to: ui.to.value, limit: 200 }));
      ui.list.replaceChildren(...reviews.map((review) => h('tr', { 'data-review': review.id, 'data-conversation': review.conversation_id },
        h('td', { text: when(review.updated_at) }),
        h('td', null, h('code', { text: review.conversation_id })),
        h('td', { text: agentName(review.agent_id) }),
        h('td', { text: agentName(review.reviewer_id) }),
        h('td', { class: 'qa-total-cell', text: `${review.total.toFixed(1)}%` }),
        h('td', { class: 'qa-comment-cell', text: review.comment || '' }),
        h('td', null,
          h('button', { type: 'button', text: 'Details', onclick: () => renderDetail(review) }),
          manager ? h('button', { type: 'button', text: 'Edit', onclick: () => openReview(review.conversation_id) }) : null))));
      ui.listStatus.textContent = reviews.length ? `${reviews.length} review${reviews.length === 1 ? '' : 's'}` : 'No reviews yet.';
    } catch (error) {
      ui.listStatus.textContent = `Could not load the reviews: ${error.message}`;
      ui.listStatus.classList.add('error');
    }
  }

  async function loadNames() {
    try {
      const data = await directory();
      agents = new Map(data.agents.map((agent) => [agent.id, agent.name]));
    } catch {
      agents = new Map([[me.id, me.name]]);
      return;
    }
    const chosen = ui.agent.value;
    ui.agent.replaceChildren(ui.agent.options[0], ...[...agents].map(([id, name]) => h('option', { value: id, text: name })));
    ui.agent.value = chosen;
  }

  ui.sampleForm.addEventListener('submit', (event) => {
    event.preventDefault();
    loadSample();
  });
  ui.openForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (ui.openId.value.trim()) openReview(ui.openId.value.trim());
  });
  ui.scoreForm.addEventListener('submit', (event) => {
    event.preventDefault();
    saveReview();
  });
  byId('qa-review-close').addEventListener('click', () => {
    reviewing = null;
    ui.review.hidden = true;
  });
  ui.filters.addEventListener('submit', (event) => {
    event.preventDefault();
    loadReviews();
  });
  byId('qa-close').addEventListener('click', onClose);

  // What the server lets each role do, and nothing more.
  ui.sampleSection.hidden = !manager;
  ui.agent.closest('label').hidden = !manager;
  ui.title.textContent = manager ? 'Quality: reviews' : 'Quality: reviews of your conversations';

  let opened = false;
  return {
    async open() {
      ui.view.hidden = false;
      if (opened) return;
      opened = true;
      ui.sampleDate.value = utcDay(Date.now());
      try {
        scorecard = await call(url('scorecard'));
      } catch (error) {
        ui.listStatus.textContent = `Could not load the scorecard: ${error.message}`;
        ui.listStatus.classList.add('error');
        return;
      }
      await loadNames();
      await Promise.all([loadReviews(), manager ? loadSample() : null]);
    },
    close() {
      ui.view.hidden = true;
    },
  };
}
