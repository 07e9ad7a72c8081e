/** Where the test substrate lives (built by test/substrate/provision.sh): the one place that computes it. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readVersions } from '../../scripts/lib/core/repo.js';

/** Cache root: $LEARNFLOW_TEST_CACHE, else ~/.cache/learnflow-test (the same rule as the provisioning scripts). */
export const CACHE = process.env.LEARNFLOW_TEST_CACHE || join(homedir(), '.cache', 'learnflow-test');

/** A path inside the cache. */
export const inCache = (...parts: string[]): string => join(CACHE, ...parts);

/** The substrate's kubectl, helm, kind, kwok... (symlinks). */
export const CACHE_BIN = inCache('bin');

/** The Dapr chart at the version the kit pins (k8s/versions.json), as provisioned. */
export const PINNED_DAPR_CHART = inCache(`dapr-chart-${readVersions().dapr.version}`, 'dapr');
