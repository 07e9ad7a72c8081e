// Kubernetes resource quantities, the one parser of them ("250m", "2" CPUs; "256Mi", "2Gi", "512M", "1e9" bytes).

/** A CPU quantity in millicores; 0 when absent. */
export function parseCpu(q: string | number | undefined): number {
  if (q === undefined) return 0;
  const s = String(q).trim();
  if (s.endsWith('m')) return Number(s.slice(0, -1));
  return Math.round(Number(s) * 1000);
}

/** A memory quantity in bytes; undefined when it is not one. */
export function quantityBytes(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(?:e(\d+))?(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) return undefined;
  const unit = m[3] ? { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[3]]! : 1;
  return Math.round(Number(m[1]) * 10 ** Number(m[2] ?? 0) * unit);
}

/** A memory quantity in bytes; 0 when absent or not one (a request that counts for nothing). */
export function parseMemory(q: string | number | undefined): number {
  return q === undefined ? 0 : (quantityBytes(String(q)) ?? 0);
}
