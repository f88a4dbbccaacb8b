// "Your details": a verified visitor's own name, email, phone and preferences, which they may
// correct (docs/protocol.md, profile and update_profile). Only for a visitor the host site
// verified: the server refuses anyone else, and the header button shows only after a signed
// identify. The server validates; its errors show beside the field at fault.
import { byId } from '../shared/dom.js';

const DETAILS = ['name', 'email', 'phone'];
const CHECKS = { transcript_by_email: 'ck-profile-transcript', replies_by_email: 'ck-profile-replies' };

export class ProfileView {
  /** load() → the profile; save(changes) → the profile as saved (or a ProtocolError). */
  constructor({ t, load, save, onOpen }) {
    this.t = t;
    this.load = load;
    this.save = save;
    this.onOpen = onOpen;
    this.panel = document.querySelector('.ck-panel');
    this.toggle = byId('ck-profile-toggle');
    this.form = byId('ck-profile');
    this.inputs = Object.fromEntries(DETAILS.map((name) => [name, byId(`ck-profile-${name}`)]));
    this.language = byId('ck-profile-language');
    this.checks = Object.fromEntries(Object.entries(CHECKS).map(([name, id]) => [name, byId(id)]));
    this.error = byId('ck-profile-error');
    this.saved = byId('ck-profile-saved');
    this.toggle.addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    byId('ck-profile-back').addEventListener('click', () => this.close());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
  }

  get isOpen() {
    return !this.form.hidden;
  }

  /** Whether the visitor is verified: the view is theirs only then. */
  setVerified(verified) {
    this.toggle.hidden = !verified;
    if (!verified && this.isOpen) this.close();
  }

  async open() {
    this.onOpen();
    this.#problems({});
    this.saved.hidden = true;
    this.form.hidden = false;
    this.panel.classList.add('ck-profile-open');
    this.toggle.setAttribute('aria-expanded', 'true');
    this.#busy(true);
    let profile = null;
    try {
      profile = await this.load();
    } catch (error) {
      this.#problems({}, this.#failure(error));
    }
    this.#busy(false);
    if (profile) {
      this.#fill(profile);
      this.inputs.name.focus();
    }
  }

  close() {
    this.form.hidden = true;
    this.panel.classList.remove('ck-profile-open');
    this.toggle.setAttribute('aria-expanded', 'false');
    if (!this.toggle.hidden) this.toggle.focus();
  }

  #fill(profile) {
    for (const name of DETAILS) this.inputs[name].value = typeof profile[name] === 'string' ? profile[name] : '';
    const prefs = profile.preferences || {};
    const language = typeof prefs.language === 'string' ? prefs.language : '';
    // A language chosen elsewhere (another site's widget, the API) is kept as an option.
    if (![...this.language.options].some((option) => option.value === language)) {
      this.language.append(new Option(language, language));
    }
    this.language.value = language;
    for (const [name, box] of Object.entries(this.checks)) box.checked = prefs[name] === true;
  }

  async #submit() {
    // Empty removes a detail; the server checks everything else (realtime/schemas.py).
    const changes = { preferences: { language: this.language.value || null } };
    for (const name of DETAILS) changes[name] = this.inputs[name].value.trim() || null;
    for (const [name, box] of Object.entries(this.checks)) changes.preferences[name] = box.checked;
    this.saved.hidden = true;
    this.#problems({});
    this.#busy(true);
    let saved = null;
    const known = {};
    let general = null;
    try {
      saved = await this.save(changes);
    } catch (error) {
      const fields = (error && error.fields) || {};
      for (const name of DETAILS) if (fields[name]) known[name] = this.t(`profile_bad_${name}`);
      if (!Object.keys(known).length) general = this.#failure(error);
    }
    this.#busy(false);
    if (saved) {
      this.#fill(saved);
      this.saved.textContent = this.t('profile_saved');
      this.saved.hidden = false;
    } else {
      this.#problems(known, general);
    }
  }

  #failure(error) {
    return this.t(error && error.code === 'forbidden' ? 'profile_unverified' : 'profile_failed');
  }

  /** Shows each field's problem beside it (and a general one), as text. */
  #problems(byField, general) {
    let first = null;
    for (const name of DETAILS) {
      const input = this.inputs[name];
      const note = byId(`ck-profile-${name}-error`);
      note.textContent = byField[name] || '';
      note.hidden = !byField[name];
      input.setAttribute('aria-invalid', byField[name] ? 'true' : 'false');
      if (byField[name] && !first) first = input;
    }
    this.error.textContent = general || '';
    this.error.hidden = !general;
    if (first) first.focus();
  }

  #busy(busy) {
    for (const el of this.form.elements) el.disabled = busy;
  }
}
