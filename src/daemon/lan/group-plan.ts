// SPDX-License-Identifier: LGPL-2.1-or-later
// Which Avahi entry groups to register so that exactly the desired items are advertised, changing as few as
// possible: an item that stays published is never withdrawn, even for a moment (make before break).

/** Avahi's default entries-per-entry-group-max is 32: the service itself plus 31 subtypes. */
export const SUBTYPES_PER_GROUP = 31;

/** A group as the planner sees it: the items it advertises. */
export interface PlannedGroup {
  hashes: ReadonlySet<string>;
}

export interface Plan<G extends PlannedGroup> {
  /** The live group this one replaces, freed only once the new one is established. */
  replaces: G | null;
  hashes: string[];
}

/**
 * Groups that lost items are rebuilt (keeping the items they still have), new items fill those first, then
 * one partly full group, then as many new groups as needed; full groups that lost nothing are left alone.
 */
export function planGroups<G extends PlannedGroup>(groups: readonly G[], desired: ReadonlySet<string>): Plan<G>[] {
  const advertised = new Set(groups.flatMap((g) => [...g.hashes]));
  const pool = [...desired].filter((h) => !advertised.has(h));
  const plans: Plan<G>[] = groups
    .filter((g) => [...g.hashes].some((h) => !desired.has(h)))
    .map((g) => ({ replaces: g, hashes: [...g.hashes].filter((h) => desired.has(h)) }));
  const topUp = (plan: Plan<G>): void => {
    plan.hashes.push(...pool.splice(0, SUBTYPES_PER_GROUP - plan.hashes.length));
  };
  plans.forEach(topUp);
  const partial = groups.find((g) => g.hashes.size < SUBTYPES_PER_GROUP && !plans.some((p) => p.replaces === g));
  if (pool.length > 0 && partial) {
    const plan: Plan<G> = { replaces: partial, hashes: [...partial.hashes] };
    topUp(plan);
    plans.push(plan);
  }
  while (pool.length > 0) plans.push({ replaces: null, hashes: pool.splice(0, SUBTYPES_PER_GROUP) });
  return plans;
}
