/**
 * A small SVG line chart (no library: polylines). Values are drawn left to right, scaled to the
 * largest; null is a gap (an interval without traffic has no hit ratio). `format` labels the scale.
 */
export function LineChart({ title, series, format, max }: { title: string; series: Array<{ name: string; values: Array<number | null>; class: string }>; format: (n: number) => string; max?: number }) {
  const width = 320;
  const height = 90;
  const count = Math.max(0, ...series.map((s) => s.values.length));
  const top = max ?? Math.max(1, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const x = (i: number): number => (count <= 1 ? width : (i / (count - 1)) * width);
  const y = (v: number): number => height - (v / top) * (height - 4) - 2;
  const latest = series.map((s) => `${s.name} ${format(s.values.filter((v): v is number => v !== null).at(-1) ?? 0)}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>
        {title}
        <span class="chart-scale">max {format(top)}</span>
      </figcaption>
      {count < 2 ? (
        <p class="chart-empty">Not enough history yet: a point is added at every sample.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: latest ${latest}`} preserveAspectRatio="none">
          {series.flatMap((s) =>
            runs(s.values).map((run) => (
              <polyline class={`series ${s.class}`} fill="none" points={run.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')} />
            )),
          )}
        </svg>
      )}
      {series.length > 1 && (
        <div class="legend">
          {series.map((s) => (
            <span class={`legend-item ${s.class}`}>{s.name}</span>
          ))}
        </div>
      )}
    </figure>
  );
}

/** The stretches of consecutive non-null values, with their positions (a lone point is a dot). */
function runs(values: Array<number | null>): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) out.push(current);
      current = [];
    } else current.push([i, v]);
  });
  if (current.length) out.push(current);
  return out.map((run) => (run.length === 1 ? [run[0]!, [run[0]![0] + 0.01, run[0]![1]]] : run));
}
