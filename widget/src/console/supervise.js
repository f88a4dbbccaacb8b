// Supervision, for supervisors and admins: watch a chat that is not theirs (live, read-only),
// barge in (then they may reply; its agent stays assigned), whisper to its agent (a note only
// agents see), and reassign it to another agent or team. Its agent transfers it the same way,
// with a note for whoever takes it next.
import { h } from '../shared/dom.js';

const DIRECTORY_MS = 30000;

export function createSupervise({ header, request, agent, onChange }) {
  const barged = new Set();
  const bargeButton = h('button', { type: 'button', id: 'barge', hidden: true, text: 'Barge in' });
  const target = h('select', { id: 'transfer-to', 'aria-label': 'Transfer to', required: true });
  const note = h('input', { id: 'transfer-note', type: 'text', maxlength: '1000', 'aria-label': 'Note for them (optional)', placeholder: 'Note for them (optional)' });
  const submit = h('button', { type: 'submit', text: 'Transfer' });
  const transfer = h('form', { class: 'transfer', id: 'transfer-form', hidden: true }, target, note, submit);
  const said = h('p', { class: 'thread-status', id: 'supervise-status', role: 'status' });
  header.append(h('div', { class: 'supervise' }, bargeButton, transfer, said));
  let open = null; // the conversation shown
  let mineOpen = false; // ...and whether it is this agent's
  let directory = null; // {at, data}: teams and agents, fetched when needed

  const supervising = () => { const me = agent(); return !!me && me.role !== 'agent'; };

  async function fillTargets(conversation) {
    if (!directory || Date.now() - directory.at > DIRECTORY_MS) {
      directory = { at: Date.now(), data: await request('directory', {}) };
    }
    const { teams, agents } = directory.data;
    target.replaceChildren(
      h('option', { value: '', text: 'Transfer to…' }),
      h('optgroup', { label: 'Teams' }, ...teams.map((team) => h('option', {
        value: `team:${team.id}`, text: team.open ? team.name : `${team.name} (closed)` }))),
      h('optgroup', { label: 'Agents' }, ...agents
        .filter((a) => a.id !== conversation.agent_id)
        // Only an online agent can be offered a chat.
        .map((a) => h('option', { value: `agent:${a.id}`, disabled: a.presence !== 'online', text: `${a.name} (${a.presence})` }))));
  }

  bargeButton.addEventListener('click', async () => {
    try {
      const data = await request('barge', { conversation_id: open.id });
      barged.add(open.id);
      said.textContent = 'You barged in: the visitor sees your replies.';
      onChange(data.conversation);
    } catch (error) {
      said.textContent = `Could not barge in: ${error.message}`;
    }
  });
  transfer.addEventListener('submit', async (event) => {
    event.preventDefault();
    const [kind, id] = target.value.split(/:(.*)/s);
    if (!open || !id) return;
    const payload = { conversation_id: open.id, [kind === 'team' ? 'to_team' : 'to_agent_id']: id };
    if (note.value.trim()) payload.note = note.value.trim();
    submit.disabled = true;
    // Its agent transfers it; a supervisor reassigns someone else's (the same move). Asked
    // now: the conversation's news may arrive before the answer.
    const [name, done] = mineOpen ? ['transfer', 'Transferred'] : ['reassign', 'Reassigned'];
    const to = target.selectedOptions[0].textContent;
    try {
      const moved = await request(name, payload);
      note.value = '';
      said.textContent = `${done} to ${to}.`;
      onChange(moved);
    } catch (error) {
      said.textContent = `Could not transfer: ${error.message}`;
    } finally {
      submit.disabled = false;
    }
  });

  return {
    supervising,
    /** Whether this console may reply in the conversation although it is not theirs. */
    barged: (id) => barged.has(id),
    /** Opens a chat that is not ours: watched live (supervisors) or its history (agents). */
    async view(id) {
      if (!supervising()) return request('history', { conversation_id: id, limit: 200 });
      try {
        const data = await request('watch', { conversation_id: id, limit: 200 });
        if (data.barged) barged.add(id);
        return data;
      } catch (error) {
        if (error.code !== 'conflict') throw error;
        return request('history', { conversation_id: id, limit: 200 }); // resolved
      }
    },
    header(conversation, mine) {
      if (!open || open.id !== conversation.id) said.textContent = '';
      open = conversation;
      mineOpen = mine;
      const show = supervising() && !mine && conversation.status !== 'resolved';
      bargeButton.hidden = !show || conversation.status !== 'assigned' || barged.has(conversation.id);
      const movable = ['queued', 'assigned'].includes(conversation.status);
      transfer.hidden = !movable || !(mine || supervising());
      submit.textContent = mine ? 'Transfer' : 'Reassign';
      if (!transfer.hidden) fillTargets(conversation).catch((error) => { said.textContent = `Could not list the teams: ${error.message}`; });
    },
  };
}
