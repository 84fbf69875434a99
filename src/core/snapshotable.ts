/**
 * A stateful part of a VM whose whole state is plain data (DESIGN.md, "State is data").
 *
 * Contract:
 * - `save()` returns a fresh plain object (JSON-compatible: objects keyed by name, arrays,
 *   strings, finite numbers, booleans) carrying a `version` field; it shares nothing with the
 *   component, so the caller may keep or mutate it.
 * - `restore(state)` treats `state` as untrusted (it may come from a file or another host): it
 *   validates every field as strictly as guest input and throws a TypervisorError, leaving the
 *   component unchanged, when anything is missing, extra, out of range or of another version.
 */
export interface Snapshotable<S> {
  /** Key of this component in a VM's snapshot tree, unique within the VM (e.g. `uart0`). */
  readonly id: string;
  save(): S;
  restore(state: S): void;
}
