import { normalizeModuleName, type KernelModuleInfo } from './kernel-module-info.js';

/** The order to insmod modules in, and the wanted ones that cannot be loaded. */
export interface ModuleLoadPlan {
  /** Normalized names; every module comes after its `depends=` and after the `softdep=pre:` modules present. */
  order: string[];
  /** Wanted modules left out: absent from the package, or needing a module that is absent. */
  missing: string[];
}

/**
 * Orders `wanted` (and the modules they need) for loading one by one, as modprobe would: a
 * depth-first walk in the order given, each module after its hard dependencies and after its
 * soft pre-dependencies that are among `available` (matched by name or alias — `crc32c` is
 * crc32c_generic). A soft dependency that is not available is ignored, as modprobe does.
 * `available` maps normalized module names to their info.
 */
export function moduleLoadOrder(wanted: readonly string[], available: ReadonlyMap<string, KernelModuleInfo>): ModuleLoadPlan {
  const byAlias = new Map<string, string>();
  for (const [name, info] of available) for (const alias of info.aliases) if (!byAlias.has(alias)) byAlias.set(alias, name);
  const resolveSoft = (dep: string) => {
    const n = normalizeModuleName(dep);
    return available.has(n) ? n : byAlias.get(dep) ?? byAlias.get(n);
  };

  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done' | 'missing'>();
  const visit = (name: string): boolean => {
    const s = state.get(name);
    if (s === 'done') return true;
    if (s === 'missing') return false;
    if (s === 'visiting') return true; // a cycle (modpost forbids them); break it here
    const info = available.get(name);
    if (!info) {
      state.set(name, 'missing');
      return false;
    }
    state.set(name, 'visiting');
    for (const soft of info.softPre) {
      const dep = resolveSoft(soft);
      if (dep !== undefined && dep !== name) visit(dep);
    }
    for (const dep of info.depends) {
      if (!visit(normalizeModuleName(dep))) {
        state.set(name, 'missing');
        return false;
      }
    }
    state.set(name, 'done');
    order.push(name);
    return true;
  };

  const missing: string[] = [];
  for (const w of wanted) if (!visit(normalizeModuleName(w))) missing.push(normalizeModuleName(w));
  return { order, missing };
}
