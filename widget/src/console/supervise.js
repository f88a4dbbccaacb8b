// Supervision, for supervisors and admins: watch a chat that is not theirs (live, read-only),
// barge in (then they may reply; its agent stays assigned), whisper to its agent (a note only
// agents see), and reassign it to another agent or team.
import { h } from '../shared/dom.js';

export function createSupervise({ header, request, agent, conversations, onChange }) {
  const barged = new Set();
  const bargeButton = h('button', { type: 'button', id: 'barge', hidden: true, text: 'Barge in' });
  const target = h('select', { id: 'reassign-to', 'aria-label': 'Reassign to' });
  const reassign = h('form', { class: 'reassign', id: 'reassign-form', hidden: true }, target,
    h('button', { type: 'submit', text: 'Reassign' }));
  const said = h('p', { class: 'thread-status', id: 'supervise-status', role: 'status' });
  header.append(h('div', { class: 'supervise' }, bargeButton, reassign, said));
  let open = null; // the conversation shown

  const supervising = () => { const me = agent(); return !!me && me.role !== 'agent'; };

  function fillTargets(conversation) {
    // Teams and agents this console knows of, from the conversations it lists.
    const teams = new Set();
    const agents = new Map();
    for (const c of conversations()) {
      if (c.queue_team) teams.add(c.queue_team);
      if (c.agent_id && c.agent_name) agents.set(c.agent_id, c.agent_name);
    }
    const me = agent();
    if (me) agents.set(me.id, `${me.name} (me)`);
    agents.delete(conversation.agent_id);
    target.replaceChildren(
      ...[...teams].sort().map((team) => h('option', { value: `team:${team}`, text: `Team: ${team}` })),
      ...[...agents].map(([id, name]) => h('option', { value: `agent:${id}`, text: `Agent: ${name}` })));
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
  reassign.addEventListener('submit', async (event) => {
    event.preventDefault();
    const [kind, id] = target.value.split(/:(.*)/s);
    if (!open || !id) return;
    try {
      const moved = await request('reassign', { conversation_id: open.id, [kind === 'team' ? 'to_team' : 'to_agent_id']: id });
      said.textContent = 'Reassigned.';
      onChange(moved);
    } catch (error) {
      said.textContent = `Could not reassign: ${error.message}`;
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
      open = conversation;
      said.textContent = '';
      const show = supervising() && !mine && conversation.status !== 'resolved';
      bargeButton.hidden = !show || conversation.status !== 'assigned' || barged.has(conversation.id);
      reassign.hidden = !supervising() || !['queued', 'assigned'].includes(conversation.status);
      if (!reassign.hidden) fillTargets(conversation);
    },
  };
}
