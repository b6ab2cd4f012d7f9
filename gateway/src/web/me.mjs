// Who is signed in, and what their role lets them do. The page leaves out what the role may not
// do; the gateway refuses it anyway (403 role_required), so this is for clarity, not security.

const RANK = { viewer: 0, operator: 1, admin: 2 };

export const me = { id: '', name: '', role: '' };

/** Remember the signed-in person (`{id, name, role}` from the gateway). */
export function setMe(person) {
  me.id = (person && person.id) || '';
  me.name = (person && person.name) || '';
  me.role = (person && person.role) || '';
  document.body.dataset.role = me.role;
}

/** Whether the signed-in person has `role` or a higher one. */
export const can = (role) => me.role in RANK && RANK[me.role] >= RANK[role];
