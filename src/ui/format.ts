export const percent = (v: number | undefined | null, digits = 1) =>
  v === undefined || v === null ? "—" : `${(v * 100).toFixed(digits)}%`;

export const number = (v: number | undefined | null, digits = 4) =>
  v === undefined || v === null ? "—" : Number(v.toPrecision(digits)).toString();

export const count = (v: number) => v.toLocaleString("en-US");

export function when(iso: string | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function duration(fromIso?: string, toIso?: string): string {
  if (!fromIso) return "—";
  const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export const shortId = (id: string) => id.slice(0, 8);
