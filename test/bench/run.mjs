// Snakepit benchmark suite: `npm run bench -- [--json] [--quick] [--only NAME,...]`.
// Each scenario is measured alternately with its reference in one process run (this machine is
// shared and noisy, so only ratios measured side by side mean anything), several rounds, medians.
// Results go to test/bench/results/latest.json with the machine's core count; a table on stdout.
import { availableParallelism, cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scenarios } from './scenarios.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : undefined;

const ctx = {
  quick,
  rounds: quick ? 3 : 5,
  log: (msg) => process.stderr.write(`${msg}\n`),
};

const started = Date.now();
const results = [];
for (const s of scenarios) {
  if (only && !only.includes(s.name)) continue;
  ctx.log(`▶ ${s.name}: ${s.title}`);
  const t0 = Date.now();
  try {
    const r = await s.run(ctx);
    results.push({ name: s.name, title: s.title, ...r, seconds: (Date.now() - t0) / 1000 });
  } catch (err) {
    results.push({ name: s.name, title: s.title, error: String(err?.stack ?? err), seconds: (Date.now() - t0) / 1000 });
    ctx.log(`  ✗ ${err?.message ?? err}`);
  }
}

const targets = results.flatMap((r) => (r.targets ?? []).map((t) => ({ scenario: r.name, ...t })));
const doc = {
  date: new Date().toISOString(),
  machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  quick,
  seconds: (Date.now() - started) / 1000,
  results,
  targets,
  allTargetsMet: targets.every((t) => t.met),
};
const out = join(here, 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);

if (json) {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
} else {
  const lines = [];
  for (const r of results) {
    lines.push(`\n${r.title}`);
    if (r.error) {
      lines.push(`  ERROR ${r.error.split('\n')[0]}`);
      continue;
    }
    const rows = r.rows ?? [];
    const cols = Object.keys(rows[0] ?? {});
    const widths = cols.map((c) => Math.max(c.length, ...rows.map((row) => String(row[c]).length)));
    lines.push(`  ${cols.map((c, i) => c.padEnd(widths[i])).join('  ')}`);
    for (const row of rows) lines.push(`  ${cols.map((c, i) => String(row[c]).padEnd(widths[i])).join('  ')}`);
  }
  lines.push('\nTargets');
  for (const t of targets) lines.push(`  ${t.met ? 'ok  ' : 'MISS'} ${t.name}: ${t.actual} (target ${t.target})`);
  lines.push(`\n${targets.filter((t) => t.met).length}/${targets.length} targets met in ${doc.seconds.toFixed(0)} s; results in ${out}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
