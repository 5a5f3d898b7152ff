/**
 * Breaking valid request bodies on purpose, for the HTTP fuzzer: mutations of the parsed value
 * (drop, replace, add a key, make an array ragged, bury a node deep) and of the JSON text (number
 * literals JSON.stringify cannot write, such as 1e999, and keys JSON.parse treats specially, such
 * as __proto__). A mutation is plain data whose `at` picks its target modulo the candidates, so
 * fast-check can generate, shrink and print it.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };

export type ValueMutation =
  | { kind: "drop"; at: number }
  | { kind: "replace"; at: number; value: Json }
  | { kind: "field"; key: string; at: number; value: Json }
  | { kind: "extra"; at: number; key: string; value: Json }
  | { kind: "ragged"; at: number; grow: boolean }
  | { kind: "bury"; at: number; depth: number };

export type TextMutation =
  | { kind: "number"; at: number; literal: string }
  | { kind: "key"; at: number; key: string; value: string }
  | { kind: "truncate"; at: number };

interface Slot {
  parent: Container;
  key: string | number;
}

const isContainer = (value: Json): value is Container =>
  value !== null && typeof value === "object";

/** Every value below the root, breadth first, at most `cap` of them. */
function slots(root: Json, cap = 5000): Slot[] {
  const out: Slot[] = [];
  const queue: Container[] = isContainer(root) ? [root] : [];
  while (queue.length > 0 && out.length < cap) {
    const parent = queue.shift()!;
    const keys: (string | number)[] = Array.isArray(parent)
      ? parent.map((_, i) => i)
      : Object.keys(parent);
    for (const key of keys) {
      out.push({ parent, key });
      const child = (parent as Record<string | number, Json>)[key];
      if (isContainer(child)) queue.push(child);
    }
  }
  return out;
}

const get = ({ parent, key }: Slot): Json => (parent as Record<string | number, Json>)[key];
const set = ({ parent, key }: Slot, value: Json) => {
  (parent as Record<string | number, Json>)[key] = value;
};

/** `depth` arrays around `value`, built without recursion. */
export function bury(value: Json, depth: number): Json {
  let out = value;
  for (let i = 0; i < depth; i++) out = [out];
  return out;
}

/** Applies one mutation to a copy of `root`; a mutation without a target leaves it as it was. */
export function mutateValue(root: Json, mutation: ValueMutation): Json {
  const copy = structuredClone(root);
  const all = slots(copy);
  const pick = <T>(candidates: T[], at: number): T | undefined =>
    candidates.length === 0 ? undefined : candidates[at % candidates.length];
  switch (mutation.kind) {
    case "drop": {
      const slot = pick(all, mutation.at);
      if (!slot) return copy;
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key as string];
      return copy;
    }
    case "replace": {
      const slot = pick(all, mutation.at);
      if (!slot) return structuredClone(mutation.value);
      set(slot, structuredClone(mutation.value));
      return copy;
    }
    case "field": {
      // The named field wherever it occurs (x, shape, dtype, ...), or a new one at the top.
      const slot = pick(
        all.filter((s) => s.key === mutation.key),
        mutation.at,
      );
      if (slot) set(slot, structuredClone(mutation.value));
      else if (isContainer(copy) && !Array.isArray(copy)) copy[mutation.key] = mutation.value;
      return copy;
    }
    case "extra": {
      const objects = [copy, ...all.map(get)].filter(
        (v): v is { [key: string]: Json } => isContainer(v) && !Array.isArray(v),
      );
      const target = pick(objects, mutation.at);
      if (target) target[mutation.key] = structuredClone(mutation.value);
      return copy;
    }
    case "ragged": {
      const rows = all.filter((s) => Array.isArray(get(s)) && Array.isArray(s.parent));
      const slot = pick(rows, mutation.at);
      if (!slot) return copy;
      const row = get(slot) as Json[];
      if (mutation.grow) row.push(row.length > 0 ? structuredClone(row[0]) : 0);
      else row.pop();
      return copy;
    }
    case "bury": {
      const slot = pick(all, mutation.at);
      if (!slot) return bury(copy, mutation.depth);
      set(slot, bury(get(slot), mutation.depth));
      return copy;
    }
  }
}

/** Offsets of number literals and of `{` outside strings in JSON text. */
function scan(text: string): { numbers: [number, number][]; objects: number[] } {
  const numbers: [number, number][] = [];
  const objects: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const start = i;
      while (i < text.length && /[-+0-9.eE]/.test(text[i])) i++;
      numbers.push([start, i]);
    } else {
      if (c === "{") objects.push(i);
      i++;
    }
  }
  return { numbers, objects };
}

/** Applies one mutation to JSON text, e.g. `[1, 2]` → `[1, 1e999]`. */
export function mutateText(text: string, mutation: TextMutation): string {
  switch (mutation.kind) {
    case "number": {
      const { numbers } = scan(text);
      if (numbers.length === 0) return text;
      const [start, end] = numbers[mutation.at % numbers.length];
      return text.slice(0, start) + mutation.literal + text.slice(end);
    }
    case "key": {
      const { objects } = scan(text);
      if (objects.length === 0) return text;
      const open = objects[mutation.at % objects.length] + 1;
      const empty = /^\s*}/.test(text.slice(open));
      const member = `${JSON.stringify(mutation.key)}:${mutation.value}${empty ? "" : ","}`;
      return text.slice(0, open) + member + text.slice(open);
    }
    case "truncate":
      return text.slice(0, mutation.at % (text.length + 1));
  }
}
